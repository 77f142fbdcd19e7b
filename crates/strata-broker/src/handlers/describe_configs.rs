//! DescribeConfigs: effective topic and broker configs with their sources and, on
//! request, synonyms — the chain Kafka resolves a value through: topic override,
//! dynamic per-broker, dynamic cluster default, static broker setting, built-in default.

use crate::auth::authorizer::Access;
use std::sync::Arc;
use strata_auth::acl::AclOperation;

use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strata_meta::{topic_config, MetadataImage};

use crate::config::{broker_key_for, topic_key_for, TOPIC_DEFAULT_KEYS};
use crate::Broker;

/// ConfigResource type of a topic.
pub(crate) const RESOURCE_TOPIC: i8 = 2;
/// ConfigResource type of a broker.
pub(crate) const RESOURCE_BROKER: i8 = 4;
/// `config_source` codes of DescribeConfigs v1+.
const SOURCE_TOPIC: i8 = 1;
const SOURCE_DYNAMIC_BROKER: i8 = 2;
const SOURCE_DYNAMIC_DEFAULT: i8 = 3;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

/// One link of the resolution chain: (config name at that level, value, source).
type Synonym = (String, String, i8);

/// Serves DescribeConfigs v1–v4.
pub fn handle(
    broker: &Arc<Broker>,
    version: i16,
    access: &Access,
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
            // As in Kafka, no keys (null or empty) means every config.
            let wanted = |name: &str| {
                res.configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.is_empty() || keys.iter().any(|k| k.as_str() == name))
            };
            let render = |name: &str,
                          chain: Vec<Synonym>,
                          read_only: bool,
                          def: Option<&topic_config::ConfigDef>| {
                let (value, source) = chain
                    .first()
                    .map(|(_, v, s)| (v.clone(), *s))
                    .unwrap_or_default();
                let mut e = DescribeConfigsResourceResult::default()
                    .with_name(StrBytes::from_string(name.to_string()))
                    .with_value(Some(StrBytes::from_string(value)))
                    .with_read_only(read_only)
                    .with_config_source(source);
                if req.include_synonyms {
                    e = e.with_synonyms(
                        chain
                            .into_iter()
                            .map(|(n, v, s)| {
                                DescribeConfigsSynonym::default()
                                    .with_name(StrBytes::from_string(n))
                                    .with_value(Some(StrBytes::from_string(v)))
                                    .with_source(s)
                            })
                            .collect(),
                    );
                }
                // Types and documentation are on the wire from v3.
                if let (Some(def), true) = (def, version >= 3) {
                    e = e
                        .with_config_type(def.config_type.kafka_code())
                        .with_documentation(
                            req.include_documentation
                                .then(|| StrBytes::from_static_str(def.doc)),
                        );
                }
                e
            };
            let name = res.resource_name.as_str();
            let denied = super::configs_denied(
                access,
                res.resource_type,
                name,
                AclOperation::DescribeConfigs,
            );
            if let Some(e) = denied {
                return base
                    .with_error_code(e.kafka_code())
                    .with_error_message(Some(StrBytes::from_string(e.message().to_string())));
            }
            match res.resource_type {
                RESOURCE_TOPIC => match image.topic(res.resource_name.as_str()) {
                    None => base
                        .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                        .with_error_message(Some(StrBytes::from_string(format!(
                            "topic '{}' does not exist",
                            res.resource_name.as_str()
                        )))),
                    Some(t) => base.with_configs(
                        topic_config::config_defs()
                            .iter()
                            .filter(|d| wanted(d.name))
                            .map(|d| {
                                let mut chain = Vec::new();
                                if let Some(v) = t.configs.get(d.name) {
                                    chain.push((d.name.to_string(), v.clone(), SOURCE_TOPIC));
                                }
                                if let Some(bk) = broker_key_for(d.name) {
                                    chain.extend(broker_chain(broker, &image, bk));
                                }
                                // Below the topic level Kafka names links by the broker key.
                                let default_name = broker_key_for(d.name).unwrap_or(d.name);
                                chain.push((
                                    default_name.to_string(),
                                    d.default.to_string(),
                                    SOURCE_DEFAULT,
                                ));
                                render(d.name, chain, false, Some(d))
                            })
                            .collect(),
                    ),
                },
                RESOURCE_BROKER => {
                    let name = res.resource_name.as_str();
                    if !name.is_empty() && name != broker.config.node_id.to_string() {
                        return base
                            .with_error_code(ResponseError::InvalidRequest.code())
                            .with_error_message(Some(StrBytes::from_string(format!(
                                "this is broker {}, not '{name}'",
                                broker.config.node_id
                            ))));
                    }
                    let mut configs: Vec<DescribeConfigsResourceResult> = TOPIC_DEFAULT_KEYS
                        .iter()
                        .filter(|k| wanted(k))
                        .map(|k| {
                            let def = topic_key_for(k).and_then(topic_config::config_def);
                            let mut chain = broker_chain(broker, &image, k);
                            if let Some(d) = def {
                                chain.push((k.to_string(), d.default.to_string(), SOURCE_DEFAULT));
                            }
                            render(k, chain, false, def)
                        })
                        .collect();
                    configs.extend(
                        static_only(broker)
                            .into_iter()
                            .filter(|(k, _)| wanted(k))
                            .map(|(k, v)| {
                                render(
                                    k,
                                    vec![(k.to_string(), v, SOURCE_STATIC_BROKER)],
                                    true,
                                    None,
                                )
                            }),
                    );
                    base.with_configs(configs)
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

/// The broker-level links for a broker setting: dynamic per-broker, dynamic default,
/// static (flags / file).
fn broker_chain(broker: &Broker, image: &MetadataImage, key: &str) -> Vec<Synonym> {
    let mut chain = Vec::new();
    let scopes = [
        (Some(broker.config.node_id), SOURCE_DYNAMIC_BROKER),
        (None, SOURCE_DYNAMIC_DEFAULT),
    ];
    for (scope, source) in scopes {
        if let Some(v) = image.broker_configs(scope).and_then(|c| c.get(key)) {
            chain.push((key.to_string(), v.clone(), source));
        }
    }
    if let Some(v) = topic_key_for(key).and_then(|tk| broker.config.topic_defaults.get(tk)) {
        chain.push((key.to_string(), v.clone(), SOURCE_STATIC_BROKER));
    }
    chain
}

/// Broker settings fixed at start.
fn static_only(broker: &Broker) -> Vec<(&'static str, String)> {
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
        ("fetch.max.bytes", c.fetch_max_bytes.to_string()),
        (
            "queued.max.request.bytes",
            c.queued_max_request_bytes.to_string(),
        ),
        ("max.connections", c.max_connections.to_string()),
        (
            "max.connections.per.ip",
            c.max_connections_per_ip.to_string(),
        ),
        (
            "max.connections.per.ip.overrides",
            c.max_connections_per_ip_overrides
                .iter()
                .map(|(ip, n)| format!("{ip}:{n}"))
                .collect::<Vec<_>>()
                .join(","),
        ),
        (
            "connections.max.idle.ms",
            millis_or_never(c.connections_max_idle),
        ),
        (
            "socket.request.read.timeout.ms",
            c.socket_request_read_timeout.as_millis().to_string(),
        ),
        ("log.dirs", c.data_dir.display().to_string()),
        ("log.flush", format!("{:?}", c.flush_policy).to_lowercase()),
        (
            "offsets.topic.num.partitions",
            c.offsets_topic_num_partitions.to_string(),
        ),
        (
            "group.initial.rebalance.delay.ms",
            c.group_initial_rebalance_delay_ms.to_string(),
        ),
        (
            "log.retention.check.interval.ms",
            c.retention_check_interval.as_millis().to_string(),
        ),
        (
            "log.scrub.interval.ms",
            c.scrub_interval.as_millis().to_string(),
        ),
    ]
}

/// A duration setting where `-1` means "never".
fn millis_or_never(d: std::time::Duration) -> String {
    if d == crate::config::NEVER {
        "-1".to_string()
    } else {
        d.as_millis().to_string()
    }
}
