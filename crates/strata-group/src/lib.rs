//! The sans-I/O heart of Kafka's classic consumer group protocol
//! (JoinGroup / SyncGroup / Heartbeat / LeaveGroup and offset-commit
//! validation), plus the `__consumer_offsets` record formats.
//!
//! No sockets, clocks, tasks or files: time comes in as `now_ms`, and every
//! call returns [`Effect`]s (answers to send, records to persist) that the
//! async coordinator carries out in order. Call [`Group::tick`] at
//! [`Group::next_deadline`] to drive session expiry and rebalance timeouts.
//!
//! Coordinator duties this crate leaves to its caller:
//! - routing a group id to its `__consumer_offsets` partition
//!   ([`records::partition_for`]) and creating a [`Group`] on the first
//!   JoinGroup with an empty member id (a non-empty member id for an unknown
//!   group is answered `UNKNOWN_MEMBER_ID`);
//! - writing each [`Effect::Persist`] and reporting it with [`Group::persisted`];
//! - storing offsets after [`Group::validate_commit`], and writing tombstones
//!   when a group is deleted;
//! - rebuilding groups with [`Group::from_record`] when it loads a partition;
//! - appending TxnOffsetCommit batches, reporting them to [`TxnOffsets`], and
//!   applying each transaction marker of the partition with [`TxnOffsets::complete`]
//!   (live, and when replaying the log).

mod error;
mod group;
mod join;
mod member;
mod ops;
mod rebalance;
pub mod records;
mod sync;
mod txn_offsets;
mod txn_sequences;
mod types;

pub use error::{validate_group_id, GroupError};
pub use group::Group;
pub use records::{
    decode_record, partition_for, GroupMetadataValue, MemberMetadataValue, OffsetCommitKey,
    OffsetCommitValue, Record, RecordError, RecordKey,
};
pub use txn_offsets::{
    materialize, CommittedOffsets, Completion, TopicPartition, TxnOffsets, WriteId,
};
pub use txn_sequences::{LogProducer, ProducerSequences};
pub use types::{
    Effect, GroupConfig, GroupDescription, GroupState, JoinMember, JoinRequest, JoinResponse,
    MemberDescription, MemberId, PersistToken, RemovalReason, RequestId, SyncRequest, SyncResponse,
};
