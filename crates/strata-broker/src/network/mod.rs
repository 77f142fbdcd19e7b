//! Sockets: the listener, and per-connection framing with ordered responses.

mod budget;
mod connection;
mod listener;
mod reader;
mod response;
mod shared;
mod slots;

pub use listener::run_listener;
