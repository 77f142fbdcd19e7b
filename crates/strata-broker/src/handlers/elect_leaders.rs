//! ElectLeaders v0–v2: preferred or unclean leader elections an operator asks for.
//!
//! Decided on this broker's image (`strata_meta::controller::election::elect_leaders`)
//! and committed at that image's index through the active controller, like the topic
//! changes: a conflict with a newer image decides again. Needs ALTER on the cluster.
//! The request's `timeout_ms` bounds the commit and the wait for it to apply here:
//! elections not done by then are answered REQUEST_TIMED_OUT (as in Kafka), the
//! partitions whose outcome the decision already knows with that outcome.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

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
    // The outcomes of the latest decision: what is known when time runs out.
    let mut last: Option<Vec<ElectionOutcome>> = None;
    let decided = within(
        req.timeout_ms,
        broker.meta.decide_and_commit(|image| {
            let (outcomes, records) = elect_leaders(image, kind, named.as_deref());
            last = Some(outcomes.clone());
            Ok::<_, std::convert::Infallible>((outcomes, records))
        }),
    )
    .await;
    let Some(decided) = decided else {
        // Out of time (or none given): elections not known to be done are
        // REQUEST_TIMED_OUT; what the decision already knows is answered.
        let known = last.unwrap_or_else(|| {
            let image = broker.meta.image();
            elect_leaders(&image, kind, named.as_deref()).0
        });
        return answer(&known, true);
    };
    match decided {
        Ok(outcomes) => answer(&outcomes, false),
        Err(DecideError::Refused(never)) => match never {},
        Err(DecideError::Commit(e)) => {
            let code = crate::topics::commit_error_code(&e);
            let error =
                ResponseError::try_from_code(code).unwrap_or(ResponseError::UnknownServerError);
            refused(v, named.as_deref(), error, &e.to_string())
        }
    }
}

/// `work` (the decision, its commit through the controller and the wait for it to
/// apply here) bounded by the request's `timeout_ms`; `None` when it did not finish in
/// time. As in Kafka, where the controller drops a request whose deadline has passed,
/// a `timeout_ms` of 0 or less starts nothing.
async fn within<T>(timeout_ms: i32, work: impl Future<Output = T>) -> Option<T> {
    let limit = Duration::from_millis(u64::try_from(timeout_ms).ok().filter(|ms| *ms > 0)?);
    tokio::time::timeout(limit, work).await.ok()
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

/// The response for `outcomes`, topics in the order they first appear; with
/// `timed_out`, the elections decided but not known to be done are REQUEST_TIMED_OUT.
fn answer(outcomes: &[ElectionOutcome], timed_out: bool) -> ElectLeadersResponse {
    let mut results = Grouped::default();
    for o in outcomes {
        let (code, message) = match o.result {
            Ok(()) if timed_out => (
                ResponseError::RequestTimedOut.code(),
                Some(StrBytes::from_static_str(
                    "the election did not complete within the request's timeout",
                )),
            ),
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
        let resp = answer(
            &[
                o("a", 0, Ok(())),
                o("b", 0, Err(ElectionError::NotNeeded)),
                o("a", 1, Err(ElectionError::UnknownPartition)),
            ],
            false,
        );
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

    #[test]
    fn elections_not_done_in_time_are_timed_out_and_known_outcomes_kept() {
        let o = |partition, result| ElectionOutcome {
            topic: "a".into(),
            partition,
            result,
        };
        let resp = answer(&[o(0, Ok(())), o(1, Err(ElectionError::NotNeeded))], true);
        assert_eq!(resp.error_code, 0);
        let codes: Vec<(i32, i16)> = resp.replica_election_results[0]
            .partition_result
            .iter()
            .map(|p| (p.partition_id, p.error_code))
            .collect();
        assert_eq!(codes, vec![(0, 7), (1, 84)]);
    }

    #[tokio::test]
    async fn a_controller_that_does_not_answer_in_time_is_given_up_on() {
        let started = std::time::Instant::now();
        // A controller that never answers: given up after timeout_ms.
        let never = std::future::pending::<()>();
        assert_eq!(within(300, never).await, None);
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(300), "{took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
        // An answer in time is taken.
        let slow = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            7
        };
        assert_eq!(within(10_000, slow).await, Some(7));
        // 0 or negative: nothing is started, the answer is at once.
        let polled = std::cell::Cell::new(false);
        let work = async { polled.set(true) };
        assert_eq!(within(0, work).await, None);
        assert_eq!(within(-1, async { 1 }).await, None);
        assert!(!polled.get(), "no election started");
    }
}
