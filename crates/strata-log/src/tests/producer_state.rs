//! The sequence/epoch rules of `ProducerStateTable`, on hand-made batch headers.

use strata_proto::batch::BatchHeader;

use strata_proto::error_code::{INVALID_PRODUCER_EPOCH, OUT_OF_ORDER_SEQUENCE_NUMBER};

use crate::{last_sequence, ProducerError, ProducerStateTable, SequenceCheck, BATCHES_TO_RETAIN};

const PID: i64 = 7;

/// Header of a batch of `count` records from `PID`.
fn header(epoch: i16, base_seq: i32, count: i32) -> BatchHeader {
    BatchHeader {
        base_offset: 0,
        batch_length: 100,
        partition_leader_epoch: 0,
        magic: 2,
        crc: 0,
        attributes: 0,
        last_offset_delta: count - 1,
        base_timestamp: 1_000,
        max_timestamp: 1_000 + i64::from(base_seq),
        producer_id: PID,
        producer_epoch: epoch,
        base_sequence: base_seq,
        records_count: count,
    }
}

/// A table that has seen `batches` batches of 2 records from `PID` at `epoch`, starting
/// at sequence 0 and offset 100; returns it with the next offset.
fn table_with(epoch: i16, batches: i32) -> (ProducerStateTable, i64) {
    let mut table = ProducerStateTable::new();
    let mut offset = 100;
    for i in 0..batches {
        let h = header(epoch, i * 2, 2);
        assert_eq!(table.check(&h), Ok(SequenceCheck::Append));
        table.update(&h, offset);
        offset += 2;
    }
    (table, offset)
}

fn assert_out_of_order(result: Result<SequenceCheck, ProducerError>) {
    match result {
        Err(err @ ProducerError::OutOfOrderSequence { .. }) => {
            assert_eq!(err.error_code(), OUT_OF_ORDER_SEQUENCE_NUMBER)
        }
        other => panic!("expected OutOfOrderSequence, got {other:?}"),
    }
}

#[test]
fn unknown_producer_is_accepted_at_any_sequence_and_epoch() {
    let table = ProducerStateTable::new();
    for (epoch, seq) in [(0, 0), (0, 17), (5, 1_000_000), (3, i32::MAX)] {
        assert_eq!(
            table.check(&header(epoch, seq, 3)),
            Ok(SequenceCheck::Append)
        );
    }
}

#[test]
fn update_then_next_sequence_appends() {
    let (table, _) = table_with(0, 3);
    let entry = table.get(PID).expect("tracked");
    assert_eq!(entry.epoch, 0);
    assert_eq!(entry.last_seq(), 5);
    assert_eq!(table.check(&header(0, 6, 4)), Ok(SequenceCheck::Append));
}

#[test]
fn unknown_producer_starting_mid_stream_continues_from_there() {
    let mut table = ProducerStateTable::new();
    let h = header(2, 40, 5);
    table.update(&h, 0);
    assert_eq!(table.check(&header(2, 45, 1)), Ok(SequenceCheck::Append));
    assert_out_of_order(table.check(&header(2, 46, 1)));
}

#[test]
fn gap_and_rewind_are_out_of_order() {
    let (table, _) = table_with(0, 3);
    // Skips sequence 6.
    assert_out_of_order(table.check(&header(0, 7, 1)));
    // Starts inside the last batch without matching it.
    assert_out_of_order(table.check(&header(0, 5, 2)));
}

#[test]
fn retry_of_a_cached_batch_is_a_duplicate_with_original_offsets() {
    let (table, _) = table_with(0, 3);
    // The second batch (sequences 2-3) was written at offsets 102-103.
    assert_eq!(
        table.check(&header(0, 2, 2)),
        Ok(SequenceCheck::Duplicate {
            first_offset: 102,
            last_offset: 103,
            max_timestamp: 1_002,
        })
    );
}

#[test]
fn duplicate_needs_matching_first_and_last_sequence() {
    let (table, _) = table_with(0, 3);
    // Same first sequence as a cached batch but a different length.
    assert_out_of_order(table.check(&header(0, 2, 3)));
    assert_out_of_order(table.check(&header(0, 2, 1)));
}

#[test]
fn duplicate_needs_the_same_epoch() {
    let (mut table, offset) = table_with(0, 2);
    let bumped = header(1, 0, 2);
    assert_eq!(table.check(&bumped), Ok(SequenceCheck::Append));
    table.update(&bumped, offset);
    // Epoch 0's batch at sequence 0 is now fenced, not a duplicate.
    let result = table.check(&header(0, 0, 2));
    match result {
        Err(err @ ProducerError::InvalidProducerEpoch { current: 1, .. }) => {
            assert_eq!(err.error_code(), INVALID_PRODUCER_EPOCH)
        }
        other => panic!("expected InvalidProducerEpoch, got {other:?}"),
    }
    // Epoch 1's own batch is a duplicate.
    assert!(matches!(
        table.check(&bumped),
        Ok(SequenceCheck::Duplicate { first_offset, .. }) if first_offset == offset
    ));
}

#[test]
fn only_the_last_five_batches_are_remembered() {
    let batches = BATCHES_TO_RETAIN as i32 + 2;
    let (table, _) = table_with(0, batches);
    let entry = table.get(PID).expect("tracked");
    assert_eq!(entry.batches.len(), BATCHES_TO_RETAIN);
    for i in 0..batches {
        let result = table.check(&header(0, i * 2, 2));
        if i < batches - BATCHES_TO_RETAIN as i32 {
            // Evicted: a retry this old cannot be told apart from a rewind.
            assert_out_of_order(result);
        } else {
            assert_eq!(
                result,
                Ok(SequenceCheck::Duplicate {
                    first_offset: 100 + i64::from(i) * 2,
                    last_offset: 101 + i64::from(i) * 2,
                    max_timestamp: 1_000 + i64::from(i) * 2,
                })
            );
        }
    }
}

#[test]
fn older_epoch_is_fenced() {
    let (mut table, offset) = table_with(3, 1);
    assert!(matches!(
        table.check(&header(2, 2, 1)),
        Err(ProducerError::InvalidProducerEpoch {
            producer_id: PID,
            epoch: 2,
            current: 3
        })
    ));
    // Fencing holds even for a sequence that would be in order.
    table.update(&header(3, 2, 1), offset);
    assert!(matches!(
        table.check(&header(2, 3, 1)),
        Err(ProducerError::InvalidProducerEpoch { .. })
    ));
}

#[test]
fn newer_epoch_must_start_at_zero() {
    let (mut table, offset) = table_with(0, 2);
    assert_out_of_order(table.check(&header(1, 4, 1)));
    assert_out_of_order(table.check(&header(1, 1, 1)));
    let fresh = header(1, 0, 3);
    assert_eq!(table.check(&fresh), Ok(SequenceCheck::Append));
    table.update(&fresh, offset);
    let entry = table.get(PID).expect("tracked");
    assert_eq!(entry.epoch, 1);
    assert_eq!(entry.batches.len(), 1);
    assert_eq!(entry.last_seq(), 2);
    assert_eq!(table.check(&header(1, 3, 1)), Ok(SequenceCheck::Append));
}

#[test]
fn sequence_wraps_from_max_to_zero() {
    let mut table = ProducerStateTable::new();
    let end = header(0, i32::MAX - 2, 3);
    assert_eq!(last_sequence(&end), i32::MAX);
    table.update(&end, 10);
    assert_out_of_order(table.check(&header(0, i32::MIN, 1)));
    assert_eq!(table.check(&header(0, 0, 2)), Ok(SequenceCheck::Append));

    // A batch that straddles the wrap ends at a small sequence.
    let mut table = ProducerStateTable::new();
    let straddle = header(0, i32::MAX - 1, 4);
    assert_eq!(last_sequence(&straddle), 1);
    table.update(&straddle, 10);
    assert_eq!(table.get(PID).map(|e| e.last_seq()), Some(1));
    assert_eq!(table.check(&header(0, 2, 1)), Ok(SequenceCheck::Append));
    assert!(matches!(
        table.check(&straddle),
        Ok(SequenceCheck::Duplicate {
            first_offset: 10,
            last_offset: 13,
            ..
        })
    ));
}

#[test]
fn batches_without_producer_id_are_not_tracked() {
    let mut table = ProducerStateTable::new();
    let mut plain = header(-1, -1, 3);
    plain.producer_id = -1;
    assert_eq!(table.check(&plain), Ok(SequenceCheck::Append));
    table.update(&plain, 0);
    assert!(table.is_empty());
    // The same plain batch again is still appended (no deduplication without an id).
    assert_eq!(table.check(&plain), Ok(SequenceCheck::Append));
}

#[test]
fn control_marker_moves_the_epoch_without_a_sequence() {
    let (mut table, offset) = table_with(0, 2);
    let mut marker = header(1, -1, 1);
    marker.attributes = 0x30; // transactional + control
    assert_eq!(table.check(&marker), Ok(SequenceCheck::Append));
    table.update(&marker, offset);
    let entry = table.get(PID).expect("tracked");
    assert_eq!(entry.epoch, 1);
    assert!(entry.batches.is_empty());
    // Nothing written in epoch 1 yet: the next data batch must start at 0.
    assert_out_of_order(table.check(&header(1, 4, 1)));
    assert_eq!(table.check(&header(1, 0, 1)), Ok(SequenceCheck::Append));
}

#[test]
fn payload_batches_are_checked_in_order_without_touching_the_table() {
    let (table, offset) = table_with(0, 1);
    let before = table.clone();
    let in_order = [header(0, 2, 2), header(0, 4, 3)];
    assert_eq!(
        table.check_payload(&in_order, offset),
        Ok(SequenceCheck::Append)
    );
    // The second batch repeats the first one's sequences: against the scratch state it
    // is a retry of a batch this very payload adds, so the payload mixes new and
    // retried batches, although the table alone would accept either batch.
    let repeated = [header(0, 2, 2), header(0, 2, 2)];
    assert_eq!(table.check(&repeated[1]), Ok(SequenceCheck::Append));
    assert_out_of_order(table.check_payload(&repeated, offset));
    let gap = [header(0, 2, 2), header(0, 5, 1)];
    assert_out_of_order(table.check_payload(&gap, offset));
    assert_eq!(table, before);
}

#[test]
fn payload_of_only_retries_is_a_duplicate_spanning_them() {
    let (table, offset) = table_with(0, 3);
    assert_eq!(
        table.check_payload(&[header(0, 2, 2), header(0, 4, 2)], offset),
        Ok(SequenceCheck::Duplicate {
            first_offset: 102,
            last_offset: 105,
            max_timestamp: 1_004,
        })
    );
    // A retry followed by a new batch cannot be half-written.
    assert_out_of_order(table.check_payload(&[header(0, 4, 2), header(0, 6, 1)], offset));
}
