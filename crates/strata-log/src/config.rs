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
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

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
        }
    }
}

impl LogConfig {
    /// Segment size limit actually applied: index positions are 32-bit, so a segment
    /// can never be allowed past `u32::MAX` bytes.
    pub(crate) fn effective_segment_bytes(&self) -> u64 {
        self.segment_bytes.clamp(1, u64::from(u32::MAX))
    }
}
