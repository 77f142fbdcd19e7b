//! The controller network: openraft RPCs and Strata's own (forwarding to the leader,
//! learners joining) over TCP with length-prefixed JSON frames.

pub(crate) mod client;
pub(crate) mod frame;
pub(crate) mod messages;
pub(crate) mod pool;
pub(crate) mod server;
