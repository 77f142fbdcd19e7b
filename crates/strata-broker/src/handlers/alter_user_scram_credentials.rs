//! AlterUserScramCredentials: set or delete users' SCRAM credentials. Clients send the
//! salt and the salted password, never the password; only the derived keys are stored
//! (metadata records `SetScramCredential`).

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strata_auth::scram::{ScramCredential, ScramMechanism};
use strata_meta::MetadataRecord;

use crate::Broker;

type Outcome = Result<Vec<MetadataRecord>, (ResponseError, String)>;

/// Serves AlterUserScramCredentials v0.
pub async fn handle(
    broker: &Arc<Broker>,
    req: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    let image = broker.meta.image();
    // Per user, in request order: the records, or the first error. A user named twice
    // for one mechanism is refused as a whole (Kafka's DUPLICATE_RESOURCE).
    let mut per_user: BTreeMap<String, Outcome> = BTreeMap::new();
    let mut seen: BTreeMap<(String, i8), usize> = BTreeMap::new();
    for d in &req.deletions {
        *seen.entry((d.name.to_string(), d.mechanism)).or_default() += 1;
    }
    for u in &req.upsertions {
        *seen.entry((u.name.to_string(), u.mechanism)).or_default() += 1;
    }
    let mut add = |user: &str, outcome: Outcome| {
        let slot = per_user.entry(user.to_string()).or_insert(Ok(Vec::new()));
        match (slot, outcome) {
            (Ok(records), Ok(more)) => records.extend(more),
            (slot @ Ok(_), Err(e)) => *slot = Err(e),
            (Err(_), _) => {}
        }
    };
    for d in &req.deletions {
        let user = d.name.as_str();
        add(
            user,
            check_common(user, d.mechanism, &seen).and_then(|m| {
                if image.scram_credential(user, m.kafka_type()).is_none() {
                    return Err((
                        ResponseError::ResourceNotFound,
                        format!("user {user} has no {} credential", m.name()),
                    ));
                }
                Ok(vec![MetadataRecord::SetScramCredential {
                    user: user.to_string(),
                    mechanism: m.kafka_type(),
                    credential: None,
                }])
            }),
        );
    }
    for u in &req.upsertions {
        let user = u.name.as_str();
        add(
            user,
            check_common(user, u.mechanism, &seen).and_then(|m| {
                let iterations = u32::try_from(u.iterations).unwrap_or(0);
                strata_auth::scram::validate_iterations(m, iterations)
                    .map_err(|e| (ResponseError::UnacceptableCredential, e.to_string()))?;
                if u.salt.is_empty() || u.salted_password.len() != m.digest_len() {
                    return Err((
                        ResponseError::UnacceptableCredential,
                        format!(
                            "the salt must not be empty and the salted password must be {} bytes",
                            m.digest_len()
                        ),
                    ));
                }
                let c = ScramCredential::from_salted_password(
                    m,
                    &u.salt,
                    &u.salted_password,
                    iterations,
                );
                Ok(vec![MetadataRecord::SetScramCredential {
                    user: user.to_string(),
                    mechanism: m.kafka_type(),
                    credential: Some(crate::auth::record(&c)),
                }])
            }),
        );
    }
    let mut results = Vec::with_capacity(per_user.len());
    for (user, outcome) in per_user {
        let (code, message) = match outcome {
            Ok(records) => match broker.meta.commit(records).await {
                Ok(_) => (0, None),
                Err(e) => (crate::topics::commit_error_code(&e), Some(e.to_string())),
            },
            Err((code, message)) => (code.code(), Some(message)),
        };
        results.push(
            AlterUserScramCredentialsResult::default()
                .with_user(StrBytes::from_string(user))
                .with_error_code(code)
                .with_error_message(message.map(StrBytes::from_string)),
        );
    }
    AlterUserScramCredentialsResponse::default().with_results(results)
}

/// Checks shared by deletions and upsertions: a user name, a known mechanism, and the
/// pair named once.
fn check_common(
    user: &str,
    mechanism: i8,
    seen: &BTreeMap<(String, i8), usize>,
) -> Result<ScramMechanism, (ResponseError, String)> {
    if user.is_empty() {
        return Err((
            ResponseError::UnacceptableCredential,
            "empty user name".into(),
        ));
    }
    let m = ScramMechanism::from_kafka_type(mechanism).ok_or_else(|| {
        (
            ResponseError::UnsupportedSaslMechanism,
            format!("unknown SCRAM mechanism {mechanism}"),
        )
    })?;
    if seen
        .get(&(user.to_string(), mechanism))
        .copied()
        .unwrap_or(0)
        > 1
    {
        return Err((
            ResponseError::DuplicateResource,
            format!("user {user} appears more than once for {}", m.name()),
        ));
    }
    Ok(m)
}
