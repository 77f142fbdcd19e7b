//! `controller_mutation_rate` (KIP-599) on CreateTopics, DeleteTopics and
//! CreatePartitions: before the handler runs, each topic's partition mutations (partitions
//! created or deleted) are charged to the caller's quota, in request order.
//!
//! - Strict (CreateTopics v6+, DeleteTopics v5+, CreatePartitions v3+): a topic that finds
//!   the quota already exhausted is taken out of the request and answered
//!   THROTTLING_QUOTA_EXCEEDED; the response's throttle is the wait.
//! - Older versions (permissive): everything is charged and served; the response is
//!   throttled by how far over the quota it went.
//!
//! `validate_only` requests are not charged, as in Kafka.

use std::time::Duration;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{RequestKind, ResponseKind};
use kafka_protocol::protocol::StrBytes;
use strata_meta::MetadataImage;
use strata_proto::error_code::THROTTLING_QUOTA_EXCEEDED;
use strata_quota::QuotaKey;

use crate::quota::enforce::QuotaCaller;
use crate::Broker;

const WHY: &str = "the controller mutation quota is exceeded";

/// Topics refused for the quota, answered after the handler's results.
pub(crate) enum Refused {
    CreateTopics(Vec<CreatableTopicResult>),
    DeleteTopics(Vec<DeletableTopicResult>),
    CreatePartitions(Vec<CreatePartitionsTopicResult>),
}

/// Charges a topic-mutating request; returns the throttle and the refused topics (taken
/// out of `body`). Other requests cost nothing.
pub(crate) fn charge(
    broker: &Broker,
    q: &QuotaCaller<'_>,
    v: i16,
    body: &mut RequestKind,
) -> (Duration, Option<Refused>) {
    if !broker.quotas.has(q, QuotaKey::ControllerMutationRate) {
        return (Duration::ZERO, None);
    }
    let image = broker.meta.image();
    let mut c = Charger {
        broker,
        q,
        throttle: Duration::ZERO,
        strict: false,
    };
    let refused = match body {
        RequestKind::CreateTopics(r) if !r.validate_only => {
            c.strict = v >= 6;
            let default = broker.config.num_partitions;
            let mut out = Vec::new();
            r.topics.retain(|t| {
                let n = if !t.assignments.is_empty() {
                    t.assignments.len() as i64
                } else if t.num_partitions > 0 {
                    i64::from(t.num_partitions)
                } else {
                    i64::from(default)
                };
                c.admit(n) || {
                    out.push(
                        CreatableTopicResult::default()
                            .with_name(t.name.clone())
                            .with_error_code(THROTTLING_QUOTA_EXCEEDED)
                            .with_error_message(Some(StrBytes::from_static_str(WHY)))
                            .with_num_partitions(-1)
                            .with_replication_factor(-1),
                    );
                    false
                }
            });
            Refused::CreateTopics(out)
        }
        RequestKind::DeleteTopics(r) => {
            c.strict = v >= 5;
            let mut out = Vec::new();
            if v >= 6 {
                r.topics.retain(|t| {
                    let n = partitions(&image, t.name.as_ref().map(|n| n.as_str()), &t.topic_id);
                    c.admit(n) || {
                        out.push(
                            DeletableTopicResult::default()
                                .with_name(t.name.clone())
                                .with_topic_id(t.topic_id)
                                .with_error_code(THROTTLING_QUOTA_EXCEEDED)
                                .with_error_message(Some(StrBytes::from_static_str(WHY))),
                        );
                        false
                    }
                });
            } else {
                r.topic_names.retain(|name| {
                    c.admit(partitions(&image, Some(name.as_str()), &uuid::Uuid::nil())) || {
                        out.push(
                            DeletableTopicResult::default()
                                .with_name(Some(name.clone()))
                                .with_error_code(THROTTLING_QUOTA_EXCEEDED)
                                .with_error_message(Some(StrBytes::from_static_str(WHY))),
                        );
                        false
                    }
                });
            }
            Refused::DeleteTopics(out)
        }
        RequestKind::CreatePartitions(r) if !r.validate_only => {
            c.strict = v >= 3;
            let mut out = Vec::new();
            r.topics.retain(|t| {
                let now = partitions(&image, Some(t.name.as_str()), &uuid::Uuid::nil());
                c.admit((i64::from(t.count) - now).max(0)) || {
                    out.push(
                        CreatePartitionsTopicResult::default()
                            .with_name(t.name.clone())
                            .with_error_code(THROTTLING_QUOTA_EXCEEDED)
                            .with_error_message(Some(StrBytes::from_static_str(WHY))),
                    );
                    false
                }
            });
            Refused::CreatePartitions(out)
        }
        _ => return (Duration::ZERO, None),
    };
    (c.throttle, Some(refused))
}

/// Partitions of the topic named `name` (else with id `id`); 0 if unknown.
fn partitions(image: &MetadataImage, name: Option<&str>, id: &uuid::Uuid) -> i64 {
    let topic = match name {
        Some(n) => image.topic(n),
        None => image.topic_by_id(id),
    };
    topic.map_or(0, |t| t.partitions.len() as i64)
}

struct Charger<'a, 'b> {
    broker: &'a Broker,
    q: &'a QuotaCaller<'b>,
    throttle: Duration,
    strict: bool,
}

impl Charger<'_, '_> {
    /// Charges `n` mutations; false if the topic is refused.
    fn admit(&mut self, n: i64) -> bool {
        let quotas = &self.broker.quotas;
        let key = QuotaKey::ControllerMutationRate;
        if !self.strict {
            let t = quotas.record(self.q, key, n as f64);
            self.throttle = self.throttle.max(t);
            return true;
        }
        match quotas.try_record(self.q, key, n as f64) {
            Ok(()) => true,
            Err(wait) => {
                self.throttle = self.throttle.max(wait);
                false
            }
        }
    }
}

impl Refused {
    /// Adds the refused topics to the handler's response.
    pub(crate) fn answer(self, body: &mut ResponseKind) {
        match (self, body) {
            (Refused::CreateTopics(r), ResponseKind::CreateTopics(b)) => b.topics.extend(r),
            (Refused::DeleteTopics(r), ResponseKind::DeleteTopics(b)) => b.responses.extend(r),
            (Refused::CreatePartitions(r), ResponseKind::CreatePartitions(b)) => {
                b.results.extend(r)
            }
            _ => {}
        }
    }
}
