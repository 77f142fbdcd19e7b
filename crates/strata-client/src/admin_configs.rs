//! Config administration: DescribeConfigs and IncrementalAlterConfigs for topics and brokers.

use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{DescribeConfigsRequest, IncrementalAlterConfigsRequest};
use kafka_protocol::protocol::StrBytes;

use crate::admin::Admin;
use crate::cluster::topic_error;
use crate::error::{codes, ClientError, Result};

/// Wire resource type for topics.
const RESOURCE_TOPIC: i8 = 2;
/// Wire resource type for brokers.
const RESOURCE_BROKER: i8 = 4;
/// IncrementalAlterConfigs operation codes.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;

/// Something that has configs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConfigResource {
    /// A topic, by name.
    Topic(String),
    /// A broker: `Some(id)` for one broker's own settings, `None` for the cluster-wide
    /// dynamic defaults every broker inherits.
    Broker(Option<i32>),
}

impl ConfigResource {
    fn wire(&self) -> (i8, String) {
        match self {
            ConfigResource::Topic(name) => (RESOURCE_TOPIC, name.clone()),
            ConfigResource::Broker(Some(id)) => (RESOURCE_BROKER, id.to_string()),
            // Kafka addresses the cluster-wide default as the broker with an empty name.
            ConfigResource::Broker(None) => (RESOURCE_BROKER, String::new()),
        }
    }

    /// How errors name this resource, e.g. `topic 'orders'`, `broker 1`.
    pub fn label(&self) -> String {
        match self {
            ConfigResource::Topic(name) => format!("topic '{name}'"),
            ConfigResource::Broker(Some(id)) => format!("broker {id}"),
            ConfigResource::Broker(None) => "cluster-wide broker defaults".to_string(),
        }
    }
}

/// Where a config's effective value comes from, most specific first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfigSource {
    /// Set on the topic itself.
    Topic,
    /// Set dynamically on this broker.
    DynamicBroker,
    /// Set dynamically as the cluster-wide default.
    DynamicDefault,
    /// From the broker's start-up settings (config file or `--set`).
    StaticBroker,
    /// Built-in default.
    Default,
    /// A source this client does not know, with its wire code.
    Other(i8),
}

impl ConfigSource {
    /// From the DescribeConfigs `config_source` code.
    pub fn from_code(code: i8) -> ConfigSource {
        match code {
            1 => ConfigSource::Topic,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefault,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            other => ConfigSource::Other(other),
        }
    }

    /// Short lower-case label for people and scripts: `topic`, `dynamic-broker`,
    /// `dynamic-default`, `static-broker`, `default`.
    pub fn label(&self) -> String {
        match self {
            ConfigSource::Topic => "topic".into(),
            ConfigSource::DynamicBroker => "dynamic-broker".into(),
            ConfigSource::DynamicDefault => "dynamic-default".into(),
            ConfigSource::StaticBroker => "static-broker".into(),
            ConfigSource::Default => "default".into(),
            ConfigSource::Other(c) => format!("unknown({c})"),
        }
    }

    /// Kafka's name for the source, e.g. `DYNAMIC_TOPIC_CONFIG`.
    pub fn kafka_name(&self) -> &'static str {
        match self {
            ConfigSource::Topic => "DYNAMIC_TOPIC_CONFIG",
            ConfigSource::DynamicBroker => "DYNAMIC_BROKER_CONFIG",
            ConfigSource::DynamicDefault => "DYNAMIC_DEFAULT_BROKER_CONFIG",
            ConfigSource::StaticBroker => "STATIC_BROKER_CONFIG",
            ConfigSource::Default => "DEFAULT_CONFIG",
            ConfigSource::Other(6) => "DYNAMIC_BROKER_LOGGER_CONFIG",
            ConfigSource::Other(7) => "CLIENT_METRICS_CONFIG",
            ConfigSource::Other(8) => "GROUP_CONFIG",
            ConfigSource::Other(_) => "UNKNOWN",
        }
    }
}

/// A value the effective one overrides (or is), as DescribeConfigs reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSynonym {
    /// The synonym's name, e.g. `log.retention.ms` for topic `retention.ms`.
    pub name: String,
    /// Its value at that level.
    pub value: Option<String>,
    /// The level.
    pub source: ConfigSource,
}

/// One config entry of a topic or broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// Config name, e.g. `retention.ms`.
    pub name: String,
    /// Value; `None` when sensitive or unset.
    pub value: Option<String>,
    /// Where the value comes from.
    pub source: ConfigSource,
    /// Whether it cannot be altered.
    pub read_only: bool,
    /// Whether the value is hidden.
    pub sensitive: bool,
    /// The value's precedence chain, most specific first (empty if the broker sent none).
    pub synonyms: Vec<ConfigSynonym>,
}

/// What to do to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigAction {
    /// Set an override.
    Set(String),
    /// Remove the override so the next level's value applies.
    Delete,
}

/// One change in an alter-configs call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigOp {
    /// Config name.
    pub key: String,
    /// The change.
    pub action: ConfigAction,
}

impl ConfigOp {
    /// `key = value`.
    pub fn set(key: impl Into<String>, value: impl Into<String>) -> ConfigOp {
        ConfigOp {
            key: key.into(),
            action: ConfigAction::Set(value.into()),
        }
    }

    /// Remove the override of `key`.
    pub fn delete(key: impl Into<String>) -> ConfigOp {
        ConfigOp {
            key: key.into(),
            action: ConfigAction::Delete,
        }
    }
}

impl Admin {
    /// All configs of `resource` with values, sources and synonyms, sorted by name.
    pub async fn describe_configs(&self, resource: &ConfigResource) -> Result<Vec<ConfigEntry>> {
        let conn = self.resource_connection(resource).await?;
        let version = conn.version_for::<DescribeConfigsRequest>(None)?;
        let (kind, name) = resource.wire();
        let req = DescribeConfigsRequest::default()
            .with_resources(vec![DescribeConfigsResource::default()
                .with_resource_type(kind)
                .with_resource_name(StrBytes::from_string(name))
                .with_configuration_keys(None)])
            .with_include_synonyms(version >= 1);
        let timeout = self.cluster().config.request_timeout;
        let resp = conn.request(&req, version, timeout).await?;
        let mut out = Vec::new();
        for r in resp.results {
            if r.error_code != 0 {
                return Err(config_error(
                    r.error_code,
                    r.error_message.as_ref().map(|m| m.as_str()),
                    resource,
                ));
            }
            for c in r.configs {
                out.push(ConfigEntry {
                    name: c.name.to_string(),
                    value: c.value.map(|v| v.to_string()),
                    source: ConfigSource::from_code(c.config_source),
                    read_only: c.read_only,
                    sensitive: c.is_sensitive,
                    synonyms: c
                        .synonyms
                        .into_iter()
                        .map(|s| ConfigSynonym {
                            name: s.name.to_string(),
                            value: s.value.map(|v| v.to_string()),
                            source: ConfigSource::from_code(s.source),
                        })
                        .collect(),
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Applies `ops` to the topic's overrides atomically (IncrementalAlterConfigs).
    pub async fn alter_topic_config(&self, name: &str, ops: Vec<ConfigOp>) -> Result<()> {
        self.alter_configs(&ConfigResource::Topic(name.to_string()), ops)
            .await
    }

    /// Applies `ops` to broker `scope`'s dynamic settings, or to the cluster-wide dynamic
    /// defaults when `scope` is `None`.
    pub async fn alter_broker_config(&self, scope: Option<i32>, ops: Vec<ConfigOp>) -> Result<()> {
        self.alter_configs(&ConfigResource::Broker(scope), ops)
            .await
    }

    /// Applies `ops` to `resource` atomically: either all changes are made or none.
    pub async fn alter_configs(&self, resource: &ConfigResource, ops: Vec<ConfigOp>) -> Result<()> {
        // Dynamic configs are cluster metadata, so the controller decides them.
        let conn = match resource {
            ConfigResource::Broker(Some(_)) => self.resource_connection(resource).await?,
            _ => self.cluster().controller_connection().await?,
        };
        let version = conn.version_for::<IncrementalAlterConfigsRequest>(None)?;
        let (kind, name) = resource.wire();
        let configs = ops
            .into_iter()
            .map(|op| {
                let (code, value) = match op.action {
                    ConfigAction::Set(v) => (OP_SET, Some(StrBytes::from_string(v))),
                    ConfigAction::Delete => (OP_DELETE, None),
                };
                AlterableConfig::default()
                    .with_name(StrBytes::from_string(op.key))
                    .with_config_operation(code)
                    .with_value(value)
            })
            .collect();
        let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(kind)
                .with_resource_name(StrBytes::from_string(name))
                .with_configs(configs),
        ]);
        let timeout = self.cluster().config.request_timeout;
        let resp = conn.request(&req, version, timeout).await?;
        let r = resp
            .responses
            .first()
            .ok_or_else(|| ClientError::Protocol(format!("no result for {}", resource.label())))?;
        if r.error_code != 0 {
            return Err(config_error(
                r.error_code,
                r.error_message.as_ref().map(|m| m.as_str()),
                resource,
            ));
        }
        Ok(())
    }

    /// A connection to the broker a resource lives on: that broker for one broker's
    /// settings, anyone otherwise (every broker can describe topics and defaults).
    async fn resource_connection(
        &self,
        resource: &ConfigResource,
    ) -> Result<std::sync::Arc<crate::connection::Connection>> {
        match resource {
            ConfigResource::Broker(Some(id)) => {
                if let Ok(c) = self.cluster().broker_connection(*id).await {
                    return Ok(c);
                }
                // A fresh client knows only bootstrap addresses; learn the broker list.
                self.cluster().fetch_metadata(Some(&[])).await?;
                self.cluster().broker_connection(*id).await
            }
            _ => self.cluster().any_connection().await,
        }
    }
}

/// An error about a config resource, naming the resource; the broker's message (which names
/// the key) when it sent one.
fn config_error(code: i16, broker_message: Option<&str>, resource: &ConfigResource) -> ClientError {
    if let ConfigResource::Topic(name) = resource {
        if code == codes::UNKNOWN_TOPIC_OR_PARTITION {
            return topic_error(code, name);
        }
    }
    let label = resource.label();
    ClientError::from_code(
        code,
        broker_message.map(|m| format!("{label}: {m}")).as_deref(),
        &format!(
            "{label}: {}",
            crate::error::error_code_name(code)
                .to_lowercase()
                .replace('_', " ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_round_trip_codes() {
        for code in 1..=5 {
            let s = ConfigSource::from_code(code);
            assert!(!matches!(s, ConfigSource::Other(_)), "{code}");
        }
        assert_eq!(ConfigSource::from_code(1).label(), "topic");
        assert_eq!(
            ConfigSource::from_code(1).kafka_name(),
            "DYNAMIC_TOPIC_CONFIG"
        );
        assert_eq!(ConfigSource::from_code(5).label(), "default");
        assert_eq!(
            ConfigSource::from_code(4).kafka_name(),
            "STATIC_BROKER_CONFIG"
        );
        assert_eq!(ConfigSource::from_code(9), ConfigSource::Other(9));
    }

    #[test]
    fn resources_address_kafka_names() {
        assert_eq!(ConfigResource::Topic("t".into()).wire(), (2, "t".into()));
        assert_eq!(ConfigResource::Broker(Some(1)).wire(), (4, "1".into()));
        assert_eq!(ConfigResource::Broker(None).wire(), (4, String::new()));
    }

    #[test]
    fn config_errors_name_resource_and_key() {
        let e = config_error(
            40,
            Some("invalid value 'abc' for topic config 'retention.ms': not a number"),
            &ConfigResource::Topic("t".into()),
        );
        assert_eq!(
            e.to_string(),
            "topic 't': invalid value 'abc' for topic config 'retention.ms': not a number \
             (INVALID_CONFIG)"
        );
        let e = config_error(3, None, &ConfigResource::Topic("t".into()));
        assert_eq!(e.code(), Some(3));
        let e = config_error(42, None, &ConfigResource::Broker(None));
        assert!(
            e.to_string().starts_with("cluster-wide broker defaults: "),
            "{e}"
        );
    }
}
