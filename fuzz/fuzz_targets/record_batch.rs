//! `strata_proto::batch::validate` over arbitrary produce payloads (the records field of
//! a Produce partition: one or more concatenated v2 batches, any codec).
//!
//! Input: one mode byte, then the payload.
//! - mode & 1 == 1 (structure-aware): the CRC-32C of every complete batch is fixed up
//!   first, so mutations get past the checksum into the record framing and (once
//!   `validate` decompresses) the decompressors.
//! - mode & 1 == 0: the payload as it is (the checksum path itself).
//!
//! Run with `-malloc_limit_mb`: an allocation the payload size does not justify (a
//! decompression bomb, a length taken from the wire) is a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_proto::batch::{self, BatchError, LOG_OVERHEAD};

/// The broker default `message.max.bytes`.
const MAX_BATCH_BYTES: usize = 1_048_588;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, payload)) = data.split_first() else {
        return;
    };
    let mut payload = payload.to_vec();
    if mode & 1 == 1 {
        strata_fuzz::fix_crcs(&mut payload);
    }
    match batch::validate(&payload, MAX_BATCH_BYTES) {
        Ok(headers) => {
            // What the log relies on when it accepts the payload: whole batches that
            // cover it exactly, each with a right CRC and a record count matching its
            // offset delta.
            assert!(!headers.is_empty());
            let mut pos = 0usize;
            for h in &headers {
                let size = h.total_size();
                assert!(size >= batch::HEADER_SIZE && size >= LOG_OVERHEAD);
                assert!(size <= MAX_BATCH_BYTES);
                let bytes = &payload[pos..pos + size];
                assert!(strata_fuzz::crc_ok(bytes));
                assert!(h.records_count >= 1);
                assert_eq!(
                    i64::from(h.last_offset_delta),
                    i64::from(h.records_count) - 1
                );
                assert!(h.compression().is_some());
                assert_eq!(batch::check_stored_batch(bytes).as_ref().ok(), Some(h));
                pos += size;
            }
            assert_eq!(pos, payload.len());
        }
        Err(e) => {
            // Every rejection maps onto a Kafka error code.
            let _ = e.error_code();
            if let BatchError::MessageTooLarge { size, max } = e {
                assert!(size > max);
            }
        }
    }
});
