//! Layout descriptors: what a typed message looks like in memory.
//!
//! A [`LayoutDescriptor`] names a `#[repr(C)]` struct's fields with their kind,
//! offset, size and array shape, recursively for nested messages. It is built by
//! `#[derive(ShmMessage)]` from what rustc reports (`size_of`, `offset_of!`), stored
//! in every typed segment (see [`LayoutDescriptor::encode`]) so that other
//! languages and tools can decode a topic, and reduced to a 64-bit structural
//! hash ([`LayoutDescriptor::hash`]).
//!
//! # The structural hash
//! FNV-1a (64 bit) over a canonical byte encoding of the layout: total size and
//! alignment, then for every field in declaration order its name, offset, size,
//! array shape and kind, recursively. Type names are *not* part of the hash: a
//! type renamed or moved to another module keeps its hash; a field renamed,
//! reordered, resized or retyped changes it.
//!
//! # Variable-size messages
//! A descriptor may end with a [`Tail`]: a run-time-length array of one
//! element type after the fixed part (an image header and its pixels). The
//! hash then also covers the element type, but not the maximum length nor
//! the topic's generation, which say how large this segment's slots are,
//! not what a message is. The tail is encoded after the fixed part behind a
//! marker and a version, so a descriptor without one encodes byte for byte
//! as before (see [`LayoutDescriptor::encode`]).
//!
//! This module is pure: no atomics, no system calls.

use std::fmt;

/// The element kinds a field can have at the bottom of its array shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// `u8`
    U8,
    /// `u16`
    U16,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `i8`
    I8,
    /// `i16`
    I16,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `f32`
    F32,
    /// `f64`
    F64,
    /// [`Flag`](crate::Flag): a `u8` read as `false` when zero, `true` otherwise.
    Flag,
}

impl Scalar {
    /// All scalar kinds, in the order of their wire codes.
    pub const ALL: [Scalar; 11] = [
        Scalar::U8,
        Scalar::U16,
        Scalar::U32,
        Scalar::U64,
        Scalar::I8,
        Scalar::I16,
        Scalar::I32,
        Scalar::I64,
        Scalar::F32,
        Scalar::F64,
        Scalar::Flag,
    ];

    /// Size in bytes (equal to the alignment for every scalar).
    pub const fn size(self) -> u32 {
        match self {
            Scalar::U8 | Scalar::I8 | Scalar::Flag => 1,
            Scalar::U16 | Scalar::I16 => 2,
            Scalar::U32 | Scalar::I32 | Scalar::F32 => 4,
            Scalar::U64 | Scalar::I64 | Scalar::F64 => 8,
        }
    }

    /// The name used in descriptors, schemas and error messages (`"f64"`, `"flag"`).
    pub const fn name(self) -> &'static str {
        match self {
            Scalar::U8 => "u8",
            Scalar::U16 => "u16",
            Scalar::U32 => "u32",
            Scalar::U64 => "u64",
            Scalar::I8 => "i8",
            Scalar::I16 => "i16",
            Scalar::I32 => "i32",
            Scalar::I64 => "i64",
            Scalar::F32 => "f32",
            Scalar::F64 => "f64",
            Scalar::Flag => "flag",
        }
    }

    /// Looks a scalar up by [`name`](Self::name).
    pub fn from_name(name: &str) -> Option<Scalar> {
        Scalar::ALL.into_iter().find(|s| s.name() == name)
    }

    fn code(self) -> u8 {
        Scalar::ALL.iter().position(|s| *s == self).unwrap_or(0) as u8
    }
}

/// What sits at the bottom of a field's array shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A number or a flag.
    Scalar(Scalar),
    /// A nested message.
    Struct(LayoutDescriptor),
    /// [`FixedString<N>`](crate::FixedString): `len: u32`, then `N` bytes of UTF-8.
    FixedString {
        /// `N`, the capacity in bytes.
        capacity: u32,
    },
    /// [`FixedVec<T, N>`](crate::FixedVec): `len: u32`, 4 reserved bytes, then `[T; N]`.
    FixedVec {
        /// The element type `T`.
        elem: Box<TypeDesc>,
        /// `N`, the capacity in elements.
        capacity: u32,
    },
    /// A foreign `bytemuck::Pod` type (a `#[shm(pod)]` field, such as a
    /// `glam::Vec3`): a block of bytes whose size and alignment are known but
    /// whose contents are not described. Never inside an array shape: a
    /// `#[shm(pod)] [T; N]` field is one opaque block of `N * size_of::<T>()`.
    Opaque {
        /// `size_of` the type.
        size: u32,
        /// `align_of` the type.
        align: u32,
    },
}

impl Kind {
    /// Size in bytes of one element of this kind (`u32::MAX` if it does not
    /// fit: see [`checked_size`](Self::checked_size)).
    pub fn size(&self) -> u32 {
        self.checked_size().unwrap_or(u32::MAX)
    }

    /// Size in bytes of one element of this kind, or `None` if it does not
    /// fit in a `u32` (a descriptor from a segment or a dict may claim any
    /// capacity).
    pub fn checked_size(&self) -> Option<u32> {
        match self {
            Kind::Scalar(s) => Some(s.size()),
            Kind::Struct(l) => Some(l.size),
            Kind::FixedString { capacity } => capacity.checked_add(4),
            Kind::FixedVec { elem, capacity } => elem.size.checked_mul(*capacity)?.checked_add(8),
            Kind::Opaque { size, .. } => Some(*size),
        }
    }

    /// Alignment in bytes of one element of this kind.
    pub fn align(&self) -> u32 {
        match self {
            Kind::Scalar(s) => s.size(),
            Kind::Struct(l) => l.align,
            Kind::FixedString { .. } => 4,
            Kind::FixedVec { elem, .. } => elem.align().max(4),
            Kind::Opaque { align, .. } => *align,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Scalar(s) => f.write_str(s.name()),
            Kind::Struct(l) => f.write_str(&l.name),
            Kind::FixedString { capacity } => write!(f, "FixedString<{capacity}>"),
            Kind::FixedVec { elem, capacity } => write!(f, "FixedVec<{elem}, {capacity}>"),
            Kind::Opaque { size, align } => write!(f, "opaque({size} bytes, align {align})"),
        }
    }
}

/// The type of a field: a kind inside zero or more fixed array dimensions.
///
/// `[[f64; 3]; 4]` is kind `f64` with shape `[4, 3]` (outermost first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeDesc {
    /// The element kind.
    pub kind: Kind,
    /// Array dimensions, outermost first; empty for a plain value.
    pub shape: Vec<u32>,
    /// Total size in bytes (element size times every dimension).
    pub size: u32,
}

impl TypeDesc {
    /// A plain scalar.
    pub fn scalar(s: Scalar) -> TypeDesc {
        TypeDesc::of(Kind::Scalar(s))
    }

    /// A plain value of `kind` (no array dimensions).
    pub fn of(kind: Kind) -> TypeDesc {
        let size = kind.size();
        TypeDesc {
            kind,
            shape: Vec::new(),
            size,
        }
    }

    /// `[self; len]`: adds an outer array dimension.
    pub fn array(mut self, len: u32) -> TypeDesc {
        self.shape.insert(0, len);
        self.size = self.size.saturating_mul(len);
        self
    }

    /// Alignment in bytes.
    pub fn align(&self) -> u32 {
        self.kind.align()
    }

    /// Number of elements (product of the shape; 1 for a plain value).
    pub fn count(&self) -> u64 {
        self.shape.iter().map(|&d| u64::from(d)).product()
    }
}

impl fmt::Display for TypeDesc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for _ in &self.shape {
            f.write_str("[")?;
        }
        write!(f, "{}", self.kind)?;
        for d in self.shape.iter().rev() {
            write!(f, "; {d}]")?;
        }
        Ok(())
    }
}

/// One field of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldDescriptor {
    /// Field name as written in the struct.
    pub name: String,
    /// Byte offset from the start of the message.
    pub offset: u32,
    /// The field's type (its `size` is the field's size).
    pub ty: TypeDesc,
}

impl FieldDescriptor {
    /// A field named `name` at `offset`.
    pub fn new(name: &str, offset: usize, ty: TypeDesc) -> FieldDescriptor {
        FieldDescriptor {
            name: name.to_owned(),
            offset: offset as u32,
            ty,
        }
    }
}

/// The run-time-length array that ends a variable-size message: after the
/// fixed part (the descriptor's fields, `size` bytes), padding up to the
/// element's alignment, then `n <= max_len` elements. Each message's length
/// in bytes says its `n`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tail {
    /// The element type (a scalar, an array or a struct).
    pub elem: TypeDesc,
    /// Byte offset of the first element: the fixed part's size rounded up
    /// to the element's alignment.
    pub offset: u32,
    /// Most elements a message of this segment may carry (not hashed).
    pub max_len: u32,
    /// How many times the topic's maximum grew before this segment was
    /// made (not hashed).
    pub generation: u32,
    /// Messages the topic's publisher sent before this segment was made
    /// (not hashed): a subscriber that finds a later generation than the
    /// next one counts the messages it never saw.
    pub base: u64,
}

impl Tail {
    /// Bytes of a message carrying `n` elements, or `None` past `u32`.
    pub fn message_len(&self, n: u64) -> Option<u32> {
        n.checked_mul(u64::from(self.elem.size))?
            .checked_add(u64::from(self.offset))
            .and_then(|l| u32::try_from(l).ok())
    }

    /// The number of elements in a message of `len` bytes, or why `len` is
    /// not the length of a message of this tail (bytes a peer wrote: any
    /// value is checked, none panics).
    pub fn elems_in(&self, len: usize) -> Result<usize, String> {
        elems_in(
            len,
            self.offset as usize,
            self.elem.size as usize,
            self.max_len as usize,
        )
    }
}

/// The number of `elem_size`-byte elements in a variable-size message of
/// `len` bytes whose elements start at `offset`, or why `len` (a length a
/// peer wrote) is not one of at most `max_len` elements.
pub fn elems_in(
    len: usize,
    offset: usize,
    elem_size: usize,
    max_len: usize,
) -> Result<usize, String> {
    let rest = len.checked_sub(offset).ok_or_else(|| {
        format!("message of {len} bytes is shorter than its fixed part of {offset} bytes")
    })?;
    if elem_size == 0 || rest % elem_size != 0 {
        return Err(format!(
            "message of {len} bytes: its tail of {rest} bytes is not a whole number of {elem_size}-byte elements"
        ));
    }
    let n = rest / elem_size;
    if n > max_len {
        return Err(format!(
            "message of {n} elements on a topic of at most {max_len}"
        ));
    }
    Ok(n)
}

/// The layout of a `#[repr(C)]` message type: its fields, size, alignment and hash.
#[derive(Clone, Debug)]
pub struct LayoutDescriptor {
    /// Type name (informational: not part of the hash).
    pub name: String,
    /// `size_of` the type (of the fixed part, for a variable-size message).
    pub size: u32,
    /// `align_of` the type.
    pub align: u32,
    /// Fields in declaration order (= offset order for `repr(C)`).
    pub fields: Vec<FieldDescriptor>,
    /// The run-time-length array after the fields, for a variable-size
    /// message (see [`with_tail`](Self::with_tail)); `None` for a fixed one.
    pub tail: Option<Box<Tail>>,
    hash: u64,
}

impl PartialEq for LayoutDescriptor {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.size == other.size
            && self.align == other.align
            && self.fields == other.fields
            && self.tail == other.tail
    }
}
impl Eq for LayoutDescriptor {}

impl LayoutDescriptor {
    /// Builds a descriptor and computes its hash.
    pub fn new(name: &str, size: usize, align: usize, fields: Vec<FieldDescriptor>) -> Self {
        let mut d = LayoutDescriptor {
            name: name.to_owned(),
            size: size as u32,
            align: align as u32,
            fields,
            tail: None,
            hash: 0,
        };
        d.rehash();
        d
    }

    fn rehash(&mut self) {
        let mut enc = Encoder::new(false);
        enc.top(self);
        self.hash = fnv1a64(&enc.out);
    }

    /// This (fixed) layout followed by a run-time-length array of `elem`,
    /// at most `max_len` of them per message: a variable-size message
    /// (generation 0, base 0). The hash covers the fields and `elem`, not
    /// `max_len`. Refused if a message of `max_len` elements would not fit
    /// in a `u32`, or if `elem` is empty or aligned over 8.
    pub fn with_tail(
        mut self,
        elem: TypeDesc,
        max_len: u32,
    ) -> Result<LayoutDescriptor, LayoutError> {
        let align = elem.align();
        if elem.size == 0 || !align.is_power_of_two() || align > 8 || elem.size % align != 0 {
            return Err(LayoutError::new(format!(
                "tail element {elem} of {} bytes and align {align} cannot follow a message",
                elem.size
            )));
        }
        let offset = self
            .size
            .checked_next_multiple_of(align)
            .ok_or_else(|| LayoutError::new("fixed part too large"))?;
        let tail = Tail {
            elem,
            offset,
            max_len,
            generation: 0,
            base: 0,
        };
        if tail.message_len(u64::from(max_len)).is_none() {
            return Err(LayoutError::new(format!(
                "{max_len} elements of {} bytes do not fit in a message",
                tail.elem.size
            )));
        }
        self.tail = Some(Box::new(tail));
        self.rehash();
        Ok(self)
    }

    /// The largest message in bytes: `size`, or the tail's offset plus
    /// `max_len` elements.
    pub fn max_message_len(&self) -> u32 {
        match &self.tail {
            None => self.size,
            Some(t) => t.message_len(u64::from(t.max_len)).unwrap_or(u32::MAX),
        }
    }

    /// The structural hash (see the [module docs](self)).
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The descriptor as bytes, as stored in a typed segment.
    ///
    /// Little-endian throughout: `u32 len + UTF-8` for strings, `u32` for numbers.
    /// Layout: name, size, align, field count, then per field: name, offset,
    /// size, shape (count + dims), kind (code `0..=10` scalar, `32` struct with a
    /// nested layout, `33` fixed string + capacity, `34` fixed vec + capacity + elem type,
    /// `35` opaque + size + align).
    ///
    /// A variable-size message's descriptor goes on with its tail:
    /// `TAIL_MARK` (`b"TAIL"`), the tail encoding's version (1), offset,
    /// max_len, generation, base (`u64`), then the element type. A
    /// descriptor without a tail ends after its fields, as it always has.
    pub fn encode(&self) -> Vec<u8> {
        let mut enc = Encoder::new(true);
        enc.top(self);
        enc.out
    }

    /// Decodes and validates bytes produced by [`encode`](Self::encode), possibly
    /// by another process: every size, offset and count is checked.
    pub fn decode(bytes: &[u8]) -> Result<LayoutDescriptor, LayoutError> {
        let mut dec = Decoder { buf: bytes, pos: 0 };
        let mut d = dec.layout(0)?;
        if dec.pos != bytes.len() {
            if dec.take(4)? != TAIL_MARK {
                return Err(LayoutError::new("trailing bytes after the descriptor"));
            }
            let version = dec.u32()?;
            if version != TAIL_VERSION {
                return Err(LayoutError::new(format!(
                    "tail encoding version {version} (this build reads {TAIL_VERSION})"
                )));
            }
            let (offset, max_len, generation) = (dec.u32()?, dec.u32()?, dec.u32()?);
            let base = u64::from(dec.u32()?) | u64::from(dec.u32()?) << 32;
            let elem = dec.ty(0)?;
            d = d.with_tail(elem, max_len)?;
            let tail = d.tail.as_mut().expect("set by with_tail");
            if tail.offset != offset {
                return Err(LayoutError::new(format!(
                    "tail at offset {offset}, not {} after a {}-byte fixed part",
                    tail.offset, d.size
                )));
            }
            tail.generation = generation;
            tail.base = base;
            if dec.pos != bytes.len() {
                return Err(LayoutError::new("trailing bytes after the descriptor"));
            }
        }
        Ok(d)
    }

    /// The first difference between `self` (ours) and `theirs`, or `None` if the
    /// layouts are structurally identical (same hash inputs).
    ///
    /// The message names the field on both sides, e.g.
    /// ``"`stamp`: u64 at offset 8 vs f64 at offset 16"``; for the tail of
    /// a variable-size message, ``"tail element: u8 vs [u8; 3]"``.
    pub fn first_difference(&self, theirs: &LayoutDescriptor) -> Option<String> {
        diff(self, theirs, "").or_else(|| match (&self.tail, &theirs.tail) {
            (None, None) => None,
            (Some(a), Some(b)) if same_type(&a.elem, &b.elem) => None,
            (Some(a), Some(b)) => Some(format!("tail element: {} vs {}", a.elem, b.elem)),
            (Some(a), None) => Some(format!("tail element: {} vs no tail (fixed size)", a.elem)),
            (None, Some(b)) => Some(format!("tail element: no tail (fixed size) vs {}", b.elem)),
        })
    }

    /// A multi-line human-readable listing of the fields.
    pub fn pretty(&self) -> String {
        let mut s = format!(
            "{} (size {}, align {}, hash {:#018x})\n",
            self.name, self.size, self.align, self.hash
        );
        for f in &self.fields {
            s.push_str(&format!(
                "  {:>6}  {}: {} ({} bytes)\n",
                f.offset, f.name, f.ty, f.ty.size
            ));
        }
        if let Some(t) = &self.tail {
            s.push_str(&format!(
                "  {:>6}  [..]: {} ({} bytes each, at most {}; generation {})\n",
                t.offset, t.elem, t.elem.size, t.max_len, t.generation
            ));
        }
        s
    }
}

fn describe(f: &FieldDescriptor) -> String {
    format!("{} at offset {}", f.ty, f.offset)
}

fn diff(ours: &LayoutDescriptor, theirs: &LayoutDescriptor, prefix: &str) -> Option<String> {
    for (i, a) in ours.fields.iter().enumerate() {
        let path = format!("{prefix}{}", a.name);
        let Some(b) = theirs.fields.get(i) else {
            return Some(format!(
                "`{path}`: {} vs no such field (theirs has {} fields)",
                describe(a),
                theirs.fields.len()
            ));
        };
        if a.name != b.name {
            return Some(format!(
                "field {i}: `{path}` {} vs `{prefix}{}` {}",
                describe(a),
                b.name,
                describe(b)
            ));
        }
        if let (Kind::Struct(la), Kind::Struct(lb)) = (&a.ty.kind, &b.ty.kind) {
            if a.offset == b.offset && a.ty.shape == b.ty.shape {
                if let Some(d) = diff(la, lb, &format!("{path}.")) {
                    return Some(d);
                }
                continue;
            }
        }
        if a.offset != b.offset || !same_type(&a.ty, &b.ty) {
            return Some(format!("`{path}`: {} vs {}", describe(a), describe(b)));
        }
    }
    if let Some(b) = theirs.fields.get(ours.fields.len()) {
        return Some(format!(
            "`{prefix}{}`: no such field (ours has {} fields) vs {}",
            b.name,
            ours.fields.len(),
            describe(b)
        ));
    }
    if ours.size != theirs.size || ours.align != theirs.align {
        return Some(format!(
            "`{}`: size {} align {} vs size {} align {}",
            ours.name, ours.size, ours.align, theirs.size, theirs.align
        ));
    }
    None
}

fn same_type(a: &TypeDesc, b: &TypeDesc) -> bool {
    let mut ea = Encoder::new(false);
    ea.ty(a);
    let mut eb = Encoder::new(false);
    eb.ty(b);
    ea.out == eb.out
}

/// A descriptor read from a segment that does not decode or is inconsistent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid layout descriptor: {reason}")]
pub struct LayoutError {
    /// What is wrong.
    pub reason: String,
}

impl LayoutError {
    fn new(reason: impl Into<String>) -> Self {
        LayoutError {
            reason: reason.into(),
        }
    }
}

/// FNV-1a, 64 bit: small, stable and easy to reimplement in any language.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

const KIND_STRUCT: u8 = 32;
const KIND_STRING: u8 = 33;
const KIND_VEC: u8 = 34;
const KIND_OPAQUE: u8 = 35;
/// Starts the tail of a variable-size message's descriptor.
const TAIL_MARK: &[u8; 4] = b"TAIL";
/// Version of the tail's encoding.
const TAIL_VERSION: u32 = 1;

struct Encoder {
    out: Vec<u8>,
    /// Type names are written by [`LayoutDescriptor::encode`] but not hashed.
    names: bool,
}

impl Encoder {
    fn new(names: bool) -> Self {
        Encoder {
            out: Vec::with_capacity(256),
            names,
        }
    }
    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.out.extend_from_slice(s.as_bytes());
    }
    /// A whole descriptor: its fixed part, then its tail if it has one
    /// (the hash leaves out the tail's length, generation and base).
    fn top(&mut self, l: &LayoutDescriptor) {
        self.layout(l);
        if let Some(t) = &l.tail {
            self.out.extend_from_slice(TAIL_MARK);
            if self.names {
                self.u32(TAIL_VERSION);
                self.u32(t.offset);
                self.u32(t.max_len);
                self.u32(t.generation);
                self.u32(t.base as u32);
                self.u32((t.base >> 32) as u32);
            }
            self.ty(&t.elem);
        }
    }
    fn layout(&mut self, l: &LayoutDescriptor) {
        if self.names {
            self.str(&l.name);
        }
        self.u32(l.size);
        self.u32(l.align);
        self.u32(l.fields.len() as u32);
        for f in &l.fields {
            self.str(&f.name);
            self.u32(f.offset);
            self.ty(&f.ty);
        }
    }
    fn ty(&mut self, t: &TypeDesc) {
        self.u32(t.size);
        self.u32(t.shape.len() as u32);
        for &d in &t.shape {
            self.u32(d);
        }
        match &t.kind {
            Kind::Scalar(s) => self.out.push(s.code()),
            Kind::Struct(l) => {
                self.out.push(KIND_STRUCT);
                self.layout(l);
            }
            Kind::FixedString { capacity } => {
                self.out.push(KIND_STRING);
                self.u32(*capacity);
            }
            Kind::FixedVec { elem, capacity } => {
                self.out.push(KIND_VEC);
                self.u32(*capacity);
                self.ty(elem);
            }
            Kind::Opaque { size, align } => {
                self.out.push(KIND_OPAQUE);
                self.u32(*size);
                self.u32(*align);
            }
        }
    }
}

/// Limits that keep a hostile descriptor from costing unbounded time or memory.
const MAX_DEPTH: u32 = 16;
const MAX_FIELDS: u32 = 4096;
const MAX_DIMS: u32 = 8;
const MAX_NAME: u32 = 256;

struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], LayoutError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| LayoutError::new("descriptor truncated"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, LayoutError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, LayoutError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn str(&mut self) -> Result<String, LayoutError> {
        let n = self.u32()?;
        if n > MAX_NAME {
            return Err(LayoutError::new(format!("name of {n} bytes")));
        }
        let b = self.take(n as usize)?;
        String::from_utf8(b.to_vec()).map_err(|_| LayoutError::new("name is not UTF-8"))
    }
    fn layout(&mut self, depth: u32) -> Result<LayoutDescriptor, LayoutError> {
        if depth > MAX_DEPTH {
            return Err(LayoutError::new("nesting too deep"));
        }
        let name = self.str()?;
        let size = self.u32()?;
        let align = self.u32()?;
        let n = self.u32()?;
        if n > MAX_FIELDS {
            return Err(LayoutError::new(format!("{n} fields")));
        }
        if !align.is_power_of_two() || align > 4096 || size % align != 0 {
            return Err(LayoutError::new(format!(
                "`{name}`: size {size} and align {align} are inconsistent"
            )));
        }
        let mut fields: Vec<FieldDescriptor> = Vec::with_capacity(n as usize);
        let mut end = 0u64;
        for _ in 0..n {
            let fname = self.str()?;
            let offset = self.u32()?;
            let ty = self.ty(depth)?;
            if u64::from(offset) < end
                || u64::from(offset) + u64::from(ty.size) > u64::from(size)
                || offset % ty.align() != 0
            {
                return Err(LayoutError::new(format!(
                    "`{name}.{fname}`: {ty} at offset {offset} does not fit"
                )));
            }
            end = u64::from(offset) + u64::from(ty.size);
            fields.push(FieldDescriptor {
                name: fname,
                offset,
                ty,
            });
        }
        Ok(LayoutDescriptor::new(
            &name,
            size as usize,
            align as usize,
            fields,
        ))
    }
    fn ty(&mut self, depth: u32) -> Result<TypeDesc, LayoutError> {
        let size = self.u32()?;
        let ndims = self.u32()?;
        if ndims > MAX_DIMS {
            return Err(LayoutError::new(format!("{ndims} array dimensions")));
        }
        let mut shape = Vec::with_capacity(ndims as usize);
        for _ in 0..ndims {
            shape.push(self.u32()?);
        }
        let code = self.u8()?;
        let kind = match code {
            KIND_STRUCT => Kind::Struct(self.layout(depth + 1)?),
            KIND_STRING => Kind::FixedString {
                capacity: self.u32()?,
            },
            KIND_VEC => {
                let capacity = self.u32()?;
                let elem = self.ty(depth + 1)?;
                Kind::FixedVec {
                    elem: Box::new(elem),
                    capacity,
                }
            }
            KIND_OPAQUE => {
                let (size, align) = (self.u32()?, self.u32()?);
                if !align.is_power_of_two() || align > 4096 || size % align != 0 {
                    return Err(LayoutError::new(format!(
                        "opaque type of {size} bytes and align {align} is inconsistent"
                    )));
                }
                if !shape.is_empty() {
                    return Err(LayoutError::new("an opaque type has no array shape"));
                }
                Kind::Opaque { size, align }
            }
            c => Kind::Scalar(
                *Scalar::ALL
                    .get(c as usize)
                    .ok_or_else(|| LayoutError::new(format!("unknown kind code {c}")))?,
            ),
        };
        let kind_size = kind
            .checked_size()
            .ok_or_else(|| LayoutError::new(format!("type of kind {kind} is too large")))?;
        let expected = shape
            .iter()
            .try_fold(u64::from(kind_size), |acc, &d| {
                acc.checked_mul(u64::from(d))
            })
            .filter(|&s| s <= u64::from(u32::MAX));
        if expected != Some(u64::from(size)) {
            return Err(LayoutError::new(format!(
                "type of kind {kind} and shape {shape:?} claims {size} bytes"
            )));
        }
        Ok(TypeDesc { kind, shape, size })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capacity_whose_size_overflows_is_refused_not_wrapped() {
        let huge = |kind| {
            LayoutDescriptor::new(
                "Huge",
                8,
                8,
                vec![FieldDescriptor::new("v", 0, TypeDesc::of(kind))],
            )
        };
        for kind in [
            Kind::FixedVec {
                elem: Box::new(TypeDesc::scalar(Scalar::U64)),
                capacity: 1 << 29,
            },
            Kind::FixedString { capacity: u32::MAX },
        ] {
            let err = LayoutDescriptor::decode(&huge(kind).encode()).unwrap_err();
            assert!(err.to_string().contains("too large"), "{err}");
        }
    }

    fn sample() -> LayoutDescriptor {
        let inner = LayoutDescriptor::new(
            "Vec3",
            24,
            8,
            vec![
                FieldDescriptor::new("x", 0, TypeDesc::scalar(Scalar::F64)),
                FieldDescriptor::new("y", 8, TypeDesc::scalar(Scalar::F64)),
                FieldDescriptor::new("z", 16, TypeDesc::scalar(Scalar::F64)),
            ],
        );
        LayoutDescriptor::new(
            "Imu",
            8 + 24 + 72 + 36 + 4,
            8,
            vec![
                FieldDescriptor::new("stamp", 0, TypeDesc::scalar(Scalar::U64)),
                FieldDescriptor::new("accel", 8, TypeDesc::of(Kind::Struct(inner))),
                FieldDescriptor::new("cov", 32, TypeDesc::scalar(Scalar::F64).array(3).array(3)),
                FieldDescriptor::new(
                    "frame",
                    104,
                    TypeDesc::of(Kind::FixedString { capacity: 32 }),
                ),
                FieldDescriptor::new("ok", 140, TypeDesc::scalar(Scalar::Flag).array(4)),
            ],
        )
    }

    #[test]
    fn encode_decode_round_trip() {
        let d = sample();
        let back = LayoutDescriptor::decode(&d.encode()).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.hash(), d.hash());
    }

    #[test]
    fn hash_ignores_type_names_but_not_field_names() {
        let d = sample();
        let mut renamed = d.clone();
        renamed.name = "Other".into();
        let renamed = LayoutDescriptor::new(&renamed.name, 144, 8, renamed.fields);
        assert_eq!(renamed.hash(), d.hash());
        let mut fields = d.fields.clone();
        fields[0].name = "stamp_ns".into();
        let changed = LayoutDescriptor::new("Imu", 144, 8, fields);
        assert_ne!(changed.hash(), d.hash());
    }

    #[test]
    fn difference_names_field_on_both_sides() {
        let d = sample();
        let mut fields = d.fields.clone();
        fields[0].ty = TypeDesc::scalar(Scalar::F64);
        let other = LayoutDescriptor::new("Imu", 144, 8, fields);
        assert_eq!(
            d.first_difference(&other).unwrap(),
            "`stamp`: u64 at offset 0 vs f64 at offset 0"
        );
        assert_eq!(d.first_difference(&d.clone()), None);
        let mut nested = d.fields.clone();
        if let Kind::Struct(l) = &mut nested[1].ty.kind {
            l.fields[2].name = "w".into();
        }
        let other = LayoutDescriptor::new("Imu", 144, 8, nested);
        let msg = d.first_difference(&other).unwrap();
        assert!(
            msg.contains("`accel.z`") && msg.contains("`accel.w`"),
            "{msg}"
        );
    }

    #[test]
    fn opaque_fields_round_trip_and_hash_their_size_and_alignment() {
        let with = |size, align| {
            LayoutDescriptor::new(
                "Pose",
                16,
                4,
                vec![
                    FieldDescriptor::new("position", 0, TypeDesc::of(Kind::Opaque { size, align })),
                    FieldDescriptor::new("yaw", 12, TypeDesc::scalar(Scalar::F32)),
                ],
            )
        };
        let d = with(12, 4);
        let back = LayoutDescriptor::decode(&d.encode()).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.hash(), d.hash());
        assert_eq!(d.fields[0].ty.to_string(), "opaque(12 bytes, align 4)");
        // Same bytes, but described as numbers: another layout.
        let mut fields = d.fields.clone();
        fields[0].ty = TypeDesc::scalar(Scalar::F32).array(3);
        let numbers = LayoutDescriptor::new("Pose", 16, 4, fields);
        assert_ne!(numbers.hash(), d.hash());
        assert_eq!(
            d.first_difference(&numbers).unwrap(),
            "`position`: opaque(12 bytes, align 4) at offset 0 vs [f32; 3] at offset 0"
        );
        // The alignment is part of the hash; inconsistent ones do not decode.
        assert_ne!(with(12, 2).hash(), d.hash());
        assert!(LayoutDescriptor::decode(&with(12, 3).encode()).is_err());
        assert!(LayoutDescriptor::decode(&with(10, 4).encode()).is_err());
        let mut shaped = d.fields.clone();
        shaped[0].ty = TypeDesc::of(Kind::Opaque { size: 4, align: 4 }).array(3);
        let shaped = LayoutDescriptor::new("Pose", 16, 4, shaped);
        assert!(LayoutDescriptor::decode(&shaped.encode()).is_err());
    }

    fn var() -> LayoutDescriptor {
        sample()
            .with_tail(TypeDesc::scalar(Scalar::U8).array(3), 640 * 480)
            .unwrap()
    }

    #[test]
    fn a_tail_round_trips_and_its_maximum_is_not_hashed() {
        let d = var();
        let t = d.tail.as_deref().unwrap();
        assert_eq!((t.offset, t.max_len), (144, 640 * 480));
        assert_eq!(d.max_message_len(), 144 + 3 * 640 * 480);
        let mut grown = sample()
            .with_tail(TypeDesc::scalar(Scalar::U8).array(3), 3840 * 2160)
            .unwrap();
        grown.tail.as_mut().unwrap().generation = 2;
        grown.tail.as_mut().unwrap().base = 1 << 40;
        let back = LayoutDescriptor::decode(&grown.encode()).unwrap();
        assert_eq!(back, grown);
        assert_eq!(back.tail.as_ref().unwrap().base, 1 << 40);
        assert_eq!(back.hash(), d.hash());
        // The element is hashed; a tail changes the hash of the fixed part.
        let rgba = sample()
            .with_tail(TypeDesc::scalar(Scalar::U8).array(4), 10)
            .unwrap();
        assert_ne!(rgba.hash(), d.hash());
        assert_ne!(sample().hash(), d.hash());
        assert_eq!(
            d.first_difference(&rgba).unwrap(),
            "tail element: [u8; 3] vs [u8; 4]"
        );
        assert_eq!(
            d.first_difference(&sample()).unwrap(),
            "tail element: [u8; 3] vs no tail (fixed size)"
        );
        // A descriptor without a tail encodes as it always has.
        // Marker, version, offset, maximum, generation, base; then `[u8; 3]`.
        assert_eq!(sample().encode().len() + 28 + 13, d.encode().len());
    }

    #[test]
    fn a_tail_that_lies_is_refused() {
        let good = var().encode();
        for n in sample().encode().len() + 1..good.len() {
            assert!(LayoutDescriptor::decode(&good[..n]).is_err(), "{n}");
        }
        for i in sample().encode().len()..good.len() {
            for v in [0u8, 1, 0x7f, 0xff] {
                let mut b = good.clone();
                b[i] = v;
                let _ = LayoutDescriptor::decode(&b);
            }
        }
        // Offset 4 bytes after the fixed part: refused.
        let mut b = good.clone();
        let at = sample().encode().len() + 8;
        b[at] += 4;
        assert!(LayoutDescriptor::decode(&b).is_err());
        // A maximum whose message would not fit in a u32.
        let huge = sample().with_tail(TypeDesc::scalar(Scalar::U64), u32::MAX);
        assert!(huge.is_err());
        let mut b = good;
        b[at + 4..at + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(LayoutDescriptor::decode(&b).is_err());
    }

    #[test]
    fn lengths_read_from_a_peer_are_checked() {
        assert_eq!(elems_in(16 + 9, 16, 3, 3), Ok(3));
        assert_eq!(elems_in(16, 16, 3, 3), Ok(0));
        assert!(elems_in(15, 16, 3, 3).is_err());
        assert!(elems_in(16 + 10, 16, 3, 3).is_err());
        assert!(elems_in(16 + 12, 16, 3, 3).is_err());
        assert!(elems_in(usize::MAX, 16, 3, usize::MAX).is_err());
        assert!(elems_in(20, 16, 0, 3).is_err());
    }

    #[test]
    fn display_of_types() {
        let d = sample();
        assert_eq!(d.fields[2].ty.to_string(), "[[f64; 3]; 3]");
        assert_eq!(d.fields[3].ty.to_string(), "FixedString<32>");
    }

    #[test]
    fn decode_rejects_garbage_without_panicking() {
        let good = sample().encode();
        // Every truncation and every single-byte corruption must give Ok or Err, never panic.
        for n in 0..good.len() {
            let _ = LayoutDescriptor::decode(&good[..n]);
            assert!(LayoutDescriptor::decode(&good[..n]).is_err());
        }
        for i in 0..good.len() {
            for v in [0u8, 1, 0x7f, 0xff] {
                let mut b = good.clone();
                b[i] = v;
                let _ = LayoutDescriptor::decode(&b);
            }
        }
        // A field that claims to lie outside its struct is refused.
        let mut fields = sample().fields;
        fields[4].offset = 200;
        let bad = LayoutDescriptor::new("Imu", 144, 8, fields);
        assert!(LayoutDescriptor::decode(&bad.encode()).is_err());
    }
}
