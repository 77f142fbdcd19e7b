//! Sockets: the listener, and per-connection framing with ordered responses.

mod budget;
mod connection;
mod listener;
mod reader;
mod response;
mod shared;
mod slots;
mod verify;

pub use listener::run_listener;
