//! Kafka client quotas, sans-I/O: the quota configuration (KIP-55 entities, KIP-546
//! describe and alter), which quota applies to a connection, usage accounting with
//! Kafka's sampled rates and throttle times (KIP-13, KIP-124, KIP-219, KIP-599), and
//! connection-creation rate limits (KIP-612).
//!
//! No sockets, files, tasks or clocks: every call that depends on time takes `now:
//! Instant`, and throttling is an answer (a [`std::time::Duration`]) that the caller acts
//! on: it sends the response at once with `throttle_time_ms` and mutes the connection for
//! that long (KIP-219).
//!
//! How the broker uses it:
//! - replay quota records from the metadata log into a [`QuotaStore`] with
//!   [`QuotaStore::apply`]; answer DescribeClientQuotas with [`QuotaStore::describe`];
//!   turn AlterClientQuotas into records with [`QuotaStore::validate_alter`] (and write
//!   none of them when `validate_only`);
//! - per request, [`QuotaStore::resolve`] the connection's (principal, client id) for each
//!   quota key that applies, and [`QuotaManager::record`] the usage under the sensor it
//!   names; the throttle time is the longest answer;
//! - call [`QuotaManager::expire`] and [`ConnectionRate::expire`] now and then (every few
//!   minutes) to drop idle budgets;
//! - on accept, ask [`ConnectionRate::admit`]; the per-IP limits it holds are the
//!   `connection_creation_rate` quotas of `ip` entities, kept in an [`IpQuotas`].

mod alter;
mod connection;
mod describe;
mod entity;
mod error;
mod ip;
mod lru;
mod rate;
mod resolve;
mod store;
mod throttle;

pub use alter::{AlterEntry, AlterOp, AlterOutcome, AlterResult};
pub use connection::{ConnectionRate, ConnectionRateConfig, ConnectionThrottle};
pub use describe::{DescribeFilter, DescribedQuotas, EntityMatch, FilterComponent};
pub use entity::{
    EntityName, EntityPart, QuotaChange, QuotaEntity, QuotaKey, QuotaValues, CLIENT_ID, IP, USER,
};
pub use error::QuotaError;
pub use ip::{is_ip_entity, IpChange, IpQuotas, CONNECTION_CREATION_RATE};
pub use rate::{Measured, RateConfig, SampledRate, TokenBucket};
pub use resolve::{QuotaLevel, Resolved, SensorKey, SensorLookup, SensorRef};
pub use store::QuotaStore;
pub use throttle::{request_time_percent, throttle_time, QuotaConfig, QuotaManager};
