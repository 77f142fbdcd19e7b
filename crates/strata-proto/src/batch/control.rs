//! Transaction markers: the control batches that end a transaction in a partition.
//!
//! A marker is a v2 batch with the transactional and control attribute bits set,
//! the producer's id and epoch, no sequence (-1) and exactly one record:
//!
//! ```text
//! key   = version i16 (0) | type i16 (0 = ABORT, 1 = COMMIT)
//! value = version i16 (0) | coordinator epoch i32
//! ```
//!
//! [`marker_batch`] builds a complete batch (CRC-32C included) the log can append as
//! is; [`parse_marker`] reads the marker back from a stored or received batch. Parsing
//! never trusts a length: every field is checked against the bytes present, and
//! anything that is not a well-formed, uncompressed marker is `None` (the caller then
//! treats the batch as carrying no transaction outcome).

use super::header::{CONTROL_BIT, TRANSACTIONAL_BIT};
use super::{varint, BatchHeader, Compression, HEADER_SIZE, LOG_OVERHEAD, MAGIC_V2};

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlType {
    /// The transaction's records are discarded by `read_committed` consumers.
    Abort,
    /// The transaction's records become visible to `read_committed` consumers.
    Commit,
}

impl ControlType {
    /// The type field of the marker key.
    pub fn code(self) -> i16 {
        match self {
            ControlType::Abort => 0,
            ControlType::Commit => 1,
        }
    }

    /// The type of a marker key's type field; `None` for other control records
    /// (KRaft's leader-change and snapshot records) or unknown ones.
    pub fn from_code(code: i16) -> Option<ControlType> {
        match code {
            0 => Some(ControlType::Abort),
            1 => Some(ControlType::Commit),
            _ => None,
        }
    }
}

/// A transaction marker as carried by a control batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TxnMarker {
    /// Commit or abort.
    pub control: ControlType,
    /// Epoch of the transaction coordinator that wrote it: a marker from an older
    /// coordinator than one already seen for the producer is a zombie's.
    pub coordinator_epoch: i32,
}

/// Bytes of a marker key: version + type.
const KEY_LEN: usize = 4;
/// Bytes of a marker value: version + coordinator epoch.
const VALUE_LEN: usize = 6;
/// Bytes of the one record of a marker batch, after its length varint: attributes (1),
/// timestamp delta (1), offset delta (1), key length (1), key, value length (1),
/// value, header count (1).
const RECORD_BODY_LEN: usize = 1 + 1 + 1 + 1 + KEY_LEN + 1 + VALUE_LEN + 1;
/// Size of a whole marker batch: the header, the record's length varint (one byte:
/// zig-zag of 16 is 32) and the record.
pub const MARKER_BATCH_SIZE: usize = HEADER_SIZE + 1 + RECORD_BODY_LEN;

/// The marker key for `control`.
pub fn marker_key(control: ControlType) -> [u8; KEY_LEN] {
    let mut key = [0u8; KEY_LEN];
    key[2..].copy_from_slice(&control.code().to_be_bytes());
    key
}

/// The marker value carrying `coordinator_epoch`.
pub fn marker_value(coordinator_epoch: i32) -> [u8; VALUE_LEN] {
    let mut value = [0u8; VALUE_LEN];
    value[2..].copy_from_slice(&coordinator_epoch.to_be_bytes());
    value
}

/// Builds a complete marker batch: base offset 0 and partition leader epoch -1 (the
/// log assigns both), timestamps `timestamp_ms`, CRC-32C computed.
pub fn marker_batch(
    producer_id: i64,
    producer_epoch: i16,
    control: ControlType,
    coordinator_epoch: i32,
    timestamp_ms: i64,
) -> Vec<u8> {
    let mut b = Vec::with_capacity(MARKER_BATCH_SIZE);
    b.extend_from_slice(&0i64.to_be_bytes()); // base offset
    b.extend_from_slice(&((MARKER_BATCH_SIZE - LOG_OVERHEAD) as i32).to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
    b.push(MAGIC_V2 as u8);
    b.extend_from_slice(&[0; 4]); // CRC, filled in below
    b.extend_from_slice(&(TRANSACTIONAL_BIT | CONTROL_BIT).to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes()); // last offset delta
    b.extend_from_slice(&timestamp_ms.to_be_bytes()); // base timestamp
    b.extend_from_slice(&timestamp_ms.to_be_bytes()); // max timestamp
    b.extend_from_slice(&producer_id.to_be_bytes());
    b.extend_from_slice(&producer_epoch.to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    b.extend_from_slice(&1i32.to_be_bytes()); // records count
    debug_assert_eq!(b.len(), HEADER_SIZE);
    // Zig-zag varints of small non-negative values n are the single byte 2n.
    b.push((RECORD_BODY_LEN * 2) as u8);
    b.push(0); // record attributes
    b.push(0); // timestamp delta
    b.push(0); // offset delta
    b.push((KEY_LEN * 2) as u8);
    b.extend_from_slice(&marker_key(control));
    b.push((VALUE_LEN * 2) as u8);
    b.extend_from_slice(&marker_value(coordinator_epoch));
    b.push(0); // header count
    debug_assert_eq!(b.len(), MARKER_BATCH_SIZE);
    let crc = super::compute_crc(&b);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

/// Parses a marker key: version (>= 0) and type.
pub fn parse_marker_key(key: &[u8]) -> Option<ControlType> {
    let [v0, v1, t0, t1, ..] = *key else {
        return None;
    };
    if i16::from_be_bytes([v0, v1]) < 0 {
        return None;
    }
    ControlType::from_code(i16::from_be_bytes([t0, t1]))
}

/// Parses a marker value: version (>= 0) and coordinator epoch. Later versions may add
/// fields after the epoch; they are ignored.
pub fn parse_marker_value(value: &[u8]) -> Option<i32> {
    let [v0, v1, e0, e1, e2, e3, ..] = *value else {
        return None;
    };
    if i16::from_be_bytes([v0, v1]) < 0 {
        return None;
    }
    Some(i32::from_be_bytes([e0, e1, e2, e3]))
}

/// The marker of a control batch: `header` is the batch's parsed header and `body`
/// the bytes after it (the whole rest of the batch, or a prefix of it: the first record
/// of a marker fits in [`MARKER_BODY_PREFIX`] bytes). `None` when the batch is not a
/// control batch, holds no record (compaction removed it), is compressed, or its first
/// record is not a well-formed transaction marker.
pub fn parse_marker(header: &BatchHeader, body: &[u8]) -> Option<TxnMarker> {
    if !header.is_control() || header.records_count < 1 {
        return None;
    }
    if header.compression() != Some(Compression::None) {
        return None;
    }
    let (len, n) = varint::read_varint(body, 0)?;
    let len = usize::try_from(len).ok()?;
    let record = body.get(n..n.checked_add(len)?)?;
    let mut pos = 1; // attributes
    let (_, n) = varint::read_varlong(record, pos)?; // timestamp delta
    pos += n;
    let (_, n) = varint::read_varint(record, pos)?; // offset delta
    pos += n;
    let (key_len, n) = varint::read_varint(record, pos)?;
    pos += n;
    let key = record.get(pos..pos.checked_add(usize::try_from(key_len).ok()?)?)?;
    pos += key.len();
    let (value_len, n) = varint::read_varint(record, pos)?;
    pos += n;
    let value = record.get(pos..pos.checked_add(usize::try_from(value_len).ok()?)?)?;
    Some(TxnMarker {
        control: parse_marker_key(key)?,
        coordinator_epoch: parse_marker_value(value)?,
    })
}

/// Bytes after the header that a reader of stored batches fetches to parse a marker:
/// enough for the record of any marker this code or Kafka writes (Kafka's is the same
/// 17 bytes), with room for a longer value of a later version.
pub const MARKER_BODY_PREFIX: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{self, validate, BatchError};

    #[test]
    fn marker_batch_is_a_valid_control_batch_with_its_crc() {
        let b = marker_batch(42, 7, ControlType::Commit, 3, 1_700_000_000_000);
        assert_eq!(b.len(), MARKER_BATCH_SIZE);
        assert!(batch::crc_matches(&b));
        let headers = validate(&b, 1 << 20).expect("valid");
        let h = headers[0];
        assert!(h.is_control() && h.is_transactional());
        assert_eq!((h.producer_id, h.producer_epoch), (42, 7));
        assert_eq!(
            (h.base_sequence, h.records_count, h.last_offset_delta),
            (-1, 1, 0)
        );
        assert_eq!(h.max_timestamp, 1_700_000_000_000);
        let m = parse_marker(&h, &b[HEADER_SIZE..]).expect("a marker");
        assert_eq!(m.control, ControlType::Commit);
        assert_eq!(m.coordinator_epoch, 3);
        let abort = marker_batch(42, 7, ControlType::Abort, -1, 0);
        let h = BatchHeader::parse(&abort).unwrap();
        assert_eq!(
            parse_marker(&h, &abort[HEADER_SIZE..]),
            Some(TxnMarker {
                control: ControlType::Abort,
                coordinator_epoch: -1
            })
        );
    }

    #[test]
    fn any_flipped_bit_fails_the_crc() {
        let b = marker_batch(1, 0, ControlType::Abort, 9, 5);
        for i in 21..b.len() {
            let mut d = b.clone();
            d[i] ^= 0x10;
            assert!(!batch::crc_matches(&d), "byte {i}");
            assert!(matches!(
                validate(&d, 1 << 20),
                Err(BatchError::CorruptMessage(_) | BatchError::InvalidRecord(_))
            ));
        }
    }

    #[test]
    fn marker_record_decodes_with_kafka_protocol() {
        let b = marker_batch(5, 1, ControlType::Commit, 12, 99);
        let b = bytes::Bytes::from(b);
        let set =
            batch::decode_record_set(&b, 1 << 20, batch::OffsetRule::Contiguous).expect("decodes");
        let r = &set.records[0];
        assert!(r.control);
        assert!(r.transactional);
        assert_eq!(r.key.as_deref(), Some(&[0u8, 0, 0, 1][..]));
        assert_eq!(r.value.as_deref(), Some(&[0u8, 0, 0, 0, 0, 12][..]));
    }

    #[test]
    fn parse_refuses_what_is_not_a_marker() {
        let b = marker_batch(5, 1, ControlType::Abort, 12, 99);
        let h = BatchHeader::parse(&b).unwrap();
        let body = &b[HEADER_SIZE..];
        // Every prefix shorter than the record is refused, never read past.
        for cut in 0..body.len() - 1 {
            assert_eq!(parse_marker(&h, &body[..cut]), None, "cut {cut}");
        }
        let mut not_control = h;
        not_control.attributes &= !CONTROL_BIT;
        assert_eq!(parse_marker(&not_control, body), None);
        let mut compressed = h;
        compressed.attributes |= 1;
        assert_eq!(parse_marker(&compressed, body), None);
        let mut empty = h;
        empty.records_count = 0;
        assert_eq!(parse_marker(&empty, body), None);
        // Unknown control type (a KRaft leader-change record is type 2).
        let mut other = body.to_vec();
        other[8] = 2;
        assert_eq!(parse_marker(&h, &other), None);
        // A hostile key length.
        let mut long_key = body.to_vec();
        long_key[4] = 0x7e;
        assert_eq!(parse_marker(&h, &long_key), None);
        assert_eq!(parse_marker_key(&[0, 0, 0]), None);
        assert_eq!(parse_marker_key(&[0xff, 0xff, 0, 1]), None);
        assert_eq!(parse_marker_value(&[0, 0, 0, 0, 1]), None);
        // A longer value of a later version still yields its epoch.
        assert_eq!(parse_marker_value(&[0, 1, 0, 0, 0, 4, 9, 9]), Some(4));
    }
}
