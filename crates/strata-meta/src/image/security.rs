//! The image's security state: SCRAM credentials and ACLs.

use std::sync::Arc;

use super::{ApplyError, MetadataImage};
use crate::records::{AclRecord, ScramCredentialRecord};

/// Kafka's SCRAM mechanism ids.
const SCRAM_MECHANISMS: [i8; 2] = [1, 2];
/// Kafka's bounds on SCRAM iterations.
const SCRAM_ITERATIONS: std::ops::RangeInclusive<u32> = 4096..=16384;

impl MetadataImage {
    /// The SCRAM credential of `user` for mechanism id `mechanism`, if set.
    pub fn scram_credential(&self, user: &str, mechanism: i8) -> Option<&ScramCredentialRecord> {
        self.scram.get(&(user.to_string(), mechanism))
    }

    /// Every SCRAM credential: ((user, mechanism id), credential), by user.
    pub fn scram_credentials(
        &self,
    ) -> impl Iterator<Item = (&(String, i8), &ScramCredentialRecord)> + '_ {
        self.scram.iter()
    }

    /// Every ACL, in a stable order.
    pub fn acls(&self) -> impl ExactSizeIterator<Item = &AclRecord> + '_ {
        self.acls.iter()
    }

    /// Whether the ACLs are the very same set as in `other` (pointer comparison: no
    /// ACL record came between the two images). Lets an authorizer cache skip rebuilds.
    pub fn same_acls(&self, other: &MetadataImage) -> bool {
        Arc::ptr_eq(&self.acls, &other.acls)
    }

    pub(super) fn set_scram_credential(
        &mut self,
        user: &str,
        mechanism: i8,
        credential: Option<&ScramCredentialRecord>,
    ) -> Result<(), ApplyError> {
        if !SCRAM_MECHANISMS.contains(&mechanism) {
            return Err(ApplyError::InvalidSecurityRecord(format!(
                "unknown SCRAM mechanism id {mechanism}"
            )));
        }
        if user.is_empty() {
            return Err(ApplyError::InvalidSecurityRecord("empty user name".into()));
        }
        let key = (user.to_string(), mechanism);
        match credential {
            Some(c) => {
                if !SCRAM_ITERATIONS.contains(&c.iterations) {
                    return Err(ApplyError::InvalidSecurityRecord(format!(
                        "SCRAM iterations {} outside {SCRAM_ITERATIONS:?}",
                        c.iterations
                    )));
                }
                Arc::make_mut(&mut self.scram).insert(key, c.clone());
            }
            None => {
                if self.scram.contains_key(&key) {
                    Arc::make_mut(&mut self.scram).remove(&key);
                }
            }
        }
        Ok(())
    }

    pub(super) fn create_acl(&mut self, acl: &AclRecord) -> Result<(), ApplyError> {
        if acl.principal.is_empty() || acl.host.is_empty() || acl.resource_name.is_empty() {
            return Err(ApplyError::InvalidSecurityRecord(
                "an ACL needs a principal, a host and a resource name".into(),
            ));
        }
        if !self.acls.contains(acl) {
            Arc::make_mut(&mut self.acls).insert(acl.clone());
        }
        Ok(())
    }

    pub(super) fn delete_acl(&mut self, acl: &AclRecord) {
        if self.acls.contains(acl) {
            Arc::make_mut(&mut self.acls).remove(acl);
        }
    }
}
