//! Decoding a validated batch into `kafka_protocol` records.
//!
//! `kafka_protocol`'s `RecordBatchDecoder` decompresses without an output limit and
//! reserves room for the record count and each record's header count as the wire
//! states them. So it only ever sees batches [`super::open_records`] has accepted, and
//! gets their records already decompressed (by us, bounded).

use bytes::Bytes;
use kafka_protocol::records::{RecordBatchDecoder, RecordSet};

use super::{open_records, BatchError, BatchHeader, OffsetRule};

/// Decodes one whole batch (`batch` = exactly one batch, as [`super::batches`] yields
/// it): records decompressed with at most `limit` bytes of output and validated per
/// `rule` first; the CRC is checked too.
pub fn decode_record_set(
    batch: &Bytes,
    limit: usize,
    rule: OffsetRule,
) -> Result<RecordSet, BatchError> {
    let header = BatchHeader::parse(batch)?;
    if header.total_size() != batch.len() {
        return Err(BatchError::CorruptMessage(format!(
            "batch of {} bytes given {} bytes",
            header.total_size(),
            batch.len()
        )));
    }
    let records = match open_records(&header, batch, limit, rule)? {
        std::borrow::Cow::Borrowed(_) => batch.slice(super::HEADER_SIZE..),
        std::borrow::Cow::Owned(v) => Bytes::from(v),
    };
    let mut input = batch.clone();
    RecordBatchDecoder::decode_with_custom_compression(
        &mut input,
        Some(|_: &mut Bytes, _| Ok(records.clone())),
    )
    .map_err(|e| BatchError::CorruptMessage(format!("cannot decode batch: {e}")))
}
