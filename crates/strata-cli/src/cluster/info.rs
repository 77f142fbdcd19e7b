//! `strata cluster info`: the brokers, the controller, how partitions spread over the
//! brokers, and which partitions are under-replicated or offline.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use strata_client::{Admin, BrokerDescription, ClientConfig, ClusterDescription, ClusterMetadata};

use crate::cli::Format;

/// One node in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSummary {
    /// Node id.
    pub id: i32,
    /// `host:port`, `None` for a node known only from replica assignments (not live).
    pub address: Option<String>,
    /// Rack, when set.
    pub rack: Option<String>,
    /// Listed by the cluster as a live (unfenced) broker.
    pub live: bool,
    /// Is the active controller.
    pub controller: bool,
    /// Partitions it leads.
    pub leader_partitions: usize,
    /// Partitions it has a replica of (led ones included).
    pub replica_partitions: usize,
}

/// A partition that needs attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionIssue {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Leader id, -1 for none.
    pub leader: i32,
    /// Assigned replicas.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
}

/// Everything `cluster info` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Cluster id, when the broker reports one.
    pub cluster_id: Option<String>,
    /// Active controller id, -1 when none is known.
    pub controller: i32,
    /// Live brokers and nodes that replicas are assigned to, by id.
    pub nodes: Vec<NodeSummary>,
    /// Number of topics (internal ones included).
    pub topics: usize,
    /// Number of partitions over all topics.
    pub partitions: usize,
    /// Partitions whose ISR is smaller than their replica set.
    pub under_replicated: Vec<PartitionIssue>,
    /// Partitions without a leader.
    pub offline: Vec<PartitionIssue>,
}

/// Folds the controller's view and the partition metadata into the report.
pub fn summarize(desc: &ClusterDescription, meta: &ClusterMetadata) -> Summary {
    let mut nodes: BTreeMap<i32, NodeSummary> = BTreeMap::new();
    let brokers: Vec<&BrokerDescription> = if desc.brokers.is_empty() {
        meta.brokers.iter().collect()
    } else {
        desc.brokers.iter().collect()
    };
    for b in brokers {
        nodes.insert(
            b.id,
            NodeSummary {
                id: b.id,
                address: Some(b.address()),
                rack: b.rack.clone(),
                live: !b.fenced,
                controller: b.id == desc.controller,
                leader_partitions: 0,
                replica_partitions: 0,
            },
        );
    }
    let mut summary = Summary {
        cluster_id: desc.cluster_id.clone().or_else(|| meta.cluster_id.clone()),
        controller: desc.controller,
        nodes: Vec::new(),
        topics: meta.topics.len(),
        partitions: 0,
        under_replicated: Vec::new(),
        offline: Vec::new(),
    };
    for t in &meta.topics {
        for p in &t.partitions {
            summary.partitions += 1;
            if p.leader >= 0 {
                node_entry(&mut nodes, p.leader, desc.controller).leader_partitions += 1;
            }
            for r in &p.replicas {
                node_entry(&mut nodes, *r, desc.controller).replica_partitions += 1;
            }
            let issue = || PartitionIssue {
                topic: t.name.clone(),
                partition: p.partition,
                leader: p.leader,
                replicas: p.replicas.clone(),
                isr: p.isr.clone(),
            };
            if p.leader < 0 {
                summary.offline.push(issue());
            }
            if p.isr.len() < p.replicas.len() {
                summary.under_replicated.push(issue());
            }
        }
    }
    summary.nodes = nodes.into_values().collect();
    summary
}

/// The node `id`; one that is not a listed broker is added as not live.
fn node_entry(
    nodes: &mut BTreeMap<i32, NodeSummary>,
    id: i32,
    controller: i32,
) -> &mut NodeSummary {
    nodes.entry(id).or_insert_with(|| NodeSummary {
        id,
        address: None,
        rack: None,
        live: false,
        controller: id == controller,
        leader_partitions: 0,
        replica_partitions: 0,
    })
}

/// Runs `cluster info` against the bootstrap servers.
pub async fn run(client: ClientConfig, format: Format) -> Result<()> {
    let bootstrap = client.bootstrap.join(",");
    let admin = Admin::new(client.clone())?;
    let desc = admin
        .describe_cluster()
        .await
        .with_context(|| format!("cannot describe the cluster at {bootstrap}"))?;
    let meta = admin
        .cluster_metadata()
        .await
        .with_context(|| format!("cannot read metadata from {bootstrap}"))?;
    let summary = summarize(&desc, &meta);
    let unreachable = probe_brokers(&summary, &client).await;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Text => write_text(&mut out, &summary, &unreachable)?,
        Format::Json => writeln!(out, "{}", summary_json(&summary, &unreachable))?,
    }
    if !unreachable.is_empty() {
        let list: Vec<String> = unreachable
            .iter()
            .map(|(id, e)| format!("broker {id}: {e}"))
            .collect();
        bail!("cannot reach {}", list.join("; "));
    }
    Ok(())
}

/// Connects to every live broker (ApiVersions and DescribeCluster); the ones that fail, with
/// the reason, by id.
async fn probe_brokers(summary: &Summary, client: &ClientConfig) -> BTreeMap<i32, String> {
    let checks = summary.nodes.iter().filter(|n| n.live).filter_map(|n| {
        let addr = n.address.clone()?;
        let config = ClientConfig {
            bootstrap: vec![addr.clone()],
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(5),
            ..client.clone()
        };
        Some(async move {
            let result = match Admin::new(config) {
                Ok(admin) => admin.describe_cluster().await.map(|_| ()),
                Err(e) => Err(e),
            };
            (n.id, result.err().map(|e| format!("{addr}: {e}")))
        })
    });
    futures::future::join_all(checks)
        .await
        .into_iter()
        .filter_map(|(id, e)| Some((id, e?)))
        .collect()
}

fn ids(v: &[i32]) -> String {
    v.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

fn write_text(
    out: &mut impl Write,
    s: &Summary,
    unreachable: &BTreeMap<i32, String>,
) -> std::io::Result<()> {
    if let Some(id) = &s.cluster_id {
        writeln!(out, "Cluster id: {id}")?;
    }
    let controller = if s.controller >= 0 {
        s.controller.to_string()
    } else {
        "none".to_string()
    };
    writeln!(out, "Controller: {controller}")?;
    writeln!(
        out,
        "Brokers: {}  Topics: {}  Partitions: {}",
        s.nodes.iter().filter(|n| n.live).count(),
        s.topics,
        s.partitions
    )?;
    writeln!(
        out,
        "{:<6} {:<22} {:<10} {:<11} {:<12} {:>6} {:>6}",
        "NODE", "ADDRESS", "RACK", "CONTROLLER", "STATUS", "LEADS", "HOSTS"
    )?;
    for n in &s.nodes {
        let status = if unreachable.contains_key(&n.id) {
            "unreachable"
        } else if n.live {
            "live"
        } else {
            "not live"
        };
        writeln!(
            out,
            "{:<6} {:<22} {:<10} {:<11} {:<12} {:>6} {:>6}",
            n.id,
            n.address.as_deref().unwrap_or("-"),
            n.rack.as_deref().unwrap_or("-"),
            if n.controller { "yes" } else { "no" },
            status,
            n.leader_partitions,
            n.replica_partitions
        )?;
    }
    for (title, list) in [
        ("Under-replicated partitions", &s.under_replicated),
        ("Offline partitions", &s.offline),
    ] {
        if list.is_empty() {
            writeln!(out, "{title}: none")?;
            continue;
        }
        writeln!(out, "{title}: {}", list.len())?;
        for p in list {
            let leader = if p.leader >= 0 {
                p.leader.to_string()
            } else {
                "none".to_string()
            };
            writeln!(
                out,
                "  {}-{}  leader {}  replicas {}  isr {}",
                p.topic,
                p.partition,
                leader,
                ids(&p.replicas),
                ids(&p.isr)
            )?;
        }
    }
    Ok(())
}

fn issue_json(p: &PartitionIssue) -> Value {
    json!({
        "topic": p.topic,
        "partition": p.partition,
        "leader": p.leader,
        "replicas": p.replicas,
        "isr": p.isr,
    })
}

/// The JSON shape of `cluster info --format json`.
pub fn summary_json(s: &Summary, unreachable: &BTreeMap<i32, String>) -> Value {
    json!({
        "cluster_id": s.cluster_id,
        "controller": s.controller,
        "topics": s.topics,
        "partitions": s.partitions,
        "nodes": s.nodes.iter().map(|n| json!({
            "id": n.id,
            "address": n.address,
            "rack": n.rack,
            "live": n.live,
            "reachable": n.live && !unreachable.contains_key(&n.id),
            "controller": n.controller,
            "leader_partitions": n.leader_partitions,
            "replica_partitions": n.replica_partitions,
        })).collect::<Vec<_>>(),
        "under_replicated": s.under_replicated.iter().map(issue_json).collect::<Vec<_>>(),
        "offline": s.offline.iter().map(issue_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_client::{PartitionMetadata, TopicMetadata};

    fn broker(id: i32, rack: Option<&str>) -> BrokerDescription {
        BrokerDescription {
            id,
            host: "127.0.0.1".into(),
            port: 9090 + id,
            rack: rack.map(str::to_string),
            fenced: false,
        }
    }

    fn partition(partition: i32, leader: i32, replicas: &[i32], isr: &[i32]) -> PartitionMetadata {
        PartitionMetadata {
            partition,
            leader,
            leader_epoch: 0,
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            offline_replicas: vec![],
            error_code: 0,
        }
    }

    fn fixture() -> (ClusterDescription, ClusterMetadata) {
        let desc = ClusterDescription {
            cluster_id: Some("c".into()),
            controller: 2,
            brokers: vec![broker(1, Some("a")), broker(2, Some("b"))],
        };
        let meta = ClusterMetadata {
            cluster_id: Some("c".into()),
            controller: 1,
            brokers: desc.brokers.clone(),
            topics: vec![TopicMetadata {
                name: "t".into(),
                id: uuid::Uuid::nil(),
                internal: false,
                partitions: vec![
                    partition(0, 1, &[1, 2, 3], &[1, 2]),
                    partition(1, 2, &[2, 3, 1], &[2, 1]),
                    partition(2, -1, &[3], &[3]),
                    partition(3, 1, &[1, 2], &[1, 2]),
                ],
            }],
        };
        (desc, meta)
    }

    #[test]
    fn counts_leaders_replicas_and_issues() {
        let (desc, meta) = fixture();
        let s = summarize(&desc, &meta);
        assert_eq!(s.controller, 2, "DescribeCluster's controller wins");
        assert_eq!((s.topics, s.partitions), (1, 4));
        let by_id: BTreeMap<i32, &NodeSummary> = s.nodes.iter().map(|n| (n.id, n)).collect();
        assert_eq!(by_id.keys().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(
            (by_id[&1].leader_partitions, by_id[&1].replica_partitions),
            (2, 3)
        );
        assert_eq!(
            (by_id[&2].leader_partitions, by_id[&2].replica_partitions),
            (1, 3)
        );
        assert!(by_id[&2].controller && !by_id[&1].controller);
        assert_eq!(by_id[&1].rack.as_deref(), Some("a"));
        // Node 3 holds replicas but is not a live broker.
        assert!(!by_id[&3].live && by_id[&3].address.is_none());
        assert_eq!(by_id[&3].replica_partitions, 3);
        let under: Vec<i32> = s.under_replicated.iter().map(|p| p.partition).collect();
        assert_eq!(under, vec![0, 1]);
        let offline: Vec<i32> = s.offline.iter().map(|p| p.partition).collect();
        assert_eq!(offline, vec![2]);
    }

    #[test]
    fn json_and_text_shapes() {
        let (desc, meta) = fixture();
        let s = summarize(&desc, &meta);
        let unreachable = BTreeMap::from([(1, "127.0.0.1:9091: refused".to_string())]);
        let v = summary_json(&s, &unreachable);
        assert_eq!(v["controller"], 2);
        assert_eq!(v["nodes"][0]["reachable"], false);
        assert_eq!(v["nodes"][1]["reachable"], true);
        assert_eq!(v["nodes"][1]["address"], "127.0.0.1:9092");
        assert_eq!(v["nodes"][2]["live"], false);
        assert_eq!(v["under_replicated"][0]["isr"], json!([1, 2]));
        assert_eq!(v["offline"][0]["leader"], -1);
        let mut text = Vec::new();
        write_text(&mut text, &s, &unreachable).expect("write");
        let text = String::from_utf8(text).expect("utf8");
        assert!(text.contains("Controller: 2"), "{text}");
        assert!(text.contains("unreachable"), "{text}");
        assert!(text.contains("Under-replicated partitions: 2"), "{text}");
        assert!(
            text.contains("t-2  leader none  replicas 3  isr 3"),
            "{text}"
        );
    }
}
