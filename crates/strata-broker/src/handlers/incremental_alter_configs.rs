//! IncrementalAlterConfigs: SET / DELETE / APPEND / SUBTRACT on topic and broker configs.
//! Changes are metadata records: they take effect at once and survive restarts.

use crate::auth::authorizer::Access;
use std::sync::Arc;
use strata_auth::acl::AclOperation;

use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};
use kafka_protocol::protocol::StrBytes;
use strata_meta::controller::{self, AlterConfigOp, TopicError};

use super::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::{dynamic_configs, Broker};

/// Serves IncrementalAlterConfigs v0–v1.
pub async fn handle(
    broker: &Arc<Broker>,
    access: &Access,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut responses = Vec::with_capacity(req.resources.len());
    for res in req.resources {
        let name = res.resource_name.to_string();
        let ops: Result<Vec<AlterConfigOp>, TopicError> = res
            .configs
            .iter()
            .map(|c| {
                AlterConfigOp::from_kafka(
                    c.name.as_str(),
                    c.config_operation,
                    c.value.as_ref().map(|v| v.as_str()),
                )
            })
            .collect();
        let validate_only = req.validate_only;
        let denied =
            super::configs_denied(access, res.resource_type, &name, AclOperation::AlterConfigs);
        let mut ops = match denied {
            Some(e) => Err(e),
            None => ops,
        };
        if let (Ok(list), RESOURCE_BROKER) = (&ops, res.resource_type) {
            if name == broker.config.node_id.to_string() {
                // What the decision below would store, checked to load first; an
                // invalid request is left to that decision to refuse.
                let image = broker.meta.image();
                let node = Some(broker.config.node_id);
                if let Ok(records) = dynamic_configs::alter(&image, node, list) {
                    let checked =
                        crate::network::tls_dynamic::check_change(broker, &image, &records).await;
                    if let Err(e) = checked {
                        ops = Err(TopicError::InvalidConfig(e));
                    }
                }
            }
        }
        let result = match ops {
            Err(e) => Err(e),
            Ok(ops) => {
                broker
                    .decide_and_commit(|image, _| {
                        let records = match res.resource_type {
                            RESOURCE_TOPIC => controller::alter_topic_config(image, &name, &ops)?,
                            RESOURCE_BROKER => {
                                let scope = dynamic_configs::scope(&name, image)?;
                                dynamic_configs::alter(image, scope, &ops)?
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
            }
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
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}
