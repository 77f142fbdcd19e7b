//! Internal topics: the broker's own state lives in them, so clients may not delete
//! them, change their partition count, or change the configs that keep their data.

use std::collections::BTreeMap;

use super::TopicError;

/// Group offsets and metadata (Kafka's name and format).
pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Transaction coordinator state (Kafka's name and format).
pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

/// The topics the broker owns.
pub const INTERNAL_TOPICS: &[&str] = &[OFFSETS_TOPIC, TRANSACTION_STATE_TOPIC];

/// Whether `name` is one of [`INTERNAL_TOPICS`].
pub fn is_internal(name: &str) -> bool {
    INTERNAL_TOPICS.contains(&name)
}

/// What a client may not do to an internal topic.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Change {
    Delete,
    AddPartitions,
}

/// Refuses `change` on an internal topic with INVALID_REQUEST naming it.
pub(crate) fn refuse(name: &str, change: Change) -> Result<(), TopicError> {
    if !is_internal(name) {
        return Ok(());
    }
    let what = match change {
        // Every group's committed offsets would go with it.
        Change::Delete => "deleted",
        // Groups are placed by hashing over the partition count: a new count moves them
        // away from their offsets.
        Change::AddPartitions => "given more partitions",
    };
    Err(TopicError::InvalidRequest(format!(
        "'{name}' is an internal topic and cannot be {what}"
    )))
}

/// Refuses overrides that would lose an internal topic's data: its records must stay
/// compacted, never deleted by age or size.
pub(crate) fn check_configs(name: &str, next: &BTreeMap<String, String>) -> Result<(), TopicError> {
    if !is_internal(name) {
        return Ok(());
    }
    match next.get("cleanup.policy").map(|v| v.trim()) {
        Some("compact") => Ok(()),
        other => Err(TopicError::InvalidConfig(format!(
            "cleanup.policy of internal topic '{name}' must stay 'compact' (asked: '{}')",
            other.unwrap_or("the default")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_internal_topics_are_protected() {
        assert!(refuse("orders", Change::Delete).is_ok());
        let e = refuse(OFFSETS_TOPIC, Change::Delete).unwrap_err();
        assert_eq!(e.kafka_code(), 42);
        assert!(e.message().contains(OFFSETS_TOPIC), "{e}");
        assert!(refuse(OFFSETS_TOPIC, Change::AddPartitions).is_err());
        let compact = BTreeMap::from([("cleanup.policy".to_string(), "compact".to_string())]);
        assert!(check_configs(OFFSETS_TOPIC, &compact).is_ok());
        assert!(check_configs(OFFSETS_TOPIC, &BTreeMap::new()).is_err());
        let delete = BTreeMap::from([("cleanup.policy".to_string(), "compact,delete".to_string())]);
        assert_eq!(
            check_configs(OFFSETS_TOPIC, &delete)
                .unwrap_err()
                .kafka_code(),
            40
        );
        assert!(check_configs("orders", &BTreeMap::new()).is_ok());
        assert!(refuse(TRANSACTION_STATE_TOPIC, Change::Delete).is_err());
        assert!(check_configs(TRANSACTION_STATE_TOPIC, &BTreeMap::new()).is_err());
    }
}
