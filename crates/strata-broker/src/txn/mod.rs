//! The transaction coordinator: `strata-txn`'s state machines, one per
//! `__transaction_state` partition this broker leads, driven here.
//!
//! Invariants:
//! - One lock (`state`) guards every partition's machine and the parked requests; it
//!   is never held across an await. Writes and marker sends run after it is
//!   released, and their outcome is fed back to the machine under the lock again,
//!   only while the partition is still loaded at the epoch that started them.
//! - A request is answered after its record is durable on every in-sync replica
//!   (`acks=all`), so a coordinator elected after a failover has every state a
//!   client was told about.
//! - Only the leader of an id's partition serves it, at the epoch it loaded (see
//!   `loading`); losing leadership drops the machine and answers its parked requests
//!   NOT_COORDINATOR. Markers of transactions found prepared at load are sent again.
//! - Transaction timeouts and id expiry run in `txn_loop`, which sleeps until the
//!   earliest deadline of any machine (woken when an operation may have moved it).
//! - Markers go to partition leaders over the inter-broker listener (`markers`),
//!   batched per destination, retried with backoff until written, the topic is
//!   deleted, or the coordinator moves on.
//! - Transactions v2 (KIP-890 part 2) are chosen per request version, as Kafka: EndTxn
//!   v5 bumps the epoch (`strata_txn::TxnPartition::end_txn_v2`); Produce v12 and
//!   TxnOffsetCommit v5 add their partitions implicitly (`verify::add_implicitly`).

mod coordinator;
mod loading;
mod markers;
mod store;
pub(crate) mod verify;

pub(crate) use coordinator::fenced_for_version;
pub(crate) use coordinator::txn_loop;
pub use coordinator::TxnCoordinator;

/// A connection to `node`'s inter-broker listener (TLS / SASL as the follower
/// fetchers), for the marker sender and KIP-890 verification.
pub(crate) async fn connect_to_node(
    broker: &crate::Broker,
    node: i32,
    timeout: std::time::Duration,
) -> anyhow::Result<crate::replication::client::BrokerConnection> {
    use crate::replication::client::{BrokerConnection, ConnectError};
    let addr = broker
        .meta
        .image()
        .broker(node)
        .map(|b| format!("{}:{}", b.host, b.port))
        .ok_or_else(|| anyhow::anyhow!("broker {node} is not registered"))?;
    let security = crate::replication::login::PeerSecurity::for_broker(broker);
    BrokerConnection::connect(&addr, broker.config.node_id, timeout, &security)
        .await
        .map_err(|e| match e {
            ConnectError::Unreachable(e) | ConnectError::Refused(e) => e,
        })
}
