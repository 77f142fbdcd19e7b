//! Kafka admin API details over real sockets: per-record produce errors (KIP-467),
//! ListGroups v5 (KIP-848 types), authorized operations (KIP-430), and every Kafka topic
//! config key accepted and kept.

use crate::common::*;
use bytes::Bytes;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// CreateTopics v7 of one single-partition topic with `configs`; (error, message).
async fn create(c: &mut RawClient, topic: &str, configs: &[(&str, &str)]) -> (i16, String) {
    let configs = configs
        .iter()
        .map(|(k, v)| {
            CreatableTopicConfig::default()
                .with_name(s(k))
                .with_value(Some(s(v)))
        })
        .collect();
    let req = CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
        .with_name(name(topic))
        .with_num_partitions(1)
        .with_replication_factor(1)
        .with_configs(configs)]);
    match c
        .call(ApiKey::CreateTopics, 7, RequestKind::CreateTopics(req))
        .await
    {
        ResponseKind::CreateTopics(r) => (
            r.topics[0].error_code,
            r.topics[0]
                .error_message
                .as_ref()
                .map(|m| m.to_string())
                .unwrap_or_default(),
        ),
        other => panic!("{other:?}"),
    }
}

async fn produce_at(c: &mut RawClient, version: i16, records: Bytes) -> PartitionProduceResponse {
    match c
        .call(ApiKey::Produce, version, produce_req("cmp", 0, 1, records))
        .await
    {
        ResponseKind::Produce(mut r) => r.responses.swap_remove(0).partition_responses.remove(0),
        other => panic!("{other:?}"),
    }
}

/// 100 records; those with index 3, 13, ..., 93 have no key.
fn every_tenth_keyless(compression: Compression) -> Bytes {
    batch_of(100, compression, |i| {
        let key = (i % 10 != 3).then(|| Bytes::from(format!("k{i}")));
        (key, Some(Bytes::from(format!("v{i}"))))
    })
}

#[tokio::test]
async fn produce_names_the_keyless_records_of_a_compacted_topic() {
    let b = TestBroker::start().await;
    let mut c = b.client().await;
    assert_eq!(
        create(&mut c, "cmp", &[("cleanup.policy", "compact")])
            .await
            .0,
        0
    );
    let expected: Vec<i32> = (0..10).map(|i| i * 10 + 3).collect();
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let p = produce_at(&mut c, 9, every_tenth_keyless(compression)).await;
        assert_eq!(p.error_code, 87, "INVALID_RECORD ({compression:?})");
        let indexes: Vec<i32> = p.record_errors.iter().map(|e| e.batch_index).collect();
        assert_eq!(indexes, expected, "{compression:?}");
        assert!(p.record_errors.iter().all(|e| e
            .batch_index_error_message
            .as_ref()
            .is_some_and(|m| m.contains("no key"))));
        let message = p.error_message.map(|m| m.to_string()).unwrap_or_default();
        assert!(
            message.contains("10 of 100 records have no key"),
            "{message}"
        );
    }
    // Before v8 the response has no room for them; the refusal stands.
    let p = produce_at(&mut c, 7, every_tenth_keyless(Compression::None)).await;
    assert_eq!((p.error_code, p.record_errors.len()), (87, 0));
    // Other refusals name no records.
    let p = produce_at(&mut c, 9, Bytes::from_static(b"\0\0\0\0\0\0\0\0")).await;
    assert_ne!(p.error_code, 0);
    assert!(p.record_errors.is_empty());
    // Nothing was stored; keyed records go in at offset 0.
    let p = produce_at(&mut c, 9, batch(5, Compression::None)).await;
    assert_eq!((p.error_code, p.base_offset), (0, 0));
    b.stop().await;
}

async fn list_groups(c: &mut RawClient, version: i16, types: &[&str]) -> Vec<(String, String)> {
    let req = ListGroupsRequest::default().with_types_filter(types.iter().map(|t| s(t)).collect());
    match c
        .call(ApiKey::ListGroups, version, RequestKind::ListGroups(req))
        .await
    {
        ResponseKind::ListGroups(r) => {
            assert_eq!(r.error_code, 0);
            r.groups
                .iter()
                .map(|g| (g.group_id.to_string(), g.group_type.to_string()))
                .collect()
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn list_groups_v5_reports_and_filters_the_classic_type() {
    let b = TestBroker::start().await;
    let mut c = b.client().await;
    assert_eq!(create(&mut c, "gt", &[]).await.0, 0);
    let commit = OffsetCommitRequest::default()
        .with_group_id(GroupId(s("g1")))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(name("gt"))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(1)])]);
    match c
        .call(ApiKey::OffsetCommit, 8, RequestKind::OffsetCommit(commit))
        .await
    {
        ResponseKind::OffsetCommit(r) => assert_eq!(r.topics[0].partitions[0].error_code, 0),
        other => panic!("{other:?}"),
    }
    let classic = vec![("g1".to_string(), "classic".to_string())];
    assert_eq!(list_groups(&mut c, 5, &[]).await, classic);
    assert_eq!(list_groups(&mut c, 5, &["Classic"]).await, classic);
    assert_eq!(
        list_groups(&mut c, 5, &["consumer", "classic"]).await,
        classic
    );
    assert!(list_groups(&mut c, 5, &["consumer"]).await.is_empty());
    assert!(list_groups(&mut c, 5, &["share"]).await.is_empty());
    // v4 has neither the filter nor the type.
    assert_eq!(
        list_groups(&mut c, 4, &[]).await,
        vec![("g1".to_string(), String::new())]
    );
    b.stop().await;
}

/// Kafka's bits for every topic operation: READ WRITE CREATE DELETE ALTER DESCRIBE
/// DESCRIBE_CONFIGS ALTER_CONFIGS (ACL codes 3-8, 10, 11).
const ALL_TOPIC_OPS: i32 = 0b1101_1111_1000;
/// ... and for every cluster operation: CREATE ALTER DESCRIBE CLUSTER_ACTION
/// DESCRIBE_CONFIGS ALTER_CONFIGS IDEMPOTENT_WRITE (5, 7-12).
const ALL_CLUSTER_OPS: i32 = 0b1_1111_1010_0000;
const WRITE: i32 = 1 << 4;
const ALTER: i32 = 1 << 7;

/// (cluster ops, ops of each topic asked for) from Metadata at `version`.
async fn metadata_ops(
    c: &mut RawClient,
    version: i16,
    topics: &[&str],
    ask: bool,
) -> (i32, Vec<i32>) {
    let req = MetadataRequest::default()
        .with_topics(Some(
            topics
                .iter()
                .map(|t| MetadataRequestTopic::default().with_name(Some(name(t))))
                .collect(),
        ))
        .with_include_cluster_authorized_operations(ask && version <= 10)
        .with_include_topic_authorized_operations(ask);
    match c
        .call(ApiKey::Metadata, version, RequestKind::Metadata(req))
        .await
    {
        ResponseKind::Metadata(r) => (
            r.cluster_authorized_operations,
            r.topics
                .iter()
                .map(|t| t.topic_authorized_operations)
                .collect(),
        ),
        other => panic!("{other:?}"),
    }
}

async fn cluster_ops(c: &mut RawClient, ask: bool) -> i32 {
    let req = DescribeClusterRequest::default().with_include_cluster_authorized_operations(ask);
    match c
        .call(
            ApiKey::DescribeCluster,
            1,
            RequestKind::DescribeCluster(req),
        )
        .await
    {
        ResponseKind::DescribeCluster(r) => r.cluster_authorized_operations,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn authorized_operations_are_every_operation_without_an_authorizer() {
    let b = TestBroker::start().await;
    let mut c = b.client().await;
    assert_eq!(create(&mut c, "t", &[]).await.0, 0);
    assert_eq!(
        metadata_ops(&mut c, 10, &["t"], true).await,
        (ALL_CLUSTER_OPS, vec![ALL_TOPIC_OPS])
    );
    assert_eq!(
        metadata_ops(&mut c, 12, &["t"], true).await,
        (i32::MIN, vec![ALL_TOPIC_OPS])
    );
    assert_eq!(
        metadata_ops(&mut c, 12, &["t"], false).await,
        (i32::MIN, vec![i32::MIN])
    );
    assert_eq!(cluster_ops(&mut c, true).await, ALL_CLUSTER_OPS);
    assert_eq!(cluster_ops(&mut c, false).await, i32::MIN);
    b.stop().await;
}

/// A DENY (`permission` 2) or ALLOW (3) of `op` for the anonymous principal on
/// (resource type, name).
fn acl(resource_type: i8, resource: &str, op: i8, permission: i8) -> AclCreation {
    AclCreation::default()
        .with_resource_type(resource_type)
        .with_resource_name(s(resource))
        .with_resource_pattern_type(3)
        .with_principal(s("User:ANONYMOUS"))
        .with_host(s("*"))
        .with_operation(op)
        .with_permission_type(permission)
}

#[tokio::test]
async fn authorized_operations_follow_the_acls() {
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), |c| {
        c.security
            .insert("authorizer.class.name".into(), "strata".into());
        c.security
            .insert("allow.everyone.if.no.acl.found".into(), "true".into());
    })
    .await;
    let mut c = b.client().await;
    assert_eq!(create(&mut c, "open", &[]).await.0, 0);
    assert_eq!(create(&mut c, "locked", &[]).await.0, 0);
    // A resource with ACLs needs an ALLOW: ALL, less one DENY on each.
    let acls = CreateAclsRequest::default().with_creations(vec![
        acl(2, "locked", 2, 3),
        acl(2, "locked", 4, 2), // WRITE
        acl(4, "kafka-cluster", 2, 3),
        acl(4, "kafka-cluster", 7, 2), // ALTER
    ]);
    match c
        .call(ApiKey::CreateAcls, 3, RequestKind::CreateAcls(acls))
        .await
    {
        ResponseKind::CreateAcls(r) => assert!(r.results.iter().all(|r| r.error_code == 0)),
        other => panic!("{other:?}"),
    }
    let expected = (
        ALL_CLUSTER_OPS & !ALTER,
        vec![ALL_TOPIC_OPS, ALL_TOPIC_OPS & !WRITE],
    );
    // ACLs reach the image through the metadata log: wait for them to apply.
    let mut ops = (0, Vec::new());
    for _ in 0..100 {
        ops = metadata_ops(&mut c, 10, &["open", "locked"], true).await;
        if ops == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(ops, expected);
    assert_eq!(cluster_ops(&mut c, true).await, ALL_CLUSTER_OPS & !ALTER);
    b.stop().await;
}

async fn alter(c: &mut RawClient, topic: &str, key: &str, op: i8, value: &str) -> i16 {
    let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
        AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s(topic))
            .with_configs(vec![AlterableConfig::default()
                .with_name(s(key))
                .with_config_operation(op)
                .with_value(Some(s(value)))]),
    ]);
    match c
        .call(
            ApiKey::IncrementalAlterConfigs,
            1,
            RequestKind::IncrementalAlterConfigs(req),
        )
        .await
    {
        ResponseKind::IncrementalAlterConfigs(r) => r.responses[0].error_code,
        other => panic!("{other:?}"),
    }
}

/// (value, source, default-level synonym value) of one topic config.
async fn describe(c: &mut RawClient, topic: &str, key: &str) -> (String, i8, String) {
    let req = DescribeConfigsRequest::default()
        .with_include_synonyms(true)
        .with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s(topic))
            .with_configuration_keys(Some(vec![s(key)]))]);
    match c
        .call(
            ApiKey::DescribeConfigs,
            4,
            RequestKind::DescribeConfigs(req),
        )
        .await
    {
        ResponseKind::DescribeConfigs(r) => {
            let e = r.results[0]
                .configs
                .first()
                .unwrap_or_else(|| panic!("{key}"));
            let default = e.synonyms.last().and_then(|s| s.value.clone());
            (
                e.value.as_ref().map(|v| v.to_string()).unwrap_or_default(),
                e.config_source,
                default.map(|v| v.to_string()).unwrap_or_default(),
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn every_kafka_topic_config_is_accepted_and_kept() {
    let b = TestBroker::start().await;
    let mut c = b.client().await;
    let kept = [
        ("file.delete.delay.ms", "1000"),
        ("index.interval.bytes", "8192"),
        ("message.downconversion.enable", "false"),
        ("local.retention.ms", "-2"),
        ("remote.storage.enable", "false"),
        ("follower.replication.throttled.replicas", "0:1"),
        ("leader.replication.throttled.replicas", "*"),
        ("message.timestamp.before.max.ms", "86400000"),
        ("message.timestamp.after.max.ms", "3600000"),
        ("preallocate", "true"),
        ("unclean.leader.election.enable", "true"),
        ("segment.jitter.ms", "10"),
        ("segment.index.bytes", "4096"),
        ("max.compaction.lag.ms", "100000"),
    ];
    assert_eq!(create(&mut c, "t", &kept).await, (0, String::new()));
    for (k, v) in kept {
        let (value, source, _) = describe(&mut c, "t", k).await;
        assert_eq!((value.as_str(), source), (v, 1), "{k}");
    }
    // Not set: the default, with its source.
    assert_eq!(
        describe(&mut c, "t", "compression.zstd.level").await,
        ("3".into(), 5, "3".into())
    );
    // A truly unknown key is still refused, by every API.
    let (code, message) = create(&mut c, "u", &[("file.delete.delay", "1")]).await;
    assert_eq!(code, 40, "INVALID_CONFIG");
    assert!(message.contains("file.delete.delay"), "{message}");
    assert_eq!(alter(&mut c, "t", "no.such.config", 0, "1").await, 40);
    assert_eq!(alter(&mut c, "t", "preallocate", 0, "maybe").await, 40);
    // IncrementalAlterConfigs: SET, APPEND, and a SUBTRACT that empties the list.
    assert_eq!(alter(&mut c, "t", "file.delete.delay.ms", 0, "5").await, 0);
    assert_eq!(describe(&mut c, "t", "file.delete.delay.ms").await.0, "5");
    let key = "follower.replication.throttled.replicas";
    assert_eq!(alter(&mut c, "t", key, 2, "0:2").await, 0);
    assert_eq!(describe(&mut c, "t", key).await.0, "0:1,0:2");
    assert_eq!(alter(&mut c, "t", key, 3, "0:1,0:2").await, 0);
    assert_eq!(describe(&mut c, "t", key).await.0, "");
    // Legacy AlterConfigs replaces the overrides with a kept key.
    let req = AlterConfigsRequest::default().with_resources(vec![
        alter_configs_request::AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s("t"))
            .with_configs(vec![alter_configs_request::AlterableConfig::default()
                .with_name(s("segment.jitter.ms"))
                .with_value(Some(s("7")))]),
    ]);
    match c
        .call(ApiKey::AlterConfigs, 2, RequestKind::AlterConfigs(req))
        .await
    {
        ResponseKind::AlterConfigs(r) => assert_eq!(r.responses[0].error_code, 0),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        describe(&mut c, "t", "segment.jitter.ms").await,
        ("7".into(), 1, "0".into())
    );
    assert_eq!(describe(&mut c, "t", "preallocate").await.1, 5);
    b.stop().await;
}
