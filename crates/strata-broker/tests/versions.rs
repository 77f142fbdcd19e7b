//! Every API we advertise, at every version we serve, round-trips through a real
//! broker: the request is accepted and the response encodes and decodes at that version.

mod common;

use common::*;
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
    let b = TestBroker::start().await;
    let mut c = b.client().await;
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
                other => panic!("add {other:?} to this test"),
            };
            eprintln!("calling {:?} v{v}", s.key);
            let resp = c.call(s.key, v, req).await;
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
                ResponseKind::DescribeCluster(r) => {
                    assert_eq!(r.brokers.len(), 1);
                    r.error_code
                }
                other => panic!("{other:?}"),
            };
            assert_eq!(error, 0, "{:?} v{v}: {resp:?}", s.key);
            served += 1;
        }
    }
    assert!(served > 50, "{served}");
    b.stop().await;
}
