//! KIP-430: the operations a caller may perform on a resource, as the 32-bit field
//! Metadata and DescribeCluster return (bit `n` set = the operation whose ACL code is
//! `n` is allowed). Only the operations Kafka defines for the resource type are
//! considered; without an authorizer every one of them is allowed.

use strata_auth::acl::AclOperation;

use crate::auth::authorizer::Access;

/// The value of an authorized-operations field the client did not ask for.
pub(super) const NOT_REQUESTED: i32 = i32::MIN;

/// The operations Kafka defines on a topic.
const TOPIC_OPS: &[AclOperation] = &[
    AclOperation::Read,
    AclOperation::Write,
    AclOperation::Create,
    AclOperation::Delete,
    AclOperation::Alter,
    AclOperation::Describe,
    AclOperation::DescribeConfigs,
    AclOperation::AlterConfigs,
];

/// The operations Kafka defines on the cluster.
const CLUSTER_OPS: &[AclOperation] = &[
    AclOperation::Create,
    AclOperation::Alter,
    AclOperation::Describe,
    AclOperation::ClusterAction,
    AclOperation::DescribeConfigs,
    AclOperation::AlterConfigs,
    AclOperation::IdempotentWrite,
];

fn bits(ops: &[AclOperation], allowed: impl Fn(AclOperation) -> bool) -> i32 {
    ops.iter()
        .filter(|op| allowed(**op))
        .fold(0i32, |acc, op| acc | bit(*op))
}

/// The bit of `op` (its ACL code; every code is below 32).
fn bit(op: AclOperation) -> i32 {
    1i32.checked_shl(u32::from(op.code().unsigned_abs()))
        .unwrap_or(0)
}

/// What the caller may do on topic `name`.
pub(super) fn topic(access: &Access, name: &str) -> i32 {
    bits(TOPIC_OPS, |op| access.topic(op, name))
}

/// What the caller may do on the cluster: nothing is reported (0) to a caller that
/// may not describe it, as in Kafka.
pub(super) fn cluster(access: &Access) -> i32 {
    if !access.cluster(AclOperation::Describe) {
        return 0;
    }
    bits(CLUSTER_OPS, |op| access.cluster(op))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_are_the_acl_codes() {
        assert_eq!(bit(AclOperation::Read), 1 << 3);
        assert_eq!(bit(AclOperation::IdempotentWrite), 1 << 12);
        // Kafka's full topic set: READ WRITE CREATE DELETE ALTER DESCRIBE
        // DESCRIBE_CONFIGS ALTER_CONFIGS.
        assert_eq!(bits(TOPIC_OPS, |_| true), 0b1101_1111_1000);
        assert_eq!(bits(CLUSTER_OPS, |_| true), 0b1_1111_1010_0000);
    }
}
