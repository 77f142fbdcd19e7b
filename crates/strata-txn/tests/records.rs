//! `__transaction_state` record formats: round trips, Kafka's exact bytes, and hostile
//! input.

use proptest::prelude::*;
use strata_txn::records::{decode_key, java_string_hash};
use strata_txn::{
    decode_record, encode_key, partition_for, Record, RecordError, TopicPartition, TxnLogValue,
    TxnState,
};

fn value(state: TxnState) -> TxnLogValue {
    TxnLogValue {
        producer_id: 1000,
        previous_producer_id: -1,
        next_producer_id: -1,
        producer_epoch: 3,
        timeout_ms: 60_000,
        state,
        partitions: if state == TxnState::Empty {
            vec![]
        } else {
            vec![
                TopicPartition::new("a", 0),
                TopicPartition::new("a", 2),
                TopicPartition::new("b", 1),
            ]
        },
        last_update_ms: 1_700_000_000_123,
        start_ms: if state == TxnState::Empty {
            -1
        } else {
            1_700_000_000_000
        },
        client_transaction_version: 0,
    }
}

#[test]
fn key_is_version_zero_then_the_id() {
    assert_eq!(&encode_key("tx")[..], &[0, 0, 0, 2, b't', b'x']);
    assert_eq!(
        decode_key(&encode_key("tx")).unwrap().as_deref(),
        Some("tx")
    );
    // Another key version is skipped, not an error.
    assert_eq!(decode_key(&[0, 1, 0, 0]).unwrap(), None);
    assert_eq!(
        decode_record(&[0, 3, 0, 0], None).unwrap(),
        Record::UnknownKey(3)
    );
    assert!(decode_key(&[0, 0, 0, 5, b'a']).is_err());
    assert!(
        decode_key(&[0, 0, 0, 1, b'a', 9]).is_err(),
        "trailing bytes"
    );
}

#[test]
fn version_zero_value_has_kafkas_layout() {
    let v = TxnLogValue {
        partitions: vec![TopicPartition::new("t", 7)],
        ..value(TxnState::Ongoing)
    };
    let bytes = v.encode();
    let mut expected = vec![0u8, 0]; // version 0
    expected.extend(1000i64.to_be_bytes());
    expected.extend(3i16.to_be_bytes());
    expected.extend(60_000i32.to_be_bytes());
    expected.push(1); // Ongoing
    expected.extend(1i32.to_be_bytes()); // one topic
    expected.extend([0, 1, b't']);
    expected.extend(1i32.to_be_bytes());
    expected.extend(7i32.to_be_bytes());
    expected.extend(1_700_000_000_123i64.to_be_bytes());
    expected.extend(1_700_000_000_000i64.to_be_bytes());
    assert_eq!(&bytes[..], &expected[..]);
    assert_eq!(TxnLogValue::decode(&bytes).unwrap(), v);
}

#[test]
fn empty_state_writes_a_null_partition_list() {
    let bytes = value(TxnState::Empty).encode();
    // version, pid, epoch, timeout, state, then a null array (-1).
    assert_eq!(&bytes[17..21], &(-1i32).to_be_bytes());
    assert_eq!(TxnLogValue::decode(&bytes).unwrap(), value(TxnState::Empty));
}

#[test]
fn version_one_is_flexible_with_tagged_fields() {
    let v = TxnLogValue {
        previous_producer_id: 999,
        partitions: vec![TopicPartition::new("t", 7)],
        ..value(TxnState::PrepareCommit)
    };
    assert_eq!(v.version(), 1);
    let bytes = v.encode();
    assert_eq!(&bytes[..2], &[0, 1]);
    // Compact array of one topic: count + 1 = 2, compact string "t", one partition.
    assert_eq!(&bytes[17..21], &[2, 2, b't', 2]);
    // The value ends with one tagged field: tag 0, size 8, the previous producer id.
    let tail = &bytes[bytes.len() - 11..];
    assert_eq!(&tail[..3], &[1, 0, 8]);
    assert_eq!(&tail[3..], &999i64.to_be_bytes());
    assert_eq!(TxnLogValue::decode(&bytes).unwrap(), v);
}

#[test]
fn unknown_tags_are_skipped_and_known_ones_read() {
    let v = value(TxnState::CompleteAbort);
    let mut bytes = TxnLogValue {
        client_transaction_version: 2,
        ..v.clone()
    }
    .encode()
    .to_vec();
    // Replace the tag section (1 tag: [1, 2, 2, 0, 2]) with tag 2 plus an unknown tag 9.
    let n = bytes.len();
    bytes.truncate(n - 5);
    bytes.extend([2, 2, 2, 0, 2, 9, 3, 1, 2, 3]);
    let decoded = TxnLogValue::decode(&bytes).unwrap();
    assert_eq!(decoded.client_transaction_version, 2);
    assert_eq!(decoded.partitions, v.partitions);
}

#[test]
fn every_state_round_trips_in_both_versions() {
    for state in [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
    ] {
        for prev in [-1, 77] {
            let v = TxnLogValue {
                previous_producer_id: prev,
                ..value(state)
            };
            assert_eq!(TxnLogValue::decode(&v.encode()).unwrap(), v, "{state:?}");
        }
    }
}

#[test]
fn hostile_values_are_refused_not_trusted() {
    // Unknown version, unknown state.
    let mut b = value(TxnState::Ongoing).encode().to_vec();
    b[1] = 2;
    assert!(matches!(
        TxnLogValue::decode(&b),
        Err(RecordError::UnsupportedVersion { version: 2, .. })
    ));
    let mut b = value(TxnState::Ongoing).encode().to_vec();
    b[16] = 42;
    assert!(TxnLogValue::decode(&b).is_err());
    // A partition count far beyond the bytes: refused before any allocation.
    let mut b = value(TxnState::Ongoing).encode().to_vec();
    b[17..21].copy_from_slice(&i32::MAX.to_be_bytes());
    assert_eq!(TxnLogValue::decode(&b), Err(RecordError::Truncated));
    // A negative length other than null.
    let mut b = value(TxnState::Ongoing).encode().to_vec();
    b[17..21].copy_from_slice(&(-2i32).to_be_bytes());
    assert!(TxnLogValue::decode(&b).is_err());
    // Trailing garbage.
    let mut b = value(TxnState::Ongoing).encode().to_vec();
    b.push(0);
    assert!(TxnLogValue::decode(&b).is_err());
    // A varint that never ends.
    let mut b = TxnLogValue {
        previous_producer_id: 5,
        ..value(TxnState::Ongoing)
    }
    .encode()
    .to_vec();
    b.truncate(17);
    b.extend([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert!(TxnLogValue::decode(&b).is_err());
    // Every truncation fails cleanly.
    let full = TxnLogValue {
        previous_producer_id: 5,
        ..value(TxnState::PrepareAbort)
    }
    .encode();
    for n in 0..full.len() {
        assert!(TxnLogValue::decode(&full[..n]).is_err(), "prefix {n}");
    }
}

#[test]
fn partition_is_javas_hash_modulo_the_count() {
    // Java: "transactional-id".hashCode() and "".hashCode() == 0.
    assert_eq!(java_string_hash(""), 0);
    assert_eq!(java_string_hash("a"), 97);
    assert_eq!(java_string_hash("ab"), 97 * 31 + 98);
    // Values from Java's String.hashCode.
    assert_eq!(java_string_hash("hello"), 99_162_322);
    assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
    assert_eq!(partition_for("polygenelubricants", 50), 0);
    assert_eq!(partition_for("hello", 50), 99_162_322 % 50);
    assert_eq!(partition_for("x", 0), 0);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(key in proptest::collection::vec(any::<u8>(), 0..64),
                                   val in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_record(&key, Some(&val));
        let _ = decode_record(&key, None);
        let _ = TxnLogValue::decode(&val);
    }

    #[test]
    fn values_round_trip(pid in any::<i64>(), prev in prop_oneof![Just(-1i64), any::<i64>()],
                         epoch in any::<i16>(), timeout in any::<i32>(),
                         state in 1usize..6,
                         parts in proptest::collection::btree_set(("[a-z]{1,5}", 0i32..100), 0..8),
                         upd in any::<i64>(), start in any::<i64>()) {
        let state = TxnState::ALL[state];
        let v = TxnLogValue {
            producer_id: pid, previous_producer_id: prev, next_producer_id: -1,
            producer_epoch: epoch, timeout_ms: timeout, state,
            partitions: parts.into_iter().map(|(t, p)| TopicPartition::new(t, p)).collect(),
            last_update_ms: upd, start_ms: start, client_transaction_version: 0,
        };
        prop_assert_eq!(TxnLogValue::decode(&v.encode()).unwrap(), v);
    }
}
