//! Small durable-file helpers shared by the log, vote and snapshot files.
//!
//! Every file body is one or more frames:
//!
//! ```text
//! length: u32 BE | crc32c: u32 BE | payload: `length` bytes
//! ```
//!
//! The CRC-32C covers the four length bytes and the payload, so a torn length is
//! caught as well as a torn payload.

use std::fs::{self, File};
use std::io::{self, ErrorKind, Write};
use std::path::Path;

/// Bytes in a frame header.
pub(crate) const HEADER_LEN: usize = 8;
/// Larger frames are refused on write and treated as corruption on read.
pub(crate) const MAX_FRAME_BYTES: usize = 256 * 1024 * 1024;

/// Appends one frame holding `payload` to `out`.
pub(crate) fn put_frame(out: &mut Vec<u8>, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&l| l as usize <= MAX_FRAME_BYTES)
        .ok_or_else(|| {
            io::Error::new(
                ErrorKind::InvalidInput,
                format!("frame of {} bytes is too large", payload.len()),
            )
        })?;
    let len_bytes = len.to_be_bytes();
    let crc = frame_crc(&len_bytes, payload);
    out.reserve(HEADER_LEN + payload.len());
    out.extend_from_slice(&len_bytes);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// CRC-32C over a frame's length field and payload.
fn frame_crc(len_bytes: &[u8; 4], payload: &[u8]) -> u32 {
    let mut digest = crc_fast::Digest::new(crc_fast::CrcAlgorithm::Crc32Iscsi);
    digest.update(len_bytes);
    digest.update(payload);
    // A CRC-32 digest's value fits in 32 bits.
    digest.finalize() as u32
}

/// The frames found at the start of a buffer.
pub(crate) struct Frames<'a> {
    /// Each frame's byte offset and payload, in order.
    pub frames: Vec<(u64, &'a [u8])>,
    /// Where the valid frames end; anything after is a torn or corrupt tail.
    pub valid_end: u64,
}

/// Splits `buf` into frames, stopping at the first short, oversized or
/// CRC-mismatched one (what a crash in the middle of a write leaves behind).
pub(crate) fn read_frames(buf: &[u8]) -> Frames<'_> {
    let mut frames = Vec::new();
    let mut pos = 0usize;
    while let Some(header) = buf.get(pos..pos + HEADER_LEN) {
        let len_bytes = [header[0], header[1], header[2], header[3]];
        let len = u32::from_be_bytes(len_bytes) as usize;
        let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        if len > MAX_FRAME_BYTES {
            break;
        }
        let start = pos + HEADER_LEN;
        let Some(payload) = buf.get(start..start + len) else {
            break;
        };
        if frame_crc(&len_bytes, payload) != crc {
            break;
        }
        frames.push((pos as u64, payload));
        pos = start + len;
    }
    Frames {
        frames,
        valid_end: pos as u64,
    }
}

/// Makes the directory entries under `dir` durable (new, renamed or removed files).
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replaces `dir/name` with `bytes` atomically: write a temporary file, fsync it,
/// rename it over the target, fsync the directory. With `durable == false` the two
/// fsyncs are skipped (for hints whose loss is harmless); the rename still makes
/// sure a reader sees the old or the new content, never a mix.
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8], durable: bool) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let written = File::create(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
        Ok(())
    });
    if let Err(e) = written {
        // A failed write (a full disk) leaves nothing behind to take more space.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fs::rename(&tmp, dir.join(name))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
}

/// The content of `path`, or `None` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes `value` as a single JSON frame to `dir/name`, atomically.
pub(crate) fn write_json_file<T: serde::Serialize>(
    dir: &Path,
    name: &str,
    value: &T,
    durable: bool,
) -> io::Result<()> {
    let json = serde_json::to_vec(value).map_err(|e| io::Error::new(ErrorKind::InvalidInput, e))?;
    let mut bytes = Vec::new();
    put_frame(&mut bytes, &json)?;
    write_atomic(dir, name, &bytes, durable)
}

/// Reads a file written by [`write_json_file`]: `Ok(None)` when it does not exist,
/// `InvalidData` when it is damaged.
pub(crate) fn read_json_file<T: serde::de::DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    let Some(bytes) = read_optional(path)? else {
        return Ok(None);
    };
    let frames = read_frames(&bytes);
    let damaged =
        |why: String| io::Error::new(ErrorKind::InvalidData, format!("{}: {why}", path.display()));
    match frames.frames.as_slice() {
        [(_, payload)] if frames.valid_end == bytes.len() as u64 => serde_json::from_slice(payload)
            .map(Some)
            .map_err(|e| damaged(e.to_string())),
        _ => Err(damaged("torn or corrupt file".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_stop_at_damage() {
        let mut buf = Vec::new();
        put_frame(&mut buf, b"one").unwrap();
        put_frame(&mut buf, b"").unwrap();
        put_frame(&mut buf, b"three").unwrap();
        let whole = read_frames(&buf);
        assert_eq!(
            whole.frames.iter().map(|f| f.1).collect::<Vec<_>>(),
            vec![&b"one"[..], b"", b"three"]
        );
        assert_eq!(whole.valid_end, buf.len() as u64);

        // A torn last frame ends the log after the second frame.
        let torn = read_frames(&buf[..buf.len() - 2]);
        assert_eq!(torn.frames.len(), 2);
        assert_eq!(torn.valid_end, (HEADER_LEN * 2 + 3) as u64);

        // A flipped payload byte fails the CRC.
        let mut flipped = buf.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x40;
        assert_eq!(read_frames(&flipped).frames.len(), 2);

        // An absurd length is corruption, not an allocation.
        let mut absurd = buf.clone();
        absurd.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        assert_eq!(read_frames(&absurd).valid_end, buf.len() as u64);
    }

    #[test]
    fn json_files_are_replaced_atomically_and_damage_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v");
        assert_eq!(read_json_file::<u64>(&path).unwrap(), None);
        write_json_file(dir.path(), "v", &7u64, true).unwrap();
        write_json_file(dir.path(), "v", &8u64, false).unwrap();
        assert_eq!(read_json_file::<u64>(&path).unwrap(), Some(8));
        assert!(!dir.path().join("v.tmp").exists());

        let mut bytes = fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 1);
        fs::write(&path, &bytes).unwrap();
        let err = read_json_file::<u64>(&path).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
    }
}
