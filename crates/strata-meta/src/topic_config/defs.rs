//! The table of topic configs: every key Apache Kafka accepts for a topic (its
//! `TopicConfig` and `LogConfig` keys, including those Kafka 4 dropped, which Kafka 3
//! clients still send), plus Confluent's schema-validation keys.
//!
//! Keys marked [`ConfigDef::acted_on`] `false` are accepted, validated as Kafka
//! validates them, stored and reported by DescribeConfigs, but Strata does not act on
//! them; their documentation says so.

use super::{Check, ConfigDef, ConfigType};

const LONG_MAX: &str = "9223372036854775807";
const TOPIC_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.TopicNameStrategy";
const RECORD_NAME_STRATEGY: &str = "io.confluent.kafka.serializers.subject.RecordNameStrategy";
const TOPIC_RECORD_NAME_STRATEGY: &str =
    "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy";
/// The subject name strategies, by Confluent's class names and their short names.
const STRATEGIES: &[&str] = &[
    TOPIC_NAME_STRATEGY,
    RECORD_NAME_STRATEGY,
    TOPIC_RECORD_NAME_STRATEGY,
    "TopicNameStrategy",
    "RecordNameStrategy",
    "TopicRecordNameStrategy",
];
const BOOL: Check = Check::OneOf(&["true", "false"]);

/// A config Strata acts on.
const fn def(
    name: &'static str,
    config_type: ConfigType,
    default: &'static str,
    doc: &'static str,
    check: Check,
) -> ConfigDef {
    ConfigDef {
        name,
        config_type,
        default,
        doc,
        acted_on: true,
        check,
    }
}

/// A config Strata accepts and keeps but does not act on (the doc says so).
const fn kept(
    name: &'static str,
    config_type: ConfigType,
    default: &'static str,
    doc: &'static str,
    check: Check,
) -> ConfigDef {
    ConfigDef {
        name,
        config_type,
        default,
        doc,
        acted_on: false,
        check,
    }
}

/// Every topic config, sorted by name.
pub(super) static DEFS: &[ConfigDef] = &[
    def(
        "cleanup.policy",
        ConfigType::List,
        "delete",
        "What happens to old segments: 'delete' removes them by retention time/size, \
         'compact' keeps the latest record per key; both may be given; an empty list \
         keeps every segment (neither deleted nor compacted).",
        Check::ListOf(&["compact", "delete"]),
    ),
    kept(
        "compression.gzip.level",
        ConfigType::Int,
        "-1",
        "Accepted, no effect: gzip level when the broker recompresses (-1 or 1-9).",
        Check::IntRange { min: -1, max: 9 },
    ),
    kept(
        "compression.lz4.level",
        ConfigType::Int,
        "9",
        "Accepted, no effect: lz4 level when the broker recompresses (1-17).",
        Check::IntRange { min: 1, max: 17 },
    ),
    def(
        "compression.type",
        ConfigType::String,
        "producer",
        "Compression of stored batches; 'producer' keeps what the producer sent.",
        Check::OneOf(&["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"]),
    ),
    kept(
        "compression.zstd.level",
        ConfigType::Int,
        "3",
        "Accepted, no effect: zstd level when the broker recompresses (-131072 to 22).",
        Check::IntRange {
            min: -131_072,
            max: 22,
        },
    ),
    def(
        "confluent.key.schema.validation",
        ConfigType::Boolean,
        "false",
        "Produced record keys must carry the id of a schema registered under the \
         topic's key subject (magic byte 0, then the id).",
        BOOL,
    ),
    def(
        "confluent.key.subject.name.strategy",
        ConfigType::Class,
        TOPIC_NAME_STRATEGY,
        "How the key subject is named: TopicNameStrategy (<topic>-key), \
         RecordNameStrategy (the record's full name) or TopicRecordNameStrategy \
         (<topic>-<full name>).",
        Check::OneOf(STRATEGIES),
    ),
    def(
        "confluent.value.schema.validation",
        ConfigType::Boolean,
        "false",
        "Produced record values must carry the id of a schema registered under the \
         topic's value subject (magic byte 0, then the id).",
        BOOL,
    ),
    def(
        "confluent.value.subject.name.strategy",
        ConfigType::Class,
        TOPIC_NAME_STRATEGY,
        "How the value subject is named: TopicNameStrategy (<topic>-value), \
         RecordNameStrategy or TopicRecordNameStrategy.",
        Check::OneOf(STRATEGIES),
    ),
    def(
        "delete.retention.ms",
        ConfigType::Long,
        "86400000",
        "How long delete markers (tombstones) are kept in compacted topics.",
        Check::Long { min: 0 },
    ),
    kept(
        "file.delete.delay.ms",
        ConfigType::Long,
        "60000",
        "Accepted, no effect: delay before a deleted segment's files are removed \
         (Strata removes them at once).",
        Check::Long { min: 0 },
    ),
    def(
        "flush.messages",
        ConfigType::Long,
        LONG_MAX,
        "Force an fsync after this many messages (normally left to the flush policy).",
        Check::Long { min: 1 },
    ),
    def(
        "flush.ms",
        ConfigType::Long,
        LONG_MAX,
        "Force an fsync when data is older than this (normally left to the flush policy).",
        Check::Long { min: 0 },
    ),
    kept(
        "follower.replication.throttled.replicas",
        ConfigType::List,
        "",
        "Accepted, no effect: replicas (partition:broker, or '*') whose follower-side \
         replication is throttled.",
        Check::ThrottledReplicas,
    ),
    def(
        "index.interval.bytes",
        ConfigType::Int,
        "4096",
        "Bytes of log between two entries of the offset index.",
        Check::Int { min: 0 },
    ),
    kept(
        "leader.replication.throttled.replicas",
        ConfigType::List,
        "",
        "Accepted, no effect: replicas (partition:broker, or '*') whose leader-side \
         replication is throttled.",
        Check::ThrottledReplicas,
    ),
    kept(
        "local.retention.bytes",
        ConfigType::Long,
        "-2",
        "Accepted, no effect: local size limit with tiered storage (-2 = retention.bytes).",
        Check::Long { min: -2 },
    ),
    kept(
        "local.retention.ms",
        ConfigType::Long,
        "-2",
        "Accepted, no effect: local retention time with tiered storage (-2 = retention.ms).",
        Check::Long { min: -2 },
    ),
    def(
        "max.compaction.lag.ms",
        ConfigType::Long,
        LONG_MAX,
        "Longest time a record may stay uncompacted.",
        Check::Long { min: 1 },
    ),
    def(
        "max.message.bytes",
        ConfigType::Int,
        "1048588",
        "Largest record batch the topic accepts, in bytes.",
        Check::Int { min: 0 },
    ),
    kept(
        "message.downconversion.enable",
        ConfigType::Boolean,
        "true",
        "Accepted, no effect: down-conversion for old consumers (Strata serves \
         record batch v2 only).",
        BOOL,
    ),
    kept(
        "message.format.version",
        ConfigType::String,
        "3.0-IV1",
        "Accepted, no effect (deprecated in Kafka 3, removed in 4): the message format \
         version; Strata always writes v2.",
        Check::Version,
    ),
    kept(
        "message.timestamp.after.max.ms",
        ConfigType::Long,
        LONG_MAX,
        "Accepted, no effect: how far a CreateTime timestamp may lie in the future.",
        Check::Long { min: 0 },
    ),
    kept(
        "message.timestamp.before.max.ms",
        ConfigType::Long,
        LONG_MAX,
        "Accepted, no effect: how far a CreateTime timestamp may lie in the past.",
        Check::Long { min: 0 },
    ),
    kept(
        "message.timestamp.difference.max.ms",
        ConfigType::Long,
        LONG_MAX,
        "Accepted, no effect (deprecated in Kafka 3, removed in 4): largest difference \
         between a CreateTime timestamp and the broker's clock.",
        Check::Long { min: 0 },
    ),
    def(
        "message.timestamp.type",
        ConfigType::String,
        "CreateTime",
        "Whether record timestamps are the producer's (CreateTime) or the broker's \
         append time (LogAppendTime).",
        Check::OneOf(&["CreateTime", "LogAppendTime"]),
    ),
    def(
        "min.cleanable.dirty.ratio",
        ConfigType::Double,
        "0.5",
        "Share of uncompacted log above which the log is eligible for compaction.",
        Check::Double { min: 0.0, max: 1.0 },
    ),
    def(
        "min.compaction.lag.ms",
        ConfigType::Long,
        "0",
        "Shortest time a record stays uncompacted.",
        Check::Long { min: 0 },
    ),
    def(
        "min.insync.replicas",
        ConfigType::Int,
        "1",
        "Fewest in-sync replicas for an acks=all produce to succeed.",
        Check::Int { min: 1 },
    ),
    kept(
        "preallocate",
        ConfigType::Boolean,
        "false",
        "Accepted, no effect: preallocate segment files on disk.",
        BOOL,
    ),
    kept(
        "remote.log.copy.disable",
        ConfigType::Boolean,
        "false",
        "Accepted, no effect: stop copying segments to tiered storage.",
        BOOL,
    ),
    kept(
        "remote.log.delete.on.disable",
        ConfigType::Boolean,
        "false",
        "Accepted, no effect: delete tiered segments when tiered storage is turned off.",
        BOOL,
    ),
    kept(
        "remote.storage.enable",
        ConfigType::Boolean,
        "false",
        "Accepted, no effect: tiered storage (Strata keeps every segment locally).",
        BOOL,
    ),
    def(
        "retention.bytes",
        ConfigType::Long,
        "-1",
        "Largest size a partition may grow to before old segments are deleted; -1 = no limit.",
        Check::Long { min: -1 },
    ),
    def(
        "retention.ms",
        ConfigType::Long,
        "604800000",
        "How long records are kept before old segments are deleted; -1 = no limit.",
        Check::Long { min: -1 },
    ),
    def(
        "segment.bytes",
        ConfigType::Int,
        "1073741824",
        "Size at which the active segment is rolled.",
        Check::Int { min: 14 },
    ),
    def(
        "segment.index.bytes",
        ConfigType::Int,
        "10485760",
        "Maximum size of a segment's offset index.",
        Check::Int { min: 4 },
    ),
    kept(
        "segment.jitter.ms",
        ConfigType::Long,
        "0",
        "Accepted, no effect: random jitter subtracted from the segment roll time.",
        Check::Long { min: 0 },
    ),
    def(
        "segment.ms",
        ConfigType::Long,
        "604800000",
        "Age at which the active segment is rolled even if not full.",
        Check::Long { min: 1 },
    ),
    kept(
        "unclean.leader.election.enable",
        ConfigType::Boolean,
        "false",
        "Accepted, no effect on the log; the controller elects a live replica outside the ISR \
         when no ISR member is alive (records may be lost).",
        BOOL,
    ),
];
