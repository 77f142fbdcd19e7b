//! Broker-side work on a produce payload before it reaches the log, as the topic's
//! settings demand: recompression (`compression.type` other than `producer`) and the
//! key requirement of compacted topics; control batches are refused (only the broker
//! writes transaction markers). Runs on a blocking thread (CPU-heavy).
//!
//! The payload is validated first (`strata_proto::batch::validate_with`: framing of
//! every record, decompressed as a stream with at most `max.message.bytes` of output),
//! so recompression only ever opens batches whose records are proven well-formed and
//! bounded, and the key check is part of that walk: it walks every record and the
//! refusal (`BatchError::KeylessRecords`, `INVALID_RECORD`) carries every keyless
//! record's index, which Produce lists per record (KIP-467).

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, RecordBatchEncoder, RecordEncodeOptions};
use strata_log::LogError;
use strata_meta::topic_config::CompressionType;
use strata_proto::batch::{self, BatchError, BatchHeader, Checks, OffsetRule};

use super::TopicSettings;

/// The payload to append: unchanged unless the settings require a rewrite.
/// `max_message_bytes` is the log's `max.message.bytes`.
pub fn prepare(
    records: Bytes,
    settings: &TopicSettings,
    max_message_bytes: usize,
) -> Result<Bytes, LogError> {
    refuse_control_batches(&records)?;
    let target = match settings.compression {
        CompressionType::Producer => None,
        CompressionType::Uncompressed => Some(Compression::None),
        CompressionType::Gzip => Some(Compression::Gzip),
        CompressionType::Snappy => Some(Compression::Snappy),
        CompressionType::Lz4 => Some(Compression::Lz4),
        CompressionType::Zstd => Some(Compression::Zstd),
    };
    let needs_recompress = match target {
        None => false,
        Some(t) => batch::batches(&records).any(|h| match h {
            Ok((h, _)) => codec_of(&h) != Some(t),
            Err(_) => false,
        }),
    };
    if !needs_recompress && !settings.compact {
        // The log validates it.
        return Ok(records);
    }
    batch::validate_with(
        &records,
        &Checks {
            max_batch_bytes: max_message_bytes,
            keys_required: settings.compact,
        },
    )?;
    let Some(target) = target.filter(|_| needs_recompress) else {
        return Ok(records);
    };
    let mut out = BytesMut::with_capacity(records.len());
    for item in batch::batches(&records) {
        let (_, bytes) = item?;
        let bytes = records.slice_ref(bytes);
        let set = batch::decode_record_set(&bytes, max_message_bytes, OffsetRule::Contiguous)?;
        RecordBatchEncoder::encode(
            &mut out,
            set.records.iter(),
            &RecordEncodeOptions {
                version: 2,
                compression: target,
            },
        )
        .map_err(|e| {
            LogError::Batch(BatchError::CorruptMessage(format!(
                "recompression failed: {e}"
            )))
        })?;
    }
    Ok(out.freeze())
}

/// Only the broker writes control batches (transaction markers, through
/// WriteTxnMarkers): a client's is `INVALID_RECORD`, as in Kafka. Malformed bytes are
/// left to the log's validation.
fn refuse_control_batches(records: &[u8]) -> Result<(), LogError> {
    for item in batch::batches(records) {
        match item {
            Ok((header, _)) if header.is_control() => {
                return Err(LogError::Batch(BatchError::InvalidRecord(
                    "clients may not write control batches".to_string(),
                )))
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

fn codec_of(h: &BatchHeader) -> Option<Compression> {
    match h.attributes & 0x07 {
        0 => Some(Compression::None),
        1 => Some(Compression::Gzip),
        2 => Some(Compression::Snappy),
        3 => Some(Compression::Lz4),
        4 => Some(Compression::Zstd),
        _ => None,
    }
}
