//! Sockets: the listener, and per-connection framing with ordered responses.

mod connection;
mod listener;

pub use listener::run_listener;
