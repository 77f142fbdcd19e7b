//! Sockets: the listener, and per-connection framing with ordered responses.

mod budget;
mod connection;
mod listener;
mod response;
mod reader;
mod shared;
mod slots;

pub use listener::run_listener;
