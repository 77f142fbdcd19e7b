//! strata-proto: the Kafka wire-protocol layer of Strata (sans-I/O): framing, the
//! advertised API version table, and a zero-copy view of record batches. Nothing here
//! opens a file or a socket.

pub mod batch;
pub mod chunks;
pub mod fetch_response;
pub mod frame;
pub mod versions;
