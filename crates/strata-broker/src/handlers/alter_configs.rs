//! AlterConfigs (legacy): replaces a resource's whole set of overrides.

use crate::auth::authorizer::Access;
use std::collections::BTreeMap;
use std::sync::Arc;
use strata_auth::acl::AclOperation;

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};
use kafka_protocol::protocol::StrBytes;
use strata_meta::controller::{self, TopicError};

use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::{dynamic_configs, Broker};

/// Serves AlterConfigs v0–v2.
pub async fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    req: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(req.resources.len());
    for res in req.resources {
        let name = res.resource_name.to_string();
        let configs: Vec<(String, Option<String>)> = res
            .configs
            .iter()
            .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
            .collect();
        let validate_only = req.validate_only;
        let mut denied =
            super::configs_denied(access, res.resource_type, &name, AclOperation::AlterConfigs);
        if denied.is_none()
            && res.resource_type == RESOURCE_BROKER
            && name == broker.config.node_id.to_string()
        {
            // What the decision below would store, checked to load first; an invalid
            // request is left to that decision to refuse.
            let image = broker.meta.image();
            let node = Some(broker.config.node_id);
            if let Ok(records) = dynamic_configs::replace(&image, node, &configs) {
                let checked =
                    crate::network::tls_dynamic::check_change(broker, &image, &records).await;
                if let Err(e) = checked {
                    denied = Some(TopicError::InvalidConfig(e));
                }
            }
        }
        let result = if let Some(e) = denied {
            Err(e)
        } else {
            broker
                .decide_and_commit(|image, _| {
                    let records = match res.resource_type {
                        RESOURCE_TOPIC => {
                            let map: BTreeMap<String, Option<String>> =
                                configs.iter().cloned().collect();
                            controller::replace_topic_configs(image, &name, &map)?
                        }
                        RESOURCE_BROKER => {
                            let scope = dynamic_configs::scope(&name, image)?;
                            dynamic_configs::replace(image, scope, &configs)?
                        }
                        other => {
                            return Err(TopicError::InvalidRequest(format!(
                                "resource type {other} is not supported"
                            )))
                        }
                    };
                    Ok(if validate_only { Vec::new() } else { records })
                })
                .await
        };
        let entry = AlterConfigsResourceResponse::default()
            .with_resource_type(res.resource_type)
            .with_resource_name(res.resource_name);
        responses.push(match result {
            Ok(()) => entry,
            Err(e) => entry
                .with_error_code(e.kafka_code())
                .with_error_message(Some(StrBytes::from_string(e.message().to_string()))),
        });
    }
    AlterConfigsResponse::default().with_responses(responses)
}
