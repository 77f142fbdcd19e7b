//! Cluster administration: the brokers, the active controller, and every topic's partition
//! placement in one snapshot.

use kafka_protocol::messages::{DescribeClusterRequest, DescribeClusterResponse, MetadataResponse};

use crate::admin::Admin;
use crate::cluster::{topic_from_response, TopicMetadata};
use crate::error::{ClientError, Result};

/// One broker as the cluster describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerDescription {
    /// Node id.
    pub id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised Kafka port.
    pub port: i32,
    /// `broker.rack`, when set.
    pub rack: Option<String>,
    /// Fenced by the controller (only reported by DescribeCluster v2+ brokers that were asked
    /// for fenced brokers; otherwise fenced brokers are simply absent).
    pub fenced: bool,
}

impl BrokerDescription {
    /// `host:port`, as a bootstrap address.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// What `describe_cluster` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    /// Cluster id (`None` when the broker predates ids).
    pub cluster_id: Option<String>,
    /// Node id of the active controller, -1 when none is known.
    pub controller: i32,
    /// Live brokers, sorted by id.
    pub brokers: Vec<BrokerDescription>,
}

/// Brokers and every topic's partitions from one Metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterMetadata {
    /// Cluster id (`None` when the broker predates ids).
    pub cluster_id: Option<String>,
    /// The controller id the Metadata response names (KRaft-style brokers may name any
    /// broker here; [`Admin::describe_cluster`] gives the active controller).
    pub controller: i32,
    /// Live brokers, sorted by id.
    pub brokers: Vec<BrokerDescription>,
    /// All topics (internal ones included), sorted by name, partitions sorted by index.
    pub topics: Vec<TopicMetadata>,
}

impl Admin {
    /// The cluster id, active controller and live brokers (DescribeCluster; Metadata when
    /// the broker does not speak DescribeCluster).
    pub async fn describe_cluster(&self) -> Result<ClusterDescription> {
        let cluster = self.cluster();
        let conn = cluster.any_connection().await?;
        let Ok(version) = conn.version_for::<DescribeClusterRequest>(None) else {
            let m = cluster.fetch_metadata(Some(&[])).await?;
            return Ok(ClusterDescription {
                cluster_id: m.cluster_id.as_ref().map(|s| s.as_str().to_string()),
                controller: m.controller_id.0,
                brokers: brokers_from_metadata(&m),
            });
        };
        let req = DescribeClusterRequest::default().with_include_fenced_brokers(version >= 2);
        let resp = conn
            .request(&req, version, cluster.config.request_timeout)
            .await?;
        ClientError::check(
            resp.error_code,
            resp.error_message.as_ref(),
            "describe cluster",
        )?;
        Ok(describe_from_response(&resp))
    }

    /// Brokers and all topics with their partitions (leader, replicas, ISR) as one broker
    /// sees them.
    pub async fn cluster_metadata(&self) -> Result<ClusterMetadata> {
        let m = self.cluster().fetch_metadata(None).await?;
        let mut topics: Vec<TopicMetadata> = m
            .topics
            .iter()
            .filter(|t| t.error_code == 0)
            .filter_map(|t| {
                let name = t.name.as_ref()?.0.as_str().to_string();
                Some(topic_from_response(name, t))
            })
            .collect();
        topics.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(ClusterMetadata {
            cluster_id: m.cluster_id.as_ref().map(|s| s.as_str().to_string()),
            controller: m.controller_id.0,
            brokers: brokers_from_metadata(&m),
            topics,
        })
    }
}

fn brokers_from_metadata(m: &MetadataResponse) -> Vec<BrokerDescription> {
    let mut brokers: Vec<BrokerDescription> = m
        .brokers
        .iter()
        .map(|b| BrokerDescription {
            id: b.node_id.0,
            host: b.host.as_str().to_string(),
            port: b.port,
            rack: b.rack.as_ref().map(|r| r.as_str().to_string()),
            fenced: false,
        })
        .collect();
    brokers.sort_by_key(|b| b.id);
    brokers
}

fn describe_from_response(resp: &DescribeClusterResponse) -> ClusterDescription {
    let mut brokers: Vec<BrokerDescription> = resp
        .brokers
        .iter()
        .map(|b| BrokerDescription {
            id: b.broker_id.0,
            host: b.host.as_str().to_string(),
            port: b.port,
            rack: b.rack.as_ref().map(|r| r.as_str().to_string()),
            fenced: b.is_fenced,
        })
        .collect();
    brokers.sort_by_key(|b| b.id);
    // An empty cluster id is how a broker without one answers; report it as absent.
    let id = resp.cluster_id.as_str();
    ClusterDescription {
        cluster_id: (!id.is_empty()).then(|| id.to_string()),
        controller: resp.controller_id.0,
        brokers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
    use kafka_protocol::messages::BrokerId;
    use kafka_protocol::protocol::StrBytes;

    #[test]
    fn describe_response_sorted_with_racks_and_fencing() {
        let resp = DescribeClusterResponse::default()
            .with_cluster_id(StrBytes::from_static_str("c1"))
            .with_controller_id(BrokerId(2))
            .with_brokers(vec![
                DescribeClusterBroker::default()
                    .with_broker_id(BrokerId(3))
                    .with_host(StrBytes::from_static_str("h3"))
                    .with_port(9003)
                    .with_is_fenced(true),
                DescribeClusterBroker::default()
                    .with_broker_id(BrokerId(1))
                    .with_host(StrBytes::from_static_str("h1"))
                    .with_port(9001)
                    .with_rack(Some(StrBytes::from_static_str("r1"))),
            ]);
        let d = describe_from_response(&resp);
        assert_eq!(d.cluster_id.as_deref(), Some("c1"));
        assert_eq!(d.controller, 2);
        assert_eq!(
            d.brokers.iter().map(|b| b.id).collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert_eq!(d.brokers[0].rack.as_deref(), Some("r1"));
        assert_eq!(d.brokers[0].address(), "h1:9001");
        assert!(!d.brokers[0].fenced && d.brokers[1].fenced);
        let anon = describe_from_response(&DescribeClusterResponse::default());
        assert_eq!(anon.cluster_id, None);
    }
}
