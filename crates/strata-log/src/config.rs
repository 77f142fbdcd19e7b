//! Per-partition log configuration (Kafka topic-config semantics).

/// Which timestamp a topic keeps for its records (`message.timestamp.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampType {
    /// Keep the producer's timestamps.
    #[default]
    CreateTime,
    /// Stamp every batch with the broker's clock when it is appended.
    LogAppendTime,
}

/// Settings of one partition log. Field names follow Kafka's topic configs.
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes`: roll the active segment before it would grow beyond this size.
    pub segment_bytes: u64,
    /// `segment.ms`: roll a non-empty active segment older than this.
    pub segment_ms: i64,
    /// `index.interval.bytes`: bytes of log between two sparse index entries.
    pub index_interval_bytes: u32,
    /// `max.message.bytes`: largest accepted record batch, log overhead included.
    pub max_message_bytes: u32,
    /// `retention.ms`: delete sealed segments whose newest record is older; -1 keeps forever.
    pub retention_ms: i64,
    /// `retention.bytes`: delete the oldest sealed segments while the log is larger; -1 = no limit.
    pub retention_bytes: i64,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// `cleanup.policy` contains `compact`: the log cleaner keeps only the latest record
    /// of every key (see [`crate::Log::clean`]).
    pub cleanup_compact: bool,
    /// `cleanup.policy` contains `delete`: `retention.ms` / `retention.bytes` delete old
    /// segments. Without it retention never deletes anything.
    pub cleanup_delete: bool,
    /// `delete.retention.ms`: how long a tombstone (null value) survives after the
    /// cleaner first saw it, so consumers reading the head can still observe the delete.
    pub delete_retention_ms: i64,
    /// `min.compaction.lag.ms`: segments holding a record newer than this are not cleaned.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: a dirty record older than this makes cleaning due
    /// regardless of the dirty ratio; also caps `segment.ms` of a compacted log so the
    /// active segment gets rolled (and so becomes cleanable) in time.
    pub max_compaction_lag_ms: i64,
    /// `min.cleanable.dirty.ratio`: cleaning is due once dirty bytes make up more than
    /// this share of the cleanable part of the log.
    pub min_cleanable_dirty_ratio: f64,
}

// Every field but the ratio is an integer or enum; the ratio comes from config parsing
// and is never NaN, so equality is reflexive in practice.
impl Eq for LogConfig {}

/// Seven days in milliseconds, Kafka's default for `segment.ms` and `retention.ms`.
pub const SEVEN_DAYS_MS: i64 = 7 * 24 * 60 * 60 * 1000;

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: SEVEN_DAYS_MS,
            index_interval_bytes: 4096,
            max_message_bytes: 1_048_588,
            retention_ms: SEVEN_DAYS_MS,
            retention_bytes: -1,
            timestamp_type: TimestampType::CreateTime,
            cleanup_compact: false,
            cleanup_delete: true,
            delete_retention_ms: 86_400_000,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            min_cleanable_dirty_ratio: 0.5,
        }
    }
}

impl LogConfig {
    /// Segment size limit actually applied: index positions are 32-bit, so a segment
    /// can never be allowed past `u32::MAX` bytes.
    pub(crate) fn effective_segment_bytes(&self) -> u64 {
        self.segment_bytes.clamp(1, u64::from(u32::MAX))
    }

    /// `segment.ms` actually applied: a compacted log also rolls by
    /// `max.compaction.lag.ms`, because the active segment is never cleaned.
    pub(crate) fn effective_segment_ms(&self) -> i64 {
        if self.cleanup_compact && self.max_compaction_lag_ms > 0 {
            self.segment_ms.min(self.max_compaction_lag_ms)
        } else {
            self.segment_ms
        }
    }
}
