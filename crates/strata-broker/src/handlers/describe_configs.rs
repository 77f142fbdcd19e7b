//! DescribeConfigs (read-only for now): topic configs with their sources, and the
//! broker's own settings.

use std::sync::Arc;

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strata_meta::topic_config::{self, ConfigSource};

use crate::Broker;

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
/// `config_source` codes of DescribeConfigs v1+.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

/// Serves DescribeConfigs v1–v4.
pub fn handle(
    broker: &Arc<Broker>,
    version: i16,
    req: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let image = broker.meta.image();
    let results = req
        .resources
        .into_iter()
        .map(|res| {
            let base = DescribeConfigsResult::default()
                .with_resource_type(res.resource_type)
                .with_resource_name(res.resource_name.clone());
            let wanted = |name: &str| {
                res.configuration_keys
                    .as_ref()
                    // As in Kafka, no keys (null or empty) means every config.
                    .is_none_or(|keys| keys.is_empty() || keys.iter().any(|k| k.as_str() == name))
            };
            match res.resource_type {
                RESOURCE_TOPIC => match image.topic(res.resource_name.as_str()) {
                    None => base
                        .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                        .with_error_message(Some(StrBytes::from_string(format!(
                            "topic '{}' does not exist",
                            res.resource_name.as_str()
                        )))),
                    Some(t) => base.with_configs(
                        topic_config::describe(&t.configs)
                            .into_iter()
                            .filter(|e| wanted(e.name))
                            .map(|e| {
                                let static_default = broker.config.topic_defaults.get(e.name);
                                let (value, source) = match (e.source, static_default) {
                                    (ConfigSource::TopicOverride, _) => {
                                        (e.value.clone(), SOURCE_TOPIC)
                                    }
                                    (ConfigSource::Default, Some(v)) => {
                                        (v.clone(), SOURCE_STATIC_BROKER)
                                    }
                                    (ConfigSource::Default, None) => {
                                        (e.value.clone(), SOURCE_DEFAULT)
                                    }
                                };
                                let mut synonyms = Vec::new();
                                if req.include_synonyms {
                                    synonyms.push(synonym(e.name, &value, source));
                                }
                                let described = entry(e.name, value, source, version, synonyms);
                                // Types and documentation are on the wire from v3.
                                if version >= 3 {
                                    described
                                        .with_config_type(e.config_type.kafka_code())
                                        .with_documentation(
                                            req.include_documentation
                                                .then(|| StrBytes::from_static_str(e.doc)),
                                        )
                                } else {
                                    described
                                }
                            })
                            .collect(),
                    ),
                },
                RESOURCE_BROKER => {
                    if res.resource_name.as_str() != broker.config.node_id.to_string()
                        && !res.resource_name.is_empty()
                    {
                        return base
                            .with_error_code(ResponseError::InvalidRequest.code())
                            .with_error_message(Some(StrBytes::from_string(format!(
                                "this is broker {}, not '{}'",
                                broker.config.node_id,
                                res.resource_name.as_str()
                            ))));
                    }
                    base.with_configs(
                        broker_configs(broker)
                            .into_iter()
                            .filter(|(k, _)| wanted(k))
                            .map(|(k, v)| entry(k, v, SOURCE_STATIC_BROKER, version, Vec::new()))
                            .collect(),
                    )
                }
                other => base
                    .with_error_code(ResponseError::InvalidRequest.code())
                    .with_error_message(Some(StrBytes::from_string(format!(
                        "resource type {other} is not supported"
                    )))),
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

fn entry(
    name: &str,
    value: String,
    source: i8,
    _version: i16,
    synonyms: Vec<DescribeConfigsSynonym>,
) -> DescribeConfigsResourceResult {
    DescribeConfigsResourceResult::default()
        .with_name(StrBytes::from_string(name.to_string()))
        .with_value(Some(StrBytes::from_string(value)))
        .with_read_only(true)
        .with_config_source(source)
        .with_synonyms(synonyms)
}

fn synonym(name: &str, value: &str, source: i8) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym::default()
        .with_name(StrBytes::from_string(name.to_string()))
        .with_value(Some(StrBytes::from_string(value.to_string())))
        .with_source(source)
}

/// The broker settings worth showing, by their Kafka names.
fn broker_configs(broker: &Broker) -> Vec<(&'static str, String)> {
    let c = &broker.config;
    vec![
        ("node.id", c.node_id.to_string()),
        ("num.partitions", c.num_partitions.to_string()),
        (
            "default.replication.factor",
            c.default_replication_factor.to_string(),
        ),
        (
            "auto.create.topics.enable",
            c.auto_create_topics.to_string(),
        ),
        (
            "socket.request.max.bytes",
            c.socket_request_max_bytes.to_string(),
        ),
        ("log.dirs", c.data_dir.display().to_string()),
        ("log.flush", format!("{:?}", c.flush_policy).to_lowercase()),
        (
            "log.flush.interval.ms",
            c.flush_interval.as_millis().to_string(),
        ),
    ]
}
