//! Typed messages as OMG IDL + CDR, the encoding Foxglove decodes.
//!
//! A layout becomes an `omgidl` schema: structs for nested messages,
//! fixed arrays (`double joints[6]`, `int16 grid[2][3]`),
//! `FixedString<N>` as `struct { uint32 len; uint8 data[N]; }` and
//! `FixedVec<T, N>` as `struct { uint32 len; uint32 reserved; T items[N]; }`
//! (their bytes in the slot, so viewers show `len` and the items), flags
//! as `uint8` (the byte as it was), opaque fields as `uint8[size]`.
//!
//! A message becomes XCDR1 (plain CDR, little endian on this machine's
//! native order): the 4-byte encapsulation header `00 01 00 00`, then
//! every field aligned to its size (8 for 64-bit values) counted from
//! the end of the header, structs without padding of their own. Every
//! type is of fixed size, so where each field lands is known from the
//! layout alone: a [`CdrPlan`] lists the byte runs to copy between the
//! slot and the CDR body. Layouts made by `#[derive(ShmMessage)]` or the
//! schema compiler have no hidden padding, so their CDR body is the slot
//! itself: one run, copied once (the memcpy fast path). Other layouts are
//! transcoded run by run, in both directions, so `play` rebuilds the
//! slot byte for byte (bytes in gaps between fields, which CDR does not
//! carry, come back as zeros).

use std::collections::HashMap;

use shm_comm::{Kind, LayoutDescriptor, Scalar, TypeDesc};

/// The encapsulation header: CDR (XCDR1) in this machine's byte order.
pub(crate) const HEADER: [u8; 4] = [0, if cfg!(target_endian = "little") { 1 } else { 0 }, 0, 0];

/// Most copy runs (and elements walked) a plan may take: a layout from
/// shared memory could claim billions of tiny structs.
const MAX_STEPS: usize = 1 << 22;

/// One contiguous copy between the slot and the CDR body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Run {
    slot: usize,
    cdr: usize,
    len: usize,
}

/// Where every byte of a layout goes in CDR.
#[derive(Clone, Debug)]
pub(crate) struct CdrPlan {
    runs: Vec<Run>,
    /// Bytes of the CDR body (after the header).
    body: usize,
    /// Bytes of the slot.
    size: usize,
}

struct Walk {
    runs: Vec<Run>,
    pos: usize,
    steps: usize,
    size: usize,
}

impl Walk {
    fn push(&mut self, slot: usize, align: usize, len: usize) -> Result<(), String> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(format!("more than {MAX_STEPS} fields to transcode"));
        }
        if slot.checked_add(len).is_none_or(|end| end > self.size) {
            return Err(format!(
                "a field at {slot}+{len} lies outside the {}-byte message",
                self.size
            ));
        }
        self.pos = self.pos.next_multiple_of(align);
        match self.runs.last_mut() {
            Some(r) if r.slot + r.len == slot && r.cdr + r.len == self.pos => r.len += len,
            _ => self.runs.push(Run {
                slot,
                cdr: self.pos,
                len,
            }),
        }
        self.pos += len;
        Ok(())
    }

    fn fields(&mut self, l: &LayoutDescriptor, base: usize) -> Result<(), String> {
        for f in &l.fields {
            self.typed(&f.ty.kind, &f.ty.shape, base + f.offset as usize)?;
        }
        Ok(())
    }

    /// `kind` inside array `shape` at `at` in the slot.
    fn typed(&mut self, kind: &Kind, shape: &[u32], at: usize) -> Result<(), String> {
        let count = shape
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d as usize))
            .ok_or("array too large")?;
        let elem = kind.checked_size().ok_or("element too large")? as usize;
        if elem
            .checked_mul(count)
            .and_then(|n| n.checked_add(at))
            .is_none_or(|end| end > self.size)
        {
            return Err(format!(
                "an array at {at} of {count} x {elem} bytes lies outside the {}-byte message",
                self.size
            ));
        }
        if let Kind::Scalar(s) = kind {
            // An array of scalars is contiguous in both.
            let len = elem.checked_mul(count).ok_or("array too large")?;
            return self.push(at, s.size() as usize, len);
        }
        for i in 0..count {
            let at = at + i * elem;
            match kind {
                Kind::Scalar(_) => unreachable!("handled above"),
                Kind::Struct(l) => self.fields(l, at)?,
                Kind::FixedString { capacity } => {
                    self.push(at, 4, 4)?;
                    self.push(at + 4, 1, *capacity as usize)?;
                }
                Kind::FixedVec { elem, capacity } => {
                    self.push(at, 4, 8)?;
                    let mut shape = vec![*capacity];
                    shape.extend_from_slice(&elem.shape);
                    self.typed(&elem.kind, &shape, at + 8)?;
                }
                Kind::Opaque { size, .. } => self.push(at, 1, *size as usize)?,
            }
        }
        Ok(())
    }
}

impl CdrPlan {
    /// The plan of `layout`, or why it cannot be transcoded.
    pub(crate) fn new(layout: &LayoutDescriptor) -> Result<CdrPlan, String> {
        let size = layout.size as usize;
        let mut w = Walk {
            runs: Vec::new(),
            pos: 0,
            steps: 0,
            size,
        };
        w.fields(layout, 0)?;
        if w.pos > size {
            return Err(format!(
                "fields overlap: {} bytes of CDR for a {size}-byte message",
                w.pos
            ));
        }
        Ok(CdrPlan {
            runs: w.runs,
            body: w.pos,
            size,
        })
    }

    /// `true` if the CDR body is the slot as it is.
    pub(crate) fn is_memcpy(&self) -> bool {
        self.body == self.size
            && matches!(self.runs.as_slice(), [r] if r.slot == 0 && r.cdr == 0 && r.len == self.size)
    }

    /// A slot's bytes as a CDR message (header included).
    pub(crate) fn encode(&self, slot: &[u8]) -> Result<Vec<u8>, String> {
        if slot.len() != self.size {
            return Err(format!(
                "message of {} bytes, the layout has {}",
                slot.len(),
                self.size
            ));
        }
        let mut out = vec![0u8; HEADER.len() + self.body];
        out[..4].copy_from_slice(&HEADER);
        for r in &self.runs {
            // `Walk::push` checked `r.slot + r.len <= size`; the body
            // ends after the last run.
            out[4 + r.cdr..4 + r.cdr + r.len].copy_from_slice(&slot[r.slot..r.slot + r.len]);
        }
        Ok(out)
    }

    /// A CDR message (header included) back into the slot's bytes.
    pub(crate) fn decode(&self, cdr: &[u8]) -> Result<Vec<u8>, String> {
        let Some((header, body)) = cdr.split_first_chunk::<4>() else {
            return Err(format!("CDR message of {} bytes has no header", cdr.len()));
        };
        if *header != HEADER {
            return Err(format!(
                "CDR encapsulation {header:02x?}, expected {HEADER:02x?} (CDR in this machine's byte order)"
            ));
        }
        if body.len() != self.body {
            return Err(format!(
                "CDR body of {} bytes, the layout needs {}",
                body.len(),
                self.body
            ));
        }
        if self.is_memcpy() {
            return Ok(body.to_vec());
        }
        let mut slot = vec![0u8; self.size];
        for r in &self.runs {
            slot[r.slot..r.slot + r.len].copy_from_slice(&body[r.cdr..r.cdr + r.len]);
        }
        Ok(slot)
    }
}

/// IDL names a field may not have (keywords, compared without case).
const KEYWORDS: &[&str] = &[
    "abstract",
    "any",
    "alias",
    "attribute",
    "bitfield",
    "bitmask",
    "bitset",
    "boolean",
    "case",
    "char",
    "component",
    "connector",
    "const",
    "consumes",
    "context",
    "custom",
    "default",
    "double",
    "exception",
    "emits",
    "enum",
    "eventtype",
    "factory",
    "false",
    "finder",
    "fixed",
    "float",
    "getraises",
    "getter",
    "home",
    "import",
    "in",
    "inout",
    "interface",
    "local",
    "long",
    "manages",
    "map",
    "mirrorport",
    "module",
    "multiple",
    "native",
    "object",
    "octet",
    "oneway",
    "out",
    "primarykey",
    "private",
    "port",
    "porttype",
    "provides",
    "public",
    "publishes",
    "raises",
    "readonly",
    "setraises",
    "setter",
    "sequence",
    "short",
    "string",
    "struct",
    "supports",
    "switch",
    "true",
    "truncatable",
    "typedef",
    "typeid",
    "typename",
    "typeprefix",
    "unsigned",
    "union",
    "uses",
    "valuebase",
    "valuetype",
    "void",
    "wchar",
    "wstring",
    "int8",
    "uint8",
    "int16",
    "int32",
    "int64",
    "uint16",
    "uint32",
    "uint64",
];

/// `name` as an IDL identifier: other characters become `_`, a keyword
/// is escaped with a leading `_` (which IDL readers drop).
fn ident(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 'T');
    }
    if KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(&s)) {
        s.insert(0, '_');
    }
    s
}

fn scalar_idl(s: Scalar) -> &'static str {
    match s {
        Scalar::U8 | Scalar::Flag => "uint8",
        Scalar::U16 => "uint16",
        Scalar::U32 => "uint32",
        Scalar::U64 => "uint64",
        Scalar::I8 => "int8",
        Scalar::I16 => "int16",
        Scalar::I32 => "int32",
        Scalar::I64 => "int64",
        Scalar::F32 => "float",
        Scalar::F64 => "double",
    }
}

/// The struct definitions of a schema, dependencies first.
struct Idl {
    defs: Vec<String>,
    /// Name, structural hash -> the name given in the IDL.
    named: HashMap<(String, u64), String>,
    /// Every struct name given (to disambiguate two `Point`s that differ).
    taken: HashMap<String, ()>,
}

impl Idl {
    fn define(&mut self, want: &str, key: (String, u64), body: String) -> String {
        if let Some(n) = self.named.get(&key) {
            return n.clone();
        }
        let mut name = ident(want);
        if self.taken.contains_key(&name) {
            name = format!("{name}_{:08x}", key.1 as u32);
        }
        self.taken.insert(name.clone(), ());
        self.named.insert(key, name.clone());
        self.defs.push(format!("struct {name} {{\n{body}}};\n"));
        name
    }

    /// A member declaration: `type name[d1][d2];`.
    fn member(&mut self, name: &str, ty: &TypeDesc) -> String {
        let base = match &ty.kind {
            Kind::Opaque { size, .. } => {
                return format!("    uint8 {}[{size}];  // opaque\n", ident(name));
            }
            k => self.kind(k),
        };
        let dims: String = ty.shape.iter().map(|d| format!("[{d}]")).collect();
        let note = match ty.kind {
            Kind::Scalar(Scalar::Flag) => "  // flag: 0 false, else true",
            _ => "",
        };
        format!("    {base} {}{dims};{note}\n", ident(name))
    }

    fn kind(&mut self, k: &Kind) -> String {
        match k {
            Kind::Scalar(s) => scalar_idl(*s).to_owned(),
            Kind::Struct(l) => self.layout(l),
            Kind::FixedString { capacity } => self.define(
                &format!("FixedString{capacity}"),
                (format!("FixedString<{capacity}>"), 0),
                format!("    uint32 len;\n    uint8 data[{capacity}];\n"),
            ),
            Kind::FixedVec { elem, capacity } => {
                let items = self.member(
                    "items",
                    &TypeDesc {
                        kind: elem.kind.clone(),
                        shape: std::iter::once(*capacity)
                            .chain(elem.shape.iter().copied())
                            .collect(),
                        size: 0,
                    },
                );
                let key = format!("FixedVec<{elem}, {capacity}>");
                self.define(
                    &format!("FixedVec_{}_{capacity}", ident(&elem.to_string())),
                    (key, 0),
                    format!("    uint32 len;\n    uint32 reserved;\n{items}"),
                )
            }
            Kind::Opaque { size, .. } => self.define(
                &format!("Opaque{size}"),
                (format!("opaque({size})"), 0),
                format!("    uint8 data[{size}];\n"),
            ),
        }
    }

    fn layout(&mut self, l: &LayoutDescriptor) -> String {
        let key = (l.name.clone(), l.hash());
        if let Some(n) = self.named.get(&key) {
            return n.clone();
        }
        let body: String = l
            .fields
            .iter()
            .map(|f| self.member(&f.name, &f.ty))
            .collect();
        self.define(&l.name, key, body)
    }
}

/// The `omgidl` schema of `layout`: its name in the IDL (the MCAP
/// schema's name) and the IDL text.
pub(crate) fn idl(layout: &LayoutDescriptor) -> (String, String) {
    let mut g = Idl {
        defs: Vec::new(),
        named: HashMap::new(),
        taken: HashMap::new(),
    };
    let name = g.layout(layout);
    let text = format!(
        "// `{}` of shm-comm (layout hash {:#018x}), {} bytes; CDR (XCDR1).\n{}",
        layout.name,
        layout.hash(),
        layout.size,
        g.defs.join("\n")
    );
    (name, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shm_comm::FieldDescriptor;

    fn point() -> LayoutDescriptor {
        LayoutDescriptor::new(
            "Point",
            16,
            8,
            vec![
                FieldDescriptor::new("x", 0, TypeDesc::scalar(Scalar::F64)),
                FieldDescriptor::new("y", 8, TypeDesc::scalar(Scalar::F64)),
            ],
        )
    }

    #[test]
    fn a_layout_without_gaps_is_its_own_cdr_body() {
        let l = LayoutDescriptor::new(
            "Scan",
            48,
            8,
            vec![
                FieldDescriptor::new("origin", 0, TypeDesc::of(Kind::Struct(point()))),
                FieldDescriptor::new("name", 16, TypeDesc::of(Kind::FixedString { capacity: 8 })),
                FieldDescriptor::new("ok", 28, TypeDesc::scalar(Scalar::Flag).array(4)),
                FieldDescriptor::new(
                    "ranges",
                    32,
                    TypeDesc::of(Kind::FixedVec {
                        elem: Box::new(TypeDesc::scalar(Scalar::F32)),
                        capacity: 2,
                    }),
                ),
            ],
        );
        let plan = CdrPlan::new(&l).unwrap();
        assert!(plan.is_memcpy(), "{plan:?}");
        let slot: Vec<u8> = (0..48).collect();
        let cdr = plan.encode(&slot).unwrap();
        assert_eq!(&cdr[..4], &HEADER);
        assert_eq!(&cdr[4..], &slot[..]);
        assert_eq!(plan.decode(&cdr).unwrap(), slot);
        let (name, text) = idl(&l);
        assert_eq!(name, "Scan");
        assert!(
            text.contains("struct Point {\n    double x;\n    double y;\n};"),
            "{text}"
        );
        assert!(text.contains("struct FixedString8 {\n    uint32 len;\n    uint8 data[8];\n};"));
        assert!(text.contains("    uint8 ok[4];  // flag"), "{text}");
        assert!(
            text.contains("uint32 reserved;\n    float items[2];"),
            "{text}"
        );
        // Dependencies come before their users.
        assert!(text.find("struct Point").unwrap() < text.find("struct Scan").unwrap());
    }

    #[test]
    fn a_layout_with_gaps_is_transcoded_and_comes_back_byte_for_byte() {
        // { a: u8 @0, b: u32 @8, c: [u16; 3] @12 } of 24 bytes: CDR puts
        // `b` at 4 and `c` at 8, and ends at 14.
        let l = LayoutDescriptor::new(
            "Gappy",
            24,
            8,
            vec![
                FieldDescriptor::new("a", 0, TypeDesc::scalar(Scalar::U8)),
                FieldDescriptor::new("b", 8, TypeDesc::scalar(Scalar::U32)),
                FieldDescriptor::new("c", 12, TypeDesc::scalar(Scalar::U16).array(3)),
            ],
        );
        let plan = CdrPlan::new(&l).unwrap();
        assert!(!plan.is_memcpy());
        let mut slot = vec![0u8; 24];
        slot[0] = 7;
        slot[8..12].copy_from_slice(&0xdead_beef_u32.to_ne_bytes());
        for (i, v) in [1u16, 2, 3].iter().enumerate() {
            slot[12 + 2 * i..14 + 2 * i].copy_from_slice(&v.to_ne_bytes());
        }
        let cdr = plan.encode(&slot).unwrap();
        assert_eq!(cdr.len(), 4 + 14);
        assert_eq!(cdr[4], 7);
        assert_eq!(&cdr[8..12], &0xdead_beef_u32.to_ne_bytes());
        assert_eq!(&cdr[12..14], &1u16.to_ne_bytes());
        assert_eq!(plan.decode(&cdr).unwrap(), slot);
        // A wrong header or length is refused, never misread.
        let mut bad = cdr.clone();
        bad[1] ^= 1;
        assert!(plan.decode(&bad).unwrap_err().contains("encapsulation"));
        assert!(plan
            .decode(&cdr[..10])
            .unwrap_err()
            .contains("body of 6 bytes"));
    }

    #[test]
    fn a_field_outside_the_message_has_no_plan() {
        let bad = LayoutDescriptor::new(
            "Bad",
            8,
            8,
            vec![FieldDescriptor::new("x", 4, TypeDesc::scalar(Scalar::U64))],
        );
        assert!(CdrPlan::new(&bad).unwrap_err().contains("outside"));
    }

    #[test]
    fn names_are_valid_idl_identifiers() {
        assert_eq!(ident("module"), "_module");
        assert_eq!(ident("Long"), "_Long");
        assert_eq!(ident("a-b"), "a_b");
        assert_eq!(ident("3d"), "T3d");
        assert_eq!(ident("_pad"), "_pad");
    }
}
