//! Which partitions this broker leads: client reads and writes go to the leader only.

use std::sync::Arc;

use kafka_protocol::ResponseError;

use crate::replica::Partition;
use crate::Broker;

impl Broker {
    /// The local replica of `topic`/`partition` if this broker is its leader, else the
    /// error a client gets: NOT_LEADER_OR_FOLLOWER (it refreshes metadata and finds
    /// the leader), LEADER_NOT_AVAILABLE (offline), or UNKNOWN_TOPIC_OR_PARTITION.
    pub(crate) fn led_replica(
        &self,
        topic: &str,
        partition: i32,
    ) -> Result<Arc<Partition>, ResponseError> {
        let image = self.meta.image();
        let p = image
            .partition(topic, partition)
            .ok_or(ResponseError::UnknownTopicOrPartition)?;
        if p.leader == -1 {
            return Err(ResponseError::LeaderNotAvailable);
        }
        if p.leader != self.config.node_id {
            return Err(ResponseError::NotLeaderOrFollower);
        }
        // Its log dir failed: until the controller moves leadership away.
        if self.replicas.is_offline(topic, partition) {
            return Err(ResponseError::KafkaStorageError);
        }
        self.replicas
            .get(topic, partition)
            .ok_or(ResponseError::NotLeaderOrFollower)
    }
}
