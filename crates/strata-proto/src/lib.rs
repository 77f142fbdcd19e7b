//! strata-proto: the Kafka wire-protocol layer of Strata (sans-I/O): framing, the
//! advertised API version table, the wire-shape guard that runs before the decoder, and a
//! zero-copy view of record batches. Nothing here opens a file or a socket.

pub mod batch;
pub mod chunks;
pub mod crc;
pub mod error_code;
pub mod error_name;
pub mod fetch_response;
pub mod frame;
pub mod record_codec;
pub mod shape;
pub mod versions;
