//! Offline replicas: [`MetadataRecord::ReplicasOffline`] and the per-broker sets it
//! fills ([`super::BrokerImage::offline_replicas`]).
//!
//! Invariant: every entry of a broker's set is a partition that exists and lists the
//! broker as a replica. `ReplicasOffline` only adds such entries; deleting the topic
//! drops them, and so does a reassignment that takes the broker out of the replicas. A
//! registration with a new incarnation (a restart) starts with an empty set.

use std::collections::BTreeSet;
use std::sync::Arc;

use uuid::Uuid;

use super::{ApplyError, MetadataImage, PartitionImage};
#[cfg(doc)]
use crate::records::MetadataRecord;

impl MetadataImage {
    /// Applies `ReplicasOffline`: every pair is checked before any is added, so a
    /// failed record changes nothing. The set grows by at most one entry per replica
    /// the broker has, whatever the record's length.
    pub(super) fn replicas_offline(
        &mut self,
        node_id: i32,
        incarnation: Uuid,
        partitions: &[(Uuid, i32)],
    ) -> Result<(), ApplyError> {
        let broker = self
            .brokers
            .get(&node_id)
            .ok_or(ApplyError::UnknownBroker(node_id))?;
        if broker.incarnation != incarnation {
            return Err(ApplyError::StaleIncarnation {
                node_id,
                got: incarnation,
            });
        }
        for &(topic_id, partition) in partitions {
            let topic = self.existing_topic(&topic_id)?;
            let invalid = |reason: &str| ApplyError::InvalidPartition {
                topic_id,
                partition,
                reason: reason.to_string(),
            };
            let p = topic
                .partition(partition)
                .ok_or_else(|| invalid("no such partition"))?;
            if !p.replicas.contains(&node_id) {
                return Err(invalid(&format!(
                    "broker {node_id} is not a replica: it has no replica to take offline"
                )));
            }
        }
        if partitions.iter().all(|&(t, p)| broker.is_offline(t, p)) {
            return Ok(());
        }
        let brokers = Arc::make_mut(&mut self.brokers);
        if let Some(broker) = brokers.get_mut(&node_id) {
            Arc::make_mut(broker)
                .offline_replicas
                .extend(partitions.iter().copied());
        }
        Ok(())
    }

    /// Drops offline entries of `topic_id`: all of them (`scope` `None`: the topic is
    /// gone), or those of one partition on brokers outside its new replicas.
    pub(super) fn forget_offline_replicas(&mut self, topic_id: Uuid, scope: Option<(i32, &[i32])>) {
        let range = match scope {
            None => (topic_id, i32::MIN)..=(topic_id, i32::MAX),
            Some((partition, _)) => (topic_id, partition)..=(topic_id, partition),
        };
        let touched: Vec<i32> = self
            .brokers
            .values()
            .filter(|b| scope.is_none_or(|(_, replicas)| !replicas.contains(&b.node_id)))
            .filter(|b| b.offline_replicas.range(range.clone()).next().is_some())
            .map(|b| b.node_id)
            .collect();
        if touched.is_empty() {
            return;
        }
        let brokers = Arc::make_mut(&mut self.brokers);
        for node in touched {
            if let Some(b) = brokers.get_mut(&node) {
                let set = &mut Arc::make_mut(b).offline_replicas;
                let gone: BTreeSet<(Uuid, i32)> = set.range(range.clone()).copied().collect();
                set.retain(|e| !gone.contains(e));
            }
        }
    }

    /// Whether `node`'s replica of `partition` of `topic_id` is offline (its broker
    /// reported it so in this registration).
    pub fn is_replica_offline(&self, node: i32, topic_id: Uuid, partition: i32) -> bool {
        self.broker(node)
            .is_some_and(|b| b.is_offline(topic_id, partition))
    }

    /// The replicas of `p` (of `topic_id`) that cannot serve it, in replica order:
    /// their broker is unknown or fenced, or it reported this replica offline. What
    /// Metadata and DescribeTopicPartitions list as `offline_replicas`.
    pub fn offline_replicas(&self, topic_id: Uuid, p: &PartitionImage) -> Vec<i32> {
        p.replicas
            .iter()
            .copied()
            .filter(|&r| {
                self.broker(r)
                    .is_none_or(|b| b.fenced || b.is_offline(topic_id, p.partition))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use uuid::Uuid;

    use crate::image::{ApplyError, MetadataImage};
    use crate::records::MetadataRecord;

    const T: Uuid = Uuid::from_u128(7);
    const U: Uuid = Uuid::from_u128(8);

    fn register(node_id: i32, incarnation: u128) -> MetadataRecord {
        MetadataRecord::RegisterBroker {
            node_id,
            host: "h".into(),
            port: 9000 + node_id,
            rack: None,
            incarnation: Uuid::from_u128(incarnation),
            endpoints: Vec::new(),
        }
    }

    fn offline(node_id: i32, incarnation: u128, partitions: &[(Uuid, i32)]) -> MetadataRecord {
        MetadataRecord::ReplicasOffline {
            node_id,
            incarnation: Uuid::from_u128(incarnation),
            partitions: partitions.to_vec(),
        }
    }

    /// Brokers 1, 2, 3 (incarnation = id); topics "t" (2 partitions on [1, 2]) and "u"
    /// (1 partition on [2, 3]).
    fn image() -> MetadataImage {
        let mut records = vec![register(1, 1), register(2, 2), register(3, 3)];
        for (name, id, n, replicas) in [("t", T, 2, vec![1, 2]), ("u", U, 1, vec![2, 3])] {
            records.push(MetadataRecord::CreateTopic {
                name: name.into(),
                topic_id: id,
                configs: BTreeMap::new(),
            });
            for partition in 0..n {
                records.push(MetadataRecord::CreatePartition {
                    topic_id: id,
                    partition,
                    replicas: replicas.clone(),
                    isr: replicas.clone(),
                    leader: replicas[0],
                    leader_epoch: 0,
                });
            }
        }
        MetadataImage::new().applied(&records).expect("applies")
    }

    fn set(image: &MetadataImage, node: i32) -> Vec<(Uuid, i32)> {
        image
            .broker(node)
            .expect("registered")
            .offline_replicas
            .iter()
            .copied()
            .collect()
    }

    #[test]
    fn only_the_current_registration_and_its_own_replicas() {
        let mut image = image();
        assert!(matches!(
            image.apply(&offline(2, 9, &[(T, 0)])),
            Err(ApplyError::StaleIncarnation { node_id: 2, .. })
        ));
        assert_eq!(
            image.apply(&offline(9, 9, &[(T, 0)])),
            Err(ApplyError::UnknownBroker(9))
        );
        assert!(matches!(
            image.apply(&offline(3, 3, &[(T, 0)])),
            Err(ApplyError::InvalidPartition { .. })
        ));
        assert!(matches!(
            image.apply(&offline(2, 2, &[(T, 0), (T, 5)])),
            Err(ApplyError::InvalidPartition { .. })
        ));
        assert_eq!(
            image.apply(&offline(2, 2, &[(T, 0), (Uuid::from_u128(99), 0)])),
            Err(ApplyError::UnknownTopicId(Uuid::from_u128(99)))
        );
        assert!(set(&image, 2).is_empty(), "a failed record changes nothing");
        image
            .apply(&offline(2, 2, &[(T, 1), (U, 0), (T, 1)]))
            .expect("applies");
        assert_eq!(set(&image, 2), vec![(T, 1), (U, 0)]);
        assert!(image.is_replica_offline(2, T, 1));
        assert!(!image.is_replica_offline(1, T, 1));
        let p = image.partition("t", 1).expect("partition").clone();
        assert_eq!(image.offline_replicas(T, &p), vec![2]);
    }

    #[test]
    fn a_restart_clears_the_set_a_re_registration_keeps_it() {
        let mut image = image();
        image.apply(&offline(2, 2, &[(T, 0)])).expect("applies");
        image
            .apply(&MetadataRecord::FenceBroker { node_id: 2 })
            .expect("fences");
        image.apply(&register(2, 2)).expect("same run again");
        assert_eq!(
            set(&image, 2),
            vec![(T, 0)],
            "the directory is still failed"
        );
        image.apply(&register(2, 20)).expect("restart");
        assert!(set(&image, 2).is_empty());
        // The old run's report is refused now.
        assert!(image.apply(&offline(2, 2, &[(T, 0)])).is_err());
    }

    #[test]
    fn deleting_the_topic_or_moving_the_replica_away_drops_the_entries() {
        let mut image = image();
        image
            .apply(&offline(2, 2, &[(T, 0), (T, 1), (U, 0)]))
            .expect("applies");
        image
            .apply(&MetadataRecord::DeleteTopic { topic_id: T })
            .expect("deletes");
        assert_eq!(set(&image, 2), vec![(U, 0)]);
        // Recreated with the same id: no stale entry comes back.
        image
            .apply(&MetadataRecord::CreateTopic {
                name: "t".into(),
                topic_id: T,
                configs: BTreeMap::new(),
            })
            .expect("creates");
        assert_eq!(set(&image, 2), vec![(U, 0)]);
        // u-0 moves from [2, 3] to [3, 1]: broker 2 has no replica left there.
        image
            .apply(&MetadataRecord::ReassignPartition {
                topic_id: U,
                partition: 0,
                replicas: vec![3, 1],
                isr: vec![3],
                leader: 3,
                leader_epoch: 1,
                partition_epoch: 1,
                adding_replicas: Vec::new(),
                removing_replicas: Vec::new(),
            })
            .expect("moves");
        assert!(set(&image, 2).is_empty());
    }

    #[test]
    fn the_record_reads_back_from_json() {
        let record = offline(2, 2, &[(T, 1)]);
        let json = serde_json::to_string(&record).expect("encodes");
        assert_eq!(
            serde_json::from_str::<MetadataRecord>(&json).expect("decodes"),
            record
        );
        // A count is never read ahead of the elements: a short or lying input is an
        // error, not an allocation.
        assert!(serde_json::from_str::<MetadataRecord>(
            r#"{"type":"ReplicasOffline","node_id":2,"incarnation":"00000000-0000-0000-0000-000000000002","partitions":[["00000000-0000-0000-0000-000000000007"#
        )
        .is_err());
    }
}
