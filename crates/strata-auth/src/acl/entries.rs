//! The entries of one resource pattern, grouped by principal, and the
//! principal ids that make finding a group a search over integers.

use std::collections::HashMap;

use super::{allow_covers, deny_covers, AclOperation, AclPermission, WILDCARD_HOST};

/// A principal's number; `User:*` is always [`WILDCARD_ID`].
pub(crate) type PrincipalId = u32;
/// The id of `User:*`.
pub(crate) const WILDCARD_ID: PrincipalId = 0;

/// Numbers the principals that appear in ACLs, counting their entries so a
/// principal is forgotten with its last ACL.
#[derive(Debug)]
pub(crate) struct PrincipalIds {
    ids: HashMap<Box<str>, (PrincipalId, usize)>,
    next: PrincipalId,
}

impl Default for PrincipalIds {
    fn default() -> Self {
        let mut ids = HashMap::new();
        ids.insert(super::WILDCARD_PRINCIPAL.into(), (WILDCARD_ID, 0));
        PrincipalIds { ids, next: 1 }
    }
}

impl PrincipalIds {
    /// The id of a principal some ACL names, if any does.
    pub(crate) fn get(&self, principal: &str) -> Option<PrincipalId> {
        self.ids.get(principal).map(|(id, _)| *id)
    }

    /// The id of `principal`, counting one more entry for it.
    pub(crate) fn acquire(&mut self, principal: &str) -> PrincipalId {
        if let Some((id, refs)) = self.ids.get_mut(principal) {
            *refs += 1;
            return *id;
        }
        let id = self.next;
        self.next += 1;
        self.ids.insert(principal.into(), (id, 1));
        id
    }

    /// Counts one entry less for `principal`, forgetting it at zero.
    pub(crate) fn release(&mut self, principal: &str) {
        if let Some((id, refs)) = self.ids.get_mut(principal) {
            *refs = refs.saturating_sub(1);
            if *refs == 0 && *id != WILDCARD_ID {
                self.ids.remove(principal);
            }
        }
    }
}

/// One entry of a pattern, its principal aside.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Ace {
    pub(crate) host: Box<str>,
    pub(crate) operation: AclOperation,
    pub(crate) permission: AclPermission,
}

impl Ace {
    fn applies_from(&self, host: &str) -> bool {
        &*self.host == WILDCARD_HOST || &*self.host == host
    }
}

/// What the entries seen so far say about one request.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    /// Some pattern with entries applied to the resource.
    pub(crate) any_acl: bool,
    pub(crate) allowed: bool,
    pub(crate) denied: bool,
}

/// The entries of one pattern, grouped by principal id (sorted).
#[derive(Debug, Default)]
pub(crate) struct PatternAcls {
    groups: Vec<(PrincipalId, Vec<Ace>)>,
}

impl PatternAcls {
    pub(crate) fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    fn group(&self, id: PrincipalId) -> Option<&[Ace]> {
        self.groups
            .binary_search_by_key(&id, |(g, _)| *g)
            .ok()
            .map(|i| &self.groups[i].1[..])
    }

    pub(crate) fn insert(&mut self, id: PrincipalId, ace: Ace) {
        match self.groups.binary_search_by_key(&id, |(g, _)| *g) {
            Ok(i) => self.groups[i].1.push(ace),
            Err(i) => self.groups.insert(i, (id, vec![ace])),
        }
    }

    /// Removes one entry; `true` if it was there.
    pub(crate) fn remove(&mut self, id: PrincipalId, ace: &Ace) -> bool {
        let Ok(i) = self.groups.binary_search_by_key(&id, |(g, _)| *g) else {
            return false;
        };
        let entries = &mut self.groups[i].1;
        let Some(at) = entries.iter().position(|e| e == ace) else {
            return false;
        };
        entries.swap_remove(at);
        if entries.is_empty() {
            self.groups.remove(i);
        }
        true
    }

    /// The entries of `principal` (if any ACL names it) and of `User:*`
    /// that apply from `host`.
    pub(crate) fn entries_for<'a>(
        &'a self,
        principal: Option<PrincipalId>,
        host: &'a str,
    ) -> impl Iterator<Item = &'a Ace> + 'a {
        let own = principal.and_then(|id| self.group(id));
        let everyone = match principal {
            Some(WILDCARD_ID) => None,
            _ => self.group(WILDCARD_ID),
        };
        own.into_iter()
            .chain(everyone)
            .flatten()
            .filter(move |ace| ace.applies_from(host))
    }

    /// Applies this pattern's entries for `principal` from `host` to
    /// `verdict`.
    pub(crate) fn judge(
        &self,
        principal: Option<PrincipalId>,
        host: &str,
        op: AclOperation,
        verdict: &mut Verdict,
    ) {
        if self.is_empty() {
            return;
        }
        verdict.any_acl = true;
        for ace in self.entries_for(principal, host) {
            match ace.permission {
                AclPermission::Deny if deny_covers(ace.operation, op) => verdict.denied = true,
                AclPermission::Allow if allow_covers(ace.operation, op) => verdict.allowed = true,
                _ => {}
            }
        }
    }
}
