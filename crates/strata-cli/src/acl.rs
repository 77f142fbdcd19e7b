//! `strata acl create|list|delete`: ACLs through CreateAcls, DescribeAcls and DeleteAcls.

use std::collections::BTreeSet;
use std::io::Write;

use anyhow::{bail, Result};
use clap::{ArgGroup, Args, Subcommand};
use serde_json::{json, Value};
use strata_client::acl::{
    AccessControlEntryFilter, AclBinding, AclBindingFilter, AclOperation, AclPermission,
    PatternType, ResourcePatternFilter, ResourceType, CLUSTER_NAME, WILDCARD_HOST,
};
use strata_client::{Admin, ClientConfig};

use crate::cli::Format;

/// ACL actions.
#[derive(Subcommand, Debug)]
pub enum AclCommand {
    /// Create ACLs: every --principal gets every --operation on the resource.
    Create(CreateArgs),
    /// List the ACLs the filters select (none: all ACLs).
    List(FilterArgs),
    /// Delete the ACLs the filters select, printing them.
    Delete(FilterArgs),
}

/// The resource an ACL is about (at most one).
#[derive(Args, Debug, Default, Clone)]
#[command(group(ArgGroup::new("resource").multiple(false).args(["topic", "group", "cluster", "transactional_id"])))]
pub struct ResourceArgs {
    /// A topic (name, prefix with --pattern prefixed, or `*`).
    #[arg(long)]
    pub topic: Option<String>,
    /// A consumer group.
    #[arg(long)]
    pub group: Option<String>,
    /// The cluster.
    #[arg(long)]
    pub cluster: bool,
    /// A transactional id.
    #[arg(long)]
    pub transactional_id: Option<String>,
}

impl ResourceArgs {
    /// The resource type and name given, if any.
    fn resource(&self) -> Option<(ResourceType, String)> {
        if let Some(t) = &self.topic {
            Some((ResourceType::Topic, t.clone()))
        } else if let Some(g) = &self.group {
            Some((ResourceType::Group, g.clone()))
        } else if self.cluster {
            Some((ResourceType::Cluster, CLUSTER_NAME.to_string()))
        } else {
            self.transactional_id
                .as_ref()
                .map(|x| (ResourceType::TransactionalId, x.clone()))
        }
    }
}

/// Flags of `acl create`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("permission").required(true).args(["allow", "deny"])))]
pub struct CreateArgs {
    /// Allow the operations.
    #[arg(long)]
    pub allow: bool,
    /// Deny the operations (a DENY wins over every ALLOW).
    #[arg(long)]
    pub deny: bool,
    /// `Type:name`, e.g. `User:alice`, or `User:*` for everyone; repeatable.
    #[arg(long, required = true, value_parser = parse_principal)]
    pub principal: Vec<String>,
    /// read, write, create, delete, alter, describe, cluster-action, describe-configs,
    /// alter-configs, idempotent-write or all; repeatable.
    #[arg(long, required = true, value_parser = parse_operation)]
    pub operation: Vec<AclOperation>,
    /// The resource.
    #[command(flatten)]
    pub resource: ResourceArgs,
    /// How the resource name matches: literal or prefixed.
    #[arg(long, default_value = "literal", value_parser = parse_pattern)]
    pub pattern: PatternType,
    /// The client host the ACL applies to.
    #[arg(long, default_value = WILDCARD_HOST)]
    pub host: String,
}

/// Filters of `acl list` / `acl delete`; unset ones match everything.
#[derive(Args, Debug)]
pub struct FilterArgs {
    /// Only ALLOW ACLs.
    #[arg(long, conflicts_with = "deny")]
    pub allow: bool,
    /// Only DENY ACLs.
    #[arg(long)]
    pub deny: bool,
    /// Only this principal.
    #[arg(long, value_parser = parse_principal)]
    pub principal: Option<String>,
    /// Only these operations; repeatable.
    #[arg(long, value_parser = parse_operation)]
    pub operation: Vec<AclOperation>,
    /// Only this resource.
    #[command(flatten)]
    pub resource: ResourceArgs,
    /// How the resource name is compared: any (literal or prefixed ACLs with exactly that
    /// name), literal, prefixed, or match (every ACL that applies to that literal name).
    #[arg(long, default_value = "any", value_parser = parse_pattern)]
    pub pattern: PatternType,
    /// Only this host.
    #[arg(long)]
    pub host: Option<String>,
}

fn parse_principal(s: &str) -> Result<String, String> {
    match s.split_once(':') {
        Some((t, n)) if !t.is_empty() && !n.is_empty() => Ok(s.to_string()),
        _ => Err(format!("expected Type:name (e.g. User:alice), got '{s}'")),
    }
}

fn kafka_form(s: &str) -> String {
    s.trim().replace('-', "_").to_ascii_uppercase()
}

fn parse_operation(s: &str) -> Result<AclOperation, String> {
    let want = kafka_form(s);
    AclOperation::ALL
        .iter()
        .copied()
        .find(|o| o.kafka_name() == want)
        .ok_or_else(|| {
            let names: Vec<String> = AclOperation::ALL
                .iter()
                .map(|o| o.kafka_name().to_ascii_lowercase().replace('_', "-"))
                .collect();
            format!("unknown operation '{s}' (one of {})", names.join(", "))
        })
}

fn parse_pattern(s: &str) -> Result<PatternType, String> {
    match kafka_form(s).as_str() {
        "LITERAL" => Ok(PatternType::Literal),
        "PREFIXED" => Ok(PatternType::Prefixed),
        "ANY" => Ok(PatternType::Any),
        "MATCH" => Ok(PatternType::Match),
        _ => Err(format!(
            "unknown pattern type '{s}' (literal, prefixed; for filters also any, match)"
        )),
    }
}

/// The bindings `acl create` asks for: every principal × every operation.
pub fn bindings(a: &CreateArgs) -> Result<Vec<AclBinding>> {
    let Some((resource_type, name)) = a.resource.resource() else {
        bail!("name the resource: --topic, --group, --cluster or --transactional-id");
    };
    if !matches!(a.pattern, PatternType::Literal | PatternType::Prefixed) {
        bail!("an ACL's pattern is literal or prefixed");
    }
    let permission = if a.deny {
        AclPermission::Deny
    } else {
        AclPermission::Allow
    };
    let mut out = Vec::new();
    for p in &a.principal {
        for op in dedup(&a.operation) {
            out.push(AclBinding::new(
                resource_type,
                name.clone(),
                a.pattern,
                p.clone(),
                a.host.clone(),
                op,
                permission,
            ));
        }
    }
    Ok(out)
}

fn dedup(ops: &[AclOperation]) -> Vec<AclOperation> {
    let set: BTreeSet<AclOperation> = ops.iter().copied().collect();
    set.into_iter().collect()
}

/// The filters `acl list` / `acl delete` send: one per operation (one for any operation
/// when none is given).
pub fn filters(a: &FilterArgs) -> Vec<AclBindingFilter> {
    let (resource_type, name) = match a.resource.resource() {
        Some((t, n)) => (t, Some(n)),
        None => (ResourceType::Any, None),
    };
    let permission = if a.allow {
        AclPermission::Allow
    } else if a.deny {
        AclPermission::Deny
    } else {
        AclPermission::Any
    };
    let ops = if a.operation.is_empty() {
        vec![AclOperation::Any]
    } else {
        dedup(&a.operation)
    };
    ops.into_iter()
        .map(|operation| AclBindingFilter {
            pattern: ResourcePatternFilter {
                resource_type,
                name: name.clone(),
                pattern_type: a.pattern,
            },
            entry: AccessControlEntryFilter {
                principal: a.principal.clone(),
                host: a.host.clone(),
                operation,
                permission,
            },
        })
        .collect()
}

/// An ACL as a JSON object.
pub fn binding_json(b: &AclBinding) -> Value {
    json!({
        "resource_type": b.pattern.resource_type.kafka_name(),
        "name": b.pattern.name,
        "pattern_type": b.pattern.pattern_type.kafka_name(),
        "principal": b.entry.principal,
        "host": b.entry.host,
        "operation": b.entry.operation.kafka_name(),
        "permission": b.entry.permission.kafka_name(),
    })
}

fn print(out: &mut impl Write, key: &str, acls: &[AclBinding], format: Format) -> Result<()> {
    match format {
        Format::Text => {
            for b in acls {
                writeln!(out, "{b}")?;
            }
        }
        Format::Json => {
            let list: Vec<Value> = acls.iter().map(binding_json).collect();
            writeln!(out, "{}", json!({ key: list }))?;
        }
    }
    Ok(())
}

/// Runs an ACL command.
pub async fn run(cmd: AclCommand, config: ClientConfig, format: Format) -> Result<()> {
    let admin = Admin::new(config)?;
    let mut out = std::io::stdout().lock();
    match cmd {
        AclCommand::Create(a) => {
            let wanted = bindings(&a)?;
            let results = admin.create_acls(&wanted).await?;
            let mut created = Vec::new();
            let mut errors = Vec::new();
            for (b, r) in wanted.into_iter().zip(results) {
                match r {
                    Ok(()) => created.push(b),
                    Err(e) => errors.push(format!("{b}: {e}")),
                }
            }
            if format == Format::Text && !created.is_empty() {
                writeln!(out, "created {} ACL(s):", created.len())?;
            }
            print(&mut out, "created", &created, format)?;
            if !errors.is_empty() {
                bail!("{}", errors.join("; "));
            }
        }
        AclCommand::List(a) => {
            let mut all = BTreeSet::new();
            for f in filters(&a) {
                all.extend(admin.describe_acls(&f).await?);
            }
            let all: Vec<AclBinding> = all.into_iter().collect();
            if format == Format::Text && all.is_empty() {
                writeln!(out, "no ACLs")?;
            }
            print(&mut out, "acls", &all, format)?;
        }
        AclCommand::Delete(a) => {
            if a.resource.resource().is_none() && a.principal.is_none() {
                bail!("say which ACLs to delete: a resource (--topic, --group, --cluster, --transactional-id) and/or --principal");
            }
            let results = admin.delete_acls(&filters(&a)).await?;
            let mut deleted = BTreeSet::new();
            let mut errors = Vec::new();
            for r in results {
                match r {
                    Ok(list) => deleted.extend(list),
                    Err(e) => errors.push(e.to_string()),
                }
            }
            let deleted: Vec<AclBinding> = deleted.into_iter().collect();
            if format == Format::Text {
                writeln!(out, "deleted {} ACL(s)", deleted.len())?;
            }
            print(&mut out, "deleted", &deleted, format)?;
            if !errors.is_empty() {
                bail!("{}", errors.join("; "));
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

    fn parse(args: &[&str]) -> Result<AclCommand, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("strata").chain(args.iter().copied()))?;
        match cli.command {
            Command::Acl { command } => Ok(command),
            other => panic!("not acl: {other:?}"),
        }
    }

    #[test]
    fn create_builds_principal_times_operation_bindings() {
        let AclCommand::Create(a) = parse(&[
            "acl",
            "create",
            "--allow",
            "--principal",
            "User:alice",
            "--principal",
            "User:bob",
            "--operation",
            "read",
            "--operation",
            "DESCRIBE",
            "--operation",
            "read",
            "--topic",
            "orders",
            "--pattern",
            "prefixed",
        ])
        .expect("parse") else {
            panic!("not create")
        };
        let b = bindings(&a).expect("bindings");
        assert_eq!(b.len(), 4, "{b:?}");
        assert!(b
            .iter()
            .all(|b| b.pattern.resource_type == ResourceType::Topic
                && b.pattern.name == "orders"
                && b.pattern.pattern_type == PatternType::Prefixed
                && b.entry.host == "*"
                && b.entry.permission == AclPermission::Allow));
        assert_eq!(b[0].entry.principal, "User:alice");
        assert_eq!(b[0].entry.operation, AclOperation::Read);
        assert_eq!(b[1].entry.operation, AclOperation::Describe);
    }

    #[test]
    fn create_needs_permission_principal_operation_and_one_resource() {
        assert!(parse(&[
            "acl",
            "create",
            "--principal",
            "User:a",
            "--operation",
            "read",
            "--topic",
            "t"
        ])
        .is_err());
        assert!(parse(&[
            "acl",
            "create",
            "--allow",
            "--deny",
            "--principal",
            "User:a",
            "--operation",
            "read",
            "--topic",
            "t"
        ])
        .is_err());
        assert!(
            parse(&[
                "acl",
                "create",
                "--allow",
                "--principal",
                "alice",
                "--operation",
                "read",
                "--topic",
                "t"
            ])
            .is_err(),
            "no Type:"
        );
        assert!(parse(&[
            "acl",
            "create",
            "--allow",
            "--principal",
            "User:a",
            "--operation",
            "fly",
            "--topic",
            "t"
        ])
        .is_err());
        assert!(parse(&[
            "acl",
            "create",
            "--allow",
            "--principal",
            "User:a",
            "--operation",
            "read",
            "--topic",
            "t",
            "--group",
            "g"
        ])
        .is_err());
        let AclCommand::Create(a) = parse(&[
            "acl",
            "create",
            "--deny",
            "--principal",
            "User:a",
            "--operation",
            "read",
        ])
        .expect("parse") else {
            panic!("not create")
        };
        assert!(bindings(&a).is_err(), "no resource");
        let AclCommand::Create(a) = parse(&[
            "acl",
            "create",
            "--deny",
            "--principal",
            "User:a",
            "--operation",
            "cluster-action",
            "--cluster",
        ])
        .expect("parse") else {
            panic!("not create")
        };
        let b = bindings(&a).expect("cluster");
        assert_eq!(b[0].pattern.name, CLUSTER_NAME);
        assert_eq!(b[0].entry.permission, AclPermission::Deny);
        assert_eq!(b[0].entry.operation, AclOperation::ClusterAction);
    }

    #[test]
    fn filters_default_to_any_and_split_per_operation() {
        let AclCommand::List(a) = parse(&["acl", "list"]).expect("parse") else {
            panic!("not list")
        };
        assert_eq!(filters(&a), vec![AclBindingFilter::any()]);
        let AclCommand::Delete(a) = parse(&[
            "acl",
            "delete",
            "--principal",
            "User:alice",
            "--group",
            "g",
            "--operation",
            "read",
            "--operation",
            "describe",
            "--deny",
            "--pattern",
            "match",
            "--host",
            "10.0.0.1",
        ])
        .expect("parse") else {
            panic!("not delete")
        };
        let f = filters(&a);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].pattern.resource_type, ResourceType::Group);
        assert_eq!(f[0].pattern.name.as_deref(), Some("g"));
        assert_eq!(f[0].pattern.pattern_type, PatternType::Match);
        assert_eq!(f[0].entry.principal.as_deref(), Some("User:alice"));
        assert_eq!(f[0].entry.host.as_deref(), Some("10.0.0.1"));
        assert_eq!(f[0].entry.permission, AclPermission::Deny);
        assert_eq!(f[0].entry.operation, AclOperation::Read);
        assert_eq!(f[1].entry.operation, AclOperation::Describe);
        assert!(parse(&["acl", "list", "--allow", "--deny"]).is_err());
    }

    #[test]
    fn binding_json_uses_kafka_names() {
        let b = AclBinding::new(
            ResourceType::TransactionalId,
            "tx",
            PatternType::Literal,
            "User:a",
            "*",
            AclOperation::Write,
            AclPermission::Allow,
        );
        let v = binding_json(&b);
        assert_eq!(v["resource_type"], "TRANSACTIONAL_ID");
        assert_eq!(v["operation"], "WRITE");
        assert_eq!(v["permission"], "ALLOW");
        assert_eq!(v["pattern_type"], "LITERAL");
    }
}
