//! The authorizer as the broker uses it: `authorizer.class.name` turns it on, the ACLs
//! come from the metadata image, and the index is rebuilt (off the request path's
//! lock) only when an ACL record changed the image.

use std::collections::BTreeMap;
use std::sync::Arc;

use strata_auth::acl::{
    AclBinding, AclOperation, AclPermission, Authorizer, AuthorizerConfig, PatternType,
    ResourceType,
};
use strata_meta::records::AclRecord;
use strata_meta::MetadataImage;

/// Values of `authorizer.class.name` that select the built-in authorizer: Kafka's
/// KRaft and ZooKeeper class names (so existing configs carry over) and our own.
const BUILT_IN: &[&str] = &[
    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "kafka.security.authorizer.AclAuthorizer",
    "strata",
];

/// `authorizer.class.name` and friends, resolved.
#[derive(Debug, Clone)]
pub(crate) struct AuthzSettings {
    config: AuthorizerConfig,
}

impl AuthzSettings {
    /// `None` when no authorizer is configured (everything is allowed, as in Kafka).
    /// `admin` (the bootstrap admin user) is a super user too.
    pub(crate) fn from_settings(
        settings: &BTreeMap<String, String>,
        admin: Option<&str>,
    ) -> Result<Option<Self>, String> {
        let class = settings
            .get("authorizer.class.name")
            .map(|s| s.trim())
            .unwrap_or("");
        if class.is_empty() {
            return Ok(None);
        }
        if !BUILT_IN.contains(&class) {
            return Err(format!(
                "authorizer.class.name '{class}' is not supported; use \
                 org.apache.kafka.metadata.authorizer.StandardAuthorizer"
            ));
        }
        let mut super_users: Vec<String> = settings
            .get("super.users")
            .map(|s| {
                s.split(';')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        for p in &super_users {
            if strata_auth::principal::KafkaPrincipal::parse(p).is_err() {
                return Err(format!(
                    "super.users: '{p}' is not a principal like User:alice"
                ));
            }
        }
        if let Some(a) = admin {
            super_users.push(format!("User:{a}"));
        }
        let allow_everyone = match settings
            .get("allow.everyone.if.no.acl.found")
            .map(|s| s.trim())
        {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(format!(
                    "allow.everyone.if.no.acl.found '{other}' is not true or false"
                ))
            }
        };
        Ok(Some(Self {
            config: AuthorizerConfig {
                super_users,
                allow_everyone_if_no_acl_found: allow_everyone,
            },
        }))
    }
}

/// The authorizer of a running broker.
pub(crate) struct Authz {
    settings: AuthzSettings,
    /// The index and the image whose ACLs it holds.
    current: parking_lot::RwLock<(Arc<MetadataImage>, Arc<Authorizer>)>,
}

impl Authz {
    pub(crate) fn new(settings: AuthzSettings) -> Self {
        let image = Arc::new(MetadataImage::new());
        let authorizer = Arc::new(Authorizer::new(settings.config.clone()));
        Self {
            settings,
            current: parking_lot::RwLock::new((image, authorizer)),
        }
    }

    /// The authorizer for `image`, rebuilt if its ACLs changed since the last one.
    pub(crate) fn for_image(&self, image: &Arc<MetadataImage>) -> Arc<Authorizer> {
        {
            let cur = self.current.read();
            if cur.0.same_acls(image) {
                return Arc::clone(&cur.1);
            }
        }
        let mut a = Authorizer::new(self.settings.config.clone());
        for r in image.acls() {
            if let Some(b) = binding(r) {
                a.add(b);
            }
        }
        let a = Arc::new(a);
        *self.current.write() = (Arc::clone(image), Arc::clone(&a));
        a
    }
}

/// The binding an ACL record holds (`None` for codes this version does not know).
pub(crate) fn binding(r: &AclRecord) -> Option<AclBinding> {
    Some(AclBinding::new(
        ResourceType::from_code(r.resource_type)?,
        r.resource_name.clone(),
        PatternType::from_code(r.pattern_type)?,
        r.principal.clone(),
        r.host.clone(),
        AclOperation::from_code(r.operation)?,
        AclPermission::from_code(r.permission)?,
    ))
}

/// The record form of a binding.
pub(crate) fn record(b: &AclBinding) -> AclRecord {
    AclRecord {
        resource_type: b.pattern.resource_type.code(),
        resource_name: b.pattern.name.clone(),
        pattern_type: b.pattern.pattern_type.code(),
        principal: b.entry.principal.clone(),
        host: b.entry.host.clone(),
        operation: b.entry.operation.code(),
        permission: b.entry.permission.code(),
    }
}

/// What a request may do: a snapshot of the authorizer for one caller. Without an
/// authorizer every check passes.
pub(crate) struct Access {
    authorizer: Option<Arc<Authorizer>>,
    principal: Arc<str>,
    host: String,
}

impl Access {
    pub(crate) fn new(
        authorizer: Option<Arc<Authorizer>>,
        principal: Arc<str>,
        ip: std::net::IpAddr,
    ) -> Self {
        // The host text is only needed by an authorizer: no allocation per request
        // without one.
        let host = if authorizer.is_some() {
            ip.to_string()
        } else {
            String::new()
        };
        Self {
            authorizer,
            principal,
            host,
        }
    }

    /// Whether an authorizer is configured.
    pub(crate) fn enabled(&self) -> bool {
        self.authorizer.is_some()
    }

    fn check(&self, op: AclOperation, rt: ResourceType, name: &str) -> bool {
        match &self.authorizer {
            None => true,
            Some(a) => a.authorize(&self.principal, &self.host, op, rt, name),
        }
    }

    /// `op` on topic `name`.
    pub(crate) fn topic(&self, op: AclOperation, name: &str) -> bool {
        self.check(op, ResourceType::Topic, name)
    }

    /// `op` on group `name`.
    pub(crate) fn group(&self, op: AclOperation, name: &str) -> bool {
        self.check(op, ResourceType::Group, name)
    }

    /// `op` on transactional id `name`.
    pub(crate) fn transactional_id(&self, op: AclOperation, name: &str) -> bool {
        self.check(op, ResourceType::TransactionalId, name)
    }

    /// `op` on the cluster.
    pub(crate) fn cluster(&self, op: AclOperation) -> bool {
        self.check(op, ResourceType::Cluster, strata_auth::acl::CLUSTER_NAME)
    }

    /// Whether a topic named `name` may be created (CREATE on the cluster or on it).
    pub(crate) fn may_create_topic(&self, name: &str) -> bool {
        self.cluster(AclOperation::Create) || self.topic(AclOperation::Create, name)
    }

    /// `op` on some resource of type `rt` (Kafka's authorizeByResourceType).
    pub(crate) fn any_of_type(&self, op: AclOperation, rt: ResourceType) -> bool {
        match &self.authorizer {
            None => true,
            Some(a) => a.authorize_any_of_type(&self.principal, &self.host, op, rt),
        }
    }
}
