//! Wire-shape guard: checks a Kafka frame's lengths before `kafka-protocol` decodes it.
//!
//! kafka-protocol's decoders size their buffers from counts read off the wire
//! (`Vec::with_capacity(n)` for arrays), so a 32-byte Metadata request whose topics array
//! claims `0x7FFFFFFF` entries makes the process abort on a 150 GB allocation. We do not
//! patch the crate; we walk the frame first, with a declarative table of every message's
//! layout ([`dsl`], `table/`), and reject it unless every length and count it carries fits
//! in the bytes that remain, the rule Kafka's own Java decoders apply (every array element
//! takes at least one byte). In detail the walker rejects:
//!
//! - an array count larger than the remaining bytes divided by the element's smallest
//!   encoding (at least one byte per element);
//! - a string, bytes or records length, or a tagged field's size, above the remaining bytes;
//! - a negative length other than -1 (null);
//! - an unsigned varint longer than 5 bytes or above `u32::MAX`;
//! - a known tagged field whose value does not fill exactly its declared size (the crate
//!   reads the value where it is, so a lying size would desynchronise it from the walker);
//! - more than [`MAX_DECODED_ELEMENTS`] struct or string array elements plus tagged fields
//!   in one frame.
//!
//! It allocates nothing proportional to the input, and recurses only along the table's
//! nesting. It does not check values (UTF-8, nullability, enums): the decoder does that,
//! without allocating by count, once the lengths are known to be honest. Bytes after the
//! message are not an error here (the decoder ignores them too); the check functions
//! return how many bytes the message took.

pub mod dsl;
pub mod sample;
mod table;
mod walk;

#[cfg(test)]
mod tests;

use kafka_protocol::messages::ApiKey;

use self::dsl::Message;
use self::walk::{Fault, Walk};

/// The most array elements of struct or string type, plus tagged fields, that one frame
/// may carry (2^20).
///
/// The length checks bound every *allocation* by the frame's size, but an element decodes
/// to more memory than it takes on the wire: an empty compact string is 1 byte on the wire
/// and a 32-byte `StrBytes` in memory, a small struct is a few bytes on the wire and
/// 100–300 bytes decoded (its fields, a `BTreeMap` for unknown tags). A 100 MiB frame of
/// empty strings would decode to 3.2 GiB. The budget caps that amplification at roughly
/// 2^20 × 300 B ≈ 300 MiB per frame, far above real traffic (a Fetch of 1,000 partitions
/// is about 1,100 elements; a Metadata response for 100,000 partitions about 100,000 plus
/// its names). Fixed-size elements (`INT32` arrays and the like) decode to no more than
/// their wire size and are not counted.
pub const MAX_DECODED_ELEMENTS: usize = 1 << 20;

/// Which side of an API a body belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A request body.
    Request,
    /// A response body.
    Response,
}

impl Direction {
    fn word(self) -> &'static str {
        match self {
            Direction::Request => "request",
            Direction::Response => "response",
        }
    }
}

/// What is wrong with a frame's shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// A fixed-size value runs past the end.
    #[error("needs {need} bytes but {remain} remain")]
    Truncated {
        /// Bytes the value needs.
        need: usize,
        /// Bytes left.
        remain: usize,
    },
    /// A string, bytes, records or tagged-field length above the bytes that remain.
    #[error("{len} bytes but {remain} bytes remain")]
    TooLong {
        /// The claimed length.
        len: u64,
        /// Bytes left.
        remain: usize,
    },
    /// An array (or tagged-field) count the remaining bytes cannot hold.
    #[error("{count} elements{} but {remain} bytes remain", each(*.min_each))]
    TooManyElements {
        /// The claimed count.
        count: u64,
        /// The fewest bytes one element takes.
        min_each: usize,
        /// Bytes left.
        remain: usize,
    },
    /// A length below -1.
    #[error("negative length {0}")]
    NegativeLength(i64),
    /// An unsigned varint longer than 5 bytes or above `u32::MAX`.
    #[error("varint longer than 5 bytes or above u32::MAX")]
    BadVarint,
    /// A known tagged field whose value is shorter than its declared size.
    #[error("tagged field declares {declared} bytes but its value takes {used}")]
    TaggedSize {
        /// The declared size.
        declared: u32,
        /// Bytes its value took.
        used: usize,
    },
    /// Too many decoded elements in one frame.
    #[error("more than {limit} elements in one frame")]
    ElementBudget {
        /// [`MAX_DECODED_ELEMENTS`].
        limit: usize,
    },
    /// The table has no shape for this API or version.
    #[error("no wire shape for this API version")]
    NoShape,
    /// The table nests deeper than the walker follows (a table bug).
    #[error("message nests too deeply")]
    TooDeep,
}

fn each(min_each: usize) -> String {
    if min_each > 1 {
        format!(" of at least {min_each} bytes")
    } else {
        String::new()
    }
}

/// A frame that failed the shape check: which message, where in it, and what.
///
/// Displays as `Metadata v1 request: topics: 2147483647 elements of at least 2 bytes but
/// 18 bytes remain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    /// The message, e.g. `Metadata v1 request`.
    pub message: String,
    /// Path to the offending field, e.g. `topics[2].partitions[0].records` (empty for the
    /// message itself).
    pub path: String,
    /// What is wrong.
    pub problem: Problem,
}

impl ShapeError {
    fn new(message: String, fault: Fault) -> ShapeError {
        let (problem, path) = fault.into_parts();
        ShapeError {
            message,
            path,
            problem,
        }
    }

    /// The path and problem without the message name, e.g. `topics: 2147483647 elements
    /// but 28 bytes remain`.
    pub fn detail(&self) -> String {
        if self.path.is_empty() {
            self.problem.to_string()
        } else {
            format!("{}: {}", self.path, self.problem)
        }
    }
}

impl std::fmt::Display for ShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.message, self.detail())
    }
}

impl std::error::Error for ShapeError {}

fn name(key: ApiKey, version: i16, direction: Direction) -> String {
    format!("{key:?} v{version} {}", direction.word())
}

/// The table's shape of `key`'s request or response body, if the table covers the API.
pub fn shape_of(key: ApiKey, direction: Direction) -> Option<&'static Message> {
    let api = table::APIS.iter().find(|a| a.key == key)?;
    Some(match direction {
        Direction::Request => api.request,
        Direction::Response => api.response,
    })
}

/// The request header's shape (versions 1–2).
pub fn request_header_shape() -> &'static Message {
    &table::REQUEST_HEADER
}

/// The response header's shape (versions 0–1).
pub fn response_header_shape() -> &'static Message {
    &table::RESPONSE_HEADER
}

/// `ConsumerProtocolSubscription`'s shape (the `consumer` protocol's JoinGroup metadata).
pub fn consumer_subscription_shape() -> &'static Message {
    &table::CONSUMER_PROTOCOL_SUBSCRIPTION
}

/// `ConsumerProtocolAssignment`'s shape (the `consumer` protocol's SyncGroup assignment).
pub fn consumer_assignment_shape() -> &'static Message {
    &table::CONSUMER_PROTOCOL_ASSIGNMENT
}

/// Checks a header followed by a body; returns the bytes both took.
fn check_framed(
    header: (&Message, i16),
    key: ApiKey,
    version: i16,
    direction: Direction,
    frame: &[u8],
) -> Result<usize, ShapeError> {
    let err = |fault: Fault| ShapeError::new(name(key, version, direction), fault);
    let body = shape_of(key, direction).ok_or_else(|| err(Fault::no_shape()))?;
    let mut walk = Walk::new(frame, MAX_DECODED_ELEMENTS);
    walk.message(header.0, header.1)
        .map_err(|f| err(f.at_header()))?;
    walk.message(body, version).map_err(err)?;
    Ok(walk.position())
}

/// Checks a request frame (header and body, without the length prefix) of `key` at
/// `version`; returns the bytes the header and body took.
pub fn check_request(key: ApiKey, version: i16, frame: &[u8]) -> Result<usize, ShapeError> {
    let header = (&table::REQUEST_HEADER, key.request_header_version(version));
    check_framed(header, key, version, Direction::Request, frame)
}

/// Checks a response frame (header and body, without the length prefix) of `key` at
/// `version`; returns the bytes the header and body took.
pub fn check_response(key: ApiKey, version: i16, frame: &[u8]) -> Result<usize, ShapeError> {
    let header = (
        &table::RESPONSE_HEADER,
        key.response_header_version(version),
    );
    check_framed(header, key, version, Direction::Response, frame)
}

/// Checks a request or response body alone; returns the bytes it took.
pub fn check_body(
    key: ApiKey,
    version: i16,
    direction: Direction,
    body: &[u8],
) -> Result<usize, ShapeError> {
    let err = |fault: Fault| ShapeError::new(name(key, version, direction), fault);
    let shape = shape_of(key, direction).ok_or_else(|| err(Fault::no_shape()))?;
    check_message(shape, version, body).map_err(|e| ShapeError {
        message: name(key, version, direction),
        ..e
    })
}

/// Checks any message of the table at `version`; returns the bytes it took.
pub fn check_message(shape: &Message, version: i16, bytes: &[u8]) -> Result<usize, ShapeError> {
    let mut walk = Walk::new(bytes, MAX_DECODED_ELEMENTS);
    walk.message(shape, version)
        .map_err(|f| ShapeError::new(format!("{} v{version}", shape.body.name), f))?;
    Ok(walk.position())
}

/// Checks a `ConsumerProtocolSubscription` body (after its `INT16` version) at `version`.
pub fn check_consumer_subscription(version: i16, body: &[u8]) -> Result<usize, ShapeError> {
    check_message(&table::CONSUMER_PROTOCOL_SUBSCRIPTION, version, body)
}

/// Checks a `ConsumerProtocolAssignment` body (after its `INT16` version) at `version`.
pub fn check_consumer_assignment(version: i16, body: &[u8]) -> Result<usize, ShapeError> {
    check_message(&table::CONSUMER_PROTOCOL_ASSIGNMENT, version, body)
}
