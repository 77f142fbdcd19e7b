//! Tests of the config-changing decisions.

use std::collections::BTreeMap;

use super::tests::{create, req};
use super::*;

fn op(key: &str, op: ConfigOpKind) -> AlterConfigOp {
    AlterConfigOp {
        key: key.into(),
        op,
    }
}

#[test]
fn alter_topic_config_ops() {
    let mut image = MetadataImage::new();
    assert_eq!(create(&mut image, &[req("t", 1, 1)]), vec![Ok(())]);
    let configs = |image: &MetadataImage| image.topic("t").unwrap().configs.clone();
    let apply = |image: &mut MetadataImage, ops: &[AlterConfigOp]| {
        let records = alter_topic_config(image, "t", ops)?;
        *image = image.applied(&records).unwrap();
        Ok::<usize, TopicError>(records.len())
    };
    apply(
        &mut image,
        &[op("retention.ms", ConfigOpKind::Set("5000".into()))],
    )
    .unwrap();
    assert_eq!(
        configs(&image).get("retention.ms").map(String::as_str),
        Some("5000")
    );
    // Setting the same value again changes nothing.
    assert_eq!(
        apply(
            &mut image,
            &[op("retention.ms", ConfigOpKind::Set("5000".into()))]
        ),
        Ok(0)
    );
    apply(
        &mut image,
        &[op("cleanup.policy", ConfigOpKind::Append("compact".into()))],
    )
    .unwrap();
    assert_eq!(
        configs(&image).get("cleanup.policy").map(String::as_str),
        Some("delete,compact")
    );
    apply(
        &mut image,
        &[op(
            "cleanup.policy",
            ConfigOpKind::Subtract("delete".into()),
        )],
    )
    .unwrap();
    assert_eq!(
        configs(&image).get("cleanup.policy").map(String::as_str),
        Some("compact")
    );
    apply(&mut image, &[op("retention.ms", ConfigOpKind::Delete)]).unwrap();
    assert!(!configs(&image).contains_key("retention.ms"));

    let code = |ops: &[AlterConfigOp]| {
        alter_topic_config(&image, "t", ops)
            .unwrap_err()
            .kafka_code()
    };
    assert_eq!(code(&[op("bogus", ConfigOpKind::Delete)]), 40);
    assert_eq!(
        code(&[op("retention.ms", ConfigOpKind::Set("x".into()))]),
        40
    );
    assert_eq!(
        code(&[op("retention.ms", ConfigOpKind::Append("1".into()))]),
        40
    );
    // SUBTRACT may empty a list: an empty cleanup.policy (Kafka 4.1) keeps everything.
    let mut emptied = image.clone();
    apply(
        &mut emptied,
        &[op(
            "cleanup.policy",
            ConfigOpKind::Subtract("compact".into()),
        )],
    )
    .unwrap();
    assert_eq!(
        configs(&emptied).get("cleanup.policy").map(String::as_str),
        Some("")
    );
    let effective = crate::topic_config::TopicConfig::from_overrides(&configs(&emptied)).unwrap();
    assert!(!effective.cleanup_policy.delete && !effective.cleanup_policy.compact);
    assert_eq!(
        code(&[op("cleanup.policy", ConfigOpKind::Append("shred".into()))]),
        40
    );
    assert_eq!(
        code(&[
            op("retention.ms", ConfigOpKind::Delete),
            op("retention.ms", ConfigOpKind::Delete)
        ]),
        42
    );
    assert_eq!(
        code(&[op("max.compaction.lag.ms", ConfigOpKind::Set("0".into()))]),
        40
    );
    assert_eq!(
        code(&[
            op("min.compaction.lag.ms", ConfigOpKind::Set("100".into())),
            op("max.compaction.lag.ms", ConfigOpKind::Set("50".into())),
        ]),
        40
    );
    assert_eq!(
        alter_topic_config(&image, "zz", &[])
            .unwrap_err()
            .kafka_code(),
        3
    );
}

#[test]
fn kafka_op_codes_and_replace() {
    assert_eq!(
        AlterConfigOp::from_kafka("retention.ms", 0, Some("1")),
        Ok(op("retention.ms", ConfigOpKind::Set("1".into())))
    );
    assert_eq!(
        AlterConfigOp::from_kafka("k", 1, None),
        Ok(op("k", ConfigOpKind::Delete))
    );
    assert_eq!(
        AlterConfigOp::from_kafka("k", 0, None)
            .unwrap_err()
            .kafka_code(),
        40
    );
    assert_eq!(
        AlterConfigOp::from_kafka("k", 9, None)
            .unwrap_err()
            .kafka_code(),
        42
    );

    let mut image = MetadataImage::new();
    let mut r = req("t", 1, 1);
    r.configs.insert("retention.ms".into(), Some("10".into()));
    r.configs.insert("segment.ms".into(), Some("10".into()));
    assert_eq!(create(&mut image, &[r]), vec![Ok(())]);
    let new = BTreeMap::from([("segment.ms".to_string(), Some("20".to_string()))]);
    let records = replace_topic_configs(&image, "t", &new).unwrap();
    image = image.applied(&records).unwrap();
    let expected = BTreeMap::from([("segment.ms".to_string(), "20".to_string())]);
    assert_eq!(image.topic("t").unwrap().configs, expected);
    let null = BTreeMap::from([("segment.ms".to_string(), None)]);
    assert_eq!(
        replace_topic_configs(&image, "t", &null)
            .unwrap_err()
            .kafka_code(),
        40
    );
}
