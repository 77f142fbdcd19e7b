//! Rebuilding an image from records: the content of a metadata snapshot.
//!
//! A replicated metadata log cannot grow forever, so its state machine is snapshotted
//! from time to time and the log behind the snapshot is dropped. The snapshot is not a
//! separate serialization of [`MetadataImage`]'s internals: it is the shortest list of
//! ordinary [`MetadataRecord`]s that rebuilds the image when applied to an empty one.
//! That keeps one format (the records) and one code path (`apply`) for both the log and
//! its snapshots.
//!
//! When a new kind of state is added to the image, it must be added here too; the
//! round-trip property test below catches an image whose content is not reproduced.

use crate::image::MetadataImage;
use crate::records::MetadataRecord;

impl MetadataImage {
    /// Records that rebuild this image: `MetadataImage::new().applied(&records)` equals
    /// `self`. Brokers first, then each topic (by name) followed by its partitions in
    /// order, then the brokers' offline replicas, then dynamic broker configs, SCRAM credentials, ACLs and client quotas,
    /// then the producer-id high mark.
    pub fn snapshot_records(&self) -> Vec<MetadataRecord> {
        let mut records = Vec::new();
        for broker in self.brokers() {
            records.push(MetadataRecord::RegisterBroker {
                node_id: broker.node_id,
                host: broker.host.clone(),
                port: broker.port,
                rack: broker.rack.clone(),
                incarnation: broker.incarnation,
                endpoints: broker.endpoints.clone(),
            });
            if broker.fenced {
                records.push(MetadataRecord::FenceBroker {
                    node_id: broker.node_id,
                });
            }
        }
        for topic in self.topics() {
            records.push(MetadataRecord::CreateTopic {
                name: topic.name.clone(),
                topic_id: topic.topic_id,
                configs: topic.configs.clone(),
            });
            for p in &topic.partitions {
                records.push(MetadataRecord::CreatePartition {
                    topic_id: topic.topic_id,
                    partition: p.partition,
                    replicas: p.replicas.clone(),
                    isr: p.isr.clone(),
                    leader: p.leader,
                    leader_epoch: p.leader_epoch,
                });
                // A pending reassignment (which bumped the partition epoch) carries the
                // epochs itself.
                if let Some(r) = topic.reassignments.get(&p.partition) {
                    records.push(MetadataRecord::ReassignPartition {
                        topic_id: topic.topic_id,
                        partition: p.partition,
                        replicas: p.replicas.clone(),
                        isr: p.isr.clone(),
                        leader: p.leader,
                        leader_epoch: p.leader_epoch,
                        partition_epoch: p.partition_epoch,
                        adding_replicas: r.adding.clone(),
                        removing_replicas: r.removing.clone(),
                    });
                } else if p.partition_epoch > 0 {
                    // A created partition starts at partition epoch 0.
                    records.push(MetadataRecord::ChangePartition {
                        topic_id: topic.topic_id,
                        partition: p.partition,
                        leader: p.leader,
                        leader_epoch: p.leader_epoch,
                        isr: p.isr.clone(),
                        partition_epoch: p.partition_epoch,
                    });
                }
            }
        }
        // After the topics: an offline replica is one of an existing partition.
        for broker in self.brokers() {
            if !broker.offline_replicas.is_empty() {
                records.push(MetadataRecord::ReplicasOffline {
                    node_id: broker.node_id,
                    incarnation: broker.incarnation,
                    partitions: broker.offline_replicas.iter().copied().collect(),
                });
            }
        }
        for (scope, configs) in self.all_broker_configs() {
            for (key, value) in configs {
                records.push(MetadataRecord::SetBrokerConfig {
                    node_id: scope,
                    key: key.clone(),
                    value: Some(value.clone()),
                });
            }
        }
        for ((user, mechanism), credential) in self.scram_credentials() {
            records.push(MetadataRecord::SetScramCredential {
                user: user.clone(),
                mechanism: *mechanism,
                credential: Some(credential.clone()),
            });
        }
        for acl in self.acls() {
            records.push(MetadataRecord::CreateAcl { acl: acl.clone() });
        }
        for (entity, values) in self.client_quotas() {
            for (key, value) in values {
                records.push(MetadataRecord::SetClientQuota {
                    entity: entity.to_vec(),
                    key: key.clone(),
                    value: Some(*value),
                });
            }
        }
        // The empty image starts at 0, and the id never goes below it.
        if self.next_producer_id() != 0 {
            records.push(MetadataRecord::ProducerIdsAllocated {
                next_producer_id: self.next_producer_id(),
            });
        }
        records
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use uuid::Uuid;

    use super::*;

    /// One random operation; many will not apply (unknown ids, out-of-order
    /// partitions), which is fine: those are skipped, like a controller's rejected
    /// decision, and the rest still build a varied image.
    fn record() -> impl Strategy<Value = MetadataRecord> {
        let topic_id = (1u128..6).prop_map(Uuid::from_u128);
        let name = prop::sample::select(vec!["a", "b", "c", "orders", "__consumer_offsets"]);
        let broker = 0i32..5;
        let key = prop::sample::select(vec!["retention.ms", "segment.bytes", "cleanup.policy"]);
        let value = prop::option::of("[a-z0-9]{1,6}");
        prop_oneof![
            (
                broker.clone(),
                "[a-z]{1,8}",
                1i32..65535,
                prop::option::of("r[0-9]"),
                // Few incarnations, so that offline reports often match one.
                0u128..3
            )
                .prop_map(|(node_id, host, port, rack, inc)| {
                    MetadataRecord::RegisterBroker {
                        node_id,
                        host,
                        port,
                        rack,
                        incarnation: Uuid::from_u128(inc),
                        endpoints: if port % 2 == 0 {
                            vec![crate::records::BrokerEndpoint {
                                listener: "SECURE".into(),
                                host: "h".into(),
                                port: port + 1,
                                security_protocol: 1,
                            }]
                        } else {
                            Vec::new()
                        },
                    }
                }),
            broker
                .clone()
                .prop_map(|node_id| MetadataRecord::UnregisterBroker { node_id }),
            broker
                .clone()
                .prop_map(|node_id| MetadataRecord::FenceBroker { node_id }),
            (
                topic_id.clone(),
                0i32..4,
                prop::sample::subsequence(vec![0, 1, 2, 3, 4], 0..4),
                0i32..8,
                1i32..8
            )
                .prop_map(
                    |(topic_id, partition, isr, leader_epoch, partition_epoch)| {
                        MetadataRecord::ChangePartition {
                            topic_id,
                            partition,
                            leader: isr.last().copied().unwrap_or(-1),
                            leader_epoch,
                            isr,
                            partition_epoch,
                        }
                    }
                ),
            (
                name,
                topic_id.clone(),
                prop::collection::btree_map(key.clone(), "[0-9]{1,4}", 0..3)
            )
                .prop_map(|(name, topic_id, configs)| MetadataRecord::CreateTopic {
                    name: name.to_string(),
                    topic_id,
                    configs: configs
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                }),
            (
                topic_id.clone(),
                0i32..4,
                prop::sample::subsequence(vec![0, 1, 2, 3, 4], 1..4),
                0i32..3,
                0i32..5
            )
                .prop_map(|(topic_id, partition, replicas, isr_len, epoch)| {
                    let isr: Vec<i32> = replicas.iter().copied().take(isr_len as usize).collect();
                    let leader = isr.first().copied().unwrap_or(-1);
                    MetadataRecord::CreatePartition {
                        topic_id,
                        partition,
                        replicas,
                        isr,
                        leader,
                        leader_epoch: epoch,
                    }
                }),
            topic_id
                .clone()
                .prop_map(|topic_id| MetadataRecord::DeleteTopic { topic_id }),
            (topic_id, key.clone(), value.clone()).prop_map(|(topic_id, key, value)| {
                MetadataRecord::SetTopicConfig {
                    topic_id,
                    key: key.to_string(),
                    value,
                }
            }),
            (prop::option::of(broker.clone()), key, value).prop_map(|(node_id, key, value)| {
                MetadataRecord::SetBrokerConfig {
                    node_id,
                    key: key.to_string(),
                    value,
                }
            }),
            (0i64..10_000).prop_map(|next_producer_id| MetadataRecord::ProducerIdsAllocated {
                next_producer_id
            }),
            (
                prop::sample::select(vec!["alice", "bob"]),
                0i8..4,
                prop::option::of((any::<[u8; 4]>(), 4000u32..4200))
            )
                .prop_map(|(user, mechanism, cred)| {
                    MetadataRecord::SetScramCredential {
                        user: user.to_string(),
                        mechanism,
                        credential: cred.map(|(salt, iterations)| {
                            crate::records::ScramCredentialRecord {
                                salt: salt.to_vec(),
                                stored_key: salt.to_vec(),
                                server_key: salt.to_vec(),
                                iterations,
                            }
                        }),
                    }
                }),
            (
                prop::sample::select(vec!["t", "*", "orders"]),
                prop::sample::select(vec!["User:alice", "User:*"]),
                2i8..4,
                any::<bool>()
            )
                .prop_map(|(name, principal, permission, create)| {
                    let acl = crate::records::AclRecord {
                        resource_type: 2,
                        resource_name: name.to_string(),
                        pattern_type: 3,
                        principal: principal.to_string(),
                        host: "*".into(),
                        operation: 3,
                        permission,
                    };
                    if create {
                        MetadataRecord::CreateAcl { acl }
                    } else {
                        MetadataRecord::DeleteAcl { acl }
                    }
                }),
            (
                prop::sample::select(vec!["user", "client-id", "ip"]),
                prop::option::of(prop::sample::select(vec!["alice", "app", "10.0.0.1"])),
                prop::option::of(prop::sample::select(vec!["client-id", "user"])),
                prop::sample::select(vec!["producer_byte_rate", "request_percentage"]),
                prop::option::of(1u32..5000)
            )
                .prop_map(|(t, name, second, key, value)| {
                    let mut entity = vec![crate::records::QuotaEntityPart {
                        entity_type: t.to_string(),
                        name: name.map(String::from),
                    }];
                    // Sometimes a second component (possibly the same type: refused).
                    if let Some(t2) = second {
                        entity.push(crate::records::QuotaEntityPart {
                            entity_type: t2.to_string(),
                            name: None,
                        });
                    }
                    MetadataRecord::SetClientQuota {
                        entity,
                        key: key.to_string(),
                        value: value.map(f64::from),
                    }
                }),
            (
                broker.clone(),
                // 3: the broker's current incarnation (see `build`).
                0u128..4,
                prop::collection::vec(((1u128..6).prop_map(Uuid::from_u128), 0i32..2), 1..3)
            )
                .prop_map(|(node_id, inc, partitions)| {
                    MetadataRecord::ReplicasOffline {
                        node_id,
                        incarnation: Uuid::from_u128(inc),
                        partitions,
                    }
                }),
            (
                (1u128..6).prop_map(Uuid::from_u128),
                0i32..4,
                prop::sample::subsequence(vec![0, 1, 2, 3, 4], 1..5),
                0usize..3,
                0usize..3,
                (0i32..8, 1i32..8)
            )
                .prop_map(
                    |(topic_id, partition, replicas, adding, removing, (le, pe))| {
                        // Pending (adding / removing from opposite ends) or finished.
                        let adding_replicas: Vec<i32> =
                            replicas.iter().copied().take(adding).collect();
                        let removing_replicas: Vec<i32> = replicas
                            .iter()
                            .rev()
                            .copied()
                            .take(removing)
                            .filter(|r| !adding_replicas.contains(r))
                            .collect();
                        MetadataRecord::ReassignPartition {
                            topic_id,
                            partition,
                            leader: replicas[0],
                            isr: replicas[..1].to_vec(),
                            replicas,
                            leader_epoch: le,
                            partition_epoch: pe,
                            adding_replicas,
                            removing_replicas,
                        }
                    }
                ),
        ]
    }

    /// The incarnation a generated `ReplicasOffline` uses to mean "the broker's current
    /// one, and replicas it has": a random report would seldom name both.
    const CURRENT: Uuid = Uuid::from_u128(3);

    /// Applies what applies, skips what does not.
    fn build_on(mut image: MetadataImage, records: &[MetadataRecord]) -> MetadataImage {
        for r in records {
            let current = match r {
                MetadataRecord::ReplicasOffline {
                    node_id,
                    incarnation,
                    partitions,
                } if *incarnation == CURRENT => image.broker(*node_id).and_then(|b| {
                    let hosted: Vec<(Uuid, i32)> = image
                        .topics()
                        .flat_map(|t| {
                            t.partitions
                                .iter()
                                .filter(|p| p.replicas.contains(node_id))
                                .map(|p| (t.topic_id, p.partition))
                        })
                        .collect();
                    (!hosted.is_empty()).then(|| MetadataRecord::ReplicasOffline {
                        node_id: *node_id,
                        incarnation: b.incarnation,
                        partitions: partitions
                            .iter()
                            .map(|&(_, i)| hosted[i.unsigned_abs() as usize % hosted.len()])
                            .collect(),
                    })
                }),
                _ => None,
            };
            let _ = image.apply(current.as_ref().unwrap_or(r));
        }
        image
    }

    proptest! {
        #[test]
        fn snapshot_records_rebuild_the_image(records in prop::collection::vec(record(), 0..120)) {
            // Every few records too, not only at the end: short-lived state (offline
            // replicas, dropped by many later records) is snapshotted as well.
            let mut image = MetadataImage::new();
            for (i, r) in records.iter().enumerate() {
                image = build_on(image, std::slice::from_ref(r));
                if i % 8 != 7 && i + 1 != records.len() {
                    continue;
                }
                let snapshot = image.snapshot_records();
                let rebuilt = MetadataImage::new().applied(snapshot.iter());
                prop_assert!(rebuilt.is_ok(), "snapshot does not apply: {:?}", rebuilt.err());
                prop_assert_eq!(rebuilt.ok(), Some(image.clone()));
            }
        }
    }

    /// Five brokers and five topics of two partitions each: the random records of
    /// `record()` mostly apply to it (offline replicas need partitions and brokers).
    fn populated() -> MetadataImage {
        let mut records: Vec<MetadataRecord> = (0..5)
            .map(|node_id| MetadataRecord::RegisterBroker {
                node_id,
                host: "h".into(),
                port: 9000,
                rack: None,
                incarnation: Uuid::from_u128(node_id as u128 % 3),
                endpoints: Vec::new(),
            })
            .collect();
        for (i, name) in ["a", "b", "c", "orders", "__consumer_offsets"]
            .iter()
            .enumerate()
        {
            let topic_id = Uuid::from_u128(i as u128 + 1);
            records.push(MetadataRecord::CreateTopic {
                name: name.to_string(),
                topic_id,
                configs: BTreeMap::new(),
            });
            for partition in 0..2 {
                let first = (i as i32 + partition) % 5;
                let replicas = vec![first, (first + 1) % 5, (first + 2) % 5];
                records.push(MetadataRecord::CreatePartition {
                    topic_id,
                    partition,
                    leader: first,
                    isr: replicas.clone(),
                    replicas,
                    leader_epoch: 0,
                });
            }
        }
        MetadataImage::new().applied(&records).expect("applies")
    }

    proptest! {
        #[test]
        fn snapshot_records_rebuild_a_populated_image(
            records in prop::collection::vec(record(), 0..60)
        ) {
            let mut image = populated();
            for r in &records {
                image = build_on(image, std::slice::from_ref(r));
                let snapshot = image.snapshot_records();
                let rebuilt = MetadataImage::new().applied(snapshot.iter());
                prop_assert!(rebuilt.is_ok(), "snapshot does not apply: {:?}", rebuilt.err());
                prop_assert_eq!(rebuilt.ok(), Some(image.clone()));
            }
        }
    }

    #[test]
    fn offline_replicas_are_in_the_snapshot() {
        let t = Uuid::from_u128(9);
        let inc = Uuid::from_u128(4);
        let image = MetadataImage::new()
            .applied(&[
                MetadataRecord::RegisterBroker {
                    node_id: 1,
                    host: "h".into(),
                    port: 1,
                    rack: None,
                    incarnation: inc,
                    endpoints: Vec::new(),
                },
                MetadataRecord::CreateTopic {
                    name: "t".into(),
                    topic_id: t,
                    configs: BTreeMap::new(),
                },
                MetadataRecord::CreatePartition {
                    topic_id: t,
                    partition: 0,
                    replicas: vec![1],
                    isr: vec![1],
                    leader: 1,
                    leader_epoch: 0,
                },
                MetadataRecord::ReplicasOffline {
                    node_id: 1,
                    incarnation: inc,
                    partitions: vec![(t, 0)],
                },
                MetadataRecord::FenceBroker { node_id: 1 },
            ])
            .expect("valid batch");
        let records = image.snapshot_records();
        assert!(records.iter().any(|r| matches!(
            r,
            MetadataRecord::ReplicasOffline { node_id: 1, partitions, .. } if partitions == &vec![(t, 0)]
        )));
        assert_eq!(MetadataImage::new().applied(records.iter()), Ok(image));
    }

    #[test]
    fn empty_image_has_an_empty_snapshot() {
        assert!(MetadataImage::new().snapshot_records().is_empty());
    }

    #[test]
    fn snapshot_of_a_known_image() {
        let t = Uuid::from_u128(9);
        let image = MetadataImage::new()
            .applied(&[
                MetadataRecord::CreateTopic {
                    name: "t".into(),
                    topic_id: t,
                    configs: BTreeMap::from([("retention.ms".into(), "5".into())]),
                },
                MetadataRecord::CreatePartition {
                    topic_id: t,
                    partition: 0,
                    replicas: vec![1, 2],
                    isr: vec![2],
                    leader: 2,
                    leader_epoch: 3,
                },
                MetadataRecord::SetBrokerConfig {
                    node_id: None,
                    key: "log.retention.ms".into(),
                    value: Some("1".into()),
                },
                MetadataRecord::ProducerIdsAllocated {
                    next_producer_id: 1000,
                },
            ])
            .expect("valid batch");
        let records = image.snapshot_records();
        assert_eq!(records.len(), 4);
        assert!(matches!(
            &records[1],
            MetadataRecord::CreatePartition { isr, leader: 2, leader_epoch: 3, .. } if isr == &vec![2]
        ));
        assert_eq!(MetadataImage::new().applied(records.iter()), Ok(image));
    }
}
