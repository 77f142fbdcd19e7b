//! Authentication and authorization rules for Kafka security, sans-I/O: no
//! sockets, files, tasks or clocks (time is passed in).
//!
//! - [`scram`]: SCRAM-SHA-256/512 credentials and the server side of the
//!   exchange (KIP-84).
//! - [`plain`]: SASL PLAIN tokens, checked against the SCRAM credentials.
//! - [`acl`]: Kafka's ACL model and an indexed authorizer.
//! - [`principal`]: principals, certificate subjects and
//!   `ssl.principal.mapping.rules`.
//! - [`throttle`]: growing delays for repeated failures from one address.
//! - [`server_cert`]: verifying a server's certificate with the host-name check
//!   optional (`ssl.endpoint.identification.algorithm`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod acl;
pub mod plain;
pub mod principal;
pub mod scram;
pub mod server_cert;
pub mod throttle;
