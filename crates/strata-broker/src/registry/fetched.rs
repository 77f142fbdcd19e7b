//! Decoding what the leader answers to the tail's fetch (see `tail.rs`).

use bytes::Bytes;
use strata_proto::batch::{self, OffsetRule};

use crate::group::store::LoadedRecord;

/// Most bytes one batch may decompress to.
const BATCH_LIMIT: usize = 16 << 20;

/// The keyed records of fetched `bytes` at offsets `from..high_watermark`, and the offset
/// they reach (the end of the last whole batch, at most the high watermark). A batch cut
/// off at the end of the response ends the records. Blocking.
pub(super) fn decode(
    bytes: &Bytes,
    from: i64,
    high_watermark: i64,
) -> Result<(Vec<LoadedRecord>, i64), String> {
    let mut out = Vec::new();
    let mut reached = from;
    for item in batch::batches(bytes) {
        let Ok((header, one)) = item else {
            // A truncated last batch is fetched again from its start.
            break;
        };
        if header.base_offset >= high_watermark {
            break;
        }
        let set =
            batch::decode_record_set(&bytes.slice_ref(one), BATCH_LIMIT, OffsetRule::Compacted)
                .map_err(|e| e.to_string())?;
        for r in set.records {
            if r.offset >= from && r.offset < high_watermark {
                if let Some(key) = r.key {
                    out.push(LoadedRecord {
                        offset: r.offset,
                        txn_producer: None,
                        control: header.is_control(),
                        key,
                        value: r.value,
                    });
                }
            }
        }
        // A batch emptied by compaction still moves the offset on.
        reached = reached.max(header.next_offset().min(high_watermark));
    }
    Ok((out, reached))
}

#[cfg(test)]
#[path = "fetched_tests.rs"]
mod tests;
