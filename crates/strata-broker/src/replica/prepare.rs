//! Broker-side work on a produce payload before it reaches the log, as the topic's
//! settings demand: recompression (`compression.type` other than `producer`) and the
//! key requirement of compacted topics. Runs on a blocking thread (CPU-heavy).

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
};
use strata_log::LogError;
use strata_meta::topic_config::CompressionType;
use strata_proto::batch::{self, BatchError, BatchHeader};

use super::TopicSettings;

/// The payload to append: unchanged unless the settings require a rewrite.
pub fn prepare(records: Bytes, settings: &TopicSettings) -> Result<Bytes, LogError> {
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
        return Ok(records);
    }
    // Malformed input is left for the log's validation to reject with the right code.
    let Ok(sets) = RecordBatchDecoder::decode_all(&mut records.clone()) else {
        return Ok(records);
    };
    if settings.compact
        && sets
            .iter()
            .flat_map(|s| &s.records)
            .any(|r| r.key.is_none() && !r.control)
    {
        return Err(LogError::Batch(BatchError::InvalidRecord(
            "compacted topic cannot accept a record without a key".into(),
        )));
    }
    let Some(target) = target.filter(|_| needs_recompress) else {
        return Ok(records);
    };
    let mut out = BytesMut::with_capacity(records.len());
    for set in sets {
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
