//! Sockets: the listener, and per-connection framing with ordered responses.

mod budget;
mod connection;
mod listener;
pub(crate) mod read_ahead;
mod reader;
mod response;
mod sasl;
mod sendfile;
mod session;
mod shared;
mod slots;
mod stream;
pub(crate) mod tls;
pub(crate) mod tls_dynamic;
mod verify;

pub use listener::{bind, run_listeners, Endpoint};
pub use tls::HttpTls;
