//! DescribeClientQuotas (KIP-546): the configured quotas a filter selects, user /
//! client-id entities and then ip entities. A bad filter is answered with Kafka's error
//! (INVALID_REQUEST, or UNSUPPORTED_VERSION for an unknown entity or match type).
//! Authorization (DESCRIBE_CONFIGS on the cluster) is in `gate.rs`.

use std::sync::Arc;

use kafka_protocol::messages::describe_client_quotas_response::{EntityData, EntryData, ValueData};
use kafka_protocol::messages::{DescribeClientQuotasRequest, DescribeClientQuotasResponse};
use kafka_protocol::protocol::StrBytes;
use strata_quota::{
    DescribeFilter, EntityPart, FilterComponent, IpQuotas, CONNECTION_CREATION_RATE,
};

use crate::Broker;

/// Serves DescribeClientQuotas v0–v1.
pub fn handle(
    broker: &Arc<Broker>,
    req: DescribeClientQuotasRequest,
) -> DescribeClientQuotasResponse {
    let filter = req
        .components
        .iter()
        .map(|c| FilterComponent::from_wire(&c.entity_type, c.match_type, c._match.as_deref()))
        .collect::<Result<Vec<_>, _>>()
        .and_then(|components| DescribeFilter::new(&components, req.strict));
    let filter = match filter {
        Ok(f) => f,
        Err(e) => {
            return DescribeClientQuotasResponse::default()
                .with_error_code(e.error_code())
                .with_error_message(Some(StrBytes::from_string(e.to_string())))
        }
    };
    let (index, image) = broker.meta.current();
    broker.quotas.sync(index, &image);
    let mut entries: Vec<EntryData> = broker
        .quotas
        .store()
        .describe(&filter)
        .iter()
        .map(|d| entry(&d.entity.to_parts(), d.named_values()))
        .collect();
    entries.extend(
        broker
            .quotas
            .ips()
            .describe(&filter)
            .into_iter()
            .map(|(ip, rate)| {
                entry(
                    &IpQuotas::entity_parts(ip),
                    vec![(CONNECTION_CREATION_RATE, rate)],
                )
            }),
    );
    DescribeClientQuotasResponse::default().with_entries(Some(entries))
}

fn entry(parts: &[EntityPart], values: Vec<(&str, f64)>) -> EntryData {
    EntryData::default()
        .with_entity(
            parts
                .iter()
                .map(|p| {
                    EntityData::default()
                        .with_entity_type(StrBytes::from_string(p.entity_type.clone()))
                        .with_entity_name(p.name.clone().map(StrBytes::from_string))
                })
                .collect(),
        )
        .with_values(
            values
                .into_iter()
                .map(|(k, v)| {
                    ValueData::default()
                        .with_key(StrBytes::from_string(k.to_string()))
                        .with_value(v)
                })
                .collect(),
        )
}
