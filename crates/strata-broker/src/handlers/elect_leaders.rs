//! ElectLeaders v0–v2: preferred or unclean leader elections an operator asks for.
//!
//! Decided on this broker's image (`strata_meta::controller::election::elect_leaders`)
//! and committed at that image's index through the active controller, like the topic
//! changes: a conflict with a newer image decides again. Needs ALTER on the cluster.

use std::collections::HashMap;
use std::sync::Arc;

use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
use kafka_protocol::messages::{ElectLeadersRequest, ElectLeadersResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strata_auth::acl::AclOperation;
use strata_meta::controller::election::{
    elect_leaders, ElectionError, ElectionOutcome, ElectionType,
};

use crate::auth::authorizer::Access;
use crate::metadata::DecideError;
use crate::Broker;

/// Serves ElectLeaders v0–v2.
pub async fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    v: i16,
    req: ElectLeadersRequest,
) -> ElectLeadersResponse {
    let named = named_partitions(&req);
    if !access.cluster(AclOperation::Alter) {
        return refused(
            v,
            named.as_deref(),
            ResponseError::ClusterAuthorizationFailed,
            "not authorized to alter the cluster",
        );
    }
    // v0 has no election type: it always asked for the preferred leader.
    let kind = if v == 0 {
        Some(ElectionType::Preferred)
    } else {
        ElectionType::from_code(req.election_type)
    };
    let Some(kind) = kind else {
        return refused(
            v,
            named.as_deref(),
            ResponseError::InvalidRequest,
            "unknown election type",
        );
    };
    let decided = broker
        .meta
        .decide_and_commit(|image| {
            Ok::<_, std::convert::Infallible>(elect_leaders(image, kind, named.as_deref()))
        })
        .await;
    match decided {
        Ok(outcomes) => answer(&outcomes),
        Err(DecideError::Refused(never)) => match never {},
        Err(DecideError::Commit(e)) => {
            let code = crate::topics::commit_error_code(&e);
            let error =
                ResponseError::try_from_code(code).unwrap_or(ResponseError::UnknownServerError);
            refused(v, named.as_deref(), error, &e.to_string())
        }
    }
}

/// The partitions named in the request, `None` for all of them.
fn named_partitions(req: &ElectLeadersRequest) -> Option<Vec<(String, i32)>> {
    req.topic_partitions.as_ref().map(|topics| {
        topics
            .iter()
            .flat_map(|t| t.partitions.iter().map(|&p| (t.topic.0.to_string(), p)))
            .collect()
    })
}

/// The response for `outcomes`, topics in the order they first appear.
fn answer(outcomes: &[ElectionOutcome]) -> ElectLeadersResponse {
    let mut results = Grouped::default();
    for o in outcomes {
        let (code, message) = match o.result {
            Ok(()) => (0, None),
            Err(e) => (
                error_of(e).code(),
                Some(StrBytes::from_string(e.to_string())),
            ),
        };
        let partition = PartitionResult::default()
            .with_partition_id(o.partition)
            .with_error_code(code)
            .with_error_message(message);
        results.push(&o.topic, partition);
    }
    ElectLeadersResponse::default().with_replica_election_results(results.results)
}

/// Every named partition refused with `error` (and, from v1, the request too).
fn refused(
    v: i16,
    named: Option<&[(String, i32)]>,
    error: ResponseError,
    message: &str,
) -> ElectLeadersResponse {
    let mut results = Grouped::default();
    for (topic, p) in named.unwrap_or_default() {
        let partition = PartitionResult::default()
            .with_partition_id(*p)
            .with_error_code(error.code())
            .with_error_message(Some(StrBytes::from_string(message.to_string())));
        results.push(topic, partition);
    }
    let top = if v >= 1 { error.code() } else { 0 };
    ElectLeadersResponse::default()
        .with_error_code(top)
        .with_replica_election_results(results.results)
}

/// Results grouped by topic, topics in the order they first appear.
#[derive(Default)]
struct Grouped {
    results: Vec<ReplicaElectionResult>,
    index: HashMap<String, usize>,
}

impl Grouped {
    /// Adds `partition` under `topic`, after the topic's other results.
    fn push(&mut self, topic: &str, partition: PartitionResult) {
        if let Some(r) = self.index.get(topic).and_then(|&i| self.results.get_mut(i)) {
            r.partition_result.push(partition);
            return;
        }
        self.index.insert(topic.to_string(), self.results.len());
        self.results.push(
            ReplicaElectionResult::default()
                .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partition_result(vec![partition]),
        );
    }
}

/// Kafka's error for a partition's election.
fn error_of(e: ElectionError) -> ResponseError {
    match e {
        ElectionError::UnknownPartition => ResponseError::UnknownTopicOrPartition,
        ElectionError::NotNeeded => ResponseError::ElectionNotNeeded,
        ElectionError::PreferredNotAvailable => ResponseError::PreferredLeaderNotAvailable,
        ElectionError::NoEligibleLeader => ResponseError::EligibleLeadersNotAvailable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_kafkas_codes() {
        assert_eq!(error_of(ElectionError::UnknownPartition).code(), 3);
        assert_eq!(error_of(ElectionError::PreferredNotAvailable).code(), 80);
        assert_eq!(error_of(ElectionError::NoEligibleLeader).code(), 83);
        assert_eq!(error_of(ElectionError::NotNeeded).code(), 84);
    }

    #[test]
    fn results_are_grouped_by_topic_and_refusals_name_every_partition() {
        let o = |topic: &str, partition, result| ElectionOutcome {
            topic: topic.into(),
            partition,
            result,
        };
        let resp = answer(&[
            o("a", 0, Ok(())),
            o("b", 0, Err(ElectionError::NotNeeded)),
            o("a", 1, Err(ElectionError::UnknownPartition)),
        ]);
        let shape: Vec<(String, Vec<(i32, i16)>)> = resp
            .replica_election_results
            .iter()
            .map(|r| {
                let parts = r.partition_result.iter();
                let parts = parts.map(|p| (p.partition_id, p.error_code)).collect();
                (r.topic.0.to_string(), parts)
            })
            .collect();
        assert_eq!(
            shape,
            vec![
                ("a".to_string(), vec![(0, 0), (1, 3)]),
                ("b".to_string(), vec![(0, 84)]),
            ]
        );
        let named = vec![("a".to_string(), 0), ("a".to_string(), 1)];
        let denied = refused(
            1,
            Some(&named),
            ResponseError::ClusterAuthorizationFailed,
            "no",
        );
        assert_eq!(denied.error_code, 31);
        assert_eq!(denied.replica_election_results[0].partition_result.len(), 2);
        assert_eq!(
            refused(0, None, ResponseError::InvalidRequest, "x").error_code,
            0
        );
    }
}
