//! Kafka API handlers, one module per API. Each takes the decoded request and returns
//! the response body; dispatch, metrics and encoding live here. Fetch encodes its own
//! response, as chunks whose records stay in the segment files.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, FetchResponse, RequestKind, ResponseKind};
use kafka_protocol::ResponseError;
use strata_log::{FileSlice, LogError};
use strata_proto::chunks::ChunkedFrame;
use strata_proto::frame::{self, Request};

use strata_quota::{request_time_percent, QuotaKey};

use crate::metrics::ApiLabels;
use crate::quota::enforce::{set_throttle, throttle_ms, Busy};
use crate::Broker;
use prometheus_client::metrics::histogram::Histogram;

mod acls;
mod add_offsets_to_txn;
mod add_partitions_to_txn;
mod alter_client_quotas;
mod alter_configs;
mod alter_partition_reassignments;
mod alter_replica_log_dirs;
mod alter_user_scram_credentials;
mod api_versions;
mod authorized_ops;
mod create_partitions;
mod create_topics;
mod delete_groups;
mod delete_records;
mod delete_topics;
mod describe_client_quotas;
mod describe_cluster;
mod describe_configs;
mod describe_groups;
mod describe_log_dirs;
mod describe_producers;
mod describe_quorum;
mod describe_topic_partitions;
mod describe_transactions;
mod describe_user_scram_credentials;
mod elect_leaders;
mod end_txn;
mod fetch;
mod find_coordinator;
mod gate;
mod gate_items;
mod heartbeat;
mod incremental_alter_configs;
mod init_producer_id;
mod join_group;
mod leave_group;
mod legacy;
mod list_groups;
mod list_offsets;
mod list_partition_reassignments;
mod list_transactions;
mod metadata;
mod mutation_quota;
mod offset_commit;
mod offset_delete;
mod offset_fetch;
mod offset_for_leader_epoch;
mod produce;
mod sync_group;
mod txn_offset_commit;
pub(crate) mod write_txn_markers;

mod turn;
pub(crate) use turn::Order;
pub use turn::Turn;

/// An encoded response frame: bytes, and for Fetch the file ranges of its records.
/// Encoded responses convert with `From<Bytes>`.
pub type ResponseFrame = ChunkedFrame<FileSlice>;

/// Who sent a request, for handlers that record it (group membership).
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// `client.id` from the request header.
    pub client_id: String,
    /// The client's address, as DescribeGroups shows it (`/127.0.0.1`).
    pub client_host: String,
}

/// The connection a request came in on.
#[derive(Clone)]
pub struct Caller {
    /// The client's address.
    pub peer: std::net::SocketAddr,
    /// The authenticated principal (`User:alice`, `User:ANONYMOUS`).
    pub principal: Arc<str>,
    /// The listener: Metadata answers with the brokers' addresses on it.
    pub listener: Arc<crate::network::Endpoint>,
}

/// A served request: the response frame (`None`: no response, Produce with `acks=0`)
/// and how long the connection stays muted after it (KIP-219: the quota throttle, also
/// in the response's `throttle_time_ms`).
pub struct Served {
    /// The response, if one is sent.
    pub frame: Option<ResponseFrame>,
    /// How long to stop reading the connection once the response is out.
    pub throttle: Duration,
    /// The API, and when its handler was done: the writer observes the response time
    /// (`strata_request_response_seconds`) from there.
    pub timing: Option<(Histogram, Instant)>,
}

/// What a handler answered: a body still to encode, or (Fetch) an encoded frame.
/// Moved once per request, like the bare body before it: boxing it would cost an
/// allocation per request.
#[allow(clippy::large_enum_variant)]
enum Answer {
    Body(Option<ResponseKind>),
    Frame(ResponseFrame),
}

/// The quota throttle a request earns on arrival: a Produce's bytes under
/// `producer_byte_rate`. The reader asks before it hands the request on and mutes the
/// connection at once, so the next request waits out the throttle, as behind Kafka's
/// muted channel; [`handle`] puts it in the response.
pub fn throttle_on_arrival(
    broker: &Broker,
    req: &Request,
    principal: &str,
    size: usize,
) -> Duration {
    if req.api_key != ApiKey::Produce {
        return Duration::ZERO;
    }
    let client_id = req.header.client_id.as_deref().unwrap_or("");
    match broker.quotas.caller(principal, client_id) {
        Some(q) => broker
            .quotas
            .record(&q, QuotaKey::ProducerByteRate, size as f64),
        None => Duration::ZERO,
    }
}

/// Serves one request under the caller's quotas (see `quota/enforce.rs`); `arrival` is
/// its [`throttle_on_arrival`].
pub async fn handle(
    broker: &Arc<Broker>,
    mut req: Request,
    turn: Turn,
    received: Instant,
    caller: Caller,
    arrival: Duration,
) -> anyhow::Result<Served> {
    let (api_key, v) = (req.api_key, req.header.request_api_version);
    let correlation_id = req.header.correlation_id;
    // Without quotas this is the one check a request pays.
    let ids = broker
        .quotas
        .enabled()
        .then(|| (Arc::clone(&caller.principal), req.header.client_id.clone()));
    let quota = ids
        .as_ref()
        .and_then(|(p, c)| broker.quotas.caller(p, c.as_deref().unwrap_or("")))
        .filter(|_| !quota_exempt(&req));
    let mut measure = false;
    let (mut throttle, mut refused) = (arrival, None);
    if let Some(q) = &quota {
        measure = broker.quotas.has(q, QuotaKey::RequestPercentage);
        let (wait, r) = mutation_quota::charge(broker, q, v, &mut req.body);
        (throttle, refused) = (throttle.max(wait), r);
        if let (RequestKind::Fetch(r), Some(cap)) = (&mut req.body, broker.quotas.fetch_cap(q)) {
            r.max_bytes = r.max_bytes.min(i32::try_from(cap).unwrap_or(i32::MAX));
            r.min_bytes = r.min_bytes.min(r.max_bytes);
        }
    }
    let started = Instant::now();
    let served = dispatch(broker, req, turn, received, caller);
    let (answer, busy) = if measure {
        Busy::new(std::pin::pin!(served)).await
    } else {
        (served.await, Duration::ZERO)
    };
    let mut answer = answer?;
    let response_time = observe(broker, api_key, received, started);
    let labels = ApiLabels {
        api: api_name(api_key),
    };
    if let (Some(r), Answer::Body(Some(body))) = (refused, &mut answer) {
        r.answer(body);
    }
    if let Some(q) = &quota {
        if measure {
            let percent = request_time_percent(busy);
            throttle = throttle.max(
                broker
                    .quotas
                    .record(q, QuotaKey::RequestPercentage, percent),
            );
        }
        if let Answer::Frame(frame) = &answer {
            let bytes = frame.len() as f64;
            let quotas = &broker.quotas;
            throttle = throttle.max(quotas.record(q, QuotaKey::ConsumerByteRate, bytes));
            if !throttle.is_zero() {
                // Kafka's throttled fetch: no records, only the throttle time; the
                // bytes not sent are not counted.
                quotas.unrecord(q, QuotaKey::ConsumerByteRate, bytes);
                let body = FetchResponse::default().with_throttle_time_ms(throttle_ms(throttle));
                answer = Answer::Body(Some(ResponseKind::Fetch(body)));
            }
        }
    }
    if !throttle.is_zero() {
        let m = &broker.metrics;
        m.throttled_requests.get_or_create(&labels).inc();
        if let Answer::Body(Some(body)) = &mut answer {
            set_throttle(body, throttle_ms(throttle));
        }
    }
    if let Answer::Body(Some(body)) = &answer {
        broker.metrics.count_errors(labels.api, body);
    }
    Ok(Served {
        frame: answer.encode(api_key, v, correlation_id)?,
        throttle,
        timing: Some((response_time, Instant::now())),
    })
}

/// Requests no client quota applies to: ApiVersions (clients need it to talk at all)
/// and follower fetches (replication).
fn quota_exempt(req: &Request) -> bool {
    match &req.body {
        RequestKind::ApiVersions(_) => true,
        RequestKind::Fetch(r) => {
            let replica = if req.header.request_api_version >= 15 {
                r.replica_state.replica_id.0
            } else {
                r.replica_id.0
            };
            replica >= 0
        }
        _ => false,
    }
}

impl Answer {
    fn encode(
        self,
        api_key: ApiKey,
        v: i16,
        correlation_id: i32,
    ) -> anyhow::Result<Option<ResponseFrame>> {
        Ok(match self {
            Answer::Body(Some(body)) => {
                Some(frame::encode_response(api_key, v, correlation_id, &body)?.into())
            }
            Answer::Body(None) => None,
            Answer::Frame(frame) => Some(frame),
        })
    }
}

/// Serves one request with its handler (after the authorization gate).
async fn dispatch(
    broker: &Arc<Broker>,
    req: Request,
    turn: Turn,
    received: Instant,
    caller: Caller,
) -> anyhow::Result<Answer> {
    let peer = caller.peer;
    let access = broker.access(&caller);
    let Request {
        api_key,
        header,
        body,
    } = req;
    let v = header.request_api_version;
    let ctx = RequestContext {
        client_id: header
            .client_id
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_default(),
        client_host: format!("/{}", peer.ip()),
    };
    if let Some(refusal) = gate::refuse(&access, &body, v) {
        drop(turn);
        return Ok(Answer::Body(Some(refusal)));
    }
    let response = match body {
        RequestKind::ApiVersions(_) => {
            drop(turn);
            Some(ResponseKind::ApiVersions(api_versions::handle()))
        }
        RequestKind::Metadata(r) => Some(ResponseKind::Metadata(
            metadata::handle(broker, &caller, &access, v, r).await,
        )),
        RequestKind::Produce(r) => produce::handle(broker, v, &access, r, turn)
            .await
            .map(ResponseKind::Produce),
        RequestKind::Fetch(r) => {
            drop(turn);
            let frame = fetch::handle(broker, v, &access, r, received, header.correlation_id).await;
            return frame.map(Answer::Frame);
        }
        RequestKind::ListOffsets(r) => {
            drop(turn);
            Some(ResponseKind::ListOffsets(
                list_offsets::handle(broker, v, &access, r).await,
            ))
        }
        RequestKind::CreateTopics(r) => Some(ResponseKind::CreateTopics(
            create_topics::handle(broker, v, &access, r).await,
        )),
        RequestKind::DeleteTopics(r) => Some(ResponseKind::DeleteTopics(
            delete_topics::handle(broker, v, &access, r).await,
        )),
        RequestKind::CreatePartitions(r) => Some(ResponseKind::CreatePartitions(
            create_partitions::handle(broker, &access, r).await,
        )),
        RequestKind::AlterPartitionReassignments(r) => {
            Some(ResponseKind::AlterPartitionReassignments(
                alter_partition_reassignments::handle(broker, &access, r).await,
            ))
        }
        RequestKind::ListPartitionReassignments(r) => {
            drop(turn);
            Some(ResponseKind::ListPartitionReassignments(
                list_partition_reassignments::handle(broker, &access, r),
            ))
        }
        RequestKind::DescribeConfigs(r) => {
            drop(turn);
            Some(ResponseKind::DescribeConfigs(describe_configs::handle(
                broker, v, &access, r,
            )))
        }
        RequestKind::InitProducerId(r) => Some(ResponseKind::InitProducerId(
            init_producer_id::handle(broker, &access, v, r).await,
        )),
        RequestKind::AddPartitionsToTxn(r) => Some(ResponseKind::AddPartitionsToTxn(
            add_partitions_to_txn::handle(broker, &access, v, r).await,
        )),
        RequestKind::AddOffsetsToTxn(r) => Some(ResponseKind::AddOffsetsToTxn(
            add_offsets_to_txn::handle(broker, &access, v, r).await,
        )),
        RequestKind::EndTxn(r) => Some(ResponseKind::EndTxn(
            end_txn::handle(broker, &access, v, r).await,
        )),
        RequestKind::DescribeTransactions(r) => {
            drop(turn);
            Some(ResponseKind::DescribeTransactions(
                describe_transactions::handle(broker, &access, r),
            ))
        }
        RequestKind::DescribeProducers(r) => {
            drop(turn);
            Some(ResponseKind::DescribeProducers(
                describe_producers::handle(broker, &access, r).await,
            ))
        }
        RequestKind::ListTransactions(r) => {
            drop(turn);
            Some(ResponseKind::ListTransactions(list_transactions::handle(
                broker, &access, v, r,
            )))
        }
        RequestKind::FindCoordinator(r) => {
            drop(turn);
            Some(ResponseKind::FindCoordinator(
                find_coordinator::handle(broker, &caller, &access, v, r).await,
            ))
        }
        // Both park until the rebalance step completes: they give the turn back once
        // the member's join or sync is recorded, before parking.
        RequestKind::JoinGroup(r) => Some(ResponseKind::JoinGroup(
            join_group::handle(broker, &ctx, v, r, turn).await,
        )),
        RequestKind::SyncGroup(r) => Some(ResponseKind::SyncGroup(
            sync_group::handle(broker, v, r, turn).await,
        )),
        RequestKind::Heartbeat(r) => Some(ResponseKind::Heartbeat(heartbeat::handle(broker, r))),
        RequestKind::LeaveGroup(r) => {
            Some(ResponseKind::LeaveGroup(leave_group::handle(broker, v, r)))
        }
        RequestKind::OffsetCommit(mut r) => {
            let denied = gate_items::offset_commit(&access, &mut r);
            let mut resp = offset_commit::handle(broker, r, turn).await;
            resp.topics.extend(denied);
            Some(ResponseKind::OffsetCommit(resp))
        }
        RequestKind::OffsetFetch(r) => {
            let named = if v >= 8 {
                r.groups.iter().any(|g| g.topics.is_some())
            } else {
                r.topics.is_some()
            };
            let mut resp = offset_fetch::handle(broker, v, r);
            gate_items::offset_fetch(&access, &mut resp, named);
            Some(ResponseKind::OffsetFetch(resp))
        }
        // Holds the turn until the batch has its place in the log, like OffsetCommit.
        RequestKind::TxnOffsetCommit(r) => Some(ResponseKind::TxnOffsetCommit(
            txn_offset_commit::handle(broker, v, &access, r, turn).await,
        )),
        RequestKind::OffsetDelete(mut r) => {
            let denied = gate_items::offset_delete(&access, &mut r);
            let mut resp = offset_delete::handle(broker, r).await;
            resp.topics.extend(denied);
            Some(ResponseKind::OffsetDelete(resp))
        }
        RequestKind::ListGroups(r) => Some(ResponseKind::ListGroups(list_groups::handle(
            broker, v, &access, r,
        ))),
        RequestKind::DescribeGroups(r) => Some(ResponseKind::DescribeGroups(
            describe_groups::handle(broker, v, &access, r),
        )),
        RequestKind::DeleteGroups(r) => Some(ResponseKind::DeleteGroups(
            delete_groups::handle(broker, &access, r).await,
        )),
        RequestKind::AlterConfigs(r) => Some(ResponseKind::AlterConfigs(
            alter_configs::handle(broker, &access, r).await,
        )),
        RequestKind::IncrementalAlterConfigs(r) => Some(ResponseKind::IncrementalAlterConfigs(
            incremental_alter_configs::handle(broker, &access, r).await,
        )),
        // Holds the turn: the next request on the connection sees the new log start.
        RequestKind::DeleteRecords(r) => Some(ResponseKind::DeleteRecords(
            delete_records::handle(broker, &access, r).await,
        )),
        RequestKind::OffsetForLeaderEpoch(mut r) => {
            drop(turn);
            let denied = gate_items::offset_for_leader_epoch(&access, &mut r);
            let mut resp = offset_for_leader_epoch::handle(broker, r).await;
            resp.topics.extend(denied);
            Some(ResponseKind::OffsetForLeaderEpoch(resp))
        }
        RequestKind::DescribeCluster(r) => {
            drop(turn);
            Some(ResponseKind::DescribeCluster(describe_cluster::handle(
                broker, &caller, &access, r,
            )))
        }
        RequestKind::AlterUserScramCredentials(r) => Some(ResponseKind::AlterUserScramCredentials(
            alter_user_scram_credentials::handle(broker, r).await,
        )),
        RequestKind::DescribeUserScramCredentials(r) => {
            drop(turn);
            Some(ResponseKind::DescribeUserScramCredentials(
                describe_user_scram_credentials::handle(broker, r),
            ))
        }
        RequestKind::CreateAcls(r) => Some(ResponseKind::CreateAcls(
            acls::handle_create(broker, &access, r).await,
        )),
        RequestKind::DescribeAcls(r) => {
            drop(turn);
            Some(ResponseKind::DescribeAcls(acls::handle_describe(
                broker, &access, r,
            )))
        }
        RequestKind::DeleteAcls(r) => Some(ResponseKind::DeleteAcls(
            acls::handle_delete(broker, &access, r).await,
        )),
        RequestKind::AlterClientQuotas(r) => Some(ResponseKind::AlterClientQuotas(
            alter_client_quotas::handle(broker, r).await,
        )),
        RequestKind::DescribeClientQuotas(r) => {
            drop(turn);
            Some(ResponseKind::DescribeClientQuotas(
                describe_client_quotas::handle(broker, r),
            ))
        }
        // Holds the turn until the markers are written and replicated, as Kafka answers
        // one request per connection at a time.
        RequestKind::WriteTxnMarkers(r) => Some(ResponseKind::WriteTxnMarkers(
            write_txn_markers::handle(broker, &access, r).await,
        )),
        RequestKind::ElectLeaders(r) => Some(ResponseKind::ElectLeaders(
            elect_leaders::handle(broker, &access, v, r).await,
        )),
        RequestKind::DescribeTopicPartitions(r) => {
            drop(turn);
            Some(ResponseKind::DescribeTopicPartitions(
                describe_topic_partitions::handle(broker, &access, r),
            ))
        }
        RequestKind::DescribeQuorum(r) => {
            drop(turn);
            Some(ResponseKind::DescribeQuorum(
                describe_quorum::handle(broker, &access, v, r).await,
            ))
        }
        RequestKind::DescribeLogDirs(r) => {
            drop(turn);
            Some(ResponseKind::DescribeLogDirs(
                describe_log_dirs::handle(broker, &access, r).await,
            ))
        }
        RequestKind::AlterReplicaLogDirs(r) => Some(ResponseKind::AlterReplicaLogDirs(
            alter_replica_log_dirs::handle(broker, &access, r),
        )),
        other => anyhow::bail!("no handler for {api_key:?}: {other:?}"),
    };
    Ok(Answer::Body(response))
}

/// The refusal of `op` on a config resource (2 topic, 4 broker: the cluster), if the
/// principal may not.
pub(crate) fn configs_denied(
    access: &crate::auth::authorizer::Access,
    resource_type: i8,
    name: &str,
    op: strata_auth::acl::AclOperation,
) -> Option<strata_meta::TopicError> {
    use strata_meta::TopicError;
    match resource_type {
        2 if !access.topic(op, name) => Some(TopicError::TopicAuthorizationFailed(format!(
            "not authorized to {} topic {name}",
            op.kafka_name()
        ))),
        4 | 8 if !access.cluster(op) => Some(TopicError::ClusterAuthorizationFailed(format!(
            "not authorized to {} the cluster",
            op.kafka_name()
        ))),
        _ => None,
    }
}

/// Counts a served request and its latency: in all, and split into the wait before its
/// handler started (`started`: behind the connection's previous request) and the
/// handler's own time.
fn observe(broker: &Broker, api_key: ApiKey, received: Instant, started: Instant) -> Histogram {
    let m = broker.metrics.api(api_key as i16, api_name(api_key));
    let now = Instant::now();
    m.requests.inc();
    m.latency
        .observe(now.duration_since(received).as_secs_f64());
    m.queue
        .observe(started.saturating_duration_since(received).as_secs_f64());
    m.handle.observe(now.duration_since(started).as_secs_f64());
    m.response.clone()
}

/// Answers a request whose version we advertise but cannot serve (or that is newer
/// than we know): `UNSUPPORTED_VERSION` where we can write the old format, else `None`
/// (close the connection, as Kafka does for requests it cannot parse).
pub fn reject_version(
    broker: &Broker,
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    frame: Bytes,
) -> Option<Bytes> {
    broker
        .metrics
        .count_error(api_name(key), ResponseError::UnsupportedVersion.code());
    legacy::reject(key, version, correlation_id, frame)
}

/// The Kafka error for a storage-engine error.
pub(crate) fn log_error_code(e: &LogError) -> ResponseError {
    ResponseError::try_from_code(e.error_code()).unwrap_or(ResponseError::UnknownServerError)
}

/// A stable, allocation-free metric label for an API: its Kafka name for the APIs
/// this broker serves (see [`strata_proto::versions::api_name`]).
pub(crate) fn api_name(key: ApiKey) -> &'static str {
    strata_proto::versions::api_name(key)
}
