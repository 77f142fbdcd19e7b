//! The sans-I/O heart of Kafka's transaction coordinator, and the
//! `__transaction_state` record formats.
//!
//! No sockets, clocks, tasks or files: time comes in as `now` (milliseconds), and every
//! call returns [`Effect`]s that the caller carries out in order: records to write
//! ([`Effect::Persist`], reported back with [`TxnPartition::persisted`]), transaction
//! markers to send ([`Effect::SendMarkers`], reported back with
//! [`TxnPartition::markers_written`]) and answers ([`Effect::Respond`], keyed by the
//! caller's request id). Call [`TxnPartition::tick`] at
//! [`TxnPartition::next_deadline`] to drive transaction timeouts, id expiry and retries.
//!
//! One [`TxnPartition`] serves the transactional ids of one `__transaction_state`
//! partition ([`records::partition_for`]) at one coordinator epoch; it is rebuilt with
//! [`TxnPartition::load`] whenever that partition's leadership (re)arrives.
//!
//! Transactions v2 (KIP-890 part 2) are chosen per request, as Kafka chooses them by
//! request version: [`TxnPartition::add_partitions_at`] with [`TV2`] for the implicit
//! add of a Produce v12 / TxnOffsetCommit v5, [`TxnPartition::end_txn_v2`] for EndTxn
//! v5 (an epoch bump at every end); the other operations serve both.
//!
//! Duties left to the caller: producer ids (InitProducerId answers
//! [`InitStep::NeedProducerId`] when it needs one), routing ids to partitions, mapping
//! PRODUCER_FENCED to INVALID_PRODUCER_EPOCH for old request versions, authorization.

mod end_v2;
pub mod metadata;
mod ops;
mod partition;
pub mod records;
mod types;

pub use end_v2::EndTxnV2;
pub use metadata::{valid_transition, TxnMetadata, EPOCH_EXHAUSTED, TV2};
pub use ops::{InitProducerId, InitStep};
pub use partition::{LoadStats, TxnPartition};
pub use records::{decode_record, encode_key, partition_for, Record, RecordError, TxnLogValue};
pub use types::{
    Effect, ListFilter, ProducerIdAndEpoch, Reply, RequestId, TopicPartition, TxnConfig,
    TxnDescription, TxnError, TxnListing, TxnResult, TxnState, WriteId,
};
