//! Writing a run of broker-built ("trusted") appends with one log append.
//!
//! Why: offset commits arrive as many tiny batches; one write of all the batches a
//! drain round holds costs one syscall and one index update instead of one each.

use std::io;

use bytes::{BufMut, Bytes, BytesMut};
use strata_log::{AppendInfo, Log, LogError};
use strata_proto::batch;

/// Appends `items` (each one or more whole record batches) back to back with one
/// [`Log::append`], and splits the result per item, in order. On failure every item
/// gets the error and nothing is written (the log's append is all-or-nothing).
pub(super) fn append_run(
    log: &mut Log,
    items: &[&Bytes],
    now_ms: i64,
    epoch: i32,
) -> Vec<Result<AppendInfo, LogError>> {
    if let [only] = items {
        return vec![append_one(log, only, now_ms, epoch)];
    }
    let mut counts = Vec::with_capacity(items.len());
    for item in items {
        let mut records = 0i64;
        for b in batch::batches(item) {
            match b {
                Ok((header, _)) => records += i64::from(header.last_offset_delta) + 1,
                // Not expected for broker-built batches; let the log's validation
                // report it, item by item.
                Err(_) => {
                    return items
                        .iter()
                        .map(|i| append_one(log, i, now_ms, epoch))
                        .collect()
                }
            }
        }
        counts.push(records);
    }
    let mut buf = BytesMut::with_capacity(items.iter().map(|i| i.len()).sum());
    for item in items {
        buf.put_slice(item);
    }
    match append_one(log, &buf, now_ms, epoch) {
        Ok(info) => {
            let mut next = info.base_offset;
            items
                .iter()
                .zip(counts)
                .map(|(item, count)| {
                    let base = next;
                    next += count;
                    Ok(AppendInfo {
                        base_offset: base,
                        last_offset: base + count - 1,
                        record_count: count,
                        bytes: item.len() as u64,
                        // Shared out by size: the walk measured the whole payload.
                        uncompressed_bytes: share(info.uncompressed_bytes, item.len(), buf.len()),
                        ..info
                    })
                })
                .collect()
        }
        Err(e) => {
            let message = e.to_string();
            tracing::warn!(error = %message, "coalesced append failed");
            items
                .iter()
                .map(|_| Err(LogError::Io(io::Error::other(message.clone()))))
                .collect()
        }
    }
}

/// One append, stamped with the leader epoch when this broker leads (`epoch >= 0`).
pub(super) fn append_one(
    log: &mut Log,
    records: &[u8],
    now_ms: i64,
    epoch: i32,
) -> Result<AppendInfo, LogError> {
    if epoch >= 0 {
        log.append_with_epoch(records, now_ms, epoch)
    } else {
        log.append(records, now_ms)
    }
}

/// `whole`'s share for `part` of `total` bytes.
fn share(whole: u64, part: usize, total: usize) -> u64 {
    if total == 0 {
        return 0;
    }
    (u128::from(whole) * part as u128 / total as u128) as u64
}
