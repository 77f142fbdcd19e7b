//! The producer: partitioning, batching per partition, ordered delivery with retries.
//!
//! `enqueue` puts a record into its partition's open batch and returns a [`DeliveryFuture`].
//! One worker task per partition with queued batches sends them one at a time (so at most one
//! produce per partition is in flight and order is kept, even across retries) and resolves the
//! futures with the assigned offsets.

mod config;
mod sender;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{oneshot, Notify, OwnedSemaphorePermit, Semaphore};

pub use config::{parse_compression, Acks, ProducerBuilder, ProducerConfig};

use crate::accumulator::PartitionQueue;
use crate::batch::{estimate_record_size, Header, PendingRecord};
use crate::cluster::Cluster;
use crate::error::{codes, ClientError, Result};
use crate::partitioner::{partition_for_key, StickyPartitioner};

/// A record to produce.
#[derive(Debug, Clone, Default)]
pub struct ProducerRecord {
    /// Target topic.
    pub topic: String,
    /// Explicit partition; otherwise chosen by key hash or sticky partitioning.
    pub partition: Option<i32>,
    /// Record key.
    pub key: Option<Bytes>,
    /// Record value (`None` = tombstone).
    pub value: Option<Bytes>,
    /// Record headers.
    pub headers: Vec<Header>,
    /// Create time in ms since the epoch; defaults to now.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record with a value and nothing else.
    pub fn new(topic: impl Into<String>, value: impl Into<Bytes>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            value: Some(value.into()),
            ..Default::default()
        }
    }
    /// Sets the key.
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }
    /// Pins the partition.
    pub fn partition(mut self, p: i32) -> Self {
        self.partition = Some(p);
        self
    }
    /// Adds a header.
    pub fn header(mut self, name: impl Into<String>, value: Option<Bytes>) -> Self {
        self.headers.push((name.into(), value));
        self
    }
    /// Sets the create timestamp.
    pub fn timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }
}

/// Where a record landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset, or -1 with `acks=0`.
    pub offset: i64,
    /// The record's timestamp (log-append time if the topic uses it).
    pub timestamp: i64,
}

/// Resolves when the record is acknowledged (or has definitely failed).
#[derive(Debug)]
pub struct DeliveryFuture {
    rx: oneshot::Receiver<Result<RecordMetadata>>,
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match Pin::new(&mut self.rx).poll(cx) {
            Poll::Ready(Ok(r)) => Poll::Ready(r),
            Poll::Ready(Err(_)) => Poll::Ready(Err(ClientError::Closed)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// What a queued record needs to be told about its fate.
pub(crate) struct Waiter {
    tx: oneshot::Sender<Result<RecordMetadata>>,
    timestamp: i64,
    /// Buffer-memory reservation, released when the record completes.
    _permit: OwnedSemaphorePermit,
}

type TopicPartition = (String, i32);

#[derive(Default)]
struct PartitionState {
    queue: PartitionQueue<Waiter>,
    worker_running: bool,
    notify: Arc<Notify>,
    batches_opened: u64,
    batches_done: u64,
}

#[derive(Default)]
struct State {
    partitions: HashMap<TopicPartition, PartitionState>,
    sticky: StickyPartitioner,
    closed: bool,
}

pub(crate) struct Inner {
    cluster: Arc<Cluster>,
    config: ProducerConfig,
    state: Mutex<State>,
    memory: Arc<Semaphore>,
    /// Signalled whenever a batch completes; flush waits on it.
    progress: Notify,
}

/// An asynchronous Kafka producer. Cheap to clone; clones share batches and connections.
#[derive(Clone)]
pub struct Producer {
    inner: Arc<Inner>,
}

impl Producer {
    /// Starts a [`ProducerBuilder`].
    pub fn builder() -> ProducerBuilder {
        ProducerBuilder::new()
    }

    /// Creates a producer. Connections are opened lazily on first send.
    pub fn new(config: ProducerConfig) -> Result<Producer> {
        config.validate()?;
        let cluster = Cluster::new(config.client.clone())?;
        // Like Kafka's producers: naming a missing topic creates it when the broker allows.
        cluster.set_auto_create_topics(true);
        let memory = Arc::new(Semaphore::new(config.buffer_memory));
        Ok(Producer {
            inner: Arc::new(Inner {
                cluster,
                config,
                state: Mutex::new(State::default()),
                memory,
                progress: Notify::new(),
            }),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &ProducerConfig {
        &self.inner.config
    }

    /// Produces one record and waits for its acknowledgement. For throughput, use
    /// [`Producer::enqueue`] and await the returned futures later.
    pub async fn send(
        &self,
        topic: &str,
        key: Option<Bytes>,
        value: Option<Bytes>,
    ) -> Result<RecordMetadata> {
        let record = ProducerRecord {
            topic: topic.to_string(),
            key,
            value,
            ..Default::default()
        };
        self.enqueue(record).await?.await
    }

    /// Produces a full [`ProducerRecord`] and waits for its acknowledgement.
    pub async fn send_record(&self, record: ProducerRecord) -> Result<RecordMetadata> {
        self.enqueue(record).await?.await
    }

    /// Adds a record to its partition's batch. Waits only for metadata and buffer space; the
    /// returned future resolves once the batch is acknowledged.
    pub async fn enqueue(&self, record: ProducerRecord) -> Result<DeliveryFuture> {
        let inner = &self.inner;
        let size =
            estimate_record_size(record.key.as_ref(), record.value.as_ref(), &record.headers);
        if size > inner.config.buffer_memory {
            return Err(ClientError::Config(format!(
                "record of ~{size} bytes exceeds the producer's buffer memory"
            )));
        }
        let permits =
            u32::try_from(size).map_err(|_| ClientError::Config("record too large".into()))?;
        let permit = inner
            .memory
            .clone()
            .acquire_many_owned(permits)
            .await
            .map_err(|_| ClientError::Closed)?;
        let meta = inner.cluster.topic_with_retry(&record.topic).await?;
        let num_partitions = i32::try_from(meta.partitions.len()).unwrap_or(i32::MAX);
        if num_partitions == 0 {
            return Err(ClientError::from_code(
                codes::LEADER_NOT_AVAILABLE,
                None,
                &format!("topic '{}' has no partitions", record.topic),
            ));
        }
        let timestamp = record.timestamp.unwrap_or_else(now_ms);
        let (tx, rx) = oneshot::channel();
        let pending = PendingRecord {
            timestamp,
            key: record.key,
            value: record.value,
            headers: record.headers,
        };
        let waiter = Waiter {
            tx,
            timestamp,
            _permit: permit,
        };
        let batch_size = inner.config.batch_size;
        let mut st = inner.state.lock();
        if st.closed {
            return Err(ClientError::Closed);
        }
        let topic = record.topic;
        let partition = match (record.partition, &pending.key) {
            (Some(p), _) => {
                if !(0..num_partitions).contains(&p) {
                    return Err(ClientError::from_code(
                        codes::UNKNOWN_TOPIC_OR_PARTITION,
                        None,
                        &format!("partition {p} of topic '{topic}' does not exist"),
                    ));
                }
                p
            }
            (None, Some(k)) => partition_for_key(k, num_partitions),
            (None, None) => {
                let mut rng = rand::thread_rng();
                let p = st.sticky.partition(&topic, num_partitions, &mut rng);
                let opens = st
                    .partitions
                    .get(&(topic.clone(), p))
                    .is_none_or(|ps| ps.queue.would_open_batch(size, batch_size));
                if opens {
                    // KIP-480: the sticky partition's batch is done; move on before starting
                    // a new one.
                    st.sticky.on_new_batch(&topic, p, num_partitions, &mut rng)
                } else {
                    p
                }
            }
        };
        let tp = (topic, partition);
        let ps = st.partitions.entry(tp.clone()).or_default();
        let opened = ps
            .queue
            .append(pending, waiter, size, Instant::now(), batch_size);
        if opened {
            ps.batches_opened += 1;
        }
        if !ps.worker_running {
            ps.worker_running = true;
            let notify = ps.notify.clone();
            tokio::spawn(sender::run_worker(inner.clone(), tp, notify));
        } else if opened || ps.queue.back_mut().is_some_and(|b| b.closed) {
            ps.notify.notify_one();
        }
        Ok(DeliveryFuture { rx })
    }

    /// Sends everything queued so far, ignoring linger, and waits until it is acknowledged or
    /// has failed.
    pub async fn flush(&self) {
        let targets: Vec<(TopicPartition, u64)> = {
            let mut st = self.inner.state.lock();
            st.partitions
                .iter_mut()
                .map(|(tp, ps)| {
                    if ps.queue.mark_flush() > 0 {
                        ps.notify.notify_one();
                    }
                    (tp.clone(), ps.batches_opened)
                })
                .collect()
        };
        loop {
            let notified = self.inner.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let done = {
                let st = self.inner.state.lock();
                targets.iter().all(|(tp, target)| {
                    st.partitions
                        .get(tp)
                        .is_none_or(|ps| ps.batches_done >= *target)
                })
            };
            if done {
                return;
            }
            notified.await;
        }
    }

    /// Flushes, then refuses further records.
    pub async fn close(&self) {
        self.flush().await;
        self.inner.state.lock().closed = true;
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
