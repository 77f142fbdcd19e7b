//! Step 1 of Produce: the checks that need no log, topic by topic, then partition by
//! partition.

use std::sync::Arc;

use kafka_protocol::messages::produce_request::TopicProduceData;
use kafka_protocol::ResponseError;
use strata_auth::acl::AclOperation;

use super::{Outcome, Plan};
use crate::auth::authorizer::Access;
use crate::topics::{OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC};
use crate::Broker;

/// Splits the request into what to append and what is answered now.
pub(super) async fn admit(
    broker: &Arc<Broker>,
    access: &Access,
    acks: i16,
    topics: Vec<TopicProduceData>,
) -> Plan {
    let mut plan = Plan {
        names: Vec::with_capacity(topics.len()),
        slots: Vec::new(),
        appends: Vec::new(),
        answered: Vec::new(),
    };
    for topic in topics {
        let t = plan.names.len();
        let name = topic.name.0.as_str();
        let topic_refusal = topic_refusal(broker, access, acks, name).await;
        for pd in topic.partition_data {
            let part = match &topic_refusal {
                None => partition_refusal(broker, acks, name, pd.index),
                Some(e) => Err(e.clone()),
            };
            match (part, pd.records) {
                (Err((code, msg)), records) => {
                    if let (Some(records), Some(p)) =
                        (&records, broker.replicas.get(name, pd.index))
                    {
                        p.note_refusal(records, code);
                    }
                    plan.answered
                        .push((t, pd.index, Outcome::Failed(code, Some(msg))))
                }
                (Ok(_), None) => plan.answered.push((
                    t,
                    pd.index,
                    Outcome::Failed(ResponseError::CorruptMessage, Some("null records".into())),
                )),
                (Ok(p), Some(records)) => {
                    plan.slots.push((t, pd.index));
                    plan.appends.push((p, records));
                }
            }
        }
        plan.names.push(topic.name);
    }
    plan
}

/// Why no partition of topic `name` may take this request's records, if so: acks out
/// of range, no WRITE permission, an internal topic, or a topic that does not exist
/// (and may not be auto-created).
async fn topic_refusal(
    broker: &Arc<Broker>,
    access: &Access,
    acks: i16,
    name: &str,
) -> Option<(ResponseError, String)> {
    if !matches!(acks, -1..=1) {
        return Some((
            ResponseError::InvalidRequiredAcks,
            format!("acks must be -1, 0 or 1, not {acks}"),
        ));
    }
    if !access.topic(AclOperation::Write, name) {
        return Some((
            ResponseError::TopicAuthorizationFailed,
            format!("not authorized to write to topic {name}"),
        ));
    }
    if name == OFFSETS_TOPIC || name == TRANSACTION_STATE_TOPIC {
        return Some((
            ResponseError::InvalidTopicException,
            format!("cannot append to internal topic {name}"),
        ));
    }
    let may_create = broker.config.auto_create_topics && access.may_create_topic(name);
    match broker.topic_or_create(name, may_create).await {
        Ok(_) => None,
        Err(e) => Some((e.code(), e.to_string())),
    }
}

/// The partition this broker leads, or why it cannot take the records: not led here,
/// or (acks=all) fewer in-sync replicas than `min.insync.replicas` by the leader's rule
/// (the same one its verdict after the append uses; DESIGN §4).
fn partition_refusal(
    broker: &Broker,
    acks: i16,
    name: &str,
    index: i32,
) -> Result<Arc<crate::replica::Partition>, (ResponseError, String)> {
    let p = broker.led_replica(name, index).map_err(|code| {
        let message = match code {
            ResponseError::UnknownTopicOrPartition => {
                format!("topic '{name}' has no partition {index}")
            }
            _ => format!("this broker does not lead {name}-{index}"),
        };
        (code, message)
    })?;
    match p.acks_all_refusal() {
        Some(why) if acks == -1 => Err((ResponseError::NotEnoughReplicas, why)),
        _ => Ok(p),
    }
}
