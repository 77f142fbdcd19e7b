//! `strata_client::decode_fetched`: what the Rust consumer runs on the records bytes of
//! every fetched partition (split into whole batches, drop a truncated tail, decompress
//! any codec, skip control batches and records before the fetch offset).
//!
//! Input: the fetch offset (i64 BE), one mode byte (bit 0: fix up the CRC-32C of every
//! batch, so mutations reach the decompressors), then the records bytes.
//!
//! Run with `-malloc_limit_mb`: a compressed batch that inflates far past what a fetch
//! response could hold is a crash.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 9 {
        return;
    }
    let from = i64::from_be_bytes(data[..8].try_into().unwrap());
    let mut records = data[9..].to_vec();
    if data[8] & 1 == 1 {
        strata_fuzz::fix_crcs(&mut records);
    }
    if let Ok(fetched) = strata_client::decode_fetched(Bytes::from(records), from) {
        for r in &fetched.records {
            assert!(
                r.offset >= from,
                "record {} before the fetch offset {from}",
                r.offset
            );
        }
        if let (Some(last), Some(next)) = (fetched.records.last(), fetched.next_offset) {
            assert!(
                last.offset < next,
                "record {} at or past next offset {next}",
                last.offset
            );
        }
    }
});
