//! Consumer groups: the embedded consumer protocol, assignors, coordinator discovery, the
//! offset APIs and the membership state machine.

pub mod assignor;
pub(crate) mod coordinator;
mod heartbeat;
pub(crate) mod member;
pub mod protocol;

pub use assignor::{parse_strategies, AssignmentStrategy, MemberSubscription};
pub use coordinator::OffsetAndMetadata;
pub use protocol::{Assignment, Subscription};
