//! Wire shapes: Group membership: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, ListGroups, DescribeGroups, DeleteGroups, and the consumer protocol carried inside JoinGroup / SyncGroup.
//!
//! Derived from kafka-protocol 0.18's generated decoders with
//! `scripts/shape_table_from_kafka_protocol.py`, then reviewed; the round-trip tests in
//! `shape/tests.rs` check every entry against the crate. Field versions are absolute
//! message versions; tagged fields are only read in flexible versions.

/// `JoinGroupRequest`: versions 0–9, flexible from v6.
pub(crate) mod join_group_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 9, 6, &JOIN_GROUP_REQUEST);

    static JOIN_GROUP_REQUEST: Struct = Struct::new(
        "JoinGroupRequest",
        &[
            field("group_id", ALL, Ty::String),
            field("session_timeout_ms", ALL, Ty::Int32),
            field("rebalance_timeout_ms", since(1), Ty::Int32),
            field("member_id", ALL, Ty::String),
            field("group_instance_id", since(5), Ty::String),
            field("protocol_type", ALL, Ty::String),
            field("protocols", ALL, array(&JOIN_GROUP_REQUEST_PROTOCOL)),
            field("reason", since(8), Ty::String),
        ],
        &[],
    );

    static JOIN_GROUP_REQUEST_PROTOCOL: Struct = Struct::new(
        "JoinGroupRequestProtocol",
        &[
            field("name", ALL, Ty::String),
            field("metadata", ALL, Ty::Bytes),
        ],
        &[],
    );
}

/// `JoinGroupResponse`: versions 0–9, flexible from v6.
pub(crate) mod join_group_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 9, 6, &JOIN_GROUP_RESPONSE);

    static JOIN_GROUP_RESPONSE: Struct = Struct::new(
        "JoinGroupResponse",
        &[
            field("throttle_time_ms", since(2), Ty::Int32),
            field("error_code", ALL, Ty::Int16),
            field("generation_id", ALL, Ty::Int32),
            field("protocol_type", since(7), Ty::String),
            field("protocol_name", ALL, Ty::String),
            field("leader", ALL, Ty::String),
            field("skip_assignment", since(9), Ty::Bool),
            field("member_id", ALL, Ty::String),
            field("members", ALL, array(&JOIN_GROUP_RESPONSE_MEMBER)),
        ],
        &[],
    );

    static JOIN_GROUP_RESPONSE_MEMBER: Struct = Struct::new(
        "JoinGroupResponseMember",
        &[
            field("member_id", ALL, Ty::String),
            field("group_instance_id", since(5), Ty::String),
            field("metadata", ALL, Ty::Bytes),
        ],
        &[],
    );
}

/// `SyncGroupRequest`: versions 0–5, flexible from v4.
pub(crate) mod sync_group_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 5, 4, &SYNC_GROUP_REQUEST);

    static SYNC_GROUP_REQUEST: Struct = Struct::new(
        "SyncGroupRequest",
        &[
            field("group_id", ALL, Ty::String),
            field("generation_id", ALL, Ty::Int32),
            field("member_id", ALL, Ty::String),
            field("group_instance_id", since(3), Ty::String),
            field("protocol_type", since(5), Ty::String),
            field("protocol_name", since(5), Ty::String),
            field("assignments", ALL, array(&SYNC_GROUP_REQUEST_ASSIGNMENT)),
        ],
        &[],
    );

    static SYNC_GROUP_REQUEST_ASSIGNMENT: Struct = Struct::new(
        "SyncGroupRequestAssignment",
        &[
            field("member_id", ALL, Ty::String),
            field("assignment", ALL, Ty::Bytes),
        ],
        &[],
    );
}

/// `SyncGroupResponse`: versions 0–5, flexible from v4.
pub(crate) mod sync_group_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 5, 4, &SYNC_GROUP_RESPONSE);

    static SYNC_GROUP_RESPONSE: Struct = Struct::new(
        "SyncGroupResponse",
        &[
            field("throttle_time_ms", since(1), Ty::Int32),
            field("error_code", ALL, Ty::Int16),
            field("protocol_type", since(5), Ty::String),
            field("protocol_name", since(5), Ty::String),
            field("assignment", ALL, Ty::Bytes),
        ],
        &[],
    );
}

/// `HeartbeatRequest`: versions 0–4, flexible from v4.
pub(crate) mod heartbeat_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 4, 4, &HEARTBEAT_REQUEST);

    static HEARTBEAT_REQUEST: Struct = Struct::new(
        "HeartbeatRequest",
        &[
            field("group_id", ALL, Ty::String),
            field("generation_id", ALL, Ty::Int32),
            field("member_id", ALL, Ty::String),
            field("group_instance_id", since(3), Ty::String),
        ],
        &[],
    );
}

/// `HeartbeatResponse`: versions 0–4, flexible from v4.
pub(crate) mod heartbeat_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 4, 4, &HEARTBEAT_RESPONSE);

    static HEARTBEAT_RESPONSE: Struct = Struct::new(
        "HeartbeatResponse",
        &[
            field("throttle_time_ms", since(1), Ty::Int32),
            field("error_code", ALL, Ty::Int16),
        ],
        &[],
    );
}

/// `LeaveGroupRequest`: versions 0–5, flexible from v4.
pub(crate) mod leave_group_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 5, 4, &LEAVE_GROUP_REQUEST);

    static LEAVE_GROUP_REQUEST: Struct = Struct::new(
        "LeaveGroupRequest",
        &[
            field("group_id", ALL, Ty::String),
            field("member_id", until(2), Ty::String),
            field("members", since(3), array(&MEMBER_IDENTITY)),
        ],
        &[],
    );

    static MEMBER_IDENTITY: Struct = Struct::new(
        "MemberIdentity",
        &[
            field("member_id", since(3), Ty::String),
            field("group_instance_id", since(3), Ty::String),
            field("reason", since(5), Ty::String),
        ],
        &[],
    );
}

/// `LeaveGroupResponse`: versions 0–5, flexible from v4.
pub(crate) mod leave_group_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 5, 4, &LEAVE_GROUP_RESPONSE);

    static LEAVE_GROUP_RESPONSE: Struct = Struct::new(
        "LeaveGroupResponse",
        &[
            field("throttle_time_ms", since(1), Ty::Int32),
            field("error_code", ALL, Ty::Int16),
            field("members", since(3), array(&MEMBER_RESPONSE)),
        ],
        &[],
    );

    static MEMBER_RESPONSE: Struct = Struct::new(
        "MemberResponse",
        &[
            field("member_id", since(3), Ty::String),
            field("group_instance_id", since(3), Ty::String),
            field("error_code", since(3), Ty::Int16),
        ],
        &[],
    );
}

/// `ListGroupsRequest`: versions 0–5, flexible from v3.
pub(crate) mod list_groups_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 5, 3, &LIST_GROUPS_REQUEST);

    static LIST_GROUPS_REQUEST: Struct = Struct::new(
        "ListGroupsRequest",
        &[
            field("states_filter", since(4), Ty::Array(Elem::String)),
            field("types_filter", since(5), Ty::Array(Elem::String)),
        ],
        &[],
    );
}

/// `ListGroupsResponse`: versions 0–5, flexible from v3.
pub(crate) mod list_groups_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 5, 3, &LIST_GROUPS_RESPONSE);

    static LIST_GROUPS_RESPONSE: Struct = Struct::new(
        "ListGroupsResponse",
        &[
            field("throttle_time_ms", since(1), Ty::Int32),
            field("error_code", ALL, Ty::Int16),
            field("groups", ALL, array(&LISTED_GROUP)),
        ],
        &[],
    );

    static LISTED_GROUP: Struct = Struct::new(
        "ListedGroup",
        &[
            field("group_id", ALL, Ty::String),
            field("protocol_type", ALL, Ty::String),
            field("group_state", since(4), Ty::String),
            field("group_type", since(5), Ty::String),
        ],
        &[],
    );
}

/// `DescribeGroupsRequest`: versions 0–6, flexible from v5.
pub(crate) mod describe_groups_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 6, 5, &DESCRIBE_GROUPS_REQUEST);

    static DESCRIBE_GROUPS_REQUEST: Struct = Struct::new(
        "DescribeGroupsRequest",
        &[
            field("groups", ALL, Ty::Array(Elem::String)),
            field("include_authorized_operations", since(3), Ty::Bool),
        ],
        &[],
    );
}

/// `DescribeGroupsResponse`: versions 0–6, flexible from v5.
pub(crate) mod describe_groups_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 6, 5, &DESCRIBE_GROUPS_RESPONSE);

    static DESCRIBE_GROUPS_RESPONSE: Struct = Struct::new(
        "DescribeGroupsResponse",
        &[
            field("throttle_time_ms", since(1), Ty::Int32),
            field("groups", ALL, array(&DESCRIBED_GROUP)),
        ],
        &[],
    );

    static DESCRIBED_GROUP: Struct = Struct::new(
        "DescribedGroup",
        &[
            field("error_code", ALL, Ty::Int16),
            field("error_message", since(6), Ty::String),
            field("group_id", ALL, Ty::String),
            field("group_state", ALL, Ty::String),
            field("protocol_type", ALL, Ty::String),
            field("protocol_data", ALL, Ty::String),
            field("members", ALL, array(&DESCRIBED_GROUP_MEMBER)),
            field("authorized_operations", since(3), Ty::Int32),
        ],
        &[],
    );

    static DESCRIBED_GROUP_MEMBER: Struct = Struct::new(
        "DescribedGroupMember",
        &[
            field("member_id", ALL, Ty::String),
            field("group_instance_id", since(4), Ty::String),
            field("client_id", ALL, Ty::String),
            field("client_host", ALL, Ty::String),
            field("member_metadata", ALL, Ty::Bytes),
            field("member_assignment", ALL, Ty::Bytes),
        ],
        &[],
    );
}

/// `DeleteGroupsRequest`: versions 0–2, flexible from v2.
pub(crate) mod delete_groups_request {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 2, 2, &DELETE_GROUPS_REQUEST);

    static DELETE_GROUPS_REQUEST: Struct = Struct::new(
        "DeleteGroupsRequest",
        &[field("groups_names", ALL, Ty::Array(Elem::String))],
        &[],
    );
}

/// `DeleteGroupsResponse`: versions 0–2, flexible from v2.
pub(crate) mod delete_groups_response {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 2, 2, &DELETE_GROUPS_RESPONSE);

    static DELETE_GROUPS_RESPONSE: Struct = Struct::new(
        "DeleteGroupsResponse",
        &[
            field("throttle_time_ms", ALL, Ty::Int32),
            field("results", ALL, array(&DELETABLE_GROUP_RESULT)),
        ],
        &[],
    );

    static DELETABLE_GROUP_RESULT: Struct = Struct::new(
        "DeletableGroupResult",
        &[
            field("group_id", ALL, Ty::String),
            field("error_code", ALL, Ty::Int16),
        ],
        &[],
    );
}

/// `ConsumerProtocolSubscription`: versions 0–3, never flexible.
pub(crate) mod consumer_protocol_subscription {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 3, NEVER, &CONSUMER_PROTOCOL_SUBSCRIPTION);

    static CONSUMER_PROTOCOL_SUBSCRIPTION: Struct = Struct::new(
        "ConsumerProtocolSubscription",
        &[
            field("topics", ALL, Ty::Array(Elem::String)),
            field("user_data", ALL, Ty::Bytes),
            field("owned_partitions", since(1), array(&TOPIC_PARTITION)),
            field("generation_id", since(2), Ty::Int32),
            field("rack_id", since(3), Ty::String),
        ],
        &[],
    );

    static TOPIC_PARTITION: Struct = Struct::new(
        "TopicPartition",
        &[
            field("topic", since(1), Ty::String),
            field("partitions", since(1), Ty::Array(Elem::Int32)),
        ],
        &[],
    );
}

/// `ConsumerProtocolAssignment`: versions 0–3, never flexible.
pub(crate) mod consumer_protocol_assignment {
    use crate::shape::dsl::*;

    pub(crate) static SHAPE: Message = Message::new(0, 3, NEVER, &CONSUMER_PROTOCOL_ASSIGNMENT);

    static CONSUMER_PROTOCOL_ASSIGNMENT: Struct = Struct::new(
        "ConsumerProtocolAssignment",
        &[
            field("assigned_partitions", ALL, array(&TOPIC_PARTITION)),
            field("user_data", ALL, Ty::Bytes),
        ],
        &[],
    );

    static TOPIC_PARTITION: Struct = Struct::new(
        "TopicPartition",
        &[
            field("topic", ALL, Ty::String),
            field("partitions", ALL, Ty::Array(Elem::Int32)),
        ],
        &[],
    );
}
