//! Requests, responses, effects and configuration of the group state machine.

use bytes::Bytes;

use crate::error::GroupError;
use crate::records::GroupMetadataValue;

/// A member id as the coordinator hands it out (`<client id>-<uuid>` or
/// `<group.instance.id>-<uuid>`).
pub type MemberId = String;

/// A request id chosen by the caller so delayed answers can be routed back.
pub type RequestId = u64;

/// Identifies one [`Effect::Persist`] so its outcome can be reported with
/// [`crate::Group::persisted`].
pub type PersistToken = u64;

/// Broker-wide settings for classic groups (Kafka's `group.*` configs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// `group.min.session.timeout.ms`: smallest session timeout a member may ask for.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`: largest session timeout a member may ask for.
    pub max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of an
    /// empty group waits for more members (extended while members keep joining).
    pub initial_rebalance_delay_ms: i64,
    /// `group.max.size`: most members a group may have.
    pub max_size: usize,
    /// How long a new member's JoinGroup may stay parked before the member is
    /// dropped (Kafka's fixed 5 minutes). Guards against clients that gave up
    /// on a long rebalance and retried with a fresh member.
    pub new_member_join_timeout_ms: i64,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            initial_rebalance_delay_ms: 3_000,
            max_size: usize::MAX,
            new_member_join_timeout_ms: 300_000,
        }
    }
}

/// The classic group states, as Kafka defines them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    /// No members; the group may still hold committed offsets.
    Empty,
    /// Waiting for members to (re)join before the next generation.
    PreparingRebalance,
    /// The generation is chosen; waiting for the leader's assignment.
    CompletingRebalance,
    /// Every member has its assignment for the current generation.
    Stable,
    /// The group was deleted or unloaded from this coordinator.
    Dead,
}

impl GroupState {
    /// The state's name as Kafka spells it in DescribeGroups / ListGroups.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }

    /// States from which this one may be entered (Kafka's transition table).
    pub(crate) fn valid_previous(self) -> &'static [GroupState] {
        use GroupState::*;
        match self {
            Empty => &[PreparingRebalance],
            PreparingRebalance => &[Stable, CompletingRebalance, Empty],
            CompletingRebalance => &[PreparingRebalance],
            Stable => &[CompletingRebalance],
            Dead => &[Stable, PreparingRebalance, CompletingRebalance, Empty, Dead],
        }
    }
}

/// A JoinGroup request for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    /// The caller's id for this request; the answer is an [`Effect::JoinDone`] with it.
    pub request_id: RequestId,
    /// The member id; empty on the first join.
    pub member_id: String,
    /// `group.instance.id` of a static member (KIP-345).
    pub group_instance_id: Option<String>,
    /// The client id from the request header.
    pub client_id: String,
    /// The client's address, as shown by DescribeGroups.
    pub client_host: String,
    /// The member's session timeout.
    pub session_timeout_ms: i32,
    /// The member's rebalance timeout (for JoinGroup v0 pass the session timeout).
    pub rebalance_timeout_ms: i32,
    /// The protocol type, e.g. `consumer`.
    pub protocol_type: String,
    /// Supported protocols in preference order, with their metadata.
    pub protocols: Vec<(String, Bytes)>,
    /// The client's reason for joining (v8+), for logs.
    pub reason: Option<String>,
    /// Set to `api_version >= 4`: a dynamic member joining with an empty id is
    /// told `MEMBER_ID_REQUIRED` with a fresh id (KIP-394).
    pub require_known_member_id: bool,
    /// Set to `api_version >= 9`: a static member replacing its old id while the
    /// group is stable is told it is the leader with `skip_assignment`.
    pub supports_skip_assignment: bool,
}

/// One member in a JoinGroup response (sent to the leader only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinMember {
    /// The member id.
    pub member_id: MemberId,
    /// The member's `group.instance.id`, if static.
    pub group_instance_id: Option<String>,
    /// The member's metadata for the selected protocol.
    pub metadata: Bytes,
}

/// A JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinResponse {
    /// `None` on success.
    pub error: Option<GroupError>,
    /// The generation, `-1` on most errors.
    pub generation_id: i32,
    /// The group's protocol type.
    pub protocol_type: Option<String>,
    /// The selected protocol.
    pub protocol_name: Option<String>,
    /// The leader's member id (empty when unknown).
    pub leader: String,
    /// Tells a static leader that rejoined (v9+) not to recompute the assignment.
    pub skip_assignment: bool,
    /// The member id the client must use from now on.
    pub member_id: String,
    /// All members with their metadata; non-empty only in the leader's answer.
    pub members: Vec<JoinMember>,
}

impl JoinResponse {
    /// An error answer carrying `member_id`, with Kafka's defaults elsewhere.
    pub fn error(error: GroupError, member_id: impl Into<String>) -> JoinResponse {
        JoinResponse {
            error: Some(error),
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            member_id: member_id.into(),
            members: Vec::new(),
        }
    }
}

/// A SyncGroup request for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRequest {
    /// The caller's id for this request; the answer is an [`Effect::SyncDone`] with it.
    pub request_id: RequestId,
    /// The member id.
    pub member_id: MemberId,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
    /// The generation the member joined.
    pub generation_id: i32,
    /// The protocol type the member expects (v5+), checked when present.
    pub protocol_type: Option<String>,
    /// The protocol name the member expects (v5+), checked when present.
    pub protocol_name: Option<String>,
    /// The leader's assignment per member; empty from followers.
    pub assignments: Vec<(MemberId, Bytes)>,
}

/// A SyncGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResponse {
    /// `None` on success.
    pub error: Option<GroupError>,
    /// The group's protocol type (set on success only).
    pub protocol_type: Option<String>,
    /// The group's protocol name (set on success only).
    pub protocol_name: Option<String>,
    /// The member's assignment.
    pub assignment: Bytes,
}

impl SyncResponse {
    /// An error answer with an empty assignment.
    pub fn error(error: GroupError) -> SyncResponse {
        SyncResponse {
            error: Some(error),
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// Why a member was removed, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemovalReason {
    /// No heartbeat, join or sync within its session timeout.
    SessionExpired,
    /// It did not rejoin before the join phase completed.
    NotRejoined,
    /// It did not send SyncGroup within the rebalance timeout.
    SyncExpired,
    /// LeaveGroup.
    Left,
    /// The group was over `group.max.size`.
    GroupFull,
}

/// Something the coordinator must do after a call into a [`crate::Group`].
///
/// Effects are returned in the order they must be carried out.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Answer a (possibly parked) JoinGroup request.
    JoinDone(RequestId, JoinResponse),
    /// Answer a (possibly parked) SyncGroup request.
    SyncDone(RequestId, SyncResponse),
    /// Durably append this group metadata record (key: the group id) to the
    /// group's `__consumer_offsets` partition, then report the outcome with
    /// [`crate::Group::persisted`]. Answers that depend on the write (the
    /// SyncGroup answers of a new generation, a static member's rejoin) are
    /// only emitted by that call, so they never precede the write. Writes
    /// nobody waits for (the group becoming `Empty`) need no report, but
    /// reporting them is harmless.
    Persist {
        /// Pass back to [`crate::Group::persisted`].
        token: PersistToken,
        /// The record value to write.
        value: GroupMetadataValue,
    },
    /// The group entered `PreparingRebalance` (count rebalances with this).
    RebalanceStarted {
        /// The generation being replaced.
        generation: i32,
    },
    /// A generation completed: the leader's assignment is persisted and the
    /// group is `Stable`.
    RebalanceCompleted {
        /// The new stable generation.
        generation: i32,
    },
    /// A member left the group.
    MemberRemoved {
        /// Its member id.
        member_id: MemberId,
        /// Why.
        reason: RemovalReason,
    },
}

/// A member as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// The member id.
    pub member_id: MemberId,
    /// `group.instance.id`, if static.
    pub group_instance_id: Option<String>,
    /// The client id.
    pub client_id: String,
    /// The client host.
    pub client_host: String,
    /// Metadata for the selected protocol (empty unless the group is `Stable`,
    /// as in Kafka).
    pub metadata: Bytes,
    /// The member's current assignment.
    pub assignment: Bytes,
}

/// A group as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group id.
    pub group_id: String,
    /// The state name as Kafka spells it.
    pub state: &'static str,
    /// The protocol type, empty when none.
    pub protocol_type: String,
    /// The selected protocol; empty unless `Stable`, as in Kafka.
    pub protocol: String,
    /// The members.
    pub members: Vec<MemberDescription>,
}
