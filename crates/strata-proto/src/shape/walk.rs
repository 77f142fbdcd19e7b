//! The walker: follows a [`Message`]'s table over a byte slice without building anything,
//! checking every length and count read from the wire against the bytes that remain.
//!
//! It allocates nothing on the way (only an error, once, on the way out) and recurses only
//! along the table's nesting (a struct inside an array inside a struct ...), never along
//! anything the wire says, so its depth is fixed by the table ([`MAX_DEPTH`]).

use super::dsl::{Elem, Message, Struct, Ty};
use super::Problem;

/// Deepest struct nesting the walker follows; deeper means a table bug (Kafka's schemas
/// nest four or five levels at most).
pub(crate) const MAX_DEPTH: u8 = 12;

/// One step of the path to a fault, innermost first while unwinding.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Seg {
    Field(&'static str),
    Index(u64),
    UnknownTag(u32),
    TaggedSection,
}

/// A problem and where it was found. Boxed, so the walker's results stay one word wide
/// on the (hot) success path.
#[derive(Debug)]
pub(crate) struct Fault(Box<FaultData>);

#[derive(Debug)]
struct FaultData {
    problem: Problem,
    /// Innermost segment first.
    path: Vec<Seg>,
}

impl Fault {
    #[cold]
    #[inline(never)]
    fn new(problem: Problem) -> Fault {
        Fault(Box::new(FaultData {
            problem,
            path: Vec::new(),
        }))
    }

    /// The problem and the path (outermost first) to where it is.
    pub(crate) fn into_parts(self) -> (Problem, String) {
        let path = self.path_string();
        (self.0.problem, path)
    }

    /// The table has no shape for the message asked for.
    pub(crate) fn no_shape() -> Fault {
        Fault::new(Problem::NoShape)
    }

    /// The fault is in the frame's header.
    pub(crate) fn at_header(self) -> Fault {
        self.at(Seg::Field("header"))
    }

    #[cold]
    fn at(mut self, seg: Seg) -> Fault {
        self.0.path.push(seg);
        self
    }

    /// The path, outermost first: `topics[0].partitions[3].records`.
    fn path_string(&self) -> String {
        let mut out = String::new();
        for seg in self.0.path.iter().rev() {
            match seg {
                Seg::Field(name) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(name);
                }
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
                Seg::UnknownTag(t) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(&format!("<tag {t}>"));
                }
                Seg::TaggedSection => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str("<tagged fields>");
                }
            }
        }
        out
    }
}

type Step<T = ()> = Result<T, Fault>;

/// How one message is read: its version and whether that version is flexible.
#[derive(Debug, Clone, Copy)]
struct Mode {
    version: i16,
    flexible: bool,
}

/// A cursor over one frame. Several messages (a header, then a body) may be walked in
/// turn; the element budget is shared by all of them.
#[derive(Debug)]
pub(crate) struct Walk<'a> {
    buf: &'a [u8],
    pos: usize,
    /// End of the window being read: the frame's end, or a known tagged field's end.
    end: usize,
    elements: usize,
    limit: usize,
}

impl<'a> Walk<'a> {
    /// A cursor at the start of `buf`, allowing `limit` decoded elements in total.
    pub(crate) fn new(buf: &'a [u8], limit: usize) -> Walk<'a> {
        Walk {
            buf,
            pos: 0,
            end: buf.len(),
            elements: 0,
            limit,
        }
    }

    /// Bytes consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// Walks `msg` at `version` from the current position.
    pub(crate) fn message(&mut self, msg: &Message, version: i16) -> Step {
        if !msg.versions.contains(version) {
            return Err(Fault::new(Problem::NoShape));
        }
        let mode = Mode {
            version,
            flexible: msg.is_flexible(version),
        };
        self.walk_struct(msg.body, mode, 0)
    }

    fn remaining(&self) -> usize {
        self.end - self.pos
    }

    /// Skips `n` bytes of a fixed-size value.
    fn skip_fixed(&mut self, n: usize) -> Step {
        let remain = self.remaining();
        if n > remain {
            return Err(Fault::new(Problem::Truncated { need: n, remain }));
        }
        self.pos += n;
        Ok(())
    }

    /// Skips `len` bytes of a length-prefixed value.
    fn skip_len(&mut self, len: u64) -> Step {
        let remain = self.remaining();
        if len > remain as u64 {
            return Err(Fault::new(Problem::TooLong { len, remain }));
        }
        self.pos += len as usize;
        Ok(())
    }

    fn byte(&mut self) -> Step<u8> {
        let Some(&b) = self.buf[..self.end].get(self.pos) else {
            return Err(Fault::new(Problem::Truncated { need: 1, remain: 0 }));
        };
        self.pos += 1;
        Ok(b)
    }

    fn int16(&mut self) -> Step<i16> {
        let hi = self.byte_or(2)?;
        let lo = self.byte()?;
        Ok(i16::from_be_bytes([hi, lo]))
    }

    fn int32(&mut self) -> Step<i32> {
        let remain = self.remaining();
        if remain < 4 {
            return Err(Fault::new(Problem::Truncated { need: 4, remain }));
        }
        let p = self.pos;
        self.pos += 4;
        Ok(i32::from_be_bytes([
            self.buf[p],
            self.buf[p + 1],
            self.buf[p + 2],
            self.buf[p + 3],
        ]))
    }

    /// The first byte of an `n`-byte value (so a short read reports the whole need).
    fn byte_or(&mut self, n: usize) -> Step<u8> {
        let remain = self.remaining();
        if remain < n {
            return Err(Fault::new(Problem::Truncated { need: n, remain }));
        }
        self.byte()
    }

    /// An unsigned varint of at most 5 bytes that fits 32 bits.
    fn uvarint(&mut self) -> Step<u32> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let b = self.byte()?;
            if i == 4 && b > 0x0f {
                return Err(Fault::new(Problem::BadVarint));
            }
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Fault::new(Problem::BadVarint))
    }

    /// A length or count: compact (varint of n + 1, 0 = null) in flexible versions, else a
    /// signed big-endian `INT16`/`INT32` (-1 = null). `None` is null.
    fn length(&mut self, mode: Mode, wide: bool) -> Step<Option<u64>> {
        if mode.flexible {
            return Ok(self.uvarint()?.checked_sub(1).map(u64::from));
        }
        let n = if wide {
            i64::from(self.int32()?)
        } else {
            i64::from(self.int16()?)
        };
        match n {
            -1 => Ok(None),
            n if n < 0 => Err(Fault::new(Problem::NegativeLength(n))),
            n => Ok(Some(n as u64)),
        }
    }

    fn walk_struct(&mut self, s: &Struct, mode: Mode, depth: u8) -> Step {
        if depth > MAX_DEPTH {
            return Err(Fault::new(Problem::TooDeep));
        }
        // Runs of fixed-size fields are skipped in one step.
        let mut run = 0;
        let mut run_start = 0;
        for (i, f) in s.fields.iter().enumerate() {
            if !f.versions.contains(mode.version) {
                continue;
            }
            if f.fixed > 0 {
                if run == 0 {
                    run_start = i;
                }
                run += usize::from(f.fixed);
                continue;
            }
            if run > 0 {
                self.skip_run(s, run_start, run, mode)?;
                run = 0;
            }
            self.walk_ty(f.ty, mode, depth)
                .map_err(|e| e.at(Seg::Field(f.name)))?;
        }
        if run > 0 {
            self.skip_run(s, run_start, run, mode)?;
        }
        if mode.flexible {
            self.walk_tagged(s, mode, depth)?;
        }
        Ok(())
    }

    /// Skips `len` bytes of fixed-size fields starting at `s.fields[start]`.
    fn skip_run(&mut self, s: &Struct, start: usize, len: usize, mode: Mode) -> Step {
        if len <= self.remaining() {
            self.pos += len;
            return Ok(());
        }
        self.run_fault(s, start, mode)
    }

    /// Finds the field of a fixed-size run that does not fit, for the error path.
    #[cold]
    fn run_fault(&mut self, s: &Struct, start: usize, mode: Mode) -> Step {
        let present = s.fields[start..]
            .iter()
            .filter(|f| f.versions.contains(mode.version));
        for f in present.take_while(|f| f.fixed > 0) {
            self.skip_fixed(usize::from(f.fixed))
                .map_err(|e| e.at(Seg::Field(f.name)))?;
        }
        let remain = self.remaining();
        Err(Fault::new(Problem::Truncated {
            need: remain + 1,
            remain,
        }))
    }

    fn walk_tagged(&mut self, s: &Struct, mode: Mode, depth: u8) -> Step {
        let count = self.uvarint().map_err(|e| e.at(Seg::TaggedSection))?;
        // A tagged field is at least a tag and a size, one byte each.
        self.check_count(u64::from(count), 2, true)
            .map_err(|e| e.at(Seg::TaggedSection))?;
        for _ in 0..count {
            let tag = self.uvarint().map_err(|e| e.at(Seg::TaggedSection))?;
            let size = self.uvarint().map_err(|e| e.at(Seg::UnknownTag(tag)))?;
            let known = s
                .tagged
                .iter()
                .find(|t| t.tag == tag && t.versions.contains(mode.version));
            let Some(known) = known else {
                self.skip_len(u64::from(size))
                    .map_err(|e| e.at(Seg::UnknownTag(tag)))?;
                continue;
            };
            let at = |e: Fault| e.at(Seg::Field(known.name));
            let remain = self.remaining();
            if size as usize > remain {
                return Err(at(Fault::new(Problem::TooLong {
                    len: u64::from(size),
                    remain,
                })));
            }
            // Read the value inside its declared size, and require it to fill it: the
            // decoder reads the value from the main buffer, so a size that lies would
            // put the decoder somewhere else than the walker.
            let outer_end = self.end;
            let start = self.pos;
            self.end = start + size as usize;
            let walked = self.walk_ty(known.ty, mode, depth);
            let used = self.pos - start;
            self.end = outer_end;
            walked.map_err(at)?;
            if used != size as usize {
                return Err(at(Fault::new(Problem::TaggedSize {
                    declared: size,
                    used,
                })));
            }
        }
        Ok(())
    }

    /// Rejects `count` elements of at least `min_each` bytes when fewer bytes remain, and
    /// charges them to the element budget when `charged`.
    fn check_count(&mut self, count: u64, min_each: usize, charged: bool) -> Step {
        let remain = self.remaining();
        if count.saturating_mul(min_each as u64) > remain as u64 {
            return Err(Fault::new(Problem::TooManyElements {
                count,
                min_each,
                remain,
            }));
        }
        if charged {
            // count <= remain, so this cannot overflow.
            self.elements += count as usize;
            if self.elements > self.limit {
                return Err(Fault::new(Problem::ElementBudget { limit: self.limit }));
            }
        }
        Ok(())
    }

    fn walk_ty(&mut self, ty: Ty, mode: Mode, depth: u8) -> Step {
        match ty {
            Ty::Int8 | Ty::Bool => self.skip_fixed(1),
            Ty::Int16 | Ty::UInt16 => self.skip_fixed(2),
            Ty::Int32 | Ty::UInt32 => self.skip_fixed(4),
            Ty::Int64 | Ty::Float64 => self.skip_fixed(8),
            Ty::Uuid => self.skip_fixed(16),
            Ty::String => match self.length(mode, false)? {
                Some(len) => self.skip_len(len),
                None => Ok(()),
            },
            Ty::ClassicString => {
                let classic = Mode {
                    flexible: false,
                    ..mode
                };
                match self.length(classic, false)? {
                    Some(len) => self.skip_len(len),
                    None => Ok(()),
                }
            }
            Ty::Bytes | Ty::Records => match self.length(mode, true)? {
                Some(len) => self.skip_len(len),
                None => Ok(()),
            },
            Ty::Struct(s) => self.walk_struct(s, mode, depth + 1),
            Ty::OptionStruct(s) => {
                if self.byte()? == 1 {
                    self.walk_struct(s, mode, depth + 1)?;
                }
                Ok(())
            }
            Ty::Array(elem) => self.walk_array(elem, mode, depth),
        }
    }

    fn walk_array(&mut self, elem: Elem, mode: Mode, depth: u8) -> Step {
        let Some(count) = self.length(mode, true)? else {
            return Ok(());
        };
        // Every element takes at least one byte (Kafka's own rule), even a struct whose
        // fields are all absent in this version.
        let min_each = min_size(elem.ty(), mode).max(1);
        match elem {
            Elem::Struct(s) => {
                self.check_count(count, min_each, true)?;
                for i in 0..count {
                    self.walk_struct(s, mode, depth + 1)
                        .map_err(|e| e.at(Seg::Index(i)))?;
                }
            }
            Elem::String => {
                self.check_count(count, min_each, true)?;
                for i in 0..count {
                    self.walk_ty(Ty::String, mode, depth)
                        .map_err(|e| e.at(Seg::Index(i)))?;
                }
            }
            // Fixed-size elements decode to no more memory than they take on the wire:
            // checked as one span, not charged to the budget.
            Elem::Int8 | Elem::Int16 | Elem::Int32 | Elem::Int64 | Elem::Uuid => {
                self.check_count(count, min_each, false)?;
                self.pos += count as usize * min_each;
            }
        }
        Ok(())
    }
}

/// The fewest bytes a value of `ty` takes at `mode` (optional tagged fields excluded).
fn min_size(ty: Ty, mode: Mode) -> usize {
    let flex = mode.flexible;
    match ty {
        Ty::Int8 | Ty::Bool => 1,
        Ty::Int16 | Ty::UInt16 => 2,
        Ty::Int32 | Ty::UInt32 => 4,
        Ty::Int64 | Ty::Float64 => 8,
        Ty::Uuid => 16,
        Ty::ClassicString => 2,
        Ty::String if flex => 1,
        Ty::String => 2,
        Ty::Bytes | Ty::Records | Ty::Array(_) if flex => 1,
        Ty::Bytes | Ty::Records | Ty::Array(_) => 4,
        Ty::OptionStruct(_) => 1,
        Ty::Struct(s) => {
            let fields: usize = s
                .fields
                .iter()
                .filter(|f| f.versions.contains(mode.version))
                .map(|f| min_size(f.ty, mode))
                .sum();
            // The tagged-field count.
            fields + usize::from(flex)
        }
    }
}
