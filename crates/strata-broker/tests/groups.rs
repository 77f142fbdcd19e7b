//! Consumer groups over real sockets: membership, commits, persistence across restart.

use crate::common::*;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

fn gid(s: &str) -> GroupId {
    GroupId(StrBytes::from_string(s.to_string()))
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

async fn join(c: &mut RawClient, group: &str, member: &str) -> JoinGroupResponse {
    join_with(c, group, member, 10_000).await
}

/// JoinGroup with `session_ms` as the session and rebalance timeouts.
async fn join_with(
    c: &mut RawClient,
    group: &str,
    member: &str,
    session_ms: i32,
) -> JoinGroupResponse {
    let req = JoinGroupRequest::default()
        .with_group_id(gid(group))
        .with_session_timeout_ms(session_ms)
        .with_rebalance_timeout_ms(session_ms)
        .with_member_id(s(member))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(s("range"))
            .with_metadata(bytes::Bytes::from_static(b"meta"))]);
    match c
        .call(ApiKey::JoinGroup, 9, RequestKind::JoinGroup(req))
        .await
    {
        ResponseKind::JoinGroup(r) => r,
        other => panic!("{other:?}"),
    }
}

async fn commit(c: &mut RawClient, group: &str, member: &str, generation: i32, offset: i64) -> i16 {
    let req = OffsetCommitRequest::default()
        .with_group_id(gid(group))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(s(member))
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(s("gt")))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)
                .with_committed_metadata(Some(s("note")))])]);
    match c
        .call(ApiKey::OffsetCommit, 8, RequestKind::OffsetCommit(req))
        .await
    {
        ResponseKind::OffsetCommit(r) => r.topics[0].partitions[0].error_code,
        other => panic!("{other:?}"),
    }
}

async fn fetch_committed(c: &mut RawClient, group: &str) -> (i64, Option<String>) {
    let req = OffsetFetchRequest::default()
        .with_group_id(gid(group))
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(TopicName(s("gt")))
            .with_partition_indexes(vec![0])]));
    match c
        .call(ApiKey::OffsetFetch, 7, RequestKind::OffsetFetch(req))
        .await
    {
        ResponseKind::OffsetFetch(r) => {
            let p = &r.topics[0].partitions[0];
            (
                p.committed_offset,
                p.metadata.as_ref().map(|m| m.to_string()),
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn member_lifecycle_commits_and_restart() {
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), |c| {
        c.group_initial_rebalance_delay_ms = 0
    })
    .await;
    let mut c = b.client().await;
    let create = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(TopicName(s("gt")))
        .with_num_partitions(1)
        .with_replication_factor(1)]);
    c.call(ApiKey::CreateTopics, 7, RequestKind::CreateTopics(create))
        .await;

    // KIP-394: the first join gets MEMBER_ID_REQUIRED and an id to use.
    let first = join(&mut c, "g", "").await;
    assert_eq!(first.error_code, 79);
    let member = first.member_id.to_string();
    let joined = join(&mut c, "g", &member).await;
    assert_eq!(joined.error_code, 0);
    assert_eq!(joined.leader.as_str(), member);
    assert_eq!(joined.members.len(), 1);
    let generation = joined.generation_id;

    let sync = SyncGroupRequest::default()
        .with_group_id(gid("g"))
        .with_generation_id(generation)
        .with_member_id(s(&member))
        .with_protocol_type(Some(s("consumer")))
        .with_protocol_name(Some(s("range")))
        .with_assignments(vec![SyncGroupRequestAssignment::default()
            .with_member_id(s(&member))
            .with_assignment(bytes::Bytes::from_static(b"all"))]);
    let ResponseKind::SyncGroup(sr) = c
        .call(ApiKey::SyncGroup, 5, RequestKind::SyncGroup(sync))
        .await
    else {
        panic!()
    };
    assert_eq!((sr.error_code, &sr.assignment[..]), (0, &b"all"[..]));

    let hb = HeartbeatRequest::default()
        .with_group_id(gid("g"))
        .with_generation_id(generation)
        .with_member_id(s(&member));
    let ResponseKind::Heartbeat(h) = c
        .call(ApiKey::Heartbeat, 4, RequestKind::Heartbeat(hb.clone()))
        .await
    else {
        panic!()
    };
    assert_eq!(h.error_code, 0);
    let stale = hb.clone().with_generation_id(generation + 5);
    let ResponseKind::Heartbeat(h) = c
        .call(ApiKey::Heartbeat, 4, RequestKind::Heartbeat(stale))
        .await
    else {
        panic!()
    };
    assert_eq!(h.error_code, 22, "ILLEGAL_GENERATION");

    assert_eq!(commit(&mut c, "g", &member, generation, 42).await, 0);
    assert_eq!(commit(&mut c, "g", &member, generation + 1, 43).await, 22);
    assert_eq!(commit(&mut c, "g", "stranger", generation, 44).await, 25);
    assert_eq!(
        fetch_committed(&mut c, "g").await,
        (42, Some("note".into()))
    );

    let ResponseKind::DescribeGroups(d) = c
        .call(
            ApiKey::DescribeGroups,
            5,
            RequestKind::DescribeGroups(
                DescribeGroupsRequest::default().with_groups(vec![gid("g")]),
            ),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(d.groups[0].group_state.as_str(), "Stable");
    assert_eq!(d.groups[0].members[0].client_id.as_str(), "test");

    // A non-empty group cannot be deleted.
    let del = DeleteGroupsRequest::default().with_groups_names(vec![gid("g")]);
    let ResponseKind::DeleteGroups(r) = c
        .call(
            ApiKey::DeleteGroups,
            2,
            RequestKind::DeleteGroups(del.clone()),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(r.results[0].error_code, 68, "NON_EMPTY_GROUP");

    let leave = LeaveGroupRequest::default()
        .with_group_id(gid("g"))
        .with_members(vec![
            leave_group_request::MemberIdentity::default().with_member_id(s(&member))
        ]);
    let ResponseKind::LeaveGroup(l) = c
        .call(ApiKey::LeaveGroup, 5, RequestKind::LeaveGroup(leave))
        .await
    else {
        panic!()
    };
    assert_eq!(l.members[0].error_code, 0);

    // Committed offsets and the group survive a restart.
    drop(c);
    let dir = b.stop().await;
    let b = TestBroker::start_in(dir, |c| c.group_initial_rebalance_delay_ms = 0).await;
    let mut c = b.client().await;
    assert_eq!(
        fetch_committed(&mut c, "g").await,
        (42, Some("note".into()))
    );
    let ResponseKind::ListGroups(lg) = c
        .call(
            ApiKey::ListGroups,
            4,
            RequestKind::ListGroups(ListGroupsRequest::default()),
        )
        .await
    else {
        panic!()
    };
    assert_eq!(lg.groups.len(), 1);
    assert_eq!(lg.groups[0].group_state.as_str(), "Empty");

    // Now empty: deletion removes the group and its offsets, also after a restart.
    let ResponseKind::DeleteGroups(r) = c
        .call(ApiKey::DeleteGroups, 2, RequestKind::DeleteGroups(del))
        .await
    else {
        panic!()
    };
    assert_eq!(r.results[0].error_code, 0);
    assert_eq!(fetch_committed(&mut c, "g").await.0, -1);
    drop(c);
    let dir = b.stop().await;
    let b = TestBroker::start_in(dir, |_| {}).await;
    let mut c = b.client().await;
    assert_eq!(fetch_committed(&mut c, "g").await.0, -1);
    b.stop().await;
}

async fn simple_commit(c: &mut RawClient, group: &str, offset: i64) -> i16 {
    commit(c, group, "", -1, offset).await
}

#[tokio::test]
async fn offset_delete_and_retention_of_empty_groups() {
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), |c| {
        c.group_initial_rebalance_delay_ms = 0;
        c.offsets_retention = std::time::Duration::from_millis(1500);
    })
    .await;
    let mut c = b.client().await;
    let create = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(TopicName(s("gt")))
        .with_num_partitions(1)
        .with_replication_factor(1)]);
    c.call(ApiKey::CreateTopics, 7, RequestKind::CreateTopics(create))
        .await;

    // OffsetDelete removes a committed offset of a group without members.
    assert_eq!(simple_commit(&mut c, "od", 5).await, 0);
    assert_eq!(fetch_committed(&mut c, "od").await.0, 5);
    let del = OffsetDeleteRequest::default()
        .with_group_id(gid("od"))
        .with_topics(vec![
            offset_delete_request::OffsetDeleteRequestTopic::default()
                .with_name(TopicName(s("gt")))
                .with_partitions(vec![
                    offset_delete_request::OffsetDeleteRequestPartition::default(),
                ]),
        ]);
    let ResponseKind::OffsetDelete(r) = c
        .call(ApiKey::OffsetDelete, 0, RequestKind::OffsetDelete(del))
        .await
    else {
        panic!()
    };
    assert_eq!((r.error_code, r.topics[0].partitions[0].error_code), (0, 0));
    assert_eq!(fetch_committed(&mut c, "od").await.0, -1);

    // offsets.retention: offsets of a group without members expire, durably.
    assert_eq!(simple_commit(&mut c, "old", 9).await, 0);
    assert_eq!(fetch_committed(&mut c, "old").await.0, 9);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while fetch_committed(&mut c, "old").await.0 != -1 {
        assert!(
            std::time::Instant::now() < deadline,
            "offsets did not expire"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    drop(c);
    let dir = b.stop().await;
    let b = TestBroker::start_in(dir, |_| {}).await;
    let mut c = b.client().await;
    assert_eq!(
        fetch_committed(&mut c, "old").await.0,
        -1,
        "expiry survives restart"
    );
    b.stop().await;
}

/// The group timers sleep to the earliest deadline: a silent member is removed when its
/// session times out, a deadline that appears while the loop sleeps (a second group's
/// shorter session) wakes it, and a member that keeps heartbeating stays.
#[tokio::test]
async fn a_silent_member_expires_at_its_session_timeout() {
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), |c| {
        c.group_initial_rebalance_delay_ms = 0;
        c.group_min_session_timeout_ms = 100;
    })
    .await;
    let mut c = b.client().await;
    async fn members(c: &mut RawClient, group: &str) -> (String, usize) {
        let req = DescribeGroupsRequest::default().with_groups(vec![gid(group)]);
        match c
            .call(ApiKey::DescribeGroups, 5, RequestKind::DescribeGroups(req))
            .await
        {
            ResponseKind::DescribeGroups(r) => (
                r.groups[0].group_state.to_string(),
                r.groups[0].members.len(),
            ),
            other => panic!("{other:?}"),
        }
    }
    async fn heartbeat(c: &mut RawClient, group: &str, member: &str, generation: i32) -> i16 {
        let hb = HeartbeatRequest::default()
            .with_group_id(gid(group))
            .with_generation_id(generation)
            .with_member_id(s(member));
        match c
            .call(ApiKey::Heartbeat, 4, RequestKind::Heartbeat(hb))
            .await
        {
            ResponseKind::Heartbeat(h) => h.error_code,
            other => panic!("{other:?}"),
        }
    }
    async fn sync(c: &mut RawClient, group: &str, member: &str, generation: i32) {
        let req = SyncGroupRequest::default()
            .with_group_id(gid(group))
            .with_generation_id(generation)
            .with_member_id(s(member))
            .with_protocol_type(Some(s("consumer")))
            .with_protocol_name(Some(s("range")))
            .with_assignments(vec![SyncGroupRequestAssignment::default()
                .with_member_id(s(member))
                .with_assignment(bytes::Bytes::from_static(b"all"))]);
        let ResponseKind::SyncGroup(r) = c
            .call(ApiKey::SyncGroup, 5, RequestKind::SyncGroup(req))
            .await
        else {
            panic!()
        };
        assert_eq!(r.error_code, 0);
    }

    // A member with a long session keeps the loop asleep for long.
    let long = join_with(&mut c, "long", "", 60_000).await;
    let long = join_with(&mut c, "long", long.member_id.as_str(), 60_000).await;
    assert_eq!(long.error_code, 0);
    sync(&mut c, "long", long.member_id.as_str(), long.generation_id).await;

    // Then a member with a 400 ms session, which heartbeats for a while and then stops.
    let m = join_with(&mut c, "short", "", 400).await;
    let m = join_with(&mut c, "short", m.member_id.as_str(), 400).await;
    assert_eq!(m.error_code, 0);
    let member = m.member_id.to_string();
    sync(&mut c, "short", &member, m.generation_id).await;
    for _ in 0..8 {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        assert_eq!(
            heartbeat(&mut c, "short", &member, m.generation_id).await,
            0
        );
    }
    assert_eq!(members(&mut c, "short").await, ("Stable".to_string(), 1));
    let stopped = std::time::Instant::now();
    loop {
        let (state, n) = members(&mut c, "short").await;
        if n == 0 {
            assert_eq!(state, "Empty");
            break;
        }
        assert!(
            stopped.elapsed() < std::time::Duration::from_secs(5),
            "the silent member was not expired"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Removed at its deadline (400 ms after the last heartbeat), not a minute later.
    assert!(stopped.elapsed() >= std::time::Duration::from_millis(300));
    assert_eq!(members(&mut c, "long").await, ("Stable".to_string(), 1));
}
