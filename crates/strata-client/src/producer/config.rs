//! Producer configuration.

use std::str::FromStr;
use std::time::Duration;

use kafka_protocol::records::Compression;

use crate::cluster::{parse_bootstrap, ClientConfig};
use crate::error::{ClientError, Result};

/// How many replicas must have a batch before the broker acknowledges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acks {
    /// Fire and forget: no response, offsets unknown (`-1`).
    None,
    /// The leader has written it.
    Leader,
    /// All in-sync replicas have it.
    All,
}

impl Acks {
    /// The wire value: 0, 1 or -1.
    pub fn wire(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

impl FromStr for Acks {
    type Err = ClientError;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "0" | "none" => Ok(Acks::None),
            "1" | "leader" => Ok(Acks::Leader),
            "-1" | "all" => Ok(Acks::All),
            other => Err(ClientError::Config(format!(
                "acks must be 0, 1, -1 or all, got '{other}'"
            ))),
        }
    }
}

/// Parses a codec name: `none`, `gzip`, `snappy`, `lz4` or `zstd`.
pub fn parse_compression(s: &str) -> Result<Compression> {
    match s.trim().to_ascii_lowercase().as_str() {
        "none" | "" => Ok(Compression::None),
        "gzip" => Ok(Compression::Gzip),
        "snappy" => Ok(Compression::Snappy),
        "lz4" => Ok(Compression::Lz4),
        "zstd" => Ok(Compression::Zstd),
        other => Err(ClientError::Config(format!(
            "compression must be none, gzip, snappy, lz4 or zstd, got '{other}'"
        ))),
    }
}

/// Everything a [`crate::Producer`] can be tuned with. Defaults follow the Java client's.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// Connection settings.
    pub client: ClientConfig,
    /// Acknowledgement level.
    pub acks: Acks,
    /// How long a partial batch waits for more records.
    pub linger: Duration,
    /// Target batch size in bytes (estimated, before compression).
    pub batch_size: usize,
    /// Codec for every batch.
    pub compression: Compression,
    /// How many times a retriable failure is retried.
    pub retries: u32,
    /// Upper bound on bytes buffered and in flight; `send` waits when it is reached.
    pub buffer_memory: usize,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            client: ClientConfig::default(),
            acks: Acks::All,
            linger: Duration::from_millis(5),
            batch_size: 16 * 1024,
            compression: Compression::None,
            retries: 10,
            buffer_memory: 32 * 1024 * 1024,
        }
    }
}

impl ProducerConfig {
    /// Checks the values make sense together.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size == 0 {
            return Err(ClientError::Config("batch size must be positive".into()));
        }
        if self.buffer_memory < self.batch_size {
            return Err(ClientError::Config(
                "buffer memory must be at least one batch".into(),
            ));
        }
        if self.client.bootstrap.is_empty() {
            return Err(ClientError::Config("bootstrap server list is empty".into()));
        }
        Ok(())
    }
}

/// Fluent construction of a [`ProducerConfig`].
#[derive(Debug, Clone, Default)]
pub struct ProducerBuilder {
    config: ProducerConfig,
}

impl ProducerBuilder {
    /// Starts from the defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Comma-separated `host:port` list.
    pub fn bootstrap(mut self, servers: &str) -> Self {
        self.config.client.bootstrap = parse_bootstrap(servers);
        self
    }
    /// Client id sent in request headers.
    pub fn client_id(mut self, id: &str) -> Self {
        self.config.client.client_id = id.to_string();
        self
    }
    /// Acknowledgement level.
    pub fn acks(mut self, acks: Acks) -> Self {
        self.config.acks = acks;
        self
    }
    /// Linger time for partial batches.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.config.linger = linger;
        self
    }
    /// Target batch size in bytes.
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.config.batch_size = bytes;
        self
    }
    /// Batch compression codec.
    pub fn compression(mut self, c: Compression) -> Self {
        self.config.compression = c;
        self
    }
    /// Retry count for retriable errors.
    pub fn retries(mut self, n: u32) -> Self {
        self.config.retries = n;
        self
    }
    /// Per-request timeout.
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.config.client.request_timeout = t;
        self
    }
    /// Buffered-bytes limit.
    pub fn buffer_memory(mut self, bytes: usize) -> Self {
        self.config.buffer_memory = bytes;
        self
    }
    /// The finished config.
    pub fn config(self) -> ProducerConfig {
        self.config
    }
    /// Validates and creates the producer. Must be called within a tokio runtime.
    pub fn build(self) -> Result<super::Producer> {
        super::Producer::new(self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_parse() {
        assert_eq!("0".parse::<Acks>().ok(), Some(Acks::None));
        assert_eq!("1".parse::<Acks>().ok(), Some(Acks::Leader));
        assert_eq!("-1".parse::<Acks>().ok(), Some(Acks::All));
        assert_eq!("all".parse::<Acks>().ok(), Some(Acks::All));
        assert!("2".parse::<Acks>().is_err());
        assert_eq!(Acks::All.wire(), -1);
    }

    #[test]
    fn compression_parse() {
        assert_eq!(parse_compression("ZSTD").ok(), Some(Compression::Zstd));
        assert_eq!(parse_compression("snappy").ok(), Some(Compression::Snappy));
        assert!(parse_compression("brotli").is_err());
    }

    #[test]
    fn builder_sets_and_validates() {
        let c = ProducerBuilder::new()
            .bootstrap("h1:1,h2:2")
            .acks(Acks::Leader)
            .batch_size(1000)
            .linger(Duration::from_millis(20))
            .compression(Compression::Lz4)
            .retries(2)
            .config();
        assert_eq!(c.client.bootstrap, vec!["h1:1", "h2:2"]);
        assert_eq!(c.batch_size, 1000);
        assert_eq!(c.acks, Acks::Leader);
        assert!(c.validate().is_ok());
        let bad = ProducerBuilder::new().batch_size(0).config();
        assert!(bad.validate().is_err());
        let bad = ProducerBuilder::new().bootstrap(" , ").config();
        assert!(bad.validate().is_err());
    }
}
