//! `__consumer_offsets` key/value encodings, checked byte by byte against the
//! layouts in Kafka's message specs.
use bytes::Bytes;
use strata_group::records::java_string_hash;
use strata_group::*;

fn be64(v: i64) -> Vec<u8> {
    v.to_be_bytes().to_vec()
}

#[test]
fn keys() {
    let k = RecordKey::GroupMetadata("g".into());
    assert_eq!(k.encode().as_ref(), &[0, 2, 0, 1, b'g']);
    assert_eq!(RecordKey::decode(&k.encode()).unwrap(), k);

    let k = RecordKey::OffsetCommit(OffsetCommitKey {
        group: "g".into(),
        topic: "t".into(),
        partition: 3,
    });
    assert_eq!(
        k.encode().as_ref(),
        &[0, 1, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 3]
    );
    assert_eq!(RecordKey::decode(&k.encode()).unwrap(), k);
    // Version 0 keys have the same layout.
    assert_eq!(
        RecordKey::decode(&[0, 0, 0, 1, b'g', 0, 1, b't', 0, 0, 0, 3]).unwrap(),
        k
    );
    // The new protocol's keys are recognised as "not ours".
    assert_eq!(
        RecordKey::decode(&[0, 3, 0, 1, b'g']).unwrap(),
        RecordKey::Other(3)
    );
    assert_eq!(
        RecordKey::decode(&[0, 1, 0, 5, b'g']),
        Err(RecordError::Truncated)
    );
    assert!(RecordKey::decode(&[0xff, 0xff]).is_err());
    assert!(RecordKey::decode(&[0]).is_err());
}

#[test]
fn offset_commit_value_versions() {
    let v = OffsetCommitValue {
        offset: 5,
        leader_epoch: 7,
        metadata: "m".into(),
        commit_timestamp: 9,
        expire_timestamp: None,
    };
    let mut want = vec![0, 3];
    want.extend(be64(5));
    want.extend([0, 0, 0, 7, 0, 1, b'm']);
    want.extend(be64(9));
    assert_eq!(v.encode().as_ref(), want.as_slice());
    assert_eq!(OffsetCommitValue::decode(&want).unwrap(), v);

    let e = OffsetCommitValue {
        expire_timestamp: Some(11),
        leader_epoch: -1,
        ..v.clone()
    };
    let mut want = vec![0, 1];
    want.extend(be64(5));
    want.extend([0, 1, b'm']);
    want.extend(be64(9));
    want.extend(be64(11));
    assert_eq!(e.encode().as_ref(), want.as_slice());
    assert_eq!(OffsetCommitValue::decode(&want).unwrap(), e);

    // v0 and v2: offset, metadata, commit timestamp.
    for version in [0u8, 2] {
        let mut old = vec![0, version];
        old.extend(be64(5));
        old.extend([0, 1, b'm']);
        old.extend(be64(9));
        let d = OffsetCommitValue::decode(&old).unwrap();
        assert_eq!(
            d,
            OffsetCommitValue {
                leader_epoch: -1,
                ..v.clone()
            }
        );
    }

    // v4 is flexible: compact string (length + 1 as a varint) and tagged fields.
    let mut flex = vec![0, 4];
    flex.extend(be64(5));
    flex.extend([0, 0, 0, 7, 2, b'm']);
    flex.extend(be64(9));
    flex.extend([1, 0, 2, 0xaa, 0xbb]); // one unknown tagged field, skipped
    assert_eq!(OffsetCommitValue::decode(&flex).unwrap(), v);

    assert!(OffsetCommitValue::decode(&[0, 5]).is_err());
    assert_eq!(
        OffsetCommitValue::decode(&want[..10]),
        Err(RecordError::Truncated)
    );
}

fn sample_group() -> GroupMetadataValue {
    GroupMetadataValue {
        protocol_type: "consumer".into(),
        generation: 4,
        protocol: Some("range".into()),
        leader: Some("m1".into()),
        current_state_timestamp: 1234,
        members: vec![MemberMetadataValue {
            member_id: "m1".into(),
            group_instance_id: Some("i".into()),
            client_id: "c".into(),
            client_host: "/h".into(),
            rebalance_timeout: 300,
            session_timeout: 100,
            subscription: Bytes::from_static(b"S"),
            assignment: Bytes::from_static(b"AA"),
        }],
    }
}

#[test]
fn group_metadata_value_v3_layout() {
    let v = sample_group();
    let mut want = vec![0, 3, 0, 8];
    want.extend(b"consumer");
    want.extend([0, 0, 0, 4, 0, 5]);
    want.extend(b"range");
    want.extend([0, 2, b'm', b'1']);
    want.extend(be64(1234));
    want.extend([0, 0, 0, 1]); // one member
    want.extend([0, 2, b'm', b'1', 0, 1, b'i', 0, 1, b'c', 0, 2, b'/', b'h']);
    want.extend([0, 0, 1, 44, 0, 0, 0, 100]); // rebalance 300, session 100
    want.extend([0, 0, 0, 1, b'S', 0, 0, 0, 2, b'A', b'A']);
    assert_eq!(v.encode().as_ref(), want.as_slice());
    assert_eq!(GroupMetadataValue::decode(&want).unwrap(), v);

    let empty = GroupMetadataValue {
        protocol_type: String::new(),
        generation: 0,
        protocol: None,
        leader: None,
        current_state_timestamp: -1,
        members: vec![],
    };
    let mut want = vec![0, 3, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
    want.extend(be64(-1));
    want.extend([0, 0, 0, 0]);
    assert_eq!(empty.encode().as_ref(), want.as_slice());
    assert_eq!(GroupMetadataValue::decode(&want).unwrap(), empty);
}

#[test]
fn group_metadata_value_older_and_flexible_versions() {
    let full = sample_group();
    // v0: no timestamp, no instance id, no rebalance timeout (defaults to session).
    let mut v0 = vec![0, 0, 0, 8];
    v0.extend(b"consumer");
    v0.extend([0, 0, 0, 4, 0, 5]);
    v0.extend(b"range");
    v0.extend([0, 2, b'm', b'1', 0, 0, 0, 1]);
    v0.extend([0, 2, b'm', b'1', 0, 1, b'c', 0, 2, b'/', b'h', 0, 0, 0, 100]);
    v0.extend([0, 0, 0, 1, b'S', 0, 0, 0, 2, b'A', b'A']);
    let d = GroupMetadataValue::decode(&v0).unwrap();
    assert_eq!(d.current_state_timestamp, -1);
    assert_eq!(d.members[0].group_instance_id, None);
    assert_eq!(d.members[0].rebalance_timeout, 100);
    assert_eq!(d.members[0].assignment, full.members[0].assignment);

    // v4 (flexible): compact strings/bytes/arrays and tagged fields.
    let mut v4 = vec![0, 4, 9];
    v4.extend(b"consumer");
    v4.extend([0, 0, 0, 4, 6]);
    v4.extend(b"range");
    v4.extend([3, b'm', b'1']);
    v4.extend(be64(1234));
    v4.extend([2]); // one member
    v4.extend([3, b'm', b'1', 2, b'i', 2, b'c', 3, b'/', b'h']);
    v4.extend([0, 0, 1, 44, 0, 0, 0, 100, 2, b'S', 3, b'A', b'A', 0]);
    v4.extend([0]);
    assert_eq!(GroupMetadataValue::decode(&v4).unwrap(), full);
}

#[test]
fn decode_record_handles_tombstones() {
    let key = RecordKey::GroupMetadata("g".into()).encode();
    assert_eq!(
        decode_record(&key, None).unwrap(),
        Record::GroupMetadata("g".into(), None)
    );
    let val = sample_group().encode();
    assert_eq!(
        decode_record(&key, Some(&val)).unwrap(),
        Record::GroupMetadata("g".into(), Some(sample_group()))
    );
    let k = OffsetCommitKey {
        group: "g".into(),
        topic: "t".into(),
        partition: 0,
    };
    let okey = RecordKey::OffsetCommit(k.clone()).encode();
    assert_eq!(
        decode_record(&okey, None).unwrap(),
        Record::OffsetCommit(k, None)
    );
    assert!(decode_record(&okey, Some(&[0, 9])).is_err());
}

#[test]
fn partition_for_matches_java_string_hash() {
    assert_eq!(java_string_hash(""), 0);
    assert_eq!(java_string_hash("a"), 97);
    assert_eq!(java_string_hash("ab"), 97 * 31 + 98);
    // A well-known string whose Java hashCode is Integer.MIN_VALUE;
    // Kafka's Utils.abs maps it to 0.
    assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
    // Surrogate pairs count as two UTF-16 units: 0xD83D * 31 + 0xDE00.
    assert_eq!(java_string_hash("\u{1F600}"), 0xD83D * 31 + 0xDE00);

    assert_eq!(partition_for("", 50), 0);
    assert_eq!(partition_for("a", 50), 47);
    assert_eq!(partition_for("ab", 50), 3105 % 50);
    assert_eq!(partition_for("polygenelubricants", 50), 0);
    assert_eq!(partition_for("\u{1F600}", 50), 1_772_899 % 50);
    // Values computed independently from the definition (31-polynomial over
    // UTF-16 units, 32-bit wrap). Negative hashes: the sign bit is masked.
    assert_eq!(java_string_hash("consumer-group-1"), 147_483_020);
    assert_eq!(partition_for("consumer-group-1", 50), 20);
    assert_eq!(java_string_hash("my-group"), -1_906_497_762);
    assert_eq!(partition_for("my-group", 50), 36);
    assert_eq!(java_string_hash("test-consumer-group"), -1_793_216_381);
    assert_eq!(partition_for("test-consumer-group", 50), 17);
    assert_eq!(partition_for("x", 0), 0);
}
