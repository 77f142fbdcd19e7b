//! Sockets: the listener, and per-connection framing with ordered responses.

mod connection;
mod listener;
mod response;

pub use listener::run_listener;
