//! The error codes a response carries, for `strata_request_errors_total{api, error}`:
//! every non-zero error code anywhere in the response (top level, per topic, per
//! partition, per member), as Kafka's `errorCounts()` counts them, named as Kafka names
//! them (`UNKNOWN_TOPIC_OR_PARTITION`).

use std::collections::HashMap;
use std::sync::OnceLock;

use kafka_protocol::messages::ResponseKind;
use kafka_protocol::ResponseError;

/// Calls `f` with every error code in `body` (zero included; callers skip it).
pub fn visit(body: &ResponseKind, f: &mut dyn FnMut(i16)) {
    use ResponseKind as R;
    match body {
        R::Produce(r) => r
            .responses
            .iter()
            .flat_map(|t| &t.partition_responses)
            .for_each(|p| f(p.error_code)),
        R::Fetch(r) => {
            f(r.error_code);
            r.responses
                .iter()
                .flat_map(|t| &t.partitions)
                .for_each(|p| f(p.error_code));
        }
        R::ListOffsets(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| f(p.error_code)),
        R::Metadata(r) => {
            for t in &r.topics {
                f(t.error_code);
                t.partitions.iter().for_each(|p| f(p.error_code));
            }
        }
        R::ApiVersions(r) => f(r.error_code),
        R::CreateTopics(r) => r.topics.iter().for_each(|t| f(t.error_code)),
        R::DeleteTopics(r) => r.responses.iter().for_each(|t| f(t.error_code)),
        R::CreatePartitions(r) => r.results.iter().for_each(|t| f(t.error_code)),
        R::AlterPartitionReassignments(r) => {
            f(r.error_code);
            r.responses
                .iter()
                .flat_map(|t| &t.partitions)
                .for_each(|p| f(p.error_code));
        }
        R::ListPartitionReassignments(r) => f(r.error_code),
        R::DescribeConfigs(r) => r.results.iter().for_each(|t| f(t.error_code)),
        R::AlterConfigs(r) => r.responses.iter().for_each(|t| f(t.error_code)),
        R::IncrementalAlterConfigs(r) => r.responses.iter().for_each(|t| f(t.error_code)),
        R::DescribeCluster(r) => f(r.error_code),
        R::InitProducerId(r) => f(r.error_code),
        R::FindCoordinator(r) => {
            f(r.error_code);
            r.coordinators.iter().for_each(|c| f(c.error_code));
        }
        R::JoinGroup(r) => f(r.error_code),
        R::SyncGroup(r) => f(r.error_code),
        R::Heartbeat(r) => f(r.error_code),
        R::LeaveGroup(r) => {
            f(r.error_code);
            r.members.iter().for_each(|m| f(m.error_code));
        }
        R::OffsetCommit(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| f(p.error_code)),
        R::OffsetFetch(r) => {
            f(r.error_code);
            r.topics
                .iter()
                .flat_map(|t| &t.partitions)
                .for_each(|p| f(p.error_code));
            for g in &r.groups {
                f(g.error_code);
                g.topics
                    .iter()
                    .flat_map(|t| &t.partitions)
                    .for_each(|p| f(p.error_code));
            }
        }
        R::OffsetDelete(r) => {
            f(r.error_code);
            r.topics
                .iter()
                .flat_map(|t| &t.partitions)
                .for_each(|p| f(p.error_code));
        }
        R::TxnOffsetCommit(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| f(p.error_code)),
        R::ListGroups(r) => f(r.error_code),
        R::DescribeGroups(r) => r.groups.iter().for_each(|g| f(g.error_code)),
        R::DeleteGroups(r) => r.results.iter().for_each(|g| f(g.error_code)),
        R::DeleteRecords(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| f(p.error_code)),
        R::OffsetForLeaderEpoch(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| f(p.error_code)),
        R::CreateAcls(r) => r.results.iter().for_each(|a| f(a.error_code)),
        R::DescribeAcls(r) => f(r.error_code),
        R::DeleteAcls(r) => {
            for filter in &r.filter_results {
                f(filter.error_code);
                filter.matching_acls.iter().for_each(|a| f(a.error_code));
            }
        }
        R::SaslHandshake(r) => f(r.error_code),
        R::SaslAuthenticate(r) => f(r.error_code),
        R::AlterUserScramCredentials(r) => r.results.iter().for_each(|u| f(u.error_code)),
        R::DescribeUserScramCredentials(r) => {
            f(r.error_code);
            r.results.iter().for_each(|u| f(u.error_code));
        }
        R::DescribeClientQuotas(r) => f(r.error_code),
        R::AlterClientQuotas(r) => r.entries.iter().for_each(|e| f(e.error_code)),
        R::WriteTxnMarkers(r) => r
            .markers
            .iter()
            .flat_map(|m| &m.topics)
            .flat_map(|t| &t.partitions)
            .for_each(|p| f(p.error_code)),
        R::AddPartitionsToTxn(r) => {
            f(r.error_code);
            r.results_by_transaction
                .iter()
                .flat_map(|t| &t.topic_results)
                .chain(&r.results_by_topic_v3_and_below)
                .flat_map(|t| &t.results_by_partition)
                .for_each(|p| f(p.partition_error_code));
        }
        R::AddOffsetsToTxn(r) => f(r.error_code),
        R::EndTxn(r) => f(r.error_code),
        R::DescribeProducers(r) => r
            .topics
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| f(p.error_code)),
        R::DescribeTransactions(r) => r.transaction_states.iter().for_each(|t| f(t.error_code)),
        R::ListTransactions(r) => f(r.error_code),
        R::ElectLeaders(r) => {
            f(r.error_code);
            r.replica_election_results
                .iter()
                .flat_map(|t| &t.partition_result)
                .for_each(|p| f(p.error_code));
        }
        R::DescribeTopicPartitions(r) => r.topics.iter().for_each(|t| f(t.error_code)),
        R::DescribeLogDirs(r) => {
            f(r.error_code);
            r.results.iter().for_each(|d| f(d.error_code));
        }
        R::AlterReplicaLogDirs(r) => r
            .results
            .iter()
            .flat_map(|t| &t.partitions)
            .for_each(|p| f(p.error_code)),
        R::DescribeQuorum(r) => {
            f(r.error_code);
            r.topics
                .iter()
                .flat_map(|t| &t.partitions)
                .for_each(|p| f(p.error_code));
        }
        _ => {}
    }
}

/// Kafka's name of an error code (`UNKNOWN_TOPIC_OR_PARTITION`, see
/// `strata_proto::error_name`), `UNKNOWN_ERROR_CODE` for codes this build does not know
/// (one label value for all of them). Names are made once per code and kept.
pub fn name(code: i16) -> &'static str {
    static NAMES: OnceLock<HashMap<i16, &'static str>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        (-1..=200)
            .filter(|c| {
                !matches!(
                    ResponseError::try_from_code(*c),
                    None | Some(ResponseError::Unknown(_))
                )
            })
            .map(|c| {
                let name = strata_proto::error_name::error_code_name(c);
                (c, &*Box::leak(name.into_boxed_str()))
            })
            .collect()
    });
    names.get(&code).copied().unwrap_or("UNKNOWN_ERROR_CODE")
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::produce_response::{
        PartitionProduceResponse, TopicProduceResponse,
    };
    use kafka_protocol::messages::ProduceResponse;

    #[test]
    fn names_follow_kafka() {
        assert_eq!(name(3), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(name(87), "INVALID_RECORD");
        assert_eq!(name(-1), "UNKNOWN_SERVER_ERROR");
        assert_eq!(name(i16::MAX), "UNKNOWN_ERROR_CODE");
    }

    #[test]
    fn every_partition_error_of_a_produce_response_is_visited() {
        let part = |e| PartitionProduceResponse::default().with_error_code(e);
        let body = ResponseKind::Produce(ProduceResponse::default().with_responses(vec![
            TopicProduceResponse::default().with_partition_responses(vec![part(0), part(3)]),
            TopicProduceResponse::default().with_partition_responses(vec![part(87)]),
        ]));
        let mut seen = Vec::new();
        visit(&body, &mut |c| seen.push(c));
        assert_eq!(seen, vec![0, 3, 87]);
    }
}
