//! DescribeCluster: brokers, controller and cluster id, and (KIP-430) what the caller
//! may do on the cluster when asked.

use std::sync::Arc;

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{BrokerId, DescribeClusterRequest, DescribeClusterResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

use super::{authorized_ops, Caller};
use crate::auth::authorizer::Access;
use crate::Broker;

/// Serves DescribeCluster v0–v2.
pub fn handle(
    broker: &Arc<Broker>,
    caller: &Caller,
    access: &Access,
    req: DescribeClusterRequest,
) -> DescribeClusterResponse {
    // endpoint_type 1 = brokers, 2 = controllers (v1). We only expose broker endpoints.
    if req.endpoint_type == 2 {
        return DescribeClusterResponse::default()
            .with_error_code(ResponseError::UnsupportedEndpointType.code())
            .with_error_message(Some(StrBytes::from_static_str(
                "controller endpoints are not exposed",
            )));
    }
    let image = broker.meta.image();
    // v2 (KIP-1073): fenced brokers are listed, marked, when the caller asks for them.
    let brokers = image
        .brokers()
        .filter(|b| !b.fenced || req.include_fenced_brokers)
        .filter_map(|b| {
            let (host, port) = b.endpoint(&caller.listener.config.name)?;
            Some(
                DescribeClusterBroker::default()
                    .with_broker_id(BrokerId(b.node_id))
                    .with_host(StrBytes::from_string(host.to_string()))
                    .with_port(port)
                    .with_rack(b.rack.clone().map(StrBytes::from_string))
                    .with_is_fenced(b.fenced),
            )
        })
        .collect();
    DescribeClusterResponse::default()
        .with_cluster_id(StrBytes::from_string(broker.cluster_id.clone()))
        .with_controller_id(BrokerId(broker.meta.controller_id().unwrap_or(-1)))
        .with_brokers(brokers)
        .with_cluster_authorized_operations(if req.include_cluster_authorized_operations {
            authorized_ops::cluster(access)
        } else {
            authorized_ops::NOT_REQUESTED
        })
}
