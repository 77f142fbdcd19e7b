//! A broker's log directories (`log.dirs`): DescribeLogDirs and AlterReplicaLogDirs,
//! sent to the broker they are about (each broker reports and moves only its own).

use std::collections::HashSet;

use kafka_protocol::messages::alter_replica_log_dirs_request::{
    AlterReplicaLogDir, AlterReplicaLogDirTopic,
};
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::{
    AlterReplicaLogDirsRequest, AlterReplicaLogDirsResponse, DescribeLogDirsRequest,
    DescribeLogDirsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::admin::Admin;
use crate::connection::Connection;
use crate::error::{codes, ClientError, Result};

/// One replica in a log directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaLogDir {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Bytes of its log segments.
    pub size: i64,
    /// How far it is behind: the high watermark less its log end (a current replica), or
    /// the current replica's log end less its own (a future one).
    pub offset_lag: i64,
    /// A future replica: the copy a log-dir move is building in this directory.
    pub is_future: bool,
}

/// One log directory of a broker.
#[derive(Debug, Clone)]
pub struct LogDirDescription {
    /// Absolute path, as the broker names it.
    pub path: String,
    /// Why the directory is unusable (e.g. KAFKA_STORAGE_ERROR), `None` when it is fine.
    pub error: Option<ClientError>,
    /// Size of its filesystem in bytes (DescribeLogDirs v4+), `None` when unknown.
    pub total_bytes: Option<i64>,
    /// Bytes free for the broker on its filesystem (v4+), `None` when unknown.
    pub usable_bytes: Option<i64>,
    /// Its replicas, sorted by topic, partition, then current before future.
    pub replicas: Vec<ReplicaLogDir>,
}

/// A move of one replica into another log directory of the broker that hosts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaDirMove {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Absolute path of the target directory (one of the broker's `log.dirs`).
    pub dir: String,
}

/// Most entries one response may hold before we call it broken (a broker with 100 000
/// replicas in a few dirs stays far below).
const MAX_ENTRIES: usize = 4_000_000;

/// The request for `topics` (`None`: every replica), grouped by topic in first-seen order.
fn describe_request(topics: Option<&[(String, Vec<i32>)]>) -> DescribeLogDirsRequest {
    let topics = topics.map(|list| {
        let mut out: Vec<DescribableLogDirTopic> = Vec::new();
        for (topic, parts) in list {
            match out.iter_mut().find(|t| t.topic.0.as_str() == topic) {
                Some(t) => t.partitions.extend(parts.iter().copied()),
                None => out.push(
                    DescribableLogDirTopic::default()
                        .with_topic(TopicName(StrBytes::from_string(topic.clone())))
                        .with_partitions(parts.clone()),
                ),
            }
        }
        out
    });
    DescribeLogDirsRequest::default().with_topics(topics)
}

/// The directories of `broker`'s response, checked: nonsense (an empty path, a negative
/// size, the same replica twice in one directory) is a protocol error, not data.
fn dirs_from_response(
    broker: i32,
    resp: &DescribeLogDirsResponse,
) -> Result<Vec<LogDirDescription>> {
    ClientError::check(
        resp.error_code,
        None,
        &format!("describing the log dirs of broker {broker}"),
    )?;
    let bad = |what: String| {
        ClientError::Protocol(format!(
            "broker {broker} answered DescribeLogDirs with {what}"
        ))
    };
    let entries: usize = resp
        .results
        .iter()
        .flat_map(|d| &d.topics)
        .map(|t| t.partitions.len())
        .sum();
    if entries > MAX_ENTRIES {
        return Err(bad(format!("{entries} replicas")));
    }
    let mut out = Vec::with_capacity(resp.results.len());
    let mut paths = HashSet::new();
    for d in &resp.results {
        let path = d.log_dir.as_str().to_string();
        if path.is_empty() {
            return Err(bad("a log dir without a path".into()));
        }
        if !paths.insert(path.clone()) {
            return Err(bad(format!("log dir {path} twice")));
        }
        let error = (d.error_code != 0).then(|| {
            ClientError::from_code(
                d.error_code,
                None,
                &format!("log dir {path} of broker {broker}"),
            )
        });
        let mut replicas = Vec::new();
        let mut seen = HashSet::new();
        for t in &d.topics {
            let topic = t.name.0.as_str();
            if topic.is_empty() {
                return Err(bad(format!("a topic without a name in {path}")));
            }
            for p in &t.partitions {
                if p.partition_index < 0 || p.partition_size < 0 {
                    return Err(bad(format!(
                        "partition {} of size {} for '{topic}' in {path}",
                        p.partition_index, p.partition_size
                    )));
                }
                if !seen.insert((topic, p.partition_index, p.is_future_key)) {
                    return Err(bad(format!(
                        "{topic}-{} twice in {path}",
                        p.partition_index
                    )));
                }
                replicas.push(ReplicaLogDir {
                    topic: topic.to_string(),
                    partition: p.partition_index,
                    size: p.partition_size,
                    offset_lag: p.offset_lag.max(0),
                    is_future: p.is_future_key,
                });
            }
        }
        replicas.sort_by(|a, b| {
            (&a.topic, a.partition, a.is_future).cmp(&(&b.topic, b.partition, b.is_future))
        });
        // Below v4, and for a filesystem the broker cannot measure, -1.
        let known = |v: i64| (v >= 0).then_some(v);
        out.push(LogDirDescription {
            path,
            error,
            total_bytes: known(d.total_bytes),
            usable_bytes: known(d.usable_bytes),
            replicas,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The request for `moves`, grouped by directory then topic, in first-seen order.
fn alter_request(moves: &[ReplicaDirMove]) -> AlterReplicaLogDirsRequest {
    let mut dirs: Vec<AlterReplicaLogDir> = Vec::new();
    for m in moves {
        let i = match dirs.iter().position(|d| d.path.as_str() == m.dir) {
            Some(i) => i,
            None => {
                dirs.push(
                    AlterReplicaLogDir::default().with_path(StrBytes::from_string(m.dir.clone())),
                );
                dirs.len() - 1
            }
        };
        let dir = &mut dirs[i];
        match dir.topics.iter_mut().find(|t| t.name.0.as_str() == m.topic) {
            Some(t) => t.partitions.push(m.partition),
            None => dir.topics.push(
                AlterReplicaLogDirTopic::default()
                    .with_name(TopicName(StrBytes::from_string(m.topic.clone())))
                    .with_partitions(vec![m.partition]),
            ),
        }
    }
    AlterReplicaLogDirsRequest::default().with_dirs(dirs)
}

/// Kafka's errors for a refused move, worded for the replica and the broker.
fn move_error(broker: i32, m: &ReplicaDirMove, code: i16) -> ClientError {
    let tp = format!("{}-{}", m.topic, m.partition);
    let what = match code {
        codes::LOG_DIR_NOT_FOUND => format!("{} is not a log dir of broker {broker}", m.dir),
        codes::KAFKA_STORAGE_ERROR => {
            format!(
                "broker {broker} cannot use {} or the replica's current dir",
                m.dir
            )
        }
        codes::REPLICA_NOT_AVAILABLE | codes::NOT_LEADER_OR_FOLLOWER => {
            format!("broker {broker} has no replica of {tp} (yet)")
        }
        codes::UNKNOWN_TOPIC_OR_PARTITION => format!("{tp} does not exist"),
        _ => format!("moving {tp} to {} on broker {broker}", m.dir),
    };
    ClientError::from_code(code, None, &what)
}

/// One result per move, in order, from `broker`'s response.
fn move_results(
    broker: i32,
    moves: &[ReplicaDirMove],
    resp: &AlterReplicaLogDirsResponse,
) -> Vec<Result<()>> {
    moves
        .iter()
        .map(|m| {
            let answer = resp
                .results
                .iter()
                .filter(|t| t.topic_name.0.as_str() == m.topic)
                .flat_map(|t| &t.partitions)
                .find(|p| p.partition_index == m.partition);
            match answer {
                Some(p) if p.error_code == 0 => Ok(()),
                Some(p) => Err(move_error(broker, m, p.error_code)),
                None => Err(ClientError::Protocol(format!(
                    "broker {broker} did not answer for {}-{}",
                    m.topic, m.partition
                ))),
            }
        })
        .collect()
}

impl Admin {
    /// A connection to broker `id`, learning the brokers first when they are not known
    /// (or `id` is not among them yet).
    async fn connection_to_broker(&self, id: i32) -> Result<std::sync::Arc<Connection>> {
        let cluster = self.cluster();
        if cluster.has_metadata() {
            match cluster.broker_connection(id).await {
                Err(e) if e.code() == Some(codes::LEADER_NOT_AVAILABLE) => {}
                other => return other,
            }
        }
        cluster.fetch_metadata(Some(&[])).await?;
        cluster.broker_connection(id).await.map_err(|e| match e {
            ClientError::Kafka { code, .. } if code == codes::LEADER_NOT_AVAILABLE => {
                ClientError::Config(format!(
                    "broker {id} is not among the cluster's live brokers"
                ))
            }
            e => e,
        })
    }

    /// Broker `broker_id`'s log directories and the replicas in them (DescribeLogDirs):
    /// those of `topics` (topic, partitions) or, with `None`, all of them. Sorted by path.
    pub async fn describe_log_dirs(
        &self,
        broker_id: i32,
        topics: Option<&[(String, Vec<i32>)]>,
    ) -> Result<Vec<LogDirDescription>> {
        let conn = self.connection_to_broker(broker_id).await?;
        let version = conn.version_for::<DescribeLogDirsRequest>(None)?;
        let resp = conn
            .request(
                &describe_request(topics),
                version,
                self.cluster().config.request_timeout,
            )
            .await?;
        dirs_from_response(broker_id, &resp)
    }

    /// Moves replicas of broker `broker_id` into other directories of that broker
    /// (AlterReplicaLogDirs); one result per move, in order. A move starts there: the
    /// broker copies the replica in the background (a future replica in
    /// [`Admin::describe_log_dirs`]) and swaps it in once caught up.
    pub async fn alter_replica_log_dirs(
        &self,
        broker_id: i32,
        moves: &[ReplicaDirMove],
    ) -> Result<Vec<Result<()>>> {
        let mut seen = HashSet::new();
        for m in moves {
            if !seen.insert((m.topic.as_str(), m.partition)) {
                return Err(ClientError::Config(format!(
                    "{}-{} is moved twice in one request to broker {broker_id}",
                    m.topic, m.partition
                )));
            }
        }
        if moves.is_empty() {
            return Ok(Vec::new());
        }
        let conn = self.connection_to_broker(broker_id).await?;
        let version = conn.version_for::<AlterReplicaLogDirsRequest>(None)?;
        let resp = conn
            .request(
                &alter_request(moves),
                version,
                self.cluster().config.request_timeout,
            )
            .await?;
        Ok(move_results(broker_id, moves, &resp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::alter_replica_log_dirs_response::{
        AlterReplicaLogDirPartitionResult, AlterReplicaLogDirTopicResult,
    };
    use kafka_protocol::messages::describe_log_dirs_response::{
        DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
    };

    fn mv(topic: &str, partition: i32, dir: &str) -> ReplicaDirMove {
        ReplicaDirMove {
            topic: topic.into(),
            partition,
            dir: dir.into(),
        }
    }

    fn part(index: i32, size: i64, future: bool) -> DescribeLogDirsPartition {
        DescribeLogDirsPartition::default()
            .with_partition_index(index)
            .with_partition_size(size)
            .with_offset_lag(0)
            .with_is_future_key(future)
    }

    fn dir(
        path: &'static str,
        topic: &'static str,
        parts: Vec<DescribeLogDirsPartition>,
    ) -> DescribeLogDirsResult {
        DescribeLogDirsResult::default()
            .with_log_dir(StrBytes::from_static_str(path))
            .with_topics(vec![DescribeLogDirsTopic::default()
                .with_name(TopicName(StrBytes::from_static_str(topic)))
                .with_partitions(parts)])
    }

    #[test]
    fn describe_requests_group_by_topic_and_none_means_all() {
        let req = describe_request(Some(&[
            ("a".into(), vec![0, 1]),
            ("b".into(), vec![2]),
            ("a".into(), vec![3]),
        ]));
        let topics = req.topics.expect("named");
        assert_eq!(topics.len(), 2);
        assert_eq!(topics[0].partitions, vec![0, 1, 3]);
        assert_eq!(describe_request(None).topics, None);
    }

    #[test]
    fn responses_decode_sorted_with_unknown_sizes_as_none() {
        let resp = DescribeLogDirsResponse::default().with_results(vec![
            dir("/b", "t", vec![part(1, 10, true), part(0, 5, false)])
                .with_total_bytes(100)
                .with_usable_bytes(40),
            dir("/a", "t", vec![part(1, 20, false)]).with_error_code(56),
        ]);
        let dirs = dirs_from_response(1, &resp).expect("valid");
        assert_eq!(dirs[0].path, "/a");
        assert_eq!(dirs[0].total_bytes, None);
        assert_eq!(dirs[0].error.as_ref().and_then(|e| e.code()), Some(56));
        assert_eq!(
            (dirs[1].total_bytes, dirs[1].usable_bytes),
            (Some(100), Some(40))
        );
        let parts: Vec<_> = dirs[1]
            .replicas
            .iter()
            .map(|r| (r.partition, r.is_future))
            .collect();
        assert_eq!(parts, vec![(0, false), (1, true)]);
    }

    #[test]
    fn nonsense_responses_are_protocol_errors() {
        for resp in [
            DescribeLogDirsResponse::default().with_results(vec![dir("", "t", vec![])]),
            DescribeLogDirsResponse::default().with_results(vec![dir(
                "/a",
                "t",
                vec![part(0, -3, false)],
            )]),
            DescribeLogDirsResponse::default().with_results(vec![dir(
                "/a",
                "t",
                vec![part(0, 1, false), part(0, 2, false)],
            )]),
            DescribeLogDirsResponse::default()
                .with_results(vec![dir("/a", "t", vec![]), dir("/a", "u", vec![])]),
        ] {
            assert!(
                matches!(dirs_from_response(1, &resp), Err(ClientError::Protocol(_))),
                "{resp:?}"
            );
        }
        // A top-level error (v3+) is the broker's refusal.
        let refused = DescribeLogDirsResponse::default().with_error_code(31);
        assert_eq!(
            dirs_from_response(1, &refused).unwrap_err().code(),
            Some(31)
        );
    }

    #[test]
    fn moves_group_by_dir_and_answers_map_back() {
        let moves = vec![mv("t", 0, "/b"), mv("u", 1, "/a"), mv("t", 2, "/b")];
        let req = alter_request(&moves);
        assert_eq!(req.dirs.len(), 2);
        assert_eq!(req.dirs[0].path.as_str(), "/b");
        assert_eq!(req.dirs[0].topics[0].partitions, vec![0, 2]);
        let resp = AlterReplicaLogDirsResponse::default().with_results(vec![
            AlterReplicaLogDirTopicResult::default()
                .with_topic_name(TopicName(StrBytes::from_static_str("t")))
                .with_partitions(vec![
                    AlterReplicaLogDirPartitionResult::default().with_partition_index(0),
                    AlterReplicaLogDirPartitionResult::default()
                        .with_partition_index(2)
                        .with_error_code(codes::LOG_DIR_NOT_FOUND),
                ]),
        ]);
        let results = move_results(3, &moves, &resp);
        assert!(results[0].is_ok());
        assert!(matches!(&results[1], Err(ClientError::Protocol(m)) if m.contains("u-1")));
        assert_eq!(
            results[2].as_ref().unwrap_err().to_string(),
            "/b is not a log dir of broker 3 (LOG_DIR_NOT_FOUND)"
        );
    }
}
