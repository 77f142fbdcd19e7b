//! DescribeUserScramCredentials: which SCRAM mechanisms (and iteration counts) users
//! have. Never the keys.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use crate::Broker;

/// Serves DescribeUserScramCredentials v0.
pub fn handle(
    broker: &Arc<Broker>,
    req: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    let image = broker.meta.image();
    let mut by_user: BTreeMap<String, Vec<CredentialInfo>> = BTreeMap::new();
    for ((user, mechanism), c) in image.scram_credentials() {
        by_user.entry(user.clone()).or_default().push(
            CredentialInfo::default()
                .with_mechanism(*mechanism)
                .with_iterations(c.iterations as i32),
        );
    }
    let results = match req.users {
        // Null or empty: every user.
        None => by_user
            .into_iter()
            .map(|(user, infos)| found(user, infos))
            .collect(),
        Some(users) if users.is_empty() => by_user
            .into_iter()
            .map(|(user, infos)| found(user, infos))
            .collect(),
        Some(users) => {
            let mut count: BTreeMap<&str, usize> = BTreeMap::new();
            for u in &users {
                *count.entry(u.name.as_str()).or_default() += 1;
            }
            let mut out = Vec::new();
            let mut done = std::collections::BTreeSet::new();
            for u in &users {
                let name = u.name.as_str();
                if !done.insert(name) {
                    continue;
                }
                let result = if count[name] > 1 {
                    error(
                        name,
                        ResponseError::DuplicateResource,
                        "user named more than once",
                    )
                } else {
                    match by_user.get(name) {
                        Some(infos) => found(name.to_string(), infos.clone()),
                        None => error(
                            name,
                            ResponseError::ResourceNotFound,
                            "attempt to describe a user credential that does not exist",
                        ),
                    }
                };
                out.push(result);
            }
            out
        }
    };
    DescribeUserScramCredentialsResponse::default().with_results(results)
}

fn found(user: String, infos: Vec<CredentialInfo>) -> DescribeUserScramCredentialsResult {
    DescribeUserScramCredentialsResult::default()
        .with_user(StrBytes::from_string(user))
        .with_credential_infos(infos)
}

fn error(user: &str, code: ResponseError, message: &str) -> DescribeUserScramCredentialsResult {
    DescribeUserScramCredentialsResult::default()
        .with_user(StrBytes::from_string(user.to_string()))
        .with_error_code(code.code())
        .with_error_message(Some(StrBytes::from_string(message.to_string())))
}
