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

use crate::config::broker_defs;

use crate::config::{broker_key_for, topic_key_for};
use crate::Broker;

mod broker;

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

/// One link of the resolution chain: (config name at that level, value, source); a
/// `None` value is Kafka's null.
type Synonym = (String, Option<String>, i8);

/// How a config is rendered besides its chain.
#[derive(Clone, Copy, Debug, Default)]
struct Meta {
    /// Cannot be changed by AlterConfigs.
    read_only: bool,
    /// The `config_type` code (v3+).
    config_type: Option<i8>,
    /// Documentation (v3+, on request).
    doc: Option<&'static str>,
    /// A password: reported with no value.
    sensitive: bool,
}

impl Meta {
    fn topic(def: &topic_config::ConfigDef) -> Self {
        Self {
            read_only: false,
            config_type: Some(def.config_type.kafka_code()),
            doc: Some(def.doc),
            sensitive: false,
        }
    }
}

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
            let render = |name: &str, chain: Vec<Synonym>, meta: Meta| {
                // Passwords are never reported, at any level of the chain.
                let shown =
                    |v: Option<String>| v.filter(|_| !meta.sensitive).map(StrBytes::from_string);
                let (value, source) = chain
                    .first()
                    .map(|(_, v, s)| (v.clone(), *s))
                    .unwrap_or((None, SOURCE_DEFAULT));
                let mut e = DescribeConfigsResourceResult::default()
                    .with_name(StrBytes::from_string(name.to_string()))
                    .with_value(shown(value))
                    .with_read_only(meta.read_only)
                    .with_is_sensitive(meta.sensitive)
                    .with_config_source(source);
                if req.include_synonyms {
                    e = e.with_synonyms(
                        chain
                            .into_iter()
                            .map(|(n, v, s)| {
                                DescribeConfigsSynonym::default()
                                    .with_name(StrBytes::from_string(n))
                                    .with_value(shown(v))
                                    .with_source(s)
                            })
                            .collect(),
                    );
                }
                // Types and documentation are on the wire from v3.
                if let (Some(t), true) = (meta.config_type, version >= 3) {
                    e = e.with_config_type(t).with_documentation(
                        meta.doc
                            .filter(|_| req.include_documentation)
                            .map(StrBytes::from_static_str),
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
                                    chain.push((d.name.to_string(), Some(v.clone()), SOURCE_TOPIC));
                                }
                                if let Some(bk) = broker_key_for(d.name) {
                                    chain.extend(broker_chain(broker, &image, bk));
                                }
                                // Below the topic level Kafka names links by the broker key.
                                let default_name = broker_key_for(d.name).unwrap_or(d.name);
                                chain.push((
                                    default_name.to_string(),
                                    Some(d.default.to_string()),
                                    SOURCE_DEFAULT,
                                ));
                                render(d.name, chain, Meta::topic(d))
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
                    let mut configs: Vec<DescribeConfigsResourceResult> =
                        broker::entries(broker, &image, &wanted)
                            .into_iter()
                            .map(|(k, chain, meta)| render(&k, chain, meta))
                            .collect();
                    // Dynamic-only settings (throttle rates, ...) when set.
                    configs.extend(
                        crate::dynamic_configs::OTHER_DYNAMIC
                            .iter()
                            .filter(|k| wanted(k) && broker_defs::def(k).is_none())
                            .map(|k| (*k, broker_chain(broker, &image, k)))
                            .filter(|(_, chain)| !chain.is_empty())
                            .map(|(k, chain)| render(k, chain, Meta::default())),
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
            chain.push((key.to_string(), Some(v.clone()), source));
        }
    }
    if let Some(v) = topic_key_for(key).and_then(|tk| broker.config.topic_defaults.get(tk)) {
        chain.push((key.to_string(), Some(v.clone()), SOURCE_STATIC_BROKER));
    }
    chain
}
