//! Step 5 of Produce: the answer, with the fields each version carries.

use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::Outcome;
use crate::Broker;

/// The response for `results` ((topic index, partition, outcome) in any order), topics
/// in request order; refusals counted on their partitions.
pub(super) fn build(
    broker: &Broker,
    version: i16,
    names: Vec<TopicName>,
    results: Vec<(usize, i32, Outcome)>,
) -> ProduceResponse {
    let mut topics: Vec<TopicProduceResponse> = names
        .into_iter()
        .map(|n| TopicProduceResponse::default().with_name(n))
        .collect();
    for (t, index, outcome) in results {
        let pr = PartitionProduceResponse::default().with_index(index);
        let pr = match outcome {
            Outcome::Appended(info) => pr
                .with_base_offset(info.base_offset)
                .with_log_append_time_ms(info.log_append_time)
                // log_start_offset is on the wire from v5, error_message from v8.
                .with_log_start_offset(if version >= 5 {
                    info.log_start_offset
                } else {
                    -1
                }),
            Outcome::Failed(code, msg) => {
                count_refusal(broker, &topics[t].name, index, code);
                failed(pr, code, msg, version)
            }
            Outcome::InvalidRecords(msg, record_errors) => {
                let code = ResponseError::InvalidRecord;
                count_refusal(broker, &topics[t].name, index, code);
                // record_errors is on the wire from v8.
                let record_errors = if version >= 8 {
                    record_errors
                } else {
                    Vec::new()
                };
                failed(pr, code, Some(msg), version).with_record_errors(record_errors)
            }
        };
        topics[t].partition_responses.push(pr);
    }
    ProduceResponse::default().with_responses(topics)
}

/// A partition's refusal: no offsets, the message from v8.
fn failed(
    pr: PartitionProduceResponse,
    code: ResponseError,
    msg: Option<String>,
    version: i16,
) -> PartitionProduceResponse {
    pr.with_error_code(code.code())
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1)
        .with_error_message(msg.filter(|_| version >= 8).map(StrBytes::from_string))
}

/// Counts a refused produce by reason on the partition's own counters (only partitions
/// this broker holds: a name a client made up creates no series).
fn count_refusal(broker: &Broker, topic: &TopicName, index: i32, code: ResponseError) {
    if let Some(p) = broker.replicas.get(topic.0.as_str(), index) {
        p.stats.refused(code);
    }
}

/// Every partition of `req` answered `code`.
pub(super) fn refuse_all(req: ProduceRequest, code: ResponseError) -> ProduceResponse {
    let topics = req
        .topic_data
        .into_iter()
        .map(|t| {
            let parts = t
                .partition_data
                .iter()
                .map(|p| {
                    PartitionProduceResponse::default()
                        .with_index(p.index)
                        .with_error_code(code.code())
                        .with_base_offset(-1)
                        .with_log_append_time_ms(-1)
                        .with_log_start_offset(-1)
                })
                .collect();
            TopicProduceResponse::default()
                .with_name(t.name)
                .with_partition_responses(parts)
        })
        .collect();
    ProduceResponse::default().with_responses(topics)
}
