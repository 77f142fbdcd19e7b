//! What the admin API (`/api/v1` of `strata-http`) reads and changes, over the same
//! paths the Kafka APIs take: topics through the controller (`topics.rs`,
//! `strata_meta::controller`), offsets through the group coordinator, records from the
//! local log of a partition this broker leads, schemas from the registry's local copy.
//! Every call takes the HTTP caller and checks the ACLs the matching Kafka API checks.
//!
//! - [`overview`]: brokers, controller, partition health, throughput samples.
//! - [`topics`]: list (search, paging), describe, create, delete, configs.
//! - [`messages`]: records of one partition from an offset or a timestamp.
//! - [`decode`]: record payloads as text, JSON, hex and through the registry.
//! - [`groups`]: list, describe with lag, offset resets.
//! - [`schemas`]: subjects and their versions.
//! - [`users`]: SCRAM users (AlterUserScramCredentials, DescribeUserScramCredentials).
//! - [`acls`]: ACL bindings (CreateAcls, DescribeAcls, DeleteAcls).

use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;
use strata_meta::TopicError;

use crate::auth::authorizer::Access;
use crate::Broker;

pub mod acls;
pub mod decode;
pub mod groups;
pub mod messages;
pub mod overview;
pub mod schemas;
pub mod topics;
pub mod users;

pub use overview::RateSampler;

/// A broker as an answer names it (its address on the inter-broker listener: the image
/// holds no HTTP addresses).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct NodeRef {
    /// Node id.
    pub node_id: i32,
    /// Host.
    pub host: String,
    /// Port.
    pub port: i32,
}

/// Why an admin call failed; the HTTP layer maps each kind to a status.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AdminError {
    /// The request is malformed or names impossible values (400).
    #[error("{0}")]
    BadRequest(String),
    /// The caller lacks the ACL (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such topic, partition, group or subject (404).
    #[error("{0}")]
    NotFound(String),
    /// The state does not allow it (409): the topic exists, the group has members.
    #[error("{0}")]
    Conflict(String),
    /// Another broker answers this (421), named when known.
    #[error("{message}")]
    Misdirected {
        /// What to do.
        message: String,
        /// The broker to ask.
        node: Option<NodeRef>,
    },
    /// Not available now: retry (503).
    #[error("{0}")]
    Unavailable(String),
    /// The controller did not answer in time; the change may still be applied (504).
    #[error("{0}")]
    Timeout(String),
    /// A failure of the broker itself (500).
    #[error("{0}")]
    Internal(String),
}

impl From<TopicError> for AdminError {
    fn from(e: TopicError) -> Self {
        let m = e.message().to_string();
        match e {
            TopicError::UnknownTopicOrPartition(_) | TopicError::UnknownTopicId(_) => {
                AdminError::NotFound(m)
            }
            TopicError::TopicAlreadyExists(_) => AdminError::Conflict(m),
            TopicError::InvalidTopic(_)
            | TopicError::InvalidPartitions(_)
            | TopicError::InvalidReplicationFactor(_)
            | TopicError::InvalidReplicaAssignment(_)
            | TopicError::InvalidConfig(_)
            | TopicError::InvalidRequest(_)
            | TopicError::PolicyViolation(_) => AdminError::BadRequest(m),
            TopicError::TopicAuthorizationFailed(_) | TopicError::ClusterAuthorizationFailed(_) => {
                AdminError::Forbidden(m)
            }
            TopicError::RequestTimedOut(_) => AdminError::Timeout(m),
            TopicError::Internal(_) => AdminError::Internal(m),
        }
    }
}

impl From<crate::metadata::CommitError> for AdminError {
    /// A metadata change the controller did not commit: a timeout may still be applied
    /// (504, look before retrying, as Kafka's REQUEST_TIMED_OUT), no controller is 503.
    fn from(e: crate::metadata::CommitError) -> Self {
        use crate::metadata::CommitError;
        match e {
            CommitError::TimedOut(_) => AdminError::Timeout(e.to_string()),
            CommitError::Unavailable(_) => AdminError::Unavailable(e.to_string()),
            CommitError::Conflict(_) | CommitError::Apply(_) => AdminError::Internal(e.to_string()),
        }
    }
}

impl From<crate::metadata::DecideError<AdminError>> for AdminError {
    /// A change decided against the image: its own refusal, or the commit's failure.
    fn from(e: crate::metadata::DecideError<AdminError>) -> Self {
        match e {
            crate::metadata::DecideError::Refused(e) => e,
            crate::metadata::DecideError::Commit(e) => e.into(),
        }
    }
}

/// Who calls: the authenticated principal (`None` when security is off or the path is
/// exempt: then Kafka's `User:ANONYMOUS`) and the client's address.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `User:name`, if authenticated.
    pub principal: Option<String>,
    /// Client address.
    pub ip: IpAddr,
}

impl Caller {
    /// A caller.
    pub fn new(principal: Option<String>, ip: IpAddr) -> Self {
        Self { principal, ip }
    }
}

impl Broker {
    /// The caller's ACL snapshot, as a Kafka request of that principal gets it.
    pub(crate) fn admin_access(&self, caller: &Caller) -> Access {
        let principal: Arc<str> = Arc::from(
            caller
                .principal
                .as_deref()
                .unwrap_or(strata_auth::principal::ANONYMOUS),
        );
        Access::new(self.authorizer_now(), principal, caller.ip.to_canonical())
    }

    /// The broker named `node_id` on the inter-broker listener, if registered.
    pub(crate) fn node_ref(&self, node_id: i32) -> Option<NodeRef> {
        let image = self.meta.image();
        let node = image.broker(node_id)?;
        let (host, port) = node.endpoint(&self.inter_broker_listener)?;
        Some(NodeRef {
            node_id,
            host: host.to_string(),
            port,
        })
    }

    /// 421 naming the leader of a partition (or 503 when it has none).
    pub(crate) fn not_leader_here(&self, topic: &str, partition: i32) -> AdminError {
        let leader = self
            .meta
            .image()
            .partition(topic, partition)
            .map_or(-1, |p| p.leader);
        if leader < 0 {
            return AdminError::Unavailable(format!(
                "partition {topic}-{partition} has no leader now; retry"
            ));
        }
        let node = self.node_ref(leader);
        let at = node
            .as_ref()
            .map(|n| format!(" ({}:{})", n.host, n.port))
            .unwrap_or_default();
        AdminError::Misdirected {
            message: format!(
                "partition {topic}-{partition} is led by broker {leader}{at}; ask that broker's HTTP listener"
            ),
            node,
        }
    }
}

/// Case-insensitive substring match (an empty needle matches everything).
pub(crate) fn matches(haystack: &str, needle_lower: &str) -> bool {
    needle_lower.is_empty() || haystack.to_lowercase().contains(needle_lower)
}

/// `items[offset..offset + limit]` (empty past the end).
pub(crate) fn page<T>(items: Vec<T>, offset: usize, limit: usize) -> Vec<T> {
    items.into_iter().skip(offset).take(limit).collect()
}
