//! The records a classic group coordinator keeps in `__consumer_offsets`,
//! byte-compatible with the ones Kafka writes: a key (`int16` key version,
//! then the key fields) and a value (`int16` value version, then the value
//! fields), or a null value (tombstone) meaning "deleted".
//!
//! Key version 0/1 is an offset commit `(group, topic, partition)`, key
//! version 2 is group metadata `(group)`; later key versions belong to the new
//! consumer-group protocol and decode as [`RecordKey::Other`] so loaders can
//! skip them. Values are written in the versions Kafka 3.x/4.x write: offset
//! commits v3 (v1 when an expire timestamp is set), group metadata v3. All
//! value versions 0-4 (v4 is the flexible encoding) are read.

use bytes::{BufMut, Bytes, BytesMut};

pub use strata_proto::record_codec::RecordError;
use strata_proto::record_codec::{put_bytes, put_nullable_string, put_string, Reader};

/// Key of a committed offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OffsetCommitKey {
    /// The group id.
    pub group: String,
    /// The topic name.
    pub topic: String,
    /// The partition index.
    pub partition: i32,
}

/// The key of a `__consumer_offsets` record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RecordKey {
    /// A committed offset (key version 0 or 1).
    OffsetCommit(OffsetCommitKey),
    /// A group's metadata (key version 2); holds the group id.
    GroupMetadata(String),
    /// A key version this crate does not interpret (e.g. the new consumer
    /// group protocol's records); holds the version.
    Other(i16),
}

impl RecordKey {
    /// Encodes the key as Kafka writes it (offset commit keys as version 1).
    /// `Other` keys encode as just their version.
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::new();
        match self {
            RecordKey::OffsetCommit(k) => {
                buf.put_i16(1);
                put_string(&mut buf, &k.group);
                put_string(&mut buf, &k.topic);
                buf.put_i32(k.partition);
            }
            RecordKey::GroupMetadata(group) => {
                buf.put_i16(2);
                put_string(&mut buf, group);
            }
            RecordKey::Other(v) => buf.put_i16(*v),
        }
        buf.freeze()
    }

    /// Decodes a key.
    pub fn decode(bytes: &[u8]) -> Result<RecordKey, RecordError> {
        let mut r = Reader::new(bytes);
        let version = r.i16()?;
        match version {
            0 | 1 => Ok(RecordKey::OffsetCommit(OffsetCommitKey {
                group: r.string()?,
                topic: r.string()?,
                partition: r.i32()?,
            })),
            2 => Ok(RecordKey::GroupMetadata(r.string()?)),
            v if v > 2 => Ok(RecordKey::Other(v)),
            v => Err(RecordError::UnsupportedVersion {
                what: "key",
                version: v,
            }),
        }
    }
}

/// A committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCommitValue {
    /// The committed offset.
    pub offset: i64,
    /// The leader epoch of the last consumed record, `-1` when unknown.
    pub leader_epoch: i32,
    /// Client-supplied metadata.
    pub metadata: String,
    /// When the commit was made.
    pub commit_timestamp: i64,
    /// Explicit expiry (OffsetCommit v1 `retention`), rarely set.
    pub expire_timestamp: Option<i64>,
}

impl OffsetCommitValue {
    /// Encodes as Kafka does: version 1 when an expire timestamp is set
    /// (the only version with that field), version 3 otherwise.
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::new();
        match self.expire_timestamp {
            Some(expire) => {
                buf.put_i16(1);
                buf.put_i64(self.offset);
                put_string(&mut buf, &self.metadata);
                buf.put_i64(self.commit_timestamp);
                buf.put_i64(expire);
            }
            None => {
                buf.put_i16(3);
                buf.put_i64(self.offset);
                buf.put_i32(self.leader_epoch);
                put_string(&mut buf, &self.metadata);
                buf.put_i64(self.commit_timestamp);
            }
        }
        buf.freeze()
    }

    /// Decodes any value version 0-4.
    pub fn decode(bytes: &[u8]) -> Result<OffsetCommitValue, RecordError> {
        let mut r = Reader::new(bytes);
        let version = r.i16()?;
        if !(0..=4).contains(&version) {
            return Err(RecordError::UnsupportedVersion {
                what: "offset commit value",
                version,
            });
        }
        r.set_flexible(version >= 4);
        let offset = r.i64()?;
        let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
        let metadata = r.string()?;
        let commit_timestamp = r.i64()?;
        let expire_timestamp = if version == 1 {
            Some(r.i64()?).filter(|t| *t != -1)
        } else {
            None
        };
        r.skip_tagged_fields()?;
        Ok(OffsetCommitValue {
            offset,
            leader_epoch,
            metadata,
            commit_timestamp,
            expire_timestamp,
        })
    }
}

/// One member in a persisted group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMetadataValue {
    /// The member id.
    pub member_id: String,
    /// `group.instance.id`, if static.
    pub group_instance_id: Option<String>,
    /// The client id.
    pub client_id: String,
    /// The client host.
    pub client_host: String,
    /// The rebalance timeout.
    pub rebalance_timeout: i32,
    /// The session timeout.
    pub session_timeout: i32,
    /// Metadata for the group's selected protocol.
    pub subscription: Bytes,
    /// The member's assignment.
    pub assignment: Bytes,
}

/// A group's persisted metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadataValue {
    /// The protocol type; empty when the group has none.
    pub protocol_type: String,
    /// The generation.
    pub generation: i32,
    /// The selected protocol.
    pub protocol: Option<String>,
    /// The leader's member id.
    pub leader: Option<String>,
    /// When the group entered its current state, `-1` when unknown.
    pub current_state_timestamp: i64,
    /// The members.
    pub members: Vec<MemberMetadataValue>,
}

impl GroupMetadataValue {
    /// Encodes as value version 3, the version Kafka 2.3+ writes.
    pub fn encode(&self) -> Bytes {
        let mut buf = BytesMut::new();
        buf.put_i16(3);
        put_string(&mut buf, &self.protocol_type);
        buf.put_i32(self.generation);
        put_nullable_string(&mut buf, self.protocol.as_deref());
        put_nullable_string(&mut buf, self.leader.as_deref());
        buf.put_i64(self.current_state_timestamp);
        buf.put_i32(self.members.len() as i32);
        for m in &self.members {
            put_string(&mut buf, &m.member_id);
            put_nullable_string(&mut buf, m.group_instance_id.as_deref());
            put_string(&mut buf, &m.client_id);
            put_string(&mut buf, &m.client_host);
            buf.put_i32(m.rebalance_timeout);
            buf.put_i32(m.session_timeout);
            put_bytes(&mut buf, &m.subscription);
            put_bytes(&mut buf, &m.assignment);
        }
        buf.freeze()
    }

    /// Decodes any value version 0-4. Fields a version lacks get Kafka's
    /// defaults (rebalance timeout = session timeout for v0, as Kafka did).
    pub fn decode(bytes: &[u8]) -> Result<GroupMetadataValue, RecordError> {
        let mut r = Reader::new(bytes);
        let version = r.i16()?;
        if !(0..=4).contains(&version) {
            return Err(RecordError::UnsupportedVersion {
                what: "group metadata value",
                version,
            });
        }
        r.set_flexible(version >= 4);
        let protocol_type = r.string()?;
        let generation = r.i32()?;
        let protocol = r.nullable_string()?;
        let leader = r.nullable_string()?;
        let current_state_timestamp = if version >= 2 { r.i64()? } else { -1 };
        // A member takes at least 4 bytes (its session timeout alone).
        let n = r
            .array_len(4)?
            .ok_or(RecordError::Malformed("null array"))?;
        let mut members = Vec::with_capacity(n);
        for _ in 0..n {
            let member_id = r.string()?;
            let group_instance_id = if version >= 3 {
                r.nullable_string()?
            } else {
                None
            };
            let client_id = r.string()?;
            let client_host = r.string()?;
            let rebalance_timeout = if version >= 1 { Some(r.i32()?) } else { None };
            let session_timeout = r.i32()?;
            let subscription = r.bytes()?;
            let assignment = r.bytes()?;
            r.skip_tagged_fields()?;
            members.push(MemberMetadataValue {
                member_id,
                group_instance_id,
                client_id,
                client_host,
                rebalance_timeout: rebalance_timeout.unwrap_or(session_timeout),
                session_timeout,
                subscription,
                assignment,
            });
        }
        r.skip_tagged_fields()?;
        Ok(GroupMetadataValue {
            protocol_type,
            generation,
            protocol,
            leader,
            current_state_timestamp,
            members,
        })
    }
}

/// A decoded `__consumer_offsets` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// An offset commit, or its deletion (`None`).
    OffsetCommit(OffsetCommitKey, Option<OffsetCommitValue>),
    /// Group metadata, or the group's deletion (`None`).
    GroupMetadata(String, Option<GroupMetadataValue>),
    /// A record of a kind this crate does not interpret (key version).
    Other(i16),
}

/// Decodes a `__consumer_offsets` record from its key and (possibly null) value.
pub fn decode_record(key: &[u8], value: Option<&[u8]>) -> Result<Record, RecordError> {
    match RecordKey::decode(key)? {
        RecordKey::OffsetCommit(k) => {
            let v = value.map(OffsetCommitValue::decode).transpose()?;
            Ok(Record::OffsetCommit(k, v))
        }
        RecordKey::GroupMetadata(g) => {
            let v = value.map(GroupMetadataValue::decode).transpose()?;
            Ok(Record::GroupMetadata(g, v))
        }
        RecordKey::Other(v) => Ok(Record::Other(v)),
    }
}

/// The `__consumer_offsets` partition that owns `group_id`:
/// `(hashCode & 0x7fffffff) % n`, with Java's `String.hashCode` over UTF-16 code
/// units. Kafka takes `Utils.abs(hashCode)`, which differs for negative hashes; no
/// client sees the placement (clients ask FindCoordinator), and changing it would move
/// existing groups' committed offsets.
///
/// Returns 0 when `num_partitions` is not positive.
pub fn partition_for(group_id: &str, num_partitions: i32) -> i32 {
    if num_partitions <= 0 {
        return 0;
    }
    (java_string_hash(group_id) & 0x7fff_ffff) % num_partitions
}

/// Java's `String.hashCode`.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}
