//! Where a local cluster's nodes live: ids, addresses and directories, kept in
//! `<dir>/cluster.json` so that a second `cluster up` on the same directory finds its data
//! under the same node ids and the quorum at the same controller addresses.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};

/// File name of the layout inside the cluster directory.
pub const LAYOUT_FILE: &str = "cluster.json";
/// Most nodes `cluster up` starts; the base-port scheme leaves 100 ports per role.
pub const MAX_NODES: usize = 64;
const LAYOUT_VERSION: u32 = 1;
/// Offsets of each role's port range from `--base-port`.
const CONTROLLER_OFFSET: u16 = 100;
const HTTP_OFFSET: u16 = 200;
const REGISTRY_OFFSET: u16 = 300;

/// One node's identity and addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeLayout {
    /// Node id (1-based).
    pub id: i32,
    /// Kafka listener.
    pub kafka: String,
    /// Controller (Raft) listener.
    pub controller: String,
    /// Admin HTTP listener.
    pub http: String,
    /// Schema registry listener (absent in layouts saved before it existed: then the
    /// node runs without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
}

/// Every node of a local cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// Format version of `cluster.json`.
    pub version: u32,
    /// Nodes sorted by id.
    pub nodes: Vec<NodeLayout>,
}

/// How to choose ports for a new layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortPlan {
    /// Ports the kernel hands out as free right now.
    Free,
    /// Node `i`: Kafka `base+i-1`, controller `base+100+i-1`, HTTP `base+200+i-1`,
    /// schema registry `base+300+i-1`.
    Base(u16),
}

impl Layout {
    /// A new layout of `nodes` nodes on `host`.
    pub fn plan(nodes: usize, host: &str, ports: PortPlan) -> Result<Layout> {
        ensure!(
            (1..=MAX_NODES).contains(&nodes),
            "--nodes must be between 1 and {MAX_NODES}"
        );
        let ports: Vec<(u16, u16, u16, u16)> = match ports {
            PortPlan::Base(base) => {
                let last = u32::from(base) + u32::from(REGISTRY_OFFSET) + nodes as u32 - 1;
                ensure!(
                    base >= 1024 && last <= u32::from(u16::MAX),
                    "--base-port {base} leaves no room for {nodes} nodes \
                     (it needs ports {base}..={last}; use 1024..={})",
                    u16::MAX - REGISTRY_OFFSET - nodes as u16 + 1
                );
                (0..nodes as u16)
                    .map(|i| {
                        (
                            base + i,
                            base + CONTROLLER_OFFSET + i,
                            base + HTTP_OFFSET + i,
                            base + REGISTRY_OFFSET + i,
                        )
                    })
                    .collect()
            }
            PortPlan::Free => {
                let ports = free_ports(host, nodes * 4)?;
                ports.chunks(4).map(|c| (c[0], c[1], c[2], c[3])).collect()
            }
        };
        let nodes = ports
            .into_iter()
            .zip(1..)
            .map(|((k, c, h, r), id)| NodeLayout {
                id,
                kafka: format!("{host}:{k}"),
                controller: format!("{host}:{c}"),
                http: format!("{host}:{h}"),
                registry: Some(format!("{host}:{r}")),
            })
            .collect();
        Ok(Layout {
            version: LAYOUT_VERSION,
            nodes,
        })
    }

    /// Reads `<dir>/cluster.json`, `None` when there is none.
    pub fn load(dir: &Path) -> Result<Option<Layout>> {
        let path = dir.join(LAYOUT_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let layout: Layout = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a cluster layout", path.display()))?;
        layout
            .validate()
            .with_context(|| format!("{} is not usable", path.display()))?;
        Ok(Some(layout))
    }

    /// Writes `<dir>/cluster.json` atomically (a torn file would lose the ports).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(LAYOUT_FILE);
        let tmp = dir.join(format!("{LAYOUT_FILE}.tmp"));
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }

    fn validate(&self) -> Result<()> {
        ensure!(
            self.version == LAYOUT_VERSION,
            "unknown layout version {}",
            self.version
        );
        ensure!(
            (1..=MAX_NODES).contains(&self.nodes.len()),
            "it lists {} nodes",
            self.nodes.len()
        );
        for (n, expected) in self.nodes.iter().zip(1..) {
            ensure!(
                n.id == expected,
                "node ids must be 1..={}",
                self.nodes.len()
            );
            for addr in [&n.kafka, &n.controller, &n.http]
                .into_iter()
                .chain(n.registry.as_ref())
            {
                addr.parse::<SocketAddr>()
                    .with_context(|| format!("node {}: '{addr}' is not IP:PORT", n.id))?;
            }
        }
        Ok(())
    }

    /// The Kafka bootstrap list, `a:1,b:2,...`.
    pub fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .map(|n| n.kafka.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The `--voters` value: every node is a voter.
    pub fn voters(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("{}@{}", n.id, n.controller))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Fails, naming the node and role, when another process holds one of the ports.
    pub fn check_ports_free(&self, dir: &Path) -> Result<()> {
        for n in &self.nodes {
            let registry = n.registry.as_ref().map(|r| ("schema registry", r));
            for (role, addr) in [
                ("Kafka", &n.kafka),
                ("controller", &n.controller),
                ("HTTP", &n.http),
            ]
            .into_iter()
            .chain(registry)
            {
                if let Err(e) = TcpListener::bind(addr.as_str()) {
                    bail!(
                        "node {} cannot use its {role} address {addr}: {e} \
                         (is another `strata cluster up --dir {}` running?)",
                        n.id,
                        dir.display()
                    );
                }
            }
        }
        Ok(())
    }
}

/// `<dir>/node-<id>`: the node's log and data directory live here.
pub fn node_dir(dir: &Path, id: i32) -> PathBuf {
    dir.join(format!("node-{id}"))
}

/// The layout to run: the stored one when `dir` has one (checked against the flags), else a
/// new one. The flag `true` means the layout was reused.
pub fn resolve(
    dir: &Path,
    nodes: Option<usize>,
    base_port: Option<u16>,
    host: &str,
) -> Result<(Layout, bool)> {
    if let Some(stored) = Layout::load(dir)? {
        if let Some(n) = nodes {
            ensure!(
                n == stored.nodes.len(),
                "{} holds a {}-node cluster; run with --nodes {} or use another --dir",
                dir.display(),
                stored.nodes.len(),
                stored.nodes.len()
            );
        }
        if let Some(base) = base_port {
            let wanted = Layout::plan(stored.nodes.len(), host, PortPlan::Base(base))?;
            ensure!(
                wanted.nodes == stored.nodes,
                "{} was set up with other ports (see {}); drop --base-port to reuse them \
                 or use another --dir",
                dir.display(),
                dir.join(LAYOUT_FILE).display()
            );
        }
        return Ok((stored, true));
    }
    if let Some(existing) = first_node_dir(dir)? {
        bail!(
            "{} exists but {} does not, so its node ids and ports are unknown; \
             remove it or use another --dir",
            existing.display(),
            dir.join(LAYOUT_FILE).display()
        );
    }
    let ports = base_port.map_or(PortPlan::Free, PortPlan::Base);
    Ok((Layout::plan(nodes.unwrap_or(3), host, ports)?, false))
}

fn first_node_dir(dir: &Path) -> Result<Option<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        if entry.file_name().to_string_lossy().starts_with("node-") {
            return Ok(Some(entry.path()));
        }
    }
    Ok(None)
}

/// `n` distinct ports that are free now. All listeners stay open until every port is
/// chosen, so the kernel cannot hand out one port twice.
fn free_ports(host: &str, n: usize) -> Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind((host, 0)))
        .collect::<std::io::Result<Vec<_>>>()
        .with_context(|| format!("cannot find free ports on {host}"))?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_port_scheme() {
        let l = Layout::plan(3, "127.0.0.1", PortPlan::Base(19092)).expect("plan");
        assert_eq!(l.nodes.len(), 3);
        assert_eq!(l.nodes[1].id, 2);
        assert_eq!(l.nodes[1].kafka, "127.0.0.1:19093");
        assert_eq!(l.nodes[1].controller, "127.0.0.1:19193");
        assert_eq!(l.nodes[1].http, "127.0.0.1:19293");
        assert_eq!(l.nodes[1].registry.as_deref(), Some("127.0.0.1:19393"));
        assert_eq!(
            l.bootstrap(),
            "127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094"
        );
        assert_eq!(
            l.voters(),
            "1@127.0.0.1:19192,2@127.0.0.1:19193,3@127.0.0.1:19194"
        );
        assert!(Layout::plan(3, "127.0.0.1", PortPlan::Base(65400)).is_err());
        assert!(Layout::plan(0, "127.0.0.1", PortPlan::Free).is_err());
        assert!(Layout::plan(MAX_NODES + 1, "127.0.0.1", PortPlan::Free).is_err());
    }

    #[test]
    fn free_ports_are_distinct() {
        let l = Layout::plan(4, "127.0.0.1", PortPlan::Free).expect("plan");
        let mut all: Vec<&String> = l
            .nodes
            .iter()
            .flat_map(|n| {
                [&n.kafka, &n.controller, &n.http]
                    .into_iter()
                    .chain(&n.registry)
            })
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 16);
        l.check_ports_free(Path::new(".")).expect("ports free");
    }

    #[test]
    fn stored_layout_is_reused_and_checked_against_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (first, reused) = resolve(dir.path(), Some(2), None, "127.0.0.1").expect("new");
        assert!(!reused);
        first.save(dir.path()).expect("save");
        let (again, reused) = resolve(dir.path(), None, None, "127.0.0.1").expect("reuse");
        assert!(reused);
        assert_eq!(again, first);
        let e = resolve(dir.path(), Some(3), None, "127.0.0.1").expect_err("count");
        assert!(e.to_string().contains("2-node cluster"), "{e}");
        let e = resolve(dir.path(), None, Some(20000), "127.0.0.1").expect_err("ports");
        assert!(e.to_string().contains("other ports"), "{e}");
    }

    #[test]
    fn node_dirs_without_layout_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(node_dir(dir.path(), 1)).expect("mkdir");
        let e = resolve(dir.path(), Some(1), None, "127.0.0.1").expect_err("no layout");
        assert!(e.to_string().contains("node-1"), "{e}");
    }

    #[test]
    fn corrupt_layouts_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(LAYOUT_FILE), "{").expect("write");
        assert!(Layout::load(dir.path()).is_err());
        let mut l = Layout::plan(2, "127.0.0.1", PortPlan::Base(20000)).expect("plan");
        l.nodes[1].id = 7;
        l.save(dir.path()).expect("save");
        let e = Layout::load(dir.path()).expect_err("bad ids");
        assert!(format!("{e:#}").contains("node ids"), "{e:#}");
    }
}
