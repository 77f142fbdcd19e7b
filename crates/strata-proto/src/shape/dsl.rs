//! The vocabulary of the wire-shape table: a message is a struct of fields, each present
//! in a range of versions, each of a wire type. Only what decides *where bytes are* is
//! described (no defaults, no nullability, no value rules): that is all the walker needs
//! to check every length against the bytes that remain.

/// An inclusive range of message versions in which a field (or a tagged field) is on the
/// wire. Versions are the message's own (absolute) versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    /// Lowest version that carries the field.
    pub min: i16,
    /// Highest version that carries the field.
    pub max: i16,
}

impl Versions {
    /// Whether `version` carries the field.
    pub const fn contains(self, version: i16) -> bool {
        self.min <= version && version <= self.max
    }
}

/// Every version.
pub const ALL: Versions = Versions {
    min: 0,
    max: i16::MAX,
};

/// Version `min` and every later one (Kafka's `"min+"`).
pub const fn since(min: i16) -> Versions {
    Versions { min, max: i16::MAX }
}

/// Every version up to and including `max`.
pub const fn until(max: i16) -> Versions {
    Versions { min: 0, max }
}

/// Versions `min` to `max`, both included.
pub const fn span(min: i16, max: i16) -> Versions {
    Versions { min, max }
}

/// `Message::flexible` of a message that never has flexible versions.
pub const NEVER: i16 = i16::MAX;

/// The wire type of a field.
///
/// In a flexible version, `String`, `Bytes`, `Records` and `Array` use their compact
/// encodings (unsigned varint of length + 1, 0 = null); otherwise an `INT16` (strings) or
/// `INT32` (bytes, records, arrays) length, -1 = null.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// 1 byte.
    Int8,
    /// 2 bytes, big-endian.
    Int16,
    /// 2 bytes, big-endian.
    UInt16,
    /// 4 bytes, big-endian.
    Int32,
    /// 4 bytes, big-endian.
    UInt32,
    /// 8 bytes, big-endian.
    Int64,
    /// 8 bytes, IEEE 754 big-endian.
    Float64,
    /// 1 byte.
    Bool,
    /// 16 bytes.
    Uuid,
    /// A (nullable) UTF-8 string.
    String,
    /// A string with an `INT16` length even in flexible versions (the request header's
    /// `client_id`, whose spec says `flexibleVersions: none`).
    ClassicString,
    /// A (nullable) byte string.
    Bytes,
    /// A (nullable) record set: bytes on the wire, kept whole by the decoder (record
    /// batches are validated later, by `crate::batch`).
    Records,
    /// A nested struct written inline (only used for tagged fields here).
    Struct(&'static Struct),
    /// A nullable struct: an `INT8` presence marker (1: present, anything else: null)
    /// followed, when present, by the struct (DescribeTopicPartitions' cursor).
    OptionStruct(&'static Struct),
    /// A (nullable) array.
    Array(Elem),
}

impl Ty {
    /// The size of a fixed-size type, 0 for a variable-size one.
    pub const fn fixed_size(self) -> usize {
        match self {
            Ty::Int8 | Ty::Bool => 1,
            Ty::Int16 | Ty::UInt16 => 2,
            Ty::Int32 | Ty::UInt32 => 4,
            Ty::Int64 | Ty::Float64 => 8,
            Ty::Uuid => 16,
            _ => 0,
        }
    }
}

/// The element type of an array.
#[derive(Debug, Clone, Copy)]
pub enum Elem {
    /// 1 byte.
    Int8,
    /// 2 bytes.
    Int16,
    /// 4 bytes.
    Int32,
    /// 8 bytes.
    Int64,
    /// 16 bytes.
    Uuid,
    /// A string, compact in flexible versions.
    String,
    /// A struct.
    Struct(&'static Struct),
}

impl Elem {
    /// The element as a field type.
    pub const fn ty(self) -> Ty {
        match self {
            Elem::Int8 => Ty::Int8,
            Elem::Int16 => Ty::Int16,
            Elem::Int32 => Ty::Int32,
            Elem::Int64 => Ty::Int64,
            Elem::Uuid => Ty::Uuid,
            Elem::String => Ty::String,
            Elem::Struct(s) => Ty::Struct(s),
        }
    }
}

/// An array of structs.
pub const fn array(of: &'static Struct) -> Ty {
    Ty::Array(Elem::Struct(of))
}

/// A field in the main (positional) part of a struct.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The name kafka-protocol gives it (used in error paths).
    pub name: &'static str,
    /// Versions that carry it.
    pub versions: Versions,
    /// Its wire type.
    pub ty: Ty,
    /// `ty.fixed_size()`, kept here so the walker skips runs of fixed-size fields without
    /// a branch on the type per field.
    pub fixed: u8,
}

/// A positional field.
pub const fn field(name: &'static str, versions: Versions, ty: Ty) -> Field {
    Field {
        name,
        versions,
        ty,
        fixed: ty.fixed_size() as u8,
    }
}

/// A tagged field the decoder knows: kafka-protocol reads its value from the main buffer
/// at the tag's position (trusting the value's own encoding, not the declared size), so
/// the walker checks it with its type and requires it to fill exactly its declared size.
#[derive(Debug, Clone, Copy)]
pub struct Tagged {
    /// The tag number.
    pub tag: u32,
    /// Field name.
    pub name: &'static str,
    /// Versions in which the decoder knows the tag (intersected with the flexible ones).
    pub versions: Versions,
    /// Its wire type (always the compact/flexible encoding).
    pub ty: Ty,
}

/// A known tagged field.
pub const fn tag(tag: u32, name: &'static str, versions: Versions, ty: Ty) -> Tagged {
    Tagged {
        tag,
        name,
        versions,
        ty,
    }
}

/// A struct: positional fields in wire order, then (in flexible versions) a tagged-field
/// section of which these tags are known.
#[derive(Debug)]
pub struct Struct {
    /// The kafka-protocol type name.
    pub name: &'static str,
    /// Positional fields in wire order.
    pub fields: &'static [Field],
    /// Known tagged fields.
    pub tagged: &'static [Tagged],
}

impl Struct {
    /// A struct with these fields and known tags.
    pub const fn new(
        name: &'static str,
        fields: &'static [Field],
        tagged: &'static [Tagged],
    ) -> Struct {
        Struct {
            name,
            fields,
            tagged,
        }
    }
}

/// A top-level message (a request or response body, a header, a consumer-protocol blob).
#[derive(Debug)]
pub struct Message {
    /// Versions kafka-protocol can decode.
    pub versions: Versions,
    /// First flexible version (compact encodings, tagged fields), or [`NEVER`].
    pub flexible: i16,
    /// The root struct.
    pub body: &'static Struct,
}

impl Message {
    /// A message decodable in `min..=max`, flexible from `flexible` on.
    pub const fn new(min: i16, max: i16, flexible: i16, body: &'static Struct) -> Message {
        Message {
            versions: span(min, max),
            flexible,
            body,
        }
    }

    /// Whether `version` uses the flexible encodings.
    pub const fn is_flexible(&self, version: i16) -> bool {
        version >= self.flexible
    }
}
