//! Deterministic sample messages built from the table: valid wire bytes for any covered
//! message and version, for the table's round-trip tests, fuzz seeds and benchmarks.
//!
//! A sample has arrays of 0–3 elements (nested), short ASCII strings, short byte strings,
//! bools 0/1, finite floats, no nulls, and in flexible versions a random subset of the
//! known tagged fields (with random values) followed by 0–2 unknown tags. The same seed
//! always gives the same bytes.

use kafka_protocol::messages::ApiKey;

use super::dsl::{Elem, Message, Struct, Ty};
use super::{shape_of, table, Direction};

/// A small deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    fn bytes(&mut self, out: &mut Vec<u8>, n: usize) {
        out.extend((0..n).map(|_| self.next_u64() as u8));
    }
}

/// Appends `value` as an unsigned varint.
pub fn put_uvarint(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[derive(Debug, Clone, Copy)]
struct Mode {
    version: i16,
    flexible: bool,
}

/// What a sample may contain.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Most elements per array (default 3).
    pub max_array: u64,
    /// Write unknown tagged fields with low tag numbers (0–7, skipping the tags the table
    /// knows at the version) and 3-byte values that no known field's encoding fills
    /// exactly, instead of tags from 40 up with random values. A decoder that knows a
    /// tag the table does not then reads past the value and goes astray, which is how the
    /// tests find a known tag missing from the table.
    pub low_unknown_tags: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_array: 3,
            low_unknown_tags: false,
        }
    }
}

struct Gen<'r> {
    rng: &'r mut Rng,
    opts: Options,
}

impl Gen<'_> {
    fn len(&mut self, out: &mut Vec<u8>, mode: Mode, wide: bool, n: usize) {
        if mode.flexible {
            put_uvarint(out, n as u32 + 1);
        } else if wide {
            out.extend_from_slice(&(n as i32).to_be_bytes());
        } else {
            out.extend_from_slice(&(n as i16).to_be_bytes());
        }
    }

    fn string(&mut self, out: &mut Vec<u8>, mode: Mode) {
        let n = self.rng.below(6) as usize;
        self.len(out, mode, false, n);
        out.extend((0..n).map(|_| b'a' + self.rng.below(26) as u8));
    }

    fn value(&mut self, out: &mut Vec<u8>, ty: Ty, mode: Mode) {
        match ty {
            Ty::Int8 => self.rng.bytes(out, 1),
            Ty::Int16 | Ty::UInt16 => self.rng.bytes(out, 2),
            Ty::Int32 | Ty::UInt32 => self.rng.bytes(out, 4),
            Ty::Int64 => self.rng.bytes(out, 8),
            Ty::Float64 => {
                let f = self.rng.next_u64() as i32 as f64 / 7.0;
                out.extend_from_slice(&f.to_be_bytes());
            }
            Ty::Bool => out.push(self.rng.below(2) as u8),
            Ty::Uuid => self.rng.bytes(out, 16),
            Ty::String => self.string(out, mode),
            Ty::ClassicString => self.string(
                out,
                Mode {
                    flexible: false,
                    ..mode
                },
            ),
            Ty::Bytes | Ty::Records => {
                let n = self.rng.below(9) as usize;
                self.len(out, mode, true, n);
                self.rng.bytes(out, n);
            }
            Ty::Struct(s) => self.structure(out, s, mode),
            Ty::OptionStruct(s) => {
                if self.rng.below(2) == 0 {
                    out.push(0xff);
                } else {
                    out.push(1);
                    self.structure(out, s, mode);
                }
            }
            Ty::Array(elem) => {
                let n = self.rng.below(self.opts.max_array + 1) as usize;
                self.len(out, mode, true, n);
                for _ in 0..n {
                    match elem {
                        Elem::Struct(s) => self.structure(out, s, mode),
                        other => self.value(out, other.ty(), mode),
                    }
                }
            }
        }
    }

    fn structure(&mut self, out: &mut Vec<u8>, s: &Struct, mode: Mode) {
        for f in s.fields {
            if f.versions.contains(mode.version) {
                self.value(out, f.ty, mode);
            }
        }
        if !mode.flexible {
            return;
        }
        let mut tagged: Vec<(u32, Vec<u8>)> = Vec::new();
        for t in s.tagged {
            if t.versions.contains(mode.version) && self.rng.below(2) == 0 {
                let mut v = Vec::new();
                self.value(&mut v, t.ty, mode);
                tagged.push((t.tag, v));
            }
        }
        if self.opts.low_unknown_tags {
            for t in 0..8u32 {
                let known = s
                    .tagged
                    .iter()
                    .any(|k| k.tag == t && k.versions.contains(mode.version));
                if !known && self.rng.below(2) == 0 {
                    tagged.push((t, vec![0xff; 3]));
                }
            }
        } else {
            // Unknown tags above every known one, ascending (as Kafka writes them).
            let mut next = 40 + self.rng.below(20) as u32;
            for _ in 0..self.rng.below(3) {
                let mut v = Vec::new();
                let n = self.rng.below(4) as usize;
                self.rng.bytes(&mut v, n);
                tagged.push((next, v));
                next += 1 + self.rng.below(100) as u32;
            }
        }
        put_uvarint(out, tagged.len() as u32);
        for (tag, v) in tagged {
            put_uvarint(out, tag);
            put_uvarint(out, v.len() as u32);
            out.extend_from_slice(&v);
        }
    }
}

/// A sample of `shape` at `version` (which the shape should cover) with default
/// [`Options`].
pub fn message(shape: &Message, version: i16, rng: &mut Rng) -> Vec<u8> {
    message_with(shape, version, rng, Options::default())
}

/// A sample of `shape` at `version` with the given options.
pub fn message_with(shape: &Message, version: i16, rng: &mut Rng, opts: Options) -> Vec<u8> {
    let mode = Mode {
        version,
        flexible: shape.is_flexible(version),
    };
    let mut out = Vec::new();
    Gen { rng, opts }.structure(&mut out, shape.body, mode);
    out
}

/// A request frame (header and body, no length prefix) of `key` at `version`, with a
/// correct api key and version in its header, or `None` if the table lacks the API.
pub fn request_frame(key: ApiKey, version: i16, rng: &mut Rng) -> Option<Vec<u8>> {
    let body = shape_of(key, Direction::Request)?;
    let mut out = Vec::new();
    out.extend_from_slice(&(key as i16).to_be_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    let rest = message(
        &table::REQUEST_HEADER,
        key.request_header_version(version),
        rng,
    );
    // Keep the sampled correlation id, client id and tags; replace key and version.
    out.extend_from_slice(rest.get(4..)?);
    out.extend_from_slice(&message(body, version, rng));
    Some(out)
}

/// A response frame (header and body, no length prefix) of `key` at `version`, or `None`
/// if the table lacks the API.
pub fn response_frame(key: ApiKey, version: i16, rng: &mut Rng) -> Option<Vec<u8>> {
    let body = shape_of(key, Direction::Response)?;
    let mut out = message(
        &table::RESPONSE_HEADER,
        key.response_header_version(version),
        rng,
    );
    out.extend_from_slice(&message(body, version, rng));
    Some(out)
}
