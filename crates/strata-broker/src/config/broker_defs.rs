//! The table of broker configs: every key Apache Kafka 4.0 reports for a broker in
//! DescribeConfigs, with its type, Kafka's default and Kafka's dynamic update mode, and
//! whether Strata honours it.
//!
//! Left out: ZooKeeper-only keys and keys Kafka 4.0 removed (`zookeeper.*`,
//! `broker.id.generation.enable`, `reserved.broker.max.id`, `control.plane.listener.name`,
//! `inter.broker.protocol.version`, `log.message.format.version`,
//! `log.message.timestamp.difference.max.ms`, `log.message.downconversion.enable`,
//! `offsets.commit.required.acks`, `controlled.shutdown.max.retries`,
//! `controlled.shutdown.retry.backoff.ms`, `delegation.token.master.key`,
//! `password.encoder.*`, `auto.include.jmx.reporter`, `eligible.leader.replicas.enable`,
//! `leader.imbalance.per.broker.percentage`). Those are refused like any unknown key.
//!
//! Keys not honoured are accepted (validated by type), kept and reported, but have no
//! effect. Strata's own settings (`log.flush`, `http.*`, ...) are not in this table;
//! see [`STRATA_KEYS`].

mod log;
mod net;
mod server;

/// The type of a broker config, as Kafka's ConfigDef declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokerConfigType {
    /// `true` or `false`.
    Boolean,
    /// Any string.
    String,
    /// A 32-bit integer.
    Int,
    /// A 16-bit integer.
    Short,
    /// A 64-bit integer.
    Long,
    /// A floating point number.
    Double,
    /// A comma-separated list.
    List,
    /// A Java class name.
    Class,
    /// A secret: never reported.
    Password,
}

impl BrokerConfigType {
    /// The `config_type` code of DescribeConfigs responses (v3+).
    pub fn kafka_code(self) -> i8 {
        match self {
            Self::Boolean => 1,
            Self::String => 2,
            Self::Int => 3,
            Self::Short => 4,
            Self::Long => 5,
            Self::Double => 6,
            Self::List => 7,
            Self::Class => 8,
            Self::Password => 9,
        }
    }

    /// Checks that `value` parses as this type (as Kafka's ConfigDef parses it).
    pub fn check(self, value: &str) -> Result<(), String> {
        let v = value.trim();
        let ok = match self {
            Self::Boolean => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
            Self::Int => v.parse::<i32>().is_ok(),
            Self::Short => v.parse::<i16>().is_ok(),
            Self::Long => v.parse::<i64>().is_ok(),
            Self::Double => v.parse::<f64>().is_ok_and(|f| !f.is_nan()),
            Self::String | Self::List | Self::Class | Self::Password => true,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("'{value}' is not {}", self.describe()))
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Boolean => "true or false",
            Self::Int => "a 32-bit integer",
            Self::Short => "a 16-bit integer",
            Self::Long => "a 64-bit integer",
            Self::Double => "a number",
            Self::String => "a string",
            Self::List => "a list",
            Self::Class => "a class name",
            Self::Password => "a password",
        }
    }
}

/// Kafka's dynamic update mode of a broker config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateMode {
    /// Needs a restart: refused by AlterConfigs.
    ReadOnly,
    /// May change for one broker (not as a cluster default).
    PerBroker,
    /// May change for one broker or as the cluster-wide default.
    ClusterWide,
}

/// One broker config.
#[derive(Clone, Copy, Debug)]
pub struct BrokerConfigDef {
    /// Kafka's name.
    pub name: &'static str,
    /// Its type.
    pub config_type: BrokerConfigType,
    /// Kafka's default; `None` when Kafka has none (reported as null).
    pub default: Option<&'static str>,
    /// Kafka's update mode.
    pub mode: UpdateMode,
    /// Whether Strata acts on it (else it is accepted, kept and reported only).
    pub honoured: bool,
}

impl BrokerConfigDef {
    /// Passwords: reported as sensitive, with no value.
    pub fn sensitive(&self) -> bool {
        self.config_type == BrokerConfigType::Password
    }

    /// Whether AlterConfigs may change it.
    pub fn dynamic(&self) -> bool {
        self.mode != UpdateMode::ReadOnly
    }
}

const fn row(
    name: &'static str,
    config_type: BrokerConfigType,
    default: Option<&'static str>,
    mode: UpdateMode,
    honoured: bool,
) -> BrokerConfigDef {
    BrokerConfigDef {
        name,
        config_type,
        default,
        mode,
        honoured,
    }
}

/// Honoured, read-only.
const fn hro(n: &'static str, t: BrokerConfigType, d: Option<&'static str>) -> BrokerConfigDef {
    row(n, t, d, UpdateMode::ReadOnly, true)
}
/// Honoured, per-broker.
const fn hpb(n: &'static str, t: BrokerConfigType, d: Option<&'static str>) -> BrokerConfigDef {
    row(n, t, d, UpdateMode::PerBroker, true)
}
/// Honoured, cluster-wide.
const fn hcw(n: &'static str, t: BrokerConfigType, d: Option<&'static str>) -> BrokerConfigDef {
    row(n, t, d, UpdateMode::ClusterWide, true)
}
/// Kept only, read-only.
const fn kro(n: &'static str, t: BrokerConfigType, d: Option<&'static str>) -> BrokerConfigDef {
    row(n, t, d, UpdateMode::ReadOnly, false)
}
/// Kept only, per-broker.
const fn kpb(n: &'static str, t: BrokerConfigType, d: Option<&'static str>) -> BrokerConfigDef {
    row(n, t, d, UpdateMode::PerBroker, false)
}
/// Kept only, cluster-wide.
const fn kcw(n: &'static str, t: BrokerConfigType, d: Option<&'static str>) -> BrokerConfigDef {
    row(n, t, d, UpdateMode::ClusterWide, false)
}

/// Strata's own broker settings (not Kafka's), reported read-only by DescribeConfigs
/// when they have a value. `log.segment.index.bytes` is Strata's name for the
/// `segment.index.bytes` topic default.
pub const STRATA_KEYS: &[&str] = &[
    "log.flush",
    "log.scrub.interval.ms",
    "log.open.files.max",
    "log.segment.index.bytes",
    "metrics.partition.level",
    "fetch.sendfile",
    "socket.request.read.timeout.ms",
    "super.users",
    "allow.everyone.if.no.acl.found",
    "http.auth.exempt.paths",
    "http.max.connections",
    "http.header.read.timeout.ms",
    "http.request.timeout.ms",
    "http.max.request.bytes",
    "http.ui.read.only",
];

/// Kafka broker settings (besides the topic defaults and the listener and security
/// settings) Strata reads at start.
pub const STATIC_HONOURED: &[&str] = &[
    "node.id",
    "broker.id",
    "log.dirs",
    "log.dir",
    "broker.rack",
    "controller.quorum.voters",
    "process.roles",
    "num.partitions",
    "default.replication.factor",
    "auto.create.topics.enable",
    "offsets.topic.num.partitions",
    "offsets.retention.minutes",
    "transaction.max.timeout.ms",
    "transaction.state.log.num.partitions",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "transactional.id.expiration.ms",
    "transaction.partition.verification.enable",
    "auto.leader.rebalance.enable",
    "group.initial.rebalance.delay.ms",
    "group.min.session.timeout.ms",
    "group.max.session.timeout.ms",
    "group.max.size",
    "log.cleaner.io.max.bytes.per.second",
    "broker.session.timeout.ms",
    "broker.heartbeat.interval.ms",
    "replica.lag.time.max.ms",
    "controller.quorum.election.timeout.ms",
    "log.retention.check.interval.ms",
    "socket.request.max.bytes",
    "fetch.max.bytes",
    "queued.max.request.bytes",
    "max.connections",
    "max.connections.per.ip",
    "max.connections.per.ip.overrides",
    "connections.max.idle.ms",
];

/// Every broker config of the table, by area (each area sorted by name).
pub fn defs() -> impl Iterator<Item = &'static BrokerConfigDef> {
    net::DEFS.iter().chain(log::DEFS).chain(server::DEFS)
}

/// The definition of `name`, if Kafka has such a broker config.
pub fn def(name: &str) -> Option<&'static BrokerConfigDef> {
    [net::DEFS, log::DEFS, server::DEFS]
        .into_iter()
        .find_map(|area| {
            area.binary_search_by(|d| d.name.cmp(name))
                .ok()
                .map(|i| &area[i])
        })
}

/// Applies a Kafka broker setting that is neither a topic default nor a listener,
/// security or typed setting Strata reads elsewhere: the identity settings (`node.id`,
/// `broker.id`, `broker.rack`, `log.dirs`, `log.dir`, `controller.quorum.voters`,
/// `process.roles`), else any key of the table, validated by type and kept. An unknown
/// key is refused, naming it.
pub fn apply_kafka_setting(
    c: &mut super::BrokerConfig,
    key: &str,
    value: &str,
) -> Result<(), String> {
    let d = def(key).ok_or_else(|| format!("unknown broker setting '{key}'"))?;
    validate(d, value)?;
    let v = value.trim();
    match key {
        "node.id" | "broker.id" => {
            let id: i32 = v
                .parse()
                .map_err(|_| format!("setting '{key}': '{v}' is not a node id"))?;
            if id < 0 {
                return Err(format!("setting '{key}' must be >= 0"));
            }
            c.node_id = id;
        }
        "broker.rack" => c.rack = (!v.is_empty()).then(|| v.to_string()),
        "log.dirs" | "log.dir" => {
            let dirs: Vec<&str> = v
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .collect();
            let Some(first) = dirs.first() else {
                return Err(format!("setting '{key}' is empty"));
            };
            c.data_dir = std::path::PathBuf::from(first);
            c.log_dirs = dirs.iter().map(std::path::PathBuf::from).collect();
        }
        "controller.quorum.voters" => {
            c.voters = super::parse_voters(v).map_err(|e| format!("setting '{key}': {e}"))?
        }
        "process.roles" => {
            let roles: Vec<&str> = v
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .collect();
            if roles.is_empty() || roles.iter().any(|r| !matches!(*r, "broker" | "controller")) {
                return Err(format!(
                    "setting '{key}': '{v}' is not a list of broker and controller"
                ));
            }
            // Strata derives the roles from the voter list; the value is only checked.
        }
        _ if !d.honoured => {
            c.kept.insert(key.to_string(), v.to_string());
        }
        _ => return Err(format!("setting '{key}' cannot be set this way")),
    }
    Ok(())
}

/// Validates a value of a table key by its type; the error names the key.
pub fn validate(def: &BrokerConfigDef, value: &str) -> Result<(), String> {
    def.config_type
        .check(value)
        .map_err(|e| format!("broker config '{}': {e}", def.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn names_are_unique_sorted_and_found() {
        let mut seen = BTreeSet::new();
        for area in [net::DEFS, log::DEFS, server::DEFS] {
            assert!(
                area.windows(2).all(|w| w[0].name < w[1].name),
                "unsorted area"
            );
            for d in area {
                assert!(seen.insert(d.name), "duplicate {}", d.name);
                assert_eq!(def(d.name).map(|f| f.name), Some(d.name));
            }
        }
        assert!(seen.len() > 250, "{} keys", seen.len());
        assert!(def("bogus.key").is_none());
        for k in STRATA_KEYS {
            assert!(def(k).is_none(), "{k} is Kafka's, not Strata's own");
        }
    }

    #[test]
    fn defaults_are_valid_for_their_type() {
        for d in defs() {
            if let Some(v) = d.default {
                // Kafka's empty list / string defaults are valid for any non-numeric type.
                if v.is_empty() {
                    assert!(
                        matches!(
                            d.config_type,
                            BrokerConfigType::List | BrokerConfigType::String
                        ),
                        "{}",
                        d.name
                    );
                    continue;
                }
                assert!(validate(d, v).is_ok(), "{}: default {v}", d.name);
            }
            if d.sensitive() {
                assert!(d.default.is_none(), "{} has a default", d.name);
            }
        }
    }

    #[test]
    fn every_key_strata_honours_is_in_the_table() {
        let honoured = crate::config::TOPIC_DEFAULT_KEYS
            .iter()
            .chain(STATIC_HONOURED)
            .filter(|k| !STRATA_KEYS.contains(k));
        for k in honoured {
            let d = def(k).unwrap_or_else(|| panic!("{k} not in the table"));
            assert!(d.honoured, "{k} is honoured but not marked so");
        }
        for d in defs().filter(|d| d.honoured) {
            assert!(
                crate::config::TOPIC_DEFAULT_KEYS.contains(&d.name)
                    || STATIC_HONOURED.contains(&d.name)
                    || crate::listeners::is_security_key(d.name),
                "{} is marked honoured but Strata does not read it",
                d.name
            );
        }
    }

    #[test]
    fn kafka_settings_are_kept_or_applied() {
        let mut c = crate::BrokerConfig::default();
        apply_kafka_setting(&mut c, "sasl.kerberos.min.time.before.relogin", "120000")
            .expect("accepted");
        assert_eq!(c.kept["sasl.kerberos.min.time.before.relogin"], "120000");
        let e = apply_kafka_setting(&mut c, "num.io.threads", "many").unwrap_err();
        assert!(e.contains("num.io.threads"), "{e}");
        let e = apply_kafka_setting(&mut c, "bogus.key", "1").unwrap_err();
        assert!(e.contains("bogus.key"), "{e}");
        apply_kafka_setting(&mut c, "broker.id", "7").expect("accepted");
        assert_eq!(c.node_id, 7);
        apply_kafka_setting(&mut c, "log.dirs", "/a, /b,/a").unwrap();
        assert_eq!(c.data_dir, std::path::PathBuf::from("/a"));
        assert_eq!(
            c.log_dirs(),
            vec![
                std::path::PathBuf::from("/a"),
                std::path::PathBuf::from("/b")
            ]
        );
        assert!(apply_kafka_setting(&mut c, "log.dirs", " , ").is_err());
        assert!(apply_kafka_setting(&mut c, "process.roles", "broker,controller").is_ok());
        assert!(apply_kafka_setting(&mut c, "process.roles", "chef").is_err());
    }

    #[test]
    fn types_are_checked() {
        let d = def("sasl.kerberos.min.time.before.relogin").expect("in the table");
        assert_eq!(d.mode, UpdateMode::PerBroker);
        assert!(validate(d, "120000").is_ok());
        let e = validate(d, "soon").unwrap_err();
        assert!(e.contains("sasl.kerberos.min.time.before.relogin"), "{e}");
        assert!(def("ssl.keystore.password").is_some_and(|d| d.sensitive()));
        assert_eq!(def("log.dirs").map(|d| d.mode), Some(UpdateMode::ReadOnly));
        let b = def("log.preallocate").expect("in the table");
        assert!(validate(b, "TRUE").is_ok() && validate(b, "yes").is_err());
    }
}
