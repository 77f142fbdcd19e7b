//! strata-proto: the Kafka wire-protocol layer of Strata (sans-I/O).

pub mod batch;
