//! Zig-zag variable-length integers as used inside v2 records.

/// Reads a zig-zag varint (at most 5 bytes) at `pos`; returns the value and its length.
/// `None` when the buffer ends first or the encoding is too long.
#[inline(always)]
pub(crate) fn read_varint(buf: &[u8], pos: usize) -> Option<(i32, usize)> {
    // One or two bytes is the common case (lengths below 8 KiB, small deltas).
    let raw = match buf.get(pos..) {
        Some([b0, ..]) if *b0 < 0x80 => (u32::from(*b0), 1),
        Some([b0, b1, ..]) if *b1 < 0x80 => (u32::from(b0 & 0x7f) | u32::from(*b1) << 7, 2),
        _ => {
            let (raw, len) = read_unsigned(buf, pos, 5)?;
            (u32::try_from(raw).ok()?, len)
        }
    };
    Some((((raw.0 >> 1) as i32) ^ -((raw.0 & 1) as i32), raw.1))
}

/// Reads a zig-zag varlong (at most 10 bytes) at `pos`; returns the value and its length.
#[inline(always)]
pub(crate) fn read_varlong(buf: &[u8], pos: usize) -> Option<(i64, usize)> {
    let raw = match buf.get(pos..) {
        Some([b0, ..]) if *b0 < 0x80 => (u64::from(*b0), 1),
        Some([b0, b1, ..]) if *b1 < 0x80 => (u64::from(b0 & 0x7f) | u64::from(*b1) << 7, 2),
        _ => read_unsigned(buf, pos, 10)?,
    };
    Some((((raw.0 >> 1) as i64) ^ -((raw.0 & 1) as i64), raw.1))
}

#[cold]
fn read_unsigned(buf: &[u8], pos: usize, max_len: usize) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for i in 0..max_len {
        let byte = *buf.get(pos + i)?;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Appends a zig-zag varlong to `out` (used by tests to build records by hand).
#[cfg(test)]
pub(crate) fn write_varlong(out: &mut Vec<u8>, value: i64) {
    let mut raw = ((value << 1) ^ (value >> 63)) as u64;
    loop {
        if raw < 0x80 {
            out.push(raw as u8);
            return;
        }
        out.push((raw as u8 & 0x7f) | 0x80);
        raw >>= 7;
    }
}
