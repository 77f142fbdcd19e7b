use super::*;

fn overrides(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A valid value for each config that differs from its default.
const NON_DEFAULTS: &[(&str, &str)] = &[
    ("cleanup.policy", "compact"),
    ("compression.type", "zstd"),
    ("confluent.key.schema.validation", "true"),
    ("confluent.key.subject.name.strategy", "RecordNameStrategy"),
    ("confluent.value.schema.validation", "true"),
    (
        "confluent.value.subject.name.strategy",
        "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
    ),
    ("delete.retention.ms", "1000"),
    ("flush.messages", "10"),
    ("flush.ms", "100"),
    ("index.interval.bytes", "8192"),
    ("max.compaction.lag.ms", "60000"),
    ("max.message.bytes", "2000000"),
    ("message.timestamp.type", "LogAppendTime"),
    ("min.cleanable.dirty.ratio", "0.1"),
    ("min.compaction.lag.ms", "5"),
    ("min.insync.replicas", "2"),
    ("retention.bytes", "1048576"),
    ("retention.ms", "-1"),
    ("segment.bytes", "14"),
    ("segment.index.bytes", "4096"),
    ("segment.ms", "3600000"),
];

/// A valid value differing from the default for each config Strata keeps without
/// acting on it.
const KEPT: &[(&str, &str)] = &[
    ("compression.gzip.level", "9"),
    ("compression.lz4.level", "1"),
    ("compression.zstd.level", "-5"),
    ("file.delete.delay.ms", "0"),
    ("follower.replication.throttled.replicas", "0:1, 1:2"),
    ("leader.replication.throttled.replicas", "*"),
    ("local.retention.bytes", "1000"),
    ("local.retention.ms", "-1"),
    ("message.downconversion.enable", "false"),
    ("message.format.version", "2.8-IV1"),
    ("message.timestamp.after.max.ms", "3600000"),
    ("message.timestamp.before.max.ms", "0"),
    ("message.timestamp.difference.max.ms", "1000"),
    ("preallocate", "true"),
    ("remote.log.copy.disable", "true"),
    ("remote.log.delete.on.disable", "true"),
    ("remote.storage.enable", "true"),
    ("segment.jitter.ms", "100"),
    ("unclean.leader.election.enable", "true"),
];

#[test]
fn defs_are_sorted_unique_and_complete() {
    let names: Vec<_> = config_defs().iter().map(|d| d.name).collect();
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names, sorted);
    let acted: Vec<_> = config_defs()
        .iter()
        .filter(|d| d.acted_on)
        .map(|d| d.name)
        .collect();
    let listed: Vec<_> = NON_DEFAULTS.iter().map(|(k, _)| *k).collect();
    assert_eq!(acted, listed, "every config needs a non-default test value");
    let kept: Vec<_> = config_defs()
        .iter()
        .filter(|d| !d.acted_on)
        .map(|d| d.name)
        .collect();
    let listed: Vec<_> = KEPT.iter().map(|(k, _)| *k).collect();
    assert_eq!(kept, listed, "every kept config needs a test value");
    for d in config_defs().iter().filter(|d| !d.acted_on) {
        assert!(d.doc.starts_with("Accepted, no effect"), "{}", d.name);
    }
}

#[test]
fn kept_configs_are_valid_stored_and_without_effect() {
    for (key, value) in KEPT {
        assert_eq!(validate(key, value), Ok(()), "{key}={value}");
        let o = overrides(&[(key, value)]);
        assert_eq!(
            TopicConfig::from_overrides(&o).unwrap(),
            TopicConfig::default()
        );
        let e = describe(&o).into_iter().find(|e| e.name == *key).unwrap();
        assert_eq!(
            (e.value.as_str(), e.source),
            (*value, ConfigSource::TopicOverride)
        );
    }
    // Empty throttled-replica lists are valid (what a SUBTRACT of every item leaves).
    assert_eq!(
        validate("leader.replication.throttled.replicas", ""),
        Ok(())
    );
    let bad = [
        ("leader.replication.throttled.replicas", "0"),
        ("leader.replication.throttled.replicas", "0:1,"),
        ("follower.replication.throttled.replicas", "a:b"),
        ("follower.replication.throttled.replicas", "-1:0"),
        ("compression.gzip.level", "10"),
        ("compression.lz4.level", "0"),
        ("compression.zstd.level", "23"),
        ("preallocate", "yes"),
        ("message.format.version", "three"),
        ("message.format.version", "3.0-IVx"),
        ("local.retention.ms", "-3"),
        ("segment.jitter.ms", "-1"),
        ("file.delete.delay.ms", "soon"),
    ];
    for (k, v) in bad {
        assert!(
            matches!(validate(k, v), Err(ConfigError::InvalidValue { .. })),
            "{k}={v}"
        );
    }
}

#[test]
fn string_defaults_match_typed_defaults() {
    let all_defaults: BTreeMap<String, String> = config_defs()
        .iter()
        .map(|d| (d.name.to_string(), d.default.to_string()))
        .collect();
    assert_eq!(
        TopicConfig::from_overrides(&all_defaults).unwrap(),
        TopicConfig::default()
    );
    assert_eq!(
        TopicConfig::from_overrides(&BTreeMap::new()).unwrap(),
        TopicConfig::default()
    );
}

#[test]
fn every_config_reaches_its_typed_field() {
    for (key, value) in NON_DEFAULTS {
        let config = TopicConfig::from_overrides(&overrides(&[(key, value)])).unwrap();
        assert_ne!(
            config,
            TopicConfig::default(),
            "{key}={value} had no effect"
        );
    }
}

#[test]
fn typed_values() {
    let c = TopicConfig::from_overrides(&overrides(&[
        ("cleanup.policy", "compact, delete"),
        ("retention.ms", " 1000 "),
        ("compression.type", "lz4"),
        ("min.cleanable.dirty.ratio", "1"),
    ]))
    .unwrap();
    assert_eq!(
        c.cleanup_policy,
        CleanupPolicy {
            delete: true,
            compact: true
        }
    );
    assert_eq!(c.retention_ms, 1000);
    assert_eq!(c.compression_type, CompressionType::Lz4);
    assert_eq!(c.min_cleanable_dirty_ratio, 1.0);
}

#[test]
fn validation_accepts_good_values() {
    let good = [
        ("cleanup.policy", "delete"),
        ("cleanup.policy", "compact"),
        ("cleanup.policy", "compact,delete"),
        ("cleanup.policy", "delete,compact"),
        ("retention.ms", "-1"),
        ("retention.ms", "9223372036854775807"),
        ("retention.bytes", "-1"),
        ("segment.bytes", "14"),
        ("segment.bytes", "2147483647"),
        ("min.cleanable.dirty.ratio", "0"),
        ("min.cleanable.dirty.ratio", "0.75"),
        ("message.timestamp.type", "CreateTime"),
        ("compression.type", "uncompressed"),
        ("compression.type", "snappy"),
        ("compression.type", "gzip"),
        ("min.insync.replicas", "3"),
        ("flush.ms", "0"),
        ("index.interval.bytes", "0"),
    ];
    for (k, v) in good {
        assert_eq!(validate(k, v), Ok(()), "{k}={v}");
    }
}

#[test]
fn validation_rejects_bad_values() {
    let bad = [
        ("cleanup.policy", "remove"),
        ("cleanup.policy", "compact,compact"),
        ("cleanup.policy", "compact,"),
        ("retention.ms", "-2"),
        ("retention.ms", "abc"),
        ("retention.ms", "1.5"),
        ("retention.ms", "9223372036854775808"),
        ("retention.bytes", "-2"),
        ("segment.bytes", "13"),
        ("segment.bytes", "2147483648"),
        ("segment.ms", "0"),
        ("segment.index.bytes", "3"),
        ("max.message.bytes", "-1"),
        ("message.timestamp.type", "createtime"),
        ("min.insync.replicas", "0"),
        ("delete.retention.ms", "-1"),
        ("min.cleanable.dirty.ratio", "1.01"),
        ("min.cleanable.dirty.ratio", "-0.1"),
        ("min.cleanable.dirty.ratio", "NaN"),
        ("min.compaction.lag.ms", "-1"),
        ("max.compaction.lag.ms", "0"),
        ("compression.type", "brotli"),
        ("flush.messages", "0"),
        ("flush.ms", "-1"),
        ("index.interval.bytes", "-1"),
    ];
    for (k, v) in bad {
        match validate(k, v) {
            Err(ConfigError::InvalidValue { key, value, reason }) => {
                assert_eq!((key.as_str(), value.as_str()), (k, v));
                assert!(!reason.is_empty());
            }
            other => panic!("{k}={v}: expected InvalidValue, got {other:?}"),
        }
    }
}

#[test]
fn error_messages_name_key_and_reason() {
    let e = validate("retention.ms", "soon").unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("retention.ms") && msg.contains("soon") && msg.contains("integer"),
        "{msg}"
    );
    let e = validate("segment.bytes", "1").unwrap_err().to_string();
    assert!(
        e.contains("segment.bytes") && e.contains("at least 14"),
        "{e}"
    );
    let e = validate("no.such.config", "1").unwrap_err();
    assert_eq!(
        e,
        ConfigError::Unknown {
            key: "no.such.config".into()
        }
    );
    assert!(e.to_string().contains("no.such.config"));
}

#[test]
fn from_overrides_rejects_unknown_invalid_and_conflicting() {
    assert!(matches!(
        TopicConfig::from_overrides(&overrides(&[("bogus", "1")])),
        Err(ConfigError::Unknown { .. })
    ));
    assert!(matches!(
        TopicConfig::from_overrides(&overrides(&[("retention.ms", "x")])),
        Err(ConfigError::InvalidValue { .. })
    ));
    let conflict = overrides(&[
        ("min.compaction.lag.ms", "10"),
        ("max.compaction.lag.ms", "5"),
    ]);
    let err = TopicConfig::from_overrides(&conflict).unwrap_err();
    assert!(matches!(err, ConfigError::Conflict(_)));
    assert!(err.to_string().contains("min.compaction.lag.ms"));
}

#[test]
fn describe_lists_every_config_with_source() {
    let entries = describe(&overrides(&[
        ("retention.ms", "1000"),
        ("ignored.key", "x"),
    ]));
    assert_eq!(entries.len(), config_defs().len());
    for e in &entries {
        if e.name == "retention.ms" {
            assert_eq!(e.value, "1000");
            assert_eq!(e.source, ConfigSource::TopicOverride);
            assert_eq!(e.source.kafka_code(), 1);
            assert_eq!(e.config_type.kafka_code(), 5);
        } else {
            assert_eq!(e.value, e.default);
            assert_eq!(e.source, ConfigSource::Default);
            assert_eq!(e.source.kafka_code(), 5);
        }
        assert!(!e.doc.is_empty());
    }
    let segment = entries.iter().find(|e| e.name == "segment.bytes").unwrap();
    assert_eq!(
        (segment.value.as_str(), segment.config_type),
        ("1073741824", ConfigType::Int)
    );
}
