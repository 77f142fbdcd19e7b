//! DescribeConfigs of a BROKER resource: every key of Kafka's broker config table
//! (`config/broker_defs`) with its value and the chain it resolves through, then
//! Strata's own settings and listener-prefixed security settings that are set.

use strata_meta::{topic_config, MetadataImage};

use super::{
    broker_chain, Meta, Synonym, SOURCE_DEFAULT, SOURCE_DYNAMIC_BROKER, SOURCE_STATIC_BROKER,
};
use crate::config::broker_defs::{self, BrokerConfigDef, STRATA_KEYS};
use crate::config::{topic_key_for, BrokerConfig, NEVER};
use crate::Broker;

/// What DescribeConfigs says of one config: its name, resolution chain and metadata.
pub(super) type Entry = (String, Vec<Synonym>, Meta);

/// Documentation of the keys Strata keeps but does not act on.
const KEPT_DOC: &str = "Accepted and kept (validated by type); Strata does not act on it.";

/// The configs of this broker that `wanted` selects, sorted by name within each group.
pub(super) fn entries(
    broker: &Broker,
    image: &MetadataImage,
    wanted: &dyn Fn(&str) -> bool,
) -> Vec<Entry> {
    let c = &broker.config;
    let defaults = BrokerConfig::default();
    let mut defs: Vec<&BrokerConfigDef> = broker_defs::defs().filter(|d| wanted(d.name)).collect();
    defs.sort_by_key(|d| d.name);
    let mut out: Vec<Entry> = defs
        .into_iter()
        .map(|d| table_entry(broker, image, &defaults, d))
        .collect();
    for k in STRATA_KEYS.iter().copied().filter(|k| wanted(k)) {
        let value = static_value(c, k).or_else(|| c.security.get(k).cloned());
        let Some(v) = value else { continue };
        let source = if static_value(&defaults, k).as_ref() == Some(&v) {
            SOURCE_DEFAULT
        } else {
            SOURCE_STATIC_BROKER
        };
        let meta = Meta {
            read_only: true,
            ..Meta::default()
        };
        out.push((k.to_string(), vec![(k.to_string(), Some(v), source)], meta));
    }
    // Listener-prefixed settings (`listener.name.<l>.ssl.keystore.password`, ...): static,
    // and the keystore and truststore ones this broker changed at run time.
    let dynamic = image.broker_configs(Some(c.node_id));
    let reconfigurable = crate::listeners::dynamic::is_reconfigurable;
    let keys: std::collections::BTreeSet<&String> = c
        .security
        .keys()
        .chain(
            dynamic
                .into_iter()
                .flatten()
                .map(|(k, _)| k)
                .filter(|k| reconfigurable(k)),
        )
        .collect();
    for k in keys {
        if broker_defs::def(k).is_some() || STRATA_KEYS.contains(&k.as_str()) || !wanted(k) {
            continue;
        }
        let bare = k
            .strip_prefix("listener.name.")
            .and_then(|rest| rest.split_once('.'))
            .map_or(k.as_str(), |(_, bare)| bare);
        let sensitive = broker_defs::def(bare).is_some_and(|d| d.sensitive())
            || bare.contains("password")
            || bare.ends_with("jaas.config");
        let meta = Meta {
            read_only: !reconfigurable(k),
            sensitive,
            ..Meta::default()
        };
        let chain = [
            (dynamic.and_then(|d| d.get(k)), SOURCE_DYNAMIC_BROKER),
            (c.security.get(k), SOURCE_STATIC_BROKER),
        ]
        .into_iter()
        .filter_map(|(v, source)| Some((k.clone(), Some(v?.clone()), source)))
        .collect();
        out.push((k.clone(), chain, meta));
    }
    out
}

/// One key of the table: dynamic per-broker, dynamic default, static, default.
fn table_entry(
    broker: &Broker,
    image: &MetadataImage,
    defaults: &BrokerConfig,
    d: &BrokerConfigDef,
) -> Entry {
    let c = &broker.config;
    let name = d.name.to_string();
    let mut chain = broker_chain(broker, image, d.name);
    let topic_def = topic_key_for(d.name).and_then(topic_config::config_def);
    let mut default = topic_def
        .map(|t| t.default.to_string())
        .or_else(|| d.default.map(str::to_string));
    if !chain.iter().any(|(_, _, s)| *s == SOURCE_STATIC_BROKER) {
        let fixed = runtime_value(broker, d.name)
            .or_else(|| c.kept.get(d.name).cloned())
            .or_else(|| c.security.get(d.name).cloned());
        match fixed {
            Some(v) => chain.push((name.clone(), Some(v), SOURCE_STATIC_BROKER)),
            None => {
                if let Some(v) = static_value(c, d.name) {
                    // Strata's default is the default, whatever Kafka's is.
                    let strata_default = static_value(defaults, d.name);
                    if strata_default.as_ref() != Some(&v) {
                        chain.push((name.clone(), Some(v), SOURCE_STATIC_BROKER));
                    }
                    default = strata_default.or(default);
                }
            }
        }
    }
    if default.is_some() || chain.is_empty() {
        chain.push((name.clone(), default, SOURCE_DEFAULT));
    }
    let doc = match topic_def {
        Some(t) => Some(t.doc),
        None if !d.honoured => Some(KEPT_DOC),
        None => None,
    };
    let meta = Meta {
        read_only: !d.dynamic(),
        config_type: Some(d.config_type.kafka_code()),
        doc,
        sensitive: d.sensitive(),
    };
    (name, chain, meta)
}

/// Values only the running broker knows (bound ports, the inter-broker listener), and
/// the identity settings; always reported as static.
fn runtime_value(broker: &Broker, key: &str) -> Option<String> {
    let c = &broker.config;
    let join = |f: &dyn Fn(&crate::network::Endpoint) -> String| {
        broker
            .listeners
            .iter()
            .map(|e| f(e))
            .collect::<Vec<_>>()
            .join(",")
    };
    Some(match key {
        "listeners" => join(&|e| format!("{}://{}", e.config.name, e.local_addr)),
        "advertised.listeners" => join(&|e| {
            let host = &e.config.advertised_host;
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.clone()
            };
            format!("{}://{host}:{}", e.config.name, e.advertised_port())
        }),
        "listener.security.protocol.map" => {
            join(&|e| format!("{}:{}", e.config.name, e.config.protocol.name()))
        }
        "inter.broker.listener.name" => broker.inter_broker_listener.clone(),
        "security.inter.broker.protocol" => broker
            .listeners
            .iter()
            .find(|e| e.config.name == broker.inter_broker_listener)
            .map(|e| e.config.protocol.name().to_string())?,
        "node.id" | "broker.id" => c.node_id.to_string(),
        "log.dirs" => c
            .log_dirs()
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
        "log.dir" => c.data_dir.display().to_string(),
        "broker.rack" => c.rack.clone()?,
        "process.roles" => {
            if c.voters.is_empty() || c.voters.iter().any(|(id, _)| *id == c.node_id) {
                "broker,controller".to_string()
            } else {
                "broker".to_string()
            }
        }
        "controller.quorum.voters" => {
            if c.voters.is_empty() {
                format!("{}@{}", c.node_id, c.controller_listen)
            } else {
                c.voters
                    .iter()
                    .map(|(id, addr)| format!("{id}@{addr}"))
                    .collect::<Vec<_>>()
                    .join(",")
            }
        }
        _ => return None,
    })
}

/// The value of a typed setting Strata reads at start (and of Strata's own settings);
/// `None` for other keys and for settings with no value.
fn static_value(c: &BrokerConfig, key: &str) -> Option<String> {
    let ms = |d: std::time::Duration| d.as_millis().to_string();
    Some(match key {
        "num.partitions" => c.num_partitions.to_string(),
        "default.replication.factor" => c.default_replication_factor.to_string(),
        "auto.create.topics.enable" => c.auto_create_topics.to_string(),
        "offsets.topic.num.partitions" => c.offsets_topic_num_partitions.to_string(),
        "offsets.retention.minutes" => (c.offsets_retention.as_secs() / 60).to_string(),
        "transaction.max.timeout.ms" => c.transaction_max_timeout_ms.to_string(),
        "transaction.state.log.num.partitions" => c.transaction_state_num_partitions.to_string(),
        "transaction.state.log.replication.factor" => {
            c.transaction_state_replication_factor.to_string()
        }
        "transaction.state.log.min.isr" => c.transaction_state_min_isr.to_string(),
        "transactional.id.expiration.ms" => c.transactional_id_expiration_ms.to_string(),
        "transaction.partition.verification.enable" => {
            c.transaction_partition_verification_enable.to_string()
        }
        "auto.leader.rebalance.enable" => c.auto_leader_rebalance.to_string(),
        "group.initial.rebalance.delay.ms" => c.group_initial_rebalance_delay_ms.to_string(),
        "group.min.session.timeout.ms" => c.group_min_session_timeout_ms.to_string(),
        "group.max.session.timeout.ms" => c.group_max_session_timeout_ms.to_string(),
        "group.max.size" => c.group_max_size.min(i32::MAX as usize).to_string(),
        "log.cleaner.io.max.bytes.per.second" => c.cleaner_io_max_bytes_per_second?.to_string(),
        "broker.session.timeout.ms" => ms(c.broker_session_timeout),
        "broker.heartbeat.interval.ms" => ms(c.broker_heartbeat_interval),
        "replica.lag.time.max.ms" => ms(c.replica_lag_time_max),
        "controller.quorum.election.timeout.ms" => ms(c.controller_election_timeout),
        "log.retention.check.interval.ms" => ms(c.retention_check_interval),
        "socket.request.max.bytes" => c.socket_request_max_bytes.to_string(),
        "fetch.max.bytes" => c.fetch_max_bytes.to_string(),
        "queued.max.request.bytes" => c.queued_max_request_bytes.to_string(),
        "max.connections" => c.max_connections.min(i32::MAX as usize).to_string(),
        "max.connections.per.ip" => c.max_connections_per_ip.min(i32::MAX as usize).to_string(),
        "max.connections.per.ip.overrides" => c
            .max_connections_per_ip_overrides
            .iter()
            .map(|(ip, n)| format!("{ip}:{n}"))
            .collect::<Vec<_>>()
            .join(","),
        "connections.max.idle.ms" if c.connections_max_idle == NEVER => "-1".to_string(),
        "connections.max.idle.ms" => ms(c.connections_max_idle),
        "sasl.enabled.mechanisms" => c
            .security
            .get(key)
            .cloned()
            .unwrap_or_else(|| crate::listeners::DEFAULT_SASL_MECHANISMS.join(",")),
        // Strata's own.
        "log.flush" => format!("{:?}", c.flush_policy).to_lowercase(),
        "log.scrub.interval.ms" => ms(c.scrub_interval),
        "log.open.files.max" => c.log_open_files_max.to_string(),
        "log.segment.index.bytes" => c.topic_defaults.get("segment.index.bytes")?.clone(),
        "metrics.partition.level" => c.metrics_partition_level.to_string(),
        "fetch.sendfile" => c.fetch_sendfile.to_string(),
        "socket.request.read.timeout.ms" => ms(c.socket_request_read_timeout),
        "http.max.connections" => c.http.max_connections.to_string(),
        "http.header.read.timeout.ms" => ms(c.http.header_read_timeout),
        "http.request.timeout.ms" => ms(c.http.request_timeout),
        "http.max.request.bytes" => c.http.max_request_bytes.to_string(),
        "http.ui.read.only" => c.http_ui_read_only.to_string(),
        _ => return None,
    })
}
