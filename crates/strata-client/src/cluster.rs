//! Shared cluster state: bootstrap, the connection pool and the metadata cache.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use parking_lot::Mutex;
use uuid::Uuid;

use crate::connection::{Connection, Transport};
use crate::error::{codes, ClientError, Result};
use crate::security::SecurityConfig;

/// Settings common to every client type.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `host:port` addresses used to discover the cluster.
    pub bootstrap: Vec<String>,
    /// Sent in every request header; shows up in broker logs and quotas.
    pub client_id: String,
    /// How long to wait for a TCP connection.
    pub connect_timeout: Duration,
    /// How long to wait for any single response.
    pub request_timeout: Duration,
    /// Pause between retries of a retriable failure.
    pub retry_backoff: Duration,
    /// TLS and SASL, for every connection (bootstrap, brokers, coordinators).
    pub security: SecurityConfig,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            bootstrap: vec!["127.0.0.1:9092".to_string()],
            client_id: "strata-client".to_string(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            retry_backoff: Duration::from_millis(100),
            security: SecurityConfig::plaintext(),
        }
    }
}

impl ClientConfig {
    /// A config for the given comma-separated bootstrap list, other settings default.
    pub fn new(bootstrap: &str) -> Self {
        ClientConfig {
            bootstrap: parse_bootstrap(bootstrap),
            ..ClientConfig::default()
        }
    }
}

/// Splits `a:1,b:2` into addresses, dropping blanks.
pub fn parse_bootstrap(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// One partition as the metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// Partition index.
    pub partition: i32,
    /// Broker id of the leader, or -1 when there is none.
    pub leader: i32,
    /// Current leader epoch, -1 when unknown.
    pub leader_epoch: i32,
    /// All replicas' broker ids.
    pub replicas: Vec<i32>,
    /// In-sync replicas' broker ids.
    pub isr: Vec<i32>,
    /// Replicas that are offline.
    pub offline_replicas: Vec<i32>,
    /// Per-partition error code from the metadata response (0 = none).
    pub error_code: i16,
}

/// One topic as the metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// Topic name.
    pub name: String,
    /// Topic id (nil when the broker's Metadata version predates ids).
    pub id: Uuid,
    /// Whether this is an internal topic such as `__consumer_offsets`.
    pub internal: bool,
    /// Partitions sorted by index.
    pub partitions: Vec<PartitionMetadata>,
}

#[derive(Default)]
struct Cache {
    brokers: HashMap<i32, String>,
    controller: i32,
    topics: HashMap<String, Arc<TopicMetadata>>,
}

/// Connection pool plus metadata cache, shared by a producer, consumer or admin.
pub(crate) struct Cluster {
    pub(crate) config: ClientConfig,
    transport: Transport,
    cache: Mutex<Cache>,
    conns: tokio::sync::Mutex<HashMap<String, Arc<Connection>>>,
    /// Whether metadata lookups of named topics let the broker create missing ones (its
    /// `auto.create.topics.enable` decides). Producers ask for it, as Kafka's do; admins
    /// and consumers do not, so a typo creates nothing.
    auto_create_topics: AtomicBool,
}

/// How long refused bootstrap connections are retried before any metadata came.
pub(crate) const BOOTSTRAP_REFUSED_RETRY: Duration = Duration::from_secs(3);

impl Cluster {
    pub(crate) fn new(config: ClientConfig) -> Result<Arc<Cluster>> {
        if config.bootstrap.is_empty() {
            return Err(ClientError::Config("bootstrap server list is empty".into()));
        }
        let transport = Transport::new(&config.security)?;
        Ok(Arc::new(Cluster {
            transport,
            config,
            cache: Mutex::new(Cache {
                controller: -1,
                ..Cache::default()
            }),
            conns: tokio::sync::Mutex::new(HashMap::new()),
            auto_create_topics: AtomicBool::new(false),
        }))
    }

    /// Lets later lookups of named topics ask the broker to create missing ones.
    pub(crate) fn set_auto_create_topics(&self, allow: bool) {
        self.auto_create_topics.store(allow, Ordering::Relaxed);
    }

    /// A connection to `addr`, reusing a live one.
    pub(crate) async fn connection(&self, addr: &str) -> Result<Arc<Connection>> {
        let mut conns = self.conns.lock().await;
        if let Some(c) = conns.get(addr) {
            if !c.is_closed() {
                return Ok(c.clone());
            }
        }
        let c = Arc::new(self.open(addr).await?);
        conns.insert(addr.to_string(), c.clone());
        Ok(c)
    }

    /// A new connection to `addr` with the client's security settings (not pooled).
    pub(crate) async fn open(&self, addr: &str) -> Result<Connection> {
        Connection::connect(addr, &self.config, &self.transport).await
    }

    /// A connection to any reachable broker: known brokers first, then bootstrap addresses.
    /// Before any metadata came, bootstrap addresses that all refuse connections are
    /// tried again for [`BOOTSTRAP_REFUSED_RETRY`]: a broker started a moment ago is not
    /// listening yet (a script that starts nodes and then uses them).
    pub(crate) async fn any_connection(&self) -> Result<Arc<Connection>> {
        let deadline = tokio::time::Instant::now() + BOOTSTRAP_REFUSED_RETRY;
        loop {
            let (known, mut candidates) = {
                let cache = self.cache.lock();
                (
                    !cache.brokers.is_empty(),
                    cache.brokers.values().cloned().collect::<Vec<_>>(),
                )
            };
            candidates.sort();
            for b in &self.config.bootstrap {
                if !candidates.contains(b) {
                    candidates.push(b.clone());
                }
            }
            let mut last = None;
            for addr in candidates {
                match self.connection(&addr).await {
                    Ok(c) => return Ok(c),
                    Err(e) => last = Some(e),
                }
            }
            let refused = matches!(&last, Some(ClientError::Connect { reason, .. }) if reason == "connection refused");
            if known || !refused || tokio::time::Instant::now() >= deadline {
                return Err(
                    last.unwrap_or_else(|| ClientError::Config("no brokers to connect to".into()))
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A connection to the broker with `id`.
    pub(crate) async fn broker_connection(&self, id: i32) -> Result<Arc<Connection>> {
        let addr = self.cache.lock().brokers.get(&id).cloned();
        match addr {
            Some(a) => self.connection(&a).await,
            None => Err(ClientError::from_code(
                codes::LEADER_NOT_AVAILABLE,
                None,
                &format!("broker {id} is not in the cluster metadata"),
            )),
        }
    }

    /// A connection to the active controller (falls back to any broker).
    pub(crate) async fn controller_connection(&self) -> Result<Arc<Connection>> {
        let controller = self.cache.lock().controller;
        if controller < 0 {
            self.fetch_metadata(Some(&[])).await?;
        }
        let controller = self.cache.lock().controller;
        if controller >= 0 {
            if let Ok(c) = self.broker_connection(controller).await {
                return Ok(c);
            }
        }
        self.any_connection().await
    }

    /// Fetches metadata for `topics` (`None` = all topics) and updates the cache.
    pub(crate) async fn fetch_metadata(
        &self,
        topics: Option<&[String]>,
    ) -> Result<MetadataResponse> {
        let conn = self.any_connection().await?;
        let version = conn.version_for::<MetadataRequest>(None)?;
        if version < 1 {
            // v0 cannot say "no topics" (an empty list means all), which the controller lookup
            // relies on.
            return Err(ClientError::UnsupportedVersion {
                api: "Metadata v1+".into(),
            });
        }
        let mut req = MetadataRequest::default();
        req.topics = topics.map(|ts| {
            ts.iter()
                .map(|t| {
                    MetadataRequestTopic::default()
                        .with_name(Some(TopicName(StrBytes::from_string(t.clone()))))
                })
                .collect()
        });
        if version >= 4 {
            // Only producers let the broker create a topic they name (see
            // `auto_create_topics`); everyone else must not create one by a typo.
            req.allow_auto_topic_creation = self.auto_create_topics.load(Ordering::Relaxed)
                && topics.is_some_and(|t| !t.is_empty());
        }
        let resp = conn
            .request(&req, version, self.config.request_timeout)
            .await?;
        self.update_cache(&resp);
        Ok(resp)
    }

    fn update_cache(&self, resp: &MetadataResponse) {
        let mut cache = self.cache.lock();
        for b in &resp.brokers {
            cache
                .brokers
                .insert(b.node_id.0, format!("{}:{}", b.host.as_str(), b.port));
        }
        cache.controller = resp.controller_id.0;
        for t in &resp.topics {
            let Some(name) = &t.name else { continue };
            let name = name.0.as_str().to_string();
            if t.error_code != 0 {
                cache.topics.remove(&name);
                continue;
            }
            cache
                .topics
                .insert(name.clone(), Arc::new(topic_from_response(name, t)));
        }
    }

    /// The cached metadata for `topic`, fetching it when absent. Errors with the broker's code
    /// when the topic is unknown.
    pub(crate) async fn topic(&self, topic: &str) -> Result<Arc<TopicMetadata>> {
        if let Some(t) = self.cache.lock().topics.get(topic) {
            return Ok(t.clone());
        }
        let resp = self.fetch_metadata(Some(&[topic.to_string()])).await?;
        if let Some(t) = resp
            .topics
            .iter()
            .find(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some(topic))
        {
            if t.error_code != 0 {
                return Err(topic_error(t.error_code, topic));
            }
        }
        self.cache
            .lock()
            .topics
            .get(topic)
            .cloned()
            .ok_or_else(|| topic_error(codes::UNKNOWN_TOPIC_OR_PARTITION, topic))
    }

    /// Like [`Cluster::topic`], but retries retriable errors (a topic just created may not be
    /// visible yet) until the request timeout has passed.
    pub(crate) async fn topic_with_retry(&self, topic: &str) -> Result<Arc<TopicMetadata>> {
        let deadline = tokio::time::Instant::now() + self.config.request_timeout;
        loop {
            match self.topic(topic).await {
                Ok(t) => return Ok(t),
                // Before any metadata came, an unreachable bootstrap has had its retries
                // (see `any_connection`): fail as fast as every other client call does.
                Err(e @ ClientError::Connect { .. }) if !self.has_metadata() => return Err(e),
                Err(e) if e.is_retriable() && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(self.config.retry_backoff).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether any metadata (the cluster's brokers) has been received yet.
    pub(crate) fn has_metadata(&self) -> bool {
        !self.cache.lock().brokers.is_empty()
    }

    /// Forgets cached metadata for `topic` so the next lookup asks the cluster.
    pub(crate) fn invalidate(&self, topic: &str) {
        self.cache.lock().topics.remove(topic);
    }

    /// The connection to the leader of `topic`/`partition`.
    pub(crate) async fn leader_connection(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<(Arc<TopicMetadata>, Arc<Connection>)> {
        let meta = self.topic(topic).await?;
        let p = meta
            .partitions
            .iter()
            .find(|p| p.partition == partition)
            .ok_or_else(|| {
                ClientError::from_code(
                    codes::UNKNOWN_TOPIC_OR_PARTITION,
                    None,
                    &format!("partition {partition} of topic '{topic}' does not exist"),
                )
            })?;
        if p.leader < 0 {
            return Err(ClientError::from_code(
                codes::LEADER_NOT_AVAILABLE,
                None,
                &format!("partition {topic}-{partition} has no leader"),
            ));
        }
        let conn = self.broker_connection(p.leader).await?;
        Ok((meta, conn))
    }
}

pub(crate) fn topic_from_response(
    name: String,
    t: &kafka_protocol::messages::metadata_response::MetadataResponseTopic,
) -> TopicMetadata {
    let mut partitions: Vec<PartitionMetadata> = t
        .partitions
        .iter()
        .map(|p| PartitionMetadata {
            partition: p.partition_index,
            leader: p.leader_id.0,
            leader_epoch: p.leader_epoch,
            replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
            isr: p.isr_nodes.iter().map(|b| b.0).collect(),
            offline_replicas: p.offline_replicas.iter().map(|b| b.0).collect(),
            error_code: p.error_code,
        })
        .collect();
    partitions.sort_by_key(|p| p.partition);
    TopicMetadata {
        name,
        id: t.topic_id,
        internal: t.is_internal,
        partitions,
    }
}

/// A topic-level error with a message naming the topic.
pub(crate) fn topic_error(code: i16, topic: &str) -> ClientError {
    let what = match code {
        codes::UNKNOWN_TOPIC_OR_PARTITION => format!("topic '{topic}' does not exist"),
        codes::TOPIC_ALREADY_EXISTS => format!("topic '{topic}' already exists"),
        codes::INVALID_TOPIC_EXCEPTION => format!("invalid topic name '{topic}'"),
        codes::LEADER_NOT_AVAILABLE => format!("topic '{topic}' has no leader yet"),
        _ => format!("topic '{topic}'"),
    };
    ClientError::from_code(code, None, &what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_list_parsing() {
        assert_eq!(parse_bootstrap("a:1, b:2,,"), vec!["a:1", "b:2"]);
        assert!(parse_bootstrap(" ").is_empty());
        assert!(Cluster::new(ClientConfig {
            bootstrap: vec![],
            ..ClientConfig::default()
        })
        .is_err());
    }

    #[test]
    fn topic_errors_name_the_topic() {
        assert_eq!(
            topic_error(36, "x").to_string(),
            "topic 'x' already exists (TOPIC_ALREADY_EXISTS)"
        );
        assert_eq!(
            topic_error(3, "y").to_string(),
            "topic 'y' does not exist (UNKNOWN_TOPIC_OR_PARTITION)"
        );
    }
}
