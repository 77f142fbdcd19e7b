//! Every API we advertise, at every version we serve, round-trips through a real
//! broker: the request is accepted and the response encodes and decodes at that version.

use crate::common::*;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;
use strata_proto::versions::SUPPORTED;

fn name(s: &str) -> TopicName {
    TopicName(StrBytes::from_string(s.to_string()))
}

#[tokio::test]
async fn every_api_at_every_served_version() {
    let b = TestBroker::start_in(tempfile::tempdir().unwrap(), |c| {
        c.group_initial_rebalance_delay_ms = 0
    })
    .await;
    let mut c = b.client().await;
    // The transaction APIs need `__transaction_state` (created on first use).
    let find_txn = FindCoordinatorRequest::default()
        .with_key_type(1)
        .with_key(StrBytes::from_static_str("v-txn"));
    c.call(
        ApiKey::FindCoordinator,
        3,
        RequestKind::FindCoordinator(find_txn),
    )
    .await;
    let mut served = 0;
    for s in SUPPORTED {
        for v in s.decode_min..=s.max {
            let topic = format!("v-{}-{v}", s.key as i16);
            // Most calls need the topic to exist first.
            let create =
                CreateTopicsRequest::default().with_topics(vec![CreatableTopic::default()
                    .with_name(name(&topic))
                    .with_num_partitions(1)
                    .with_replication_factor(1)]);
            let ResponseKind::CreateTopics(cr) = c
                .call(ApiKey::CreateTopics, 7, RequestKind::CreateTopics(create))
                .await
            else {
                panic!()
            };
            let topic_id = cr.topics[0].topic_id;
            let req = match s.key {
                ApiKey::ApiVersions => RequestKind::ApiVersions(if v >= 3 {
                    ApiVersionsRequest::default()
                        .with_client_software_name(StrBytes::from_static_str("t"))
                        .with_client_software_version(StrBytes::from_static_str("1"))
                } else {
                    ApiVersionsRequest::default()
                }),
                ApiKey::Metadata => RequestKind::Metadata(
                    MetadataRequest::default()
                        .with_topics(Some(vec![
                            MetadataRequestTopic::default().with_name(Some(name(&topic)))
                        ]))
                        .with_allow_auto_topic_creation(true),
                ),
                ApiKey::Produce => RequestKind::Produce(
                    ProduceRequest::default()
                        .with_acks(1)
                        .with_timeout_ms(1000)
                        .with_topic_data(vec![TopicProduceData::default()
                            .with_name(name(&topic))
                            .with_partition_data(vec![PartitionProduceData::default()
                                .with_index(0)
                                .with_records(Some(batch(3, Compression::None)))])]),
                ),
                ApiKey::Fetch => {
                    let ft = if v >= 13 {
                        FetchTopic::default().with_topic_id(topic_id)
                    } else {
                        FetchTopic::default().with_topic(name(&topic))
                    };
                    RequestKind::Fetch(
                        FetchRequest::default()
                            .with_replica_id(BrokerId(-1))
                            .with_max_bytes(1 << 20)
                            .with_session_epoch(if v >= 7 { -1 } else { 0 })
                            .with_topics(vec![ft.with_partitions(vec![FetchPartition::default()
                                .with_partition(0)
                                .with_partition_max_bytes(1 << 20)])]),
                    )
                }
                ApiKey::ListOffsets => RequestKind::ListOffsets(
                    ListOffsetsRequest::default()
                        .with_replica_id(BrokerId(-1))
                        .with_topics(vec![ListOffsetsTopic::default()
                            .with_name(name(&topic))
                            .with_partitions(vec![
                                ListOffsetsPartition::default().with_timestamp(-1)
                            ])]),
                ),
                ApiKey::CreateTopics => {
                    RequestKind::CreateTopics(CreateTopicsRequest::default().with_topics(vec![
                    CreatableTopic::default()
                        .with_name(name(&format!("{topic}-new")))
                        .with_num_partitions(2)
                        .with_replication_factor(1),
                ]))
                }
                ApiKey::DeleteTopics => RequestKind::DeleteTopics(if v >= 6 {
                    DeleteTopicsRequest::default().with_topics(vec![
                        DeleteTopicState::default().with_name(Some(name(&topic)))
                    ])
                } else {
                    DeleteTopicsRequest::default().with_topic_names(vec![name(&topic)])
                }),
                ApiKey::CreatePartitions => RequestKind::CreatePartitions(
                    CreatePartitionsRequest::default().with_topics(vec![
                        CreatePartitionsTopic::default()
                            .with_name(name(&topic))
                            .with_count(3),
                    ]),
                ),
                ApiKey::DescribeConfigs => {
                    RequestKind::DescribeConfigs(DescribeConfigsRequest::default().with_resources(
                        vec![DescribeConfigsResource::default()
                        .with_resource_type(2)
                        .with_resource_name(StrBytes::from_string(topic.clone()))],
                    ))
                }
                ApiKey::DescribeCluster => {
                    RequestKind::DescribeCluster(DescribeClusterRequest::default())
                }
                ApiKey::InitProducerId => RequestKind::InitProducerId(
                    InitProducerIdRequest::default()
                        .with_transactional_id(None)
                        .with_transaction_timeout_ms(60_000),
                ),
                ApiKey::FindCoordinator => RequestKind::FindCoordinator(if v >= 4 {
                    FindCoordinatorRequest::default()
                        .with_coordinator_keys(vec![StrBytes::from_string(format!("g-{v}"))])
                } else {
                    FindCoordinatorRequest::default()
                        .with_key(StrBytes::from_string(format!("g-{v}")))
                }),
                ApiKey::IncrementalAlterConfigs => RequestKind::IncrementalAlterConfigs(
                    IncrementalAlterConfigsRequest::default().with_resources(vec![
                        incremental_alter_configs_request::AlterConfigsResource::default()
                            .with_resource_type(2)
                            .with_resource_name(StrBytes::from_string(topic.clone()))
                            .with_configs(vec![
                                incremental_alter_configs_request::AlterableConfig::default()
                                    .with_name(StrBytes::from_static_str("retention.ms"))
                                    .with_value(Some(StrBytes::from_static_str("1000"))),
                            ]),
                    ]),
                ),
                ApiKey::AlterConfigs => {
                    RequestKind::AlterConfigs(AlterConfigsRequest::default().with_resources(vec![
                    alter_configs_request::AlterConfigsResource::default()
                        .with_resource_type(2)
                        .with_resource_name(StrBytes::from_string(topic.clone()))
                        .with_configs(vec![alter_configs_request::AlterableConfig::default()
                            .with_name(StrBytes::from_static_str("retention.ms"))
                            .with_value(Some(StrBytes::from_static_str("1000")))]),
                ]))
                }
                ApiKey::JoinGroup => RequestKind::JoinGroup(
                    JoinGroupRequest::default()
                        .with_group_id(GroupId(StrBytes::from_string(topic.clone())))
                        .with_session_timeout_ms(10_000)
                        .with_rebalance_timeout_ms(if v >= 1 { 10_000 } else { -1 })
                        .with_protocol_type(StrBytes::from_static_str("consumer"))
                        .with_protocols(vec![
                            join_group_request::JoinGroupRequestProtocol::default()
                                .with_name(StrBytes::from_static_str("range")),
                        ]),
                ),
                ApiKey::SyncGroup => RequestKind::SyncGroup(
                    SyncGroupRequest::default()
                        .with_group_id(GroupId(StrBytes::from_string(topic.clone())))
                        .with_member_id(StrBytes::from_static_str("nobody")),
                ),
                ApiKey::Heartbeat => RequestKind::Heartbeat(
                    HeartbeatRequest::default()
                        .with_group_id(GroupId(StrBytes::from_string(topic.clone())))
                        .with_member_id(StrBytes::from_static_str("nobody")),
                ),
                ApiKey::LeaveGroup => RequestKind::LeaveGroup(if v >= 3 {
                    LeaveGroupRequest::default()
                        .with_group_id(GroupId(StrBytes::from_string(topic.clone())))
                        .with_members(vec![leave_group_request::MemberIdentity::default()
                            .with_member_id(StrBytes::from_static_str("nobody"))])
                } else {
                    LeaveGroupRequest::default()
                        .with_group_id(GroupId(StrBytes::from_string(topic.clone())))
                        .with_member_id(StrBytes::from_static_str("nobody"))
                }),
                ApiKey::OffsetCommit => RequestKind::OffsetCommit(
                    OffsetCommitRequest::default()
                        .with_group_id(GroupId(StrBytes::from_string(topic.clone())))
                        .with_generation_id_or_member_epoch(-1)
                        .with_topics(vec![
                            offset_commit_request::OffsetCommitRequestTopic::default()
                                .with_name(name(&topic))
                                .with_partitions(vec![
                                    offset_commit_request::OffsetCommitRequestPartition::default()
                                        .with_committed_offset(1),
                                ]),
                        ]),
                ),
                ApiKey::OffsetFetch => RequestKind::OffsetFetch(if v >= 8 {
                    OffsetFetchRequest::default().with_groups(vec![
                        offset_fetch_request::OffsetFetchRequestGroup::default()
                            .with_group_id(GroupId(StrBytes::from_string(topic.clone()))),
                    ])
                } else {
                    OffsetFetchRequest::default()
                        .with_group_id(GroupId(StrBytes::from_string(topic.clone())))
                        .with_topics(Some(vec![
                            offset_fetch_request::OffsetFetchRequestTopic::default()
                                .with_name(name(&topic))
                                .with_partition_indexes(vec![0]),
                        ]))
                }),
                ApiKey::TxnOffsetCommit => RequestKind::TxnOffsetCommit(
                    TxnOffsetCommitRequest::default()
                        .with_transactional_id(TransactionalId(StrBytes::from_static_str("tx")))
                        .with_group_id(GroupId(StrBytes::from_string(topic.clone())))
                        .with_producer_id(ProducerId(1000 + i64::from(v)))
                        .with_producer_epoch(0)
                        .with_generation_id(-1)
                        .with_topics(vec![
                            txn_offset_commit_request::TxnOffsetCommitRequestTopic::default()
                                .with_name(name(&topic))
                                .with_partitions(vec![
                                    txn_offset_commit_request::TxnOffsetCommitRequestPartition::default()
                                        .with_committed_offset(1),
                                ]),
                        ]),
                ),
                ApiKey::OffsetDelete => RequestKind::OffsetDelete(
                    OffsetDeleteRequest::default()
                        .with_group_id(GroupId(StrBytes::from_string(topic.clone()))),
                ),
                ApiKey::ListGroups => RequestKind::ListGroups(ListGroupsRequest::default()),
                ApiKey::DescribeGroups => RequestKind::DescribeGroups(
                    DescribeGroupsRequest::default()
                        .with_groups(vec![GroupId(StrBytes::from_string(topic.clone()))]),
                ),
                ApiKey::DeleteGroups => RequestKind::DeleteGroups(
                    DeleteGroupsRequest::default()
                        .with_groups_names(vec![GroupId(StrBytes::from_string(topic.clone()))]),
                ),
                ApiKey::DeleteRecords => {
                    RequestKind::DeleteRecords(DeleteRecordsRequest::default().with_topics(vec![
                        delete_records_request::DeleteRecordsTopic::default()
                            .with_name(name(&topic))
                            .with_partitions(vec![
                                delete_records_request::DeleteRecordsPartition::default()
                                    .with_offset(-1),
                            ]),
                    ]))
                }
                ApiKey::OffsetForLeaderEpoch => RequestKind::OffsetForLeaderEpoch(
                    OffsetForLeaderEpochRequest::default()
                        .with_replica_id(BrokerId(if v >= 3 { -1 } else { -2 }))
                        .with_topics(vec![
                            offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
                                .with_topic(name(&topic))
                                .with_partitions(vec![
                                    offset_for_leader_epoch_request::OffsetForLeaderPartition::default()
                                        .with_partition(0)
                                        .with_current_leader_epoch(-1)
                                        .with_leader_epoch(0),
                                ]),
                        ]),
                ),
                ApiKey::SaslHandshake => RequestKind::SaslHandshake(
                    SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str("PLAIN")),
                ),
                ApiKey::SaslAuthenticate => {
                    RequestKind::SaslAuthenticate(SaslAuthenticateRequest::default())
                }
                ApiKey::DescribeUserScramCredentials => RequestKind::DescribeUserScramCredentials(
                    DescribeUserScramCredentialsRequest::default(),
                ),
                ApiKey::AlterUserScramCredentials => RequestKind::AlterUserScramCredentials(
                    AlterUserScramCredentialsRequest::default().with_deletions(vec![
                        alter_user_scram_credentials_request::ScramCredentialDeletion::default()
                            .with_name(StrBytes::from_static_str("nobody"))
                            .with_mechanism(1),
                    ]),
                ),
                ApiKey::CreateAcls => RequestKind::CreateAcls(CreateAclsRequest::default()),
                ApiKey::DescribeAcls => RequestKind::DescribeAcls(
                    DescribeAclsRequest::default()
                        .with_resource_type_filter(1)
                        .with_pattern_type_filter(1)
                        .with_operation(1)
                        .with_permission_type(1),
                ),
                ApiKey::DeleteAcls => RequestKind::DeleteAcls(DeleteAclsRequest::default()),
                ApiKey::DescribeClientQuotas => RequestKind::DescribeClientQuotas(
                    DescribeClientQuotasRequest::default(),
                ),
                ApiKey::AlterClientQuotas => RequestKind::AlterClientQuotas(
                    AlterClientQuotasRequest::default()
                        .with_validate_only(true)
                        .with_entries(vec![alter_client_quotas_request::EntryData::default()
                            .with_entity(vec![alter_client_quotas_request::EntityData::default()
                                .with_entity_type(StrBytes::from_static_str("user"))
                                .with_entity_name(Some(StrBytes::from_static_str("alice")))])
                            .with_ops(vec![alter_client_quotas_request::OpData::default()
                                .with_key(StrBytes::from_static_str("producer_byte_rate"))
                                .with_value(1024.0)])]),
                ),
                // A marker for a producer with no open transaction is written.
                ApiKey::WriteTxnMarkers => RequestKind::WriteTxnMarkers(
                    WriteTxnMarkersRequest::default().with_markers(vec![
                        write_txn_markers_request::WritableTxnMarker::default()
                            .with_producer_id(ProducerId(4242))
                            .with_topics(vec![
                                write_txn_markers_request::WritableTxnMarkerTopic::default()
                                    .with_name(name(&topic))
                                    .with_partition_indexes(vec![0]),
                            ]),
                    ]),
                ),
                ApiKey::AddPartitionsToTxn => {
                    let topics = vec![add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                        .with_name(name(&topic))
                        .with_partitions(vec![0])];
                    let id = TransactionalId(StrBytes::from_string(topic.clone()));
                    RequestKind::AddPartitionsToTxn(if v >= 4 {
                        AddPartitionsToTxnRequest::default().with_transactions(vec![
                            add_partitions_to_txn_request::AddPartitionsToTxnTransaction::default()
                                .with_transactional_id(id)
                                .with_topics(topics),
                        ])
                    } else {
                        AddPartitionsToTxnRequest::default()
                            .with_v3_and_below_transactional_id(id)
                            .with_v3_and_below_topics(topics)
                    })
                }
                ApiKey::AddOffsetsToTxn => RequestKind::AddOffsetsToTxn(
                    AddOffsetsToTxnRequest::default()
                        .with_transactional_id(TransactionalId(StrBytes::from_string(topic.clone())))
                        .with_group_id(GroupId(StrBytes::from_string(topic.clone()))),
                ),
                ApiKey::EndTxn => RequestKind::EndTxn(
                    EndTxnRequest::default()
                        .with_transactional_id(TransactionalId(StrBytes::from_string(topic.clone()))),
                ),
                ApiKey::DescribeTransactions => RequestKind::DescribeTransactions(
                    DescribeTransactionsRequest::default().with_transactional_ids(vec![
                        TransactionalId(StrBytes::from_string(topic.clone())),
                    ]),
                ),
                ApiKey::ListTransactions => {
                    RequestKind::ListTransactions(ListTransactionsRequest::default())
                }
                ApiKey::DescribeProducers => RequestKind::DescribeProducers(
                    DescribeProducersRequest::default().with_topics(vec![
                        describe_producers_request::TopicRequest::default()
                            .with_name(name(&topic))
                            .with_partition_indexes(vec![0]),
                    ]),
                ),
                ApiKey::ElectLeaders => RequestKind::ElectLeaders(
                    ElectLeadersRequest::default().with_topic_partitions(Some(vec![
                        elect_leaders_request::TopicPartitions::default()
                            .with_topic(name(&topic))
                            .with_partitions(vec![0]),
                    ])),
                ),
                ApiKey::DescribeTopicPartitions => RequestKind::DescribeTopicPartitions(
                    DescribeTopicPartitionsRequest::default()
                        .with_topics(vec![
                            describe_topic_partitions_request::TopicRequest::default()
                                .with_name(name(&topic)),
                        ])
                        .with_response_partition_limit(10),
                ),
                ApiKey::DescribeQuorum => RequestKind::DescribeQuorum(
                    DescribeQuorumRequest::default().with_topics(vec![
                        describe_quorum_request::TopicData::default()
                            .with_topic_name(name("__cluster_metadata"))
                            .with_partitions(vec![
                                describe_quorum_request::PartitionData::default(),
                            ]),
                    ]),
                ),
                // Cancelling a move that is not there.
                ApiKey::AlterPartitionReassignments => RequestKind::AlterPartitionReassignments(
                    AlterPartitionReassignmentsRequest::default().with_topics(vec![
                        alter_partition_reassignments_request::ReassignableTopic::default()
                            .with_name(name(&topic))
                            .with_partitions(vec![
                                alter_partition_reassignments_request::ReassignablePartition::default()
                                    .with_partition_index(0)
                                    .with_replicas(None),
                            ]),
                    ]),
                ),
                ApiKey::ListPartitionReassignments => RequestKind::ListPartitionReassignments(
                    ListPartitionReassignmentsRequest::default().with_topics(None),
                ),
                ApiKey::DescribeLogDirs => RequestKind::DescribeLogDirs(
                    DescribeLogDirsRequest::default().with_topics(Some(vec![
                        describe_log_dirs_request::DescribableLogDirTopic::default()
                            .with_topic(name(&topic))
                            .with_partitions(vec![0]),
                    ])),
                ),
                // A path that is not one of the broker's log dirs: LOG_DIR_NOT_FOUND.
                ApiKey::AlterReplicaLogDirs => RequestKind::AlterReplicaLogDirs(
                    AlterReplicaLogDirsRequest::default().with_dirs(vec![
                        alter_replica_log_dirs_request::AlterReplicaLogDir::default()
                            .with_path(StrBytes::from_static_str("/no/such/dir"))
                            .with_topics(vec![
                                alter_replica_log_dirs_request::AlterReplicaLogDirTopic::default()
                                    .with_name(name(&topic))
                                    .with_partitions(vec![0]),
                            ]),
                    ]),
                ),
                other => panic!("add {other:?} to this test"),
            };
            eprintln!("calling {:?} v{v}", s.key);
            let resp = c.call(s.key, v, req).await;
            // Requests from a non-member get the errors Kafka gives them.
            let expected: i16 = match s.key {
                ApiKey::JoinGroup if v >= 4 => 79,
                ApiKey::SyncGroup | ApiKey::Heartbeat | ApiKey::LeaveGroup => 25,
                ApiKey::OffsetDelete | ApiKey::DeleteGroups => 69,
                // KIP-1043: from v6 an unknown group is GROUP_ID_NOT_FOUND, not Dead.
                ApiKey::DescribeGroups if v >= 6 => 69,
                // A plaintext listener has no SASL: ILLEGAL_SASL_STATE, and the
                // connection stays open, as in Kafka.
                ApiKey::SaslHandshake | ApiKey::SaslAuthenticate => 34,
                // Deleting a credential nobody has: RESOURCE_NOT_FOUND.
                ApiKey::AlterUserScramCredentials => 91,
                // No authorizer configured: SECURITY_DISABLED, as in Kafka.
                ApiKey::DescribeAcls => 54,
                // Transactional ids nobody initialized: INVALID_PRODUCER_ID_MAPPING,
                // TRANSACTIONAL_ID_NOT_FOUND.
                ApiKey::AddPartitionsToTxn | ApiKey::AddOffsetsToTxn | ApiKey::EndTxn => 49,
                // TxnOffsetCommit v5 (transactions v2) adds the offsets partition to the
                // transaction first: that id's coordinator answers the same.
                ApiKey::TxnOffsetCommit if v >= 5 => 49,
                ApiKey::DescribeTransactions => 105,
                // The only replica leads already: ELECTION_NOT_NEEDED.
                ApiKey::ElectLeaders => 84,
                // NO_REASSIGNMENT_IN_PROGRESS.
                ApiKey::AlterPartitionReassignments => 85,
                ApiKey::AlterReplicaLogDirs => 57,
                _ => 0,
            };
            let error = match &resp {
                ResponseKind::ApiVersions(r) => r.error_code,
                ResponseKind::Metadata(r) => r.topics[0].error_code,
                ResponseKind::Produce(r) => r.responses[0].partition_responses[0].error_code,
                ResponseKind::Fetch(r) => r.responses[0].partitions[0].error_code,
                ResponseKind::ListOffsets(r) => r.topics[0].partitions[0].error_code,
                ResponseKind::CreateTopics(r) => r.topics[0].error_code,
                ResponseKind::DeleteTopics(r) => r.responses[0].error_code,
                ResponseKind::CreatePartitions(r) => r.results[0].error_code,
                ResponseKind::DescribeConfigs(r) => {
                    assert!(!r.results[0].configs.is_empty());
                    r.results[0].error_code
                }
                ResponseKind::InitProducerId(r) => {
                    assert!(r.producer_id.0 >= 0, "{r:?}");
                    r.error_code
                }
                ResponseKind::FindCoordinator(r) if v >= 4 => {
                    assert_eq!(r.coordinators[0].node_id.0, 1);
                    r.coordinators[0].error_code
                }
                ResponseKind::FindCoordinator(r) => {
                    assert_eq!(r.node_id.0, 1);
                    r.error_code
                }
                ResponseKind::IncrementalAlterConfigs(r) => r.responses[0].error_code,
                ResponseKind::AlterConfigs(r) => r.responses[0].error_code,
                ResponseKind::JoinGroup(r) => r.error_code,
                ResponseKind::SyncGroup(r) => r.error_code,
                ResponseKind::Heartbeat(r) => r.error_code,
                ResponseKind::LeaveGroup(r) if v >= 3 => r.members[0].error_code,
                ResponseKind::LeaveGroup(r) => r.error_code,
                ResponseKind::OffsetCommit(r) => r.topics[0].partitions[0].error_code,
                ResponseKind::OffsetFetch(r) if v >= 8 => r.groups[0].error_code,
                ResponseKind::OffsetFetch(r) => r.topics[0].partitions[0].error_code,
                ResponseKind::OffsetDelete(r) => r.error_code,
                ResponseKind::TxnOffsetCommit(r) => r.topics[0].partitions[0].error_code,
                ResponseKind::ListGroups(r) => r.error_code,
                ResponseKind::DescribeGroups(r) => r.groups[0].error_code,
                ResponseKind::DeleteGroups(r) => r.results[0].error_code,
                ResponseKind::DeleteRecords(r) => r.topics[0].partitions[0].error_code,
                ResponseKind::OffsetForLeaderEpoch(r) => {
                    let p = &r.topics[0].partitions[0];
                    // The topic's log holds leader epoch 0 from its first append on.
                    assert!(p.end_offset >= 0, "{p:?}");
                    p.error_code
                }
                ResponseKind::DescribeCluster(r) => {
                    assert_eq!(r.brokers.len(), 1);
                    r.error_code
                }
                ResponseKind::SaslHandshake(r) => r.error_code,
                ResponseKind::WriteTxnMarkers(r) => r.markers[0].topics[0].partitions[0].error_code,
                ResponseKind::CreateAcls(r) => {
                    assert!(r.results.is_empty());
                    0
                }
                ResponseKind::DescribeAcls(r) => r.error_code,
                ResponseKind::AddPartitionsToTxn(r) if v >= 4 => {
                    assert_eq!(r.error_code, 0);
                    r.results_by_transaction[0].topic_results[0].results_by_partition[0]
                        .partition_error_code
                }
                ResponseKind::AddPartitionsToTxn(r) => {
                    r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code
                }
                ResponseKind::AddOffsetsToTxn(r) => r.error_code,
                ResponseKind::EndTxn(r) => r.error_code,
                ResponseKind::DescribeTransactions(r) => r.transaction_states[0].error_code,
                ResponseKind::ListTransactions(r) => r.error_code,
                ResponseKind::DescribeProducers(r) => r.topics[0].partitions[0].error_code,
                ResponseKind::ElectLeaders(r) => {
                    assert_eq!(r.error_code, 0);
                    r.replica_election_results[0].partition_result[0].error_code
                }
                ResponseKind::AlterPartitionReassignments(r) => {
                    assert_eq!(r.error_code, 0);
                    r.responses[0].partitions[0].error_code
                }
                ResponseKind::ListPartitionReassignments(r) => {
                    assert!(r.topics.is_empty(), "{r:?}");
                    r.error_code
                }
                ResponseKind::DescribeTopicPartitions(r) => {
                    assert_eq!(r.topics[0].partitions.len(), 1);
                    r.topics[0].error_code
                }
                ResponseKind::DescribeLogDirs(r) => {
                    // One dir, holding the asked partition, with its space.
                    assert_eq!(r.results.len(), 1, "{r:?}");
                    let d = &r.results[0];
                    assert_eq!(d.topics.len(), 1, "{r:?}");
                    assert_eq!(d.topics[0].partitions[0].partition_index, 0);
                    if v >= 4 {
                        assert!(d.total_bytes > 0 && d.usable_bytes > 0, "{d:?}");
                    }
                    d.error_code
                }
                ResponseKind::AlterReplicaLogDirs(r) => r.results[0].partitions[0].error_code,
                ResponseKind::DescribeQuorum(r) => {
                    assert_eq!(r.error_code, 0);
                    let p = &r.topics[0].partitions[0];
                    assert_eq!((p.leader_id.0, p.current_voters.len()), (1, 1), "{p:?}");
                    p.error_code
                }
                ResponseKind::DeleteAcls(r) => {
                    assert!(r.filter_results.is_empty());
                    0
                }
                ResponseKind::SaslAuthenticate(r) => r.error_code,
                ResponseKind::DescribeUserScramCredentials(r) => r.error_code,
                ResponseKind::AlterUserScramCredentials(r) => r.results[0].error_code,
                ResponseKind::DescribeClientQuotas(r) => {
                    assert!(r.entries.is_some());
                    r.error_code
                }
                ResponseKind::AlterClientQuotas(r) => r.entries[0].error_code,
                other => panic!("{other:?}"),
            };
            assert_eq!(error, expected, "{:?} v{v}: {resp:?}", s.key);
            served += 1;
        }
    }
    assert!(served > 50, "{served}");
    b.stop().await;
}
