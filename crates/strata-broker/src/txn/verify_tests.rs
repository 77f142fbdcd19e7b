//! The KIP-890 decision: which batches are verified and what a produce is answered.

use super::*;
use bytes::BytesMut;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

fn batch(pid: i64, epoch: i16, transactional: bool) -> Bytes {
    let records = [Record {
        transactional,
        control: false,
        partition_leader_epoch: 0,
        producer_id: pid,
        producer_epoch: epoch,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: 0,
        timestamp: 1_700_000_000_000,
        key: None,
        value: Some(Bytes::from_static(b"v")),
        headers: Default::default(),
        delete_horizon: false,
    }];
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    buf.freeze()
}

#[test]
fn only_transactional_first_batches_name_a_producer() {
    assert_eq!(transactional_producer(&batch(7, 3, true)), Some((7, 3)));
    assert_eq!(transactional_producer(&batch(7, 3, false)), None);
    assert_eq!(transactional_producer(b"garbage"), None);
    assert_eq!(transactional_producer(&[]), None);
    let marker = strata_proto::batch::control::marker_batch(
        7,
        3,
        strata_proto::batch::control::ControlType::Commit,
        0,
        0,
    );
    assert_eq!(
        transactional_producer(&marker),
        None,
        "markers are refused by the log"
    );
    let both = [batch(1, 0, false), batch(2, 0, true)];
    assert!(has_transactional_records(&both));
    assert!(!has_transactional_records(&both[..1]));
}

#[test]
fn verification_needed_unless_open_at_the_same_epoch_or_disabled() {
    assert!(needs_verification(true, Some((7, 3)), None));
    assert!(!needs_verification(true, Some((7, 3)), Some(3)));
    assert!(
        needs_verification(true, Some((7, 4)), Some(3)),
        "a new epoch's transaction is not the open one"
    );
    assert!(!needs_verification(true, None, None));
    assert!(!needs_verification(false, Some((7, 3)), None));
}

#[test]
fn produce_errors_by_answer_and_version() {
    use ResponseError::*;
    assert_eq!(produce_error(Ok(true), 9), None);
    assert_eq!(produce_error(Ok(false), 9), Some(InvalidTxnState));
    assert_eq!(produce_error(Ok(false), 11), Some(InvalidTxnState));
    assert_eq!(produce_error(Ok(false), 12), Some(TransactionAbortable));
    assert_eq!(
        produce_error(Err(TransactionAbortable), 11),
        Some(InvalidTxnState)
    );
    assert_eq!(
        produce_error(Err(ProducerFenced), 9),
        Some(InvalidProducerEpoch)
    );
    for retriable in [
        ConcurrentTransactions,
        NetworkException,
        CoordinatorLoadInProgress,
        CoordinatorNotAvailable,
        NotCoordinator,
    ] {
        assert_eq!(produce_error(Err(retriable), 9), Some(NotEnoughReplicas));
    }
    assert_eq!(
        produce_error(Err(InvalidProducerIdMapping), 9),
        Some(InvalidProducerIdMapping)
    );
}

#[test]
fn remote_codes_read_as_answers() {
    assert_eq!(answer_of_code(0), Ok(true));
    assert_eq!(
        answer_of_code(ResponseError::InvalidTxnState.code()),
        Ok(false)
    );
    assert_eq!(
        answer_of_code(ResponseError::TransactionAbortable.code()),
        Ok(false)
    );
    assert_eq!(
        answer_of_code(ResponseError::NotCoordinator.code()),
        Err(ResponseError::NotCoordinator)
    );
    assert_eq!(
        answer_of_code(-12345),
        Err(ResponseError::UnknownServerError)
    );
}

#[test]
fn one_request_per_transaction_with_partitions_grouped_by_topic() {
    let tp = |t: &str, p| TopicPartition {
        topic: t.into(),
        partition: p,
    };
    let req = verify_request("tx", 5, 2, &[tp("b", 1), tp("a", 0), tp("b", 0)], true);
    assert_eq!(req.transactions.len(), 1);
    let t = &req.transactions[0];
    assert!(t.verify_only);
    assert_eq!((t.producer_id.0, t.producer_epoch), (5, 2));
    let topics: Vec<(&str, Vec<i32>)> = t
        .topics
        .iter()
        .map(|x| (x.name.0.as_str(), x.partitions.clone()))
        .collect();
    assert_eq!(topics, vec![("a", vec![0]), ("b", vec![1, 0])]);
}

#[test]
fn txn_offset_commit_v5_errors_of_the_implicit_add() {
    assert_eq!(offset_commit_error(Ok(true)), None);
    assert_eq!(
        offset_commit_error(Ok(false)),
        Some(ResponseError::TransactionAbortable)
    );
    assert_eq!(
        offset_commit_error(Err(ResponseError::ProducerFenced)),
        Some(ResponseError::InvalidProducerEpoch)
    );
    for e in [
        ResponseError::ConcurrentTransactions,
        ResponseError::NotCoordinator,
        ResponseError::NetworkException,
    ] {
        assert_eq!(
            offset_commit_error(Err(e)),
            Some(ResponseError::CoordinatorLoadInProgress)
        );
    }
    assert_eq!(
        offset_commit_error(Err(ResponseError::InvalidProducerIdMapping)),
        Some(ResponseError::InvalidProducerIdMapping)
    );
}
