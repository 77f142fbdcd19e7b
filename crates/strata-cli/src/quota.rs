//! `strata quota set|list`: client quotas through AlterClientQuotas and
//! DescribeClientQuotas (KIP-546), with Kafka's entity types and quota keys.

use std::io::Write;

use anyhow::{bail, Result};
use clap::{ArgGroup, Args, Subcommand};
use serde_json::{json, Map, Value};
use strata_client::{
    entity_label, Admin, ClientConfig, QuotaEntity, QuotaEntry, QuotaFilter, QuotaMatch, QuotaOp,
    QUOTA_CLIENT_ID, QUOTA_IP, QUOTA_USER,
};

use crate::cli::Format;

/// Kafka's client quota keys.
pub const QUOTA_KEYS: &[&str] = &[
    "producer_byte_rate",
    "consumer_byte_rate",
    "request_percentage",
    "controller_mutation_rate",
    "connection_creation_rate",
];

/// Quota actions.
#[derive(Subcommand, Debug)]
pub enum QuotaCommand {
    /// Set or remove quotas of one entity (a user and/or client id, or an IP address).
    Set(SetArgs),
    /// List entities and their quotas (all unless filtered).
    List(ListArgs),
}

/// Which entity (`set`) or entities (`list`): a user and/or a client id, or an IP.
#[derive(Args, Debug, Default, Clone)]
#[command(group(ArgGroup::new("user_entity").multiple(false).args(["user", "default_user"])))]
#[command(group(ArgGroup::new("client_entity").multiple(false).args(["client_id", "default_client_id"])))]
#[command(group(ArgGroup::new("ip_entity").multiple(false).args(["ip", "default_ip"])))]
pub struct EntityArgs {
    /// A user principal's name (`alice` for `User:alice`).
    #[arg(long)]
    pub user: Option<String>,
    /// The default user entity (every user without its own quota).
    #[arg(long)]
    pub default_user: bool,
    /// A client id.
    #[arg(long)]
    pub client_id: Option<String>,
    /// The default client-id entity.
    #[arg(long)]
    pub default_client_id: bool,
    /// A client IP address (connection_creation_rate only).
    #[arg(long, conflicts_with_all = ["user", "default_user", "client_id", "default_client_id"])]
    pub ip: Option<String>,
    /// The default IP entity.
    #[arg(long, conflicts_with_all = ["user", "default_user", "client_id", "default_client_id"])]
    pub default_ip: bool,
}

impl EntityArgs {
    /// `(type, name)` components given; a `None` name is the default entity.
    pub fn components(&self) -> QuotaEntity {
        let mut out = Vec::new();
        let mut one = |t: &str, name: &Option<String>, default: bool| {
            if let Some(n) = name {
                out.push((t.to_string(), Some(n.clone())));
            } else if default {
                out.push((t.to_string(), None));
            }
        };
        one(QUOTA_USER, &self.user, self.default_user);
        one(QUOTA_CLIENT_ID, &self.client_id, self.default_client_id);
        one(QUOTA_IP, &self.ip, self.default_ip);
        out
    }
}

/// Flags of `quota set`.
#[derive(Args, Debug)]
pub struct SetArgs {
    /// The entity.
    #[command(flatten)]
    pub entity: EntityArgs,
    /// Bytes per second a producer may send.
    #[arg(long, value_name = "N")]
    pub producer_byte_rate: Option<f64>,
    /// Bytes per second a consumer may fetch.
    #[arg(long, value_name = "N")]
    pub consumer_byte_rate: Option<f64>,
    /// Percentage of one request-handler thread's time.
    #[arg(long, value_name = "N")]
    pub request_percentage: Option<f64>,
    /// Partition mutations per second (CreateTopics, CreatePartitions, DeleteTopics).
    #[arg(long, value_name = "N")]
    pub controller_mutation_rate: Option<f64>,
    /// New connections per second (IP entities).
    #[arg(long, value_name = "N")]
    pub connection_creation_rate: Option<f64>,
    /// Remove this quota (e.g. producer_byte_rate); repeatable.
    #[arg(long, value_name = "KEY", value_parser = parse_key)]
    pub remove: Vec<String>,
    /// Let the broker check the change without applying it.
    #[arg(long)]
    pub validate_only: bool,
}

/// Flags of `quota list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only these entities.
    #[command(flatten)]
    pub entity: EntityArgs,
    /// Only entities with exactly the given entity types (no other components).
    #[arg(long)]
    pub strict: bool,
}

fn parse_key(s: &str) -> Result<String, String> {
    let k = s.replace('-', "_");
    if QUOTA_KEYS.contains(&k.as_str()) {
        Ok(k)
    } else {
        Err(format!(
            "unknown quota '{s}' (one of {})",
            QUOTA_KEYS.join(", ")
        ))
    }
}

/// The entity and its changes for `quota set`.
pub fn changes(a: &SetArgs) -> Result<(QuotaEntity, Vec<QuotaOp>)> {
    let entity = a.entity.components();
    if entity.is_empty() {
        bail!("name the entity: --user/--default-user and/or --client-id/--default-client-id, or --ip/--default-ip");
    }
    let mut ops = Vec::new();
    for (key, value) in [
        ("producer_byte_rate", a.producer_byte_rate),
        ("consumer_byte_rate", a.consumer_byte_rate),
        ("request_percentage", a.request_percentage),
        ("controller_mutation_rate", a.controller_mutation_rate),
        ("connection_creation_rate", a.connection_creation_rate),
    ] {
        if let Some(v) = value {
            if !v.is_finite() || v <= 0.0 {
                bail!("{key} must be a positive number, not {v}");
            }
            if a.remove.iter().any(|r| r == key) {
                bail!("{key} is both set and removed");
            }
            ops.push(QuotaOp::Set(key.to_string(), v));
        }
    }
    for k in &a.remove {
        ops.push(QuotaOp::Remove(k.clone()));
    }
    if ops.is_empty() {
        bail!("nothing to change: give a quota (e.g. --producer-byte-rate N) or --remove KEY");
    }
    Ok((entity, ops))
}

/// The describe filters for `quota list`: the named entities exactly, defaults as
/// defaults.
pub fn list_filters(a: &EntityArgs) -> Vec<QuotaFilter> {
    a.components()
        .into_iter()
        .map(|(entity_type, name)| QuotaFilter {
            entity_type,
            matching: match name {
                Some(n) => QuotaMatch::Exact(n),
                None => QuotaMatch::Default,
            },
        })
        .collect()
}

/// An entity as a JSON object: type → name, `null` for the default.
pub fn entity_json(e: &QuotaEntity) -> Value {
    let mut m = Map::new();
    for (t, n) in e {
        m.insert(t.clone(), n.as_ref().map_or(Value::Null, |n| json!(n)));
    }
    Value::Object(m)
}

fn entry_json(e: &QuotaEntry) -> Value {
    let mut values = Map::new();
    for (k, v) in &e.values {
        values.insert(k.clone(), json!(v));
    }
    json!({ "entity": entity_json(&e.entity), "values": values })
}

/// Runs a quota command.
pub async fn run(cmd: QuotaCommand, config: ClientConfig, format: Format) -> Result<()> {
    let admin = Admin::new(config)?;
    let mut out = std::io::stdout().lock();
    match cmd {
        QuotaCommand::Set(a) => {
            let (entity, ops) = changes(&a)?;
            let mut results = admin
                .alter_client_quotas(&[(entity.clone(), ops.clone())], a.validate_only)
                .await?;
            if let Some(Err(e)) = results.pop() {
                return Err(e.into());
            }
            let mut set = Map::new();
            let mut removed = Vec::new();
            for op in &ops {
                match op {
                    QuotaOp::Set(k, v) => {
                        set.insert(k.clone(), json!(v));
                    }
                    QuotaOp::Remove(k) => removed.push(k.clone()),
                }
            }
            match format {
                Format::Text => {
                    let verb = if a.validate_only {
                        "validated"
                    } else {
                        "altered"
                    };
                    let mut parts: Vec<String> =
                        set.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    parts.extend(removed.iter().map(|k| format!("removed {k}")));
                    writeln!(
                        out,
                        "{verb} quotas of {}: {}",
                        entity_label(&entity),
                        parts.join(", ")
                    )?;
                }
                Format::Json => writeln!(
                    out,
                    "{}",
                    json!({
                        "entity": entity_json(&entity),
                        "set": set,
                        "removed": removed,
                        "validate_only": a.validate_only,
                    })
                )?,
            }
        }
        QuotaCommand::List(a) => {
            let entries = admin
                .describe_client_quotas(&list_filters(&a.entity), a.strict)
                .await?;
            match format {
                Format::Text => {
                    if entries.is_empty() {
                        writeln!(out, "no quotas")?;
                    }
                    for e in &entries {
                        let values: Vec<String> =
                            e.values.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        writeln!(out, "{}\t{}", entity_label(&e.entity), values.join(", "))?;
                    }
                }
                Format::Json => {
                    let list: Vec<Value> = entries.iter().map(entry_json).collect();
                    writeln!(out, "{}", json!({ "quotas": list }))?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<QuotaCommand, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("strata").chain(args.iter().copied()))?;
        match cli.command {
            Command::Quota { command } => Ok(command),
            other => panic!("not quota: {other:?}"),
        }
    }

    #[test]
    fn set_builds_entity_and_ops() {
        let QuotaCommand::Set(a) = parse(&[
            "quota",
            "set",
            "--user",
            "alice",
            "--default-client-id",
            "--producer-byte-rate",
            "1024",
            "--remove",
            "consumer-byte-rate",
        ])
        .expect("parse") else {
            panic!("not set")
        };
        let (entity, ops) = changes(&a).expect("changes");
        assert_eq!(
            entity,
            vec![
                ("user".to_string(), Some("alice".to_string())),
                ("client-id".to_string(), None)
            ]
        );
        assert_eq!(
            ops,
            vec![
                QuotaOp::Set("producer_byte_rate".into(), 1024.0),
                QuotaOp::Remove("consumer_byte_rate".into())
            ]
        );
    }

    #[test]
    fn set_refusals() {
        assert!(parse(&[
            "quota",
            "set",
            "--user",
            "a",
            "--default-user",
            "--request-percentage",
            "5"
        ])
        .is_err());
        assert!(parse(&[
            "quota",
            "set",
            "--ip",
            "1.2.3.4",
            "--user",
            "a",
            "--connection-creation-rate",
            "5"
        ])
        .is_err());
        assert!(parse(&["quota", "set", "--user", "a", "--remove", "bogus_rate"]).is_err());
        let QuotaCommand::Set(a) =
            parse(&["quota", "set", "--producer-byte-rate", "5"]).expect("parse")
        else {
            panic!("not set")
        };
        assert!(changes(&a).is_err(), "no entity");
        let QuotaCommand::Set(a) = parse(&["quota", "set", "--user", "a"]).expect("parse") else {
            panic!("not set")
        };
        assert!(changes(&a).is_err(), "no change");
        let QuotaCommand::Set(a) =
            parse(&["quota", "set", "--user", "a", "--producer-byte-rate=-1"]).expect("parse")
        else {
            panic!("not set")
        };
        assert!(changes(&a).is_err(), "negative");
    }

    #[test]
    fn list_filters_match_names_exactly_and_defaults_as_defaults() {
        let QuotaCommand::List(a) =
            parse(&["quota", "list", "--default-user", "--client-id", "c"]).expect("parse")
        else {
            panic!("not list")
        };
        let f = list_filters(&a.entity);
        assert_eq!(
            f[0],
            QuotaFilter {
                entity_type: "user".into(),
                matching: QuotaMatch::Default
            }
        );
        assert_eq!(
            f[1],
            QuotaFilter {
                entity_type: "client-id".into(),
                matching: QuotaMatch::Exact("c".into())
            }
        );
        let QuotaCommand::List(a) = parse(&["quota", "list"]).expect("parse") else {
            panic!("not list")
        };
        assert!(list_filters(&a.entity).is_empty());
        assert_eq!(
            entity_json(&vec![("user".into(), None)])["user"],
            Value::Null
        );
    }
}
