//! From parsed files to checked, laid-out messages.
//!
//! The steps, each reporting the first problem with its file and line:
//! 1. names: every message and variant has a valid, unique name (across all
//!    the files compiled together, the standard set included);
//! 2. definitions: parameters, constants and fields are valid and unique,
//!    field types parse and name known messages and sizes;
//! 3. variants: their template exists and gets exactly its parameters;
//! 4. cycles: no message contains itself, directly or not;
//! 5. layouts: C layout rules (`repr(C)`), with explicit padding fields
//!    `_pad0`, `_pad1`, ... where alignment requires them, and the rules of
//!    `FixedString` and `FixedVec` (no hidden padding either).

use std::collections::{HashMap, HashSet};
use std::fmt;

use shm_comm::{FieldDescriptor, Kind, LayoutDescriptor, Scalar, TypeDesc};

use crate::parse::{self, ConstDef, FieldDef, Item, ItemKind};
use crate::ty::{self, SizeExpr, TyExpr};
use crate::{SchemaError, Source};

/// A field type with every name and size resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    /// A number or a flag.
    Scalar(Scalar),
    /// A nested message, by name.
    Message(String),
    /// `[T; N]`.
    Array(Box<Ty>, u32),
    /// `string<N>`: `FixedString<N>`.
    String(u32),
    /// `vec<T, N>`: `FixedVec<T, N>`.
    Vec(Box<Ty>, u32),
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Scalar(s) => f.write_str(s.name()),
            Ty::Message(n) => f.write_str(n),
            Ty::Array(t, n) => write!(f, "[{t}; {n}]"),
            Ty::String(n) => write!(f, "string<{n}>"),
            Ty::Vec(t, n) => write!(f, "vec<{t}, {n}>"),
        }
    }
}

impl Ty {
    /// The message this type contains, if any (through arrays and vecs).
    pub fn message(&self) -> Option<&str> {
        match self {
            Ty::Message(n) => Some(n),
            Ty::Array(t, _) | Ty::Vec(t, _) => t.message(),
            Ty::Scalar(_) | Ty::String(_) => None,
        }
    }
}

/// A field of a compiled message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The name (as in the layout descriptor).
    pub name: String,
    /// Documentation (may be empty).
    pub doc: String,
    /// The type.
    pub ty: Ty,
    /// Byte offset.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
    /// `true` for a `_padN` field inserted by the compiler.
    pub padding: bool,
    /// Line of the definition (of the message for padding).
    pub line: usize,
}

/// An integer constant of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constant {
    /// `UPPER_CASE` name.
    pub name: String,
    /// An integer scalar.
    pub ty: Scalar,
    /// The value (fits `ty`).
    pub value: i64,
    /// Documentation (may be empty).
    pub doc: String,
}

/// Where a variant comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VariantOf {
    /// The template's name.
    pub template: String,
    /// The template's documentation.
    pub template_doc: String,
    /// The arguments, in the template's parameter order.
    pub args: Vec<(String, u32)>,
}

/// A compiled message (a `[[message]]` without parameters, or a `[[variant]]`).
#[derive(Clone, Debug)]
pub struct Message {
    /// CamelCase name.
    pub name: String,
    /// Documentation (may be empty).
    pub doc: String,
    /// The file it is defined in, as given to the compiler.
    pub file: String,
    /// The line of its name.
    pub line: usize,
    /// `true` if it comes from the standard set compiled as a prelude (not
    /// generated again, but imported from `shm_comm::msgs`).
    pub prelude: bool,
    /// Set for a variant of a template.
    pub variant_of: Option<VariantOf>,
    /// Fields in layout order, padding included.
    pub fields: Vec<Field>,
    /// Integer constants.
    pub constants: Vec<Constant>,
    /// The element of a variable-size message's run-time-length array
    /// (its `offset` is where the first element starts, its `size` one
    /// element's); `None` for a fixed-size message.
    pub tail: Option<Field>,
    /// The layout descriptor (the same as `#[derive(ShmMessage)]` builds;
    /// for a variable-size message, `shm_comm::var_layout`'s).
    pub layout: LayoutDescriptor,
}

impl Message {
    /// The documentation lines of the generated type: its doc, the template's
    /// for a variant, and a line with its layout.
    pub fn doc_lines(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let para = |out: &mut Vec<String>, text: &str| {
            let text = text.trim_end();
            if text.is_empty() {
                return;
            }
            if !out.is_empty() {
                out.push(String::new());
            }
            out.extend(text.lines().map(|l| l.trim_end().to_owned()));
        };
        para(&mut out, &self.doc);
        if let Some(v) = &self.variant_of {
            para(&mut out, &v.template_doc);
            let args: Vec<String> = v.args.iter().map(|(k, n)| format!("{k} = {n}")).collect();
            para(
                &mut out,
                &format!("Variant of `{}` with {}.", v.template, args.join(", ")),
            );
        }
        if let Some(t) = &self.tail {
            para(
                &mut out,
                &format!(
                    "Variable size: followed by `{}`, a run-time number of `{}` from byte {} (see `shm_comm::varsize`).",
                    t.name, t.ty, t.offset
                ),
            );
            para(&mut out, &t.doc);
        }
        para(
            &mut out,
            &format!(
                "Layout: {} bytes, align {}, hash 0x{:016x}.",
                self.layout.size,
                self.layout.align,
                self.layout.hash()
            ),
        );
        out
    }
}

/// Documentation lines of a field.
pub fn field_doc_lines(f: &Field) -> Vec<String> {
    if f.padding {
        return vec!["Padding inserted by the schema compiler (always zero).".to_owned()];
    }
    f.doc
        .trim_end()
        .lines()
        .map(|l| l.trim_end().to_owned())
        .collect()
}

/// The result of a compilation.
#[derive(Clone, Debug)]
pub struct Schema {
    /// Every message, dependencies first (prelude ones included, marked).
    pub messages: Vec<Message>,
    /// `true` if this is the standard set itself (generated into `shm_comm::msgs`).
    pub std_set: bool,
    /// The files compiled (not the prelude).
    pub sources: Vec<Source>,
}

impl Schema {
    /// The message called `name`.
    pub fn get(&self, name: &str) -> Option<&Message> {
        self.messages.iter().find(|m| m.name == name)
    }

    /// The paths of the files compiled (not the prelude), as given.
    pub fn files(&self) -> Vec<String> {
        self.sources.iter().map(|s| s.path.clone()).collect()
    }

    /// The messages to generate (not those of the prelude).
    pub fn generated(&self) -> impl Iterator<Item = &Message> {
        self.messages.iter().filter(|m| !m.prelude)
    }
}

/// Keywords that cannot be field names in Rust, even as raw identifiers.
const NOT_RAW: &[&str] = &["self", "super", "crate"];
/// Names used by the generated Python at class level.
const PY_RESERVED: &[&str] = &["dataclasses", "np", "typed"];
/// Type names used by the generated code.
const RESERVED_TYPES: &[&str] = &[
    "Self",
    "Flag",
    "FixedString",
    "FixedVec",
    "ShmMessage",
    "ShmType",
    "LayoutDescriptor",
    "ClassVar",
];

/// Python's keywords that can be field names in Rust: the generated
/// dataclass field gets a trailing `_` (as `shm_comm.typed` does).
pub const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// Rust keywords: a field with such a name is written `r#name`.
pub const RUST_KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "else", "enum", "extern", "false", "fn", "for", "if",
    "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static",
    "struct", "trait", "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn",
    "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof", "unsized",
    "virtual", "yield", "try", "gen",
];

/// The Python attribute name of a field.
pub fn py_name(name: &str) -> String {
    if PYTHON_KEYWORDS.contains(&name) {
        format!("{name}_")
    } else {
        name.to_owned()
    }
}

fn is_type_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|c| c.is_ascii_uppercase()) && c.all(|c| c.is_ascii_alphanumeric())
}

fn is_upper_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|c| c.is_ascii_uppercase())
        && c.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

fn is_field_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && c.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s != "_"
        && !s.starts_with("__")
}

/// The limit of `LayoutDescriptor::decode` on names.
const MAX_NAME: usize = 256;

struct Ctx {
    files: Vec<String>,
    prelude_files: usize,
    items: Vec<Item>,
    by_name: HashMap<String, usize>,
}

impl Ctx {
    fn err(&self, item: &Item, line: usize, message: String) -> SchemaError {
        SchemaError {
            file: self.files[item.file].clone(),
            line,
            message,
        }
    }
}

/// A size with the line to blame if it is wrong: the field's, or that of
/// the variant argument it comes from (`arg`).
#[derive(Clone, Copy, Debug)]
struct Sized {
    n: u32,
    line: usize,
    arg: bool,
}

/// Who to blame for a field's problem: the message (or template) that
/// defines the field and, when instantiating, the variant.
#[derive(Clone, Copy)]
struct Blame<'a> {
    owner: &'a Item,
    variant: Option<&'a Item>,
}

impl Blame<'_> {
    /// The error at `line`; `arg` if the line is a variant argument's.
    fn err(&self, cx: &Ctx, line: usize, arg: bool, message: String) -> SchemaError {
        match self.variant {
            Some(v) if arg => cx.err(v, line, format!("variant `{}`: {message}", v.name)),
            _ => cx.err(self.owner, line, message),
        }
    }
}

/// A type whose sizes remember where they come from.
#[derive(Clone, Debug)]
enum RTy {
    Scalar(Scalar),
    Message(String),
    Array(Box<RTy>, Sized),
    String(Sized),
    Vec(Box<RTy>, Sized),
}

impl RTy {
    fn plain(&self) -> Ty {
        match self {
            RTy::Scalar(s) => Ty::Scalar(*s),
            RTy::Message(n) => Ty::Message(n.clone()),
            RTy::Array(t, n) => Ty::Array(Box::new(t.plain()), n.n),
            RTy::String(n) => Ty::String(n.n),
            RTy::Vec(t, n) => Ty::Vec(Box::new(t.plain()), n.n),
        }
    }
}

struct Concrete {
    item: usize,
    fields: Vec<(FieldDef, RTy)>,
    tail: Option<(FieldDef, RTy)>,
    constants: Vec<Constant>,
    variant_of: Option<VariantOf>,
}

/// Compiles `sources` together with `prelude` (whose messages are marked).
pub fn compile(
    prelude: &[Source],
    sources: &[Source],
    std_set: bool,
) -> Result<Schema, SchemaError> {
    let all: Vec<&Source> = prelude.iter().chain(sources).collect();
    let mut items = Vec::new();
    for (i, s) in all.iter().enumerate() {
        items.extend(parse::parse(&s.path, &s.text, i)?.items);
    }
    let mut cx = Ctx {
        files: all.iter().map(|s| s.path.clone()).collect(),
        prelude_files: prelude.len(),
        items,
        by_name: HashMap::new(),
    };
    check_names(&mut cx)?;
    let mut concrete: Vec<Concrete> = Vec::new();
    for idx in 0..cx.items.len() {
        let item = &cx.items[idx];
        match &item.kind {
            ItemKind::Message {
                params,
                constants,
                fields,
                tail,
            } => {
                let consts = check_constants(&cx, item, params, constants)?;
                let with_tail: Vec<FieldDef> = fields.iter().chain(tail).cloned().collect();
                let mut defs = check_fields(&cx, item, &with_tail)?;
                let tail_def = if tail.is_some() { defs.pop() } else { None };
                if let (Some(t), false) = (tail, params.is_empty()) {
                    return Err(cx.err(
                        item,
                        t.line,
                        format!(
                            "template `{}` cannot have a tail: a variable-size message has its maximum set when its topic is made, not by a parameter",
                            item.name
                        ),
                    ));
                }
                if params.is_empty() {
                    let mut resolved = Vec::new();
                    let blame = Blame {
                        owner: item,
                        variant: None,
                    };
                    for (f, t) in defs {
                        let r = resolve(&cx, blame, &f, &t, &consts, &[])?;
                        resolved.push((f, r));
                    }
                    let tail = match tail_def {
                        Some((f, t)) => {
                            let r = resolve(&cx, blame, &f, &t, &consts, &[])?;
                            Some((f, r))
                        }
                        None => None,
                    };
                    concrete.push(Concrete {
                        item: idx,
                        fields: resolved,
                        tail,
                        constants: consts,
                        variant_of: None,
                    });
                } else {
                    // Sizes that name a parameter are checked per variant.
                    let names: Vec<(String, i64, usize)> =
                        params.iter().map(|(p, l)| (p.clone(), 1, *l)).collect();
                    let blame = Blame {
                        owner: item,
                        variant: None,
                    };
                    for (f, t) in &defs {
                        resolve(&cx, blame, f, t, &consts, &names)?;
                    }
                }
            }
            ItemKind::Variant {
                template,
                template_line,
                args,
            } => concrete.push(instantiate(&cx, idx, template, *template_line, args)?),
        }
    }
    check_cycles(&cx, &concrete)?;
    let messages = lay_out(&cx, &concrete)?;
    Ok(Schema {
        messages,
        std_set,
        sources: sources.to_vec(),
    })
}

fn check_names(cx: &mut Ctx) -> Result<(), SchemaError> {
    for (idx, item) in cx.items.iter().enumerate() {
        let what = match item.kind {
            ItemKind::Message { .. } => "message",
            ItemKind::Variant { .. } => "variant",
        };
        if !is_type_name(&item.name) || item.name.len() > MAX_NAME {
            return Err(cx.err(
                item,
                item.line,
                format!(
                    "invalid {what} name `{}`: names of messages are CamelCase (a capital letter, then letters and digits)",
                    item.name
                ),
            ));
        }
        if RESERVED_TYPES.contains(&item.name.as_str()) {
            return Err(cx.err(
                item,
                item.line,
                format!(
                    "name collision: `{}` is a reserved name (used by the generated code)",
                    item.name
                ),
            ));
        }
        if let Some(&first) = cx.by_name.get(&item.name) {
            let f = &cx.items[first];
            let std = if f.file < cx.prelude_files {
                " (the standard message set)"
            } else {
                ""
            };
            return Err(cx.err(
                item,
                item.line,
                format!(
                    "name collision: `{}` is already defined at {}:{}{std}",
                    item.name, cx.files[f.file], f.line
                ),
            ));
        }
        cx.by_name.insert(item.name.clone(), idx);
    }
    Ok(())
}

fn check_constants(
    cx: &Ctx,
    item: &Item,
    params: &[(String, usize)],
    constants: &[ConstDef],
) -> Result<Vec<Constant>, SchemaError> {
    let m = &item.name;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (p, line) in params {
        if !is_upper_name(p) {
            return Err(cx.err(
                item,
                *line,
                format!("invalid parameter name `{p}` of `{m}`: parameters are UPPER_CASE"),
            ));
        }
        if let Some(first) = seen.insert(p, *line) {
            return Err(cx.err(
                item,
                *line,
                format!("duplicate parameter `{p}` in `{m}` (first at line {first})"),
            ));
        }
    }
    let mut out = Vec::new();
    for c in constants {
        let n = &c.name;
        if !is_upper_name(n) {
            return Err(cx.err(
                item,
                c.line,
                format!("invalid constant name `{n}` of `{m}`: constants are UPPER_CASE"),
            ));
        }
        if let Some(first) = seen.insert(n, c.line) {
            return Err(cx.err(
                item,
                c.line,
                format!(
                    "name collision: constant `{n}` of `{m}` is already defined at line {first}"
                ),
            ));
        }
        let sc = match ty::parse(&c.ty) {
            Ok(TyExpr::Scalar(s)) if !matches!(s, Scalar::F32 | Scalar::F64 | Scalar::Flag) => s,
            _ => {
                return Err(cx.err(
                    item,
                    c.line,
                    format!(
                        "constant `{n}` of `{m}`: type `{}` is not an integer type (u8, u16, u32, u64, i8, i16, i32, i64)",
                        c.ty
                    ),
                ))
            }
        };
        if !fits(sc, c.value) {
            return Err(cx.err(
                item,
                c.line,
                format!(
                    "constant `{n}` of `{m}`: {} does not fit in {}",
                    c.value,
                    sc.name()
                ),
            ));
        }
        out.push(Constant {
            name: n.clone(),
            ty: sc,
            value: c.value,
            doc: c.doc.clone(),
        });
    }
    Ok(out)
}

fn fits(s: Scalar, v: i64) -> bool {
    let (lo, hi): (i128, i128) = match s {
        Scalar::U8 => (0, u8::MAX.into()),
        Scalar::U16 => (0, u16::MAX.into()),
        Scalar::U32 => (0, u32::MAX.into()),
        Scalar::U64 => (0, u64::MAX.into()),
        Scalar::I8 => (i8::MIN.into(), i8::MAX.into()),
        Scalar::I16 => (i16::MIN.into(), i16::MAX.into()),
        Scalar::I32 => (i32::MIN.into(), i32::MAX.into()),
        _ => (i64::MIN.into(), i64::MAX.into()),
    };
    (lo..=hi).contains(&i128::from(v))
}

fn check_fields(
    cx: &Ctx,
    item: &Item,
    fields: &[FieldDef],
) -> Result<Vec<(FieldDef, TyExpr)>, SchemaError> {
    let m = &item.name;
    if fields.is_empty() {
        return Err(cx.err(
            item,
            item.line,
            format!("`{m}` has no fields: a message needs at least one"),
        ));
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for f in fields {
        let n = &f.name;
        if !is_field_name(n) || n.len() > MAX_NAME {
            return Err(cx.err(
                item,
                f.line,
                format!(
                    "invalid field name `{n}` in `{m}`: field names are snake_case (lower-case letters, digits and `_`, not starting with a digit or `__`)"
                ),
            ));
        }
        if NOT_RAW.contains(&n.as_str()) || PY_RESERVED.contains(&n.as_str()) {
            return Err(cx.err(
                item,
                f.line,
                format!("field name `{n}` in `{m}` is reserved (by Rust or the generated Python)"),
            ));
        }
        if let Some(first) = seen.get(n) {
            return Err(cx.err(
                item,
                f.line,
                format!("duplicate field `{n}` in `{m}` (first at line {first})"),
            ));
        }
        seen.insert(n.clone(), f.line);
        let t = ty::parse(&f.ty)
            .map_err(|e| cx.err(item, f.line, format!("field `{n}` of `{m}`: {e}")))?;
        out.push((f.clone(), t));
    }
    // A Python name `x_` of a keyword field may also come before the field `x_`.
    for f in fields {
        let py = py_name(&f.name);
        if py != f.name {
            if let Some(other) = fields.iter().find(|g| g.name == py) {
                return Err(cx.err(
                    item,
                    other.line.max(f.line),
                    format!(
                        "name collision: field `{}` of `{m}` is `{py}` in Python, like another field",
                        f.name
                    ),
                ));
            }
        }
    }
    Ok(out)
}

/// Resolves the names and sizes of `t`; `args` are the template arguments
/// (name, value, line) when instantiating.
fn resolve(
    cx: &Ctx,
    blame: Blame<'_>,
    f: &FieldDef,
    t: &TyExpr,
    consts: &[Constant],
    args: &[(String, i64, usize)],
) -> Result<RTy, SchemaError> {
    let m = &blame.owner.name;
    let size = |s: &SizeExpr| -> Result<Sized, SchemaError> {
        let (v, line, arg) = match s {
            SizeExpr::Lit(n) => (*n as i64, f.line, false),
            SizeExpr::Name(n) => {
                if let Some((_, v, l)) = args.iter().find(|(a, _, _)| a == n) {
                    (*v, *l, blame.variant.is_some())
                } else if let Some(c) = consts.iter().find(|c| &c.name == n) {
                    (c.value, f.line, false)
                } else {
                    return Err(blame.err(
                        cx,
                        f.line,
                        false,
                        format!(
                            "unknown size `{n}` in field `{}` of `{m}`: not a number, a constant of `{m}` or a parameter",
                            f.name
                        ),
                    ));
                }
            }
        };
        if v == 0 {
            return Err(blame.err(
                cx,
                line,
                arg,
                format!(
                    "capacity 0 in field `{}` of `{m}` (`{}`): a capacity or array length must be at least 1",
                    f.name, f.ty
                ),
            ));
        }
        if v < 0 || v > i64::from(u32::MAX) {
            return Err(blame.err(
                cx,
                line,
                arg,
                format!(
                    "size {v} in field `{}` of `{m}` is out of range (1 to {})",
                    f.name,
                    u32::MAX
                ),
            ));
        }
        Ok(Sized {
            n: v as u32,
            line,
            arg,
        })
    };
    Ok(match t {
        TyExpr::Scalar(s) => RTy::Scalar(*s),
        TyExpr::Named(n) => {
            let Some(&target) = cx.by_name.get(n) else {
                return Err(blame.err(
                    cx,
                    f.line,
                    false,
                    format!("unknown type `{n}` in field `{}` of `{m}`", f.name),
                ));
            };
            let target = &cx.items[target];
            if let ItemKind::Message { params, .. } = &target.kind {
                if !params.is_empty() {
                    let ps: Vec<&str> = params.iter().map(|(p, _)| p.as_str()).collect();
                    return Err(blame.err(
                        cx,
                        f.line,
                        false,
                        format!(
                            "field `{}` of `{m}`: `{n}` is a template (parameters {}); use one of its variants or declare one with [[variant]]",
                            f.name,
                            ps.join(", ")
                        ),
                    ));
                }
            }
            RTy::Message(n.clone())
        }
        TyExpr::Array(e, n) => {
            let e = resolve(cx, blame, f, e, consts, args)?;
            RTy::Array(Box::new(e), size(n)?)
        }
        TyExpr::Str(n) => {
            let n = size(n)?;
            if n.n % 4 != 0 {
                return Err(blame.err(
                    cx,
                    n.line,
                    n.arg,
                    format!(
                        "field `{}` of `{m}`: the capacity of `string<{}>` must be a multiple of 4 (FixedString<N> would have padding otherwise)",
                        f.name, n.n
                    ),
                ));
            }
            RTy::String(n)
        }
        TyExpr::Vec(e, n) => {
            let e = resolve(cx, blame, f, e, consts, args)?;
            RTy::Vec(Box::new(e), size(n)?)
        }
    })
}

fn instantiate(
    cx: &Ctx,
    idx: usize,
    template: &str,
    template_line: usize,
    args: &[(String, i64, usize)],
) -> Result<Concrete, SchemaError> {
    let item = &cx.items[idx];
    let v = &item.name;
    let Some(&t) = cx.by_name.get(template) else {
        return Err(cx.err(
            item,
            template_line,
            format!("unknown template `{template}` in variant `{v}`"),
        ));
    };
    let t = &cx.items[t];
    let ItemKind::Message {
        params,
        constants,
        fields,
        ..
    } = &t.kind
    else {
        return Err(cx.err(
            item,
            template_line,
            format!("variant `{v}`: `{template}` is a variant, not a template"),
        ));
    };
    if params.is_empty() {
        return Err(cx.err(
            item,
            template_line,
            format!("variant `{v}`: `{template}` is not a template (it has no `params`)"),
        ));
    }
    for (a, val, line) in args {
        if !params.iter().any(|(p, _)| p == a) {
            return Err(cx.err(
                item,
                *line,
                format!("variant `{v}`: template `{template}` has no parameter `{a}`"),
            ));
        }
        if *val == 0 {
            return Err(cx.err(
                item,
                *line,
                format!("capacity 0 in variant `{v}`: `{a}` must be at least 1"),
            ));
        }
        if *val < 0 || *val > i64::from(u32::MAX) {
            return Err(cx.err(
                item,
                *line,
                format!(
                    "variant `{v}`: `{a}` = {val} is out of range (1 to {})",
                    u32::MAX
                ),
            ));
        }
    }
    let mut ordered = Vec::new();
    for (p, _) in params {
        match args.iter().find(|(a, _, _)| a == p) {
            Some((_, val, _)) => ordered.push((p.clone(), *val as u32)),
            None => {
                return Err(cx.err(
                    item,
                    item.line,
                    format!("variant `{v}`: missing argument `{p}` of template `{template}`"),
                ))
            }
        }
    }
    // The template's own checks passed already; resolve its fields with the
    // arguments, blaming the variant for what they cause.
    let blame = Blame {
        owner: t,
        variant: Some(item),
    };
    let consts = check_constants(cx, t, params, constants)?;
    let mut resolved = Vec::new();
    for (f, ty) in check_fields(cx, t, fields)? {
        let r = resolve(cx, blame, &f, &ty, &consts, args)?;
        resolved.push((f, r));
    }
    Ok(Concrete {
        item: idx,
        fields: resolved,
        tail: None,
        constants: consts,
        variant_of: Some(VariantOf {
            template: template.to_owned(),
            template_doc: t.doc.clone(),
            args: ordered,
        }),
    })
}

fn check_cycles(cx: &Ctx, concrete: &[Concrete]) -> Result<(), SchemaError> {
    let by_name: HashMap<&str, usize> = concrete
        .iter()
        .enumerate()
        .map(|(i, c)| (cx.items[c.item].name.as_str(), i))
        .collect();
    // 0 = unvisited, 1 = on the stack, 2 = done.
    let mut state = vec![0u8; concrete.len()];
    // (message, field) pairs on the DFS stack.
    fn visit(
        cx: &Ctx,
        concrete: &[Concrete],
        by_name: &HashMap<&str, usize>,
        state: &mut [u8],
        stack: &mut Vec<(usize, usize)>,
        i: usize,
    ) -> Result<(), SchemaError> {
        state[i] = 1;
        for (fi, (f, t)) in concrete[i].fields.iter().enumerate() {
            let Some(target) = t.plain().message().map(str::to_owned) else {
                continue;
            };
            let Some(&j) = by_name.get(target.as_str()) else {
                continue;
            };
            stack.push((i, fi));
            if state[j] == 1 {
                let start = stack.iter().position(|(m, _)| *m == j).unwrap_or(0);
                let path: Vec<String> = stack[start..]
                    .iter()
                    .map(|(m, fi)| {
                        format!(
                            "`{}.{}`",
                            cx.items[concrete[*m].item].name, concrete[*m].fields[*fi].0.name
                        )
                    })
                    .collect();
                let item = &cx.items[concrete[i].item];
                let owner = template_item(cx, &concrete[i]).unwrap_or(item);
                return Err(cx.err(
                    owner,
                    f.line,
                    format!(
                        "cycle: {} -> `{target}`: a message cannot contain itself",
                        path.join(" -> ")
                    ),
                ));
            }
            if state[j] == 0 {
                visit(cx, concrete, by_name, state, stack, j)?;
            }
            stack.pop();
        }
        state[i] = 2;
        Ok(())
    }
    for i in 0..concrete.len() {
        if state[i] == 0 {
            visit(cx, concrete, &by_name, &mut state, &mut Vec::new(), i)?;
        }
    }
    Ok(())
}

/// For a variant, the template item (whose file holds its fields).
fn template_item<'a>(cx: &'a Ctx, c: &Concrete) -> Option<&'a Item> {
    let v = c.variant_of.as_ref()?;
    cx.by_name.get(&v.template).map(|&i| &cx.items[i])
}

fn kind_of(t: &RTy, layouts: &HashMap<String, LayoutDescriptor>) -> TypeDesc {
    match t {
        RTy::Scalar(s) => TypeDesc::scalar(*s),
        RTy::Message(n) => TypeDesc::of(Kind::Struct(layouts[n].clone())),
        RTy::Array(e, n) => kind_of(e, layouts).array(n.n),
        RTy::String(n) => TypeDesc::of(Kind::FixedString { capacity: n.n }),
        RTy::Vec(e, n) => TypeDesc::of(Kind::FixedVec {
            elem: Box::new(kind_of(e, layouts)),
            capacity: n.n,
        }),
    }
}

/// Checks the size rules inside `t` (vec padding, 4 GiB) and returns its
/// size in bytes (as u64, to catch overflow) and its alignment.
fn check_sizes(
    cx: &Ctx,
    blame: Blame<'_>,
    f: &FieldDef,
    t: &RTy,
    layouts: &HashMap<String, LayoutDescriptor>,
) -> Result<(u64, u32), SchemaError> {
    let m = &blame.owner.name;
    let (size, align) = match t {
        RTy::Scalar(s) => (u64::from(s.size()), s.size()),
        RTy::Message(n) => (u64::from(layouts[n].size), layouts[n].align),
        RTy::String(n) => (4 + u64::from(n.n), 4),
        RTy::Array(e, n) => {
            let (s, a) = check_sizes(cx, blame, f, e, layouts)?;
            (s * u64::from(n.n), a)
        }
        RTy::Vec(e, n) => {
            let (s, a) = check_sizes(cx, blame, f, e, layouts)?;
            let items = s * u64::from(n.n);
            if items % 4 != 0 || items % u64::from(a) != 0 {
                return Err(blame.err(
                    cx,
                    n.line,
                    n.arg,
                    format!(
                        "field `{}` of `{m}`: `{}` needs its capacity times the element size ({} x {s} = {items} bytes) to be a multiple of 4 and of the element's alignment ({a}) (FixedVec<T, N> would have padding otherwise)",
                        f.name,
                        t.plain(),
                        n.n
                    ),
                ));
            }
            (8 + items, a.max(4))
        }
    };
    if size > u64::from(u32::MAX) {
        return Err(blame.err(
            cx,
            f.line,
            false,
            format!(
                "field `{}` of `{m}` (`{}`) is larger than 4 GiB",
                f.name, f.ty
            ),
        ));
    }
    Ok((size, align))
}

fn lay_out(cx: &Ctx, concrete: &[Concrete]) -> Result<Vec<Message>, SchemaError> {
    let by_name: HashMap<&str, usize> = concrete
        .iter()
        .enumerate()
        .map(|(i, c)| (cx.items[c.item].name.as_str(), i))
        .collect();
    let mut layouts: HashMap<String, LayoutDescriptor> = HashMap::new();
    let mut out = Vec::new();
    let mut done: HashSet<usize> = HashSet::new();
    // Post-order: dependencies first (no cycles any more).
    fn visit(
        cx: &Ctx,
        concrete: &[Concrete],
        by_name: &HashMap<&str, usize>,
        layouts: &mut HashMap<String, LayoutDescriptor>,
        out: &mut Vec<Message>,
        done: &mut HashSet<usize>,
        i: usize,
    ) -> Result<(), SchemaError> {
        if !done.insert(i) {
            return Ok(());
        }
        for (_, t) in concrete[i].fields.iter().chain(&concrete[i].tail) {
            if let Some(n) = t.plain().message() {
                if let Some(&j) = by_name.get(n) {
                    visit(cx, concrete, by_name, layouts, out, done, j)?;
                }
            }
        }
        let msg = lay_out_one(cx, &concrete[i], layouts)?;
        layouts.insert(msg.name.clone(), msg.layout.clone());
        out.push(msg);
        Ok(())
    }
    for i in 0..concrete.len() {
        visit(cx, concrete, &by_name, &mut layouts, &mut out, &mut done, i)?;
    }
    Ok(out)
}

fn lay_out_one(
    cx: &Ctx,
    c: &Concrete,
    layouts: &HashMap<String, LayoutDescriptor>,
) -> Result<Message, SchemaError> {
    let item = &cx.items[c.item];
    let blame = match template_item(cx, c) {
        Some(t) => Blame {
            owner: t,
            variant: Some(item),
        },
        None => Blame {
            owner: item,
            variant: None,
        },
    };
    let m = &item.name;
    let used: HashSet<&str> = c.fields.iter().map(|(f, _)| f.name.as_str()).collect();
    let mut pads = (0u32..)
        .map(|k| format!("_pad{k}"))
        .filter(|n| !used.contains(n.as_str()));
    let mut fields = Vec::new();
    let mut descs = Vec::new();
    let mut offset: u64 = 0;
    let mut align: u32 = 1;
    let mut pad =
        |fields: &mut Vec<Field>, descs: &mut Vec<FieldDescriptor>, offset: &mut u64, n: u32| {
            let name = pads.next().unwrap_or_default();
            let ty = Ty::Array(Box::new(Ty::Scalar(Scalar::U8)), n);
            descs.push(FieldDescriptor::new(
                &name,
                *offset as usize,
                TypeDesc::scalar(Scalar::U8).array(n),
            ));
            fields.push(Field {
                name,
                doc: String::new(),
                ty,
                offset: *offset as u32,
                size: n,
                padding: true,
                line: item.line,
            });
            *offset += u64::from(n);
        };
    for (f, t) in &c.fields {
        let (size, a) = check_sizes(cx, blame, f, t, layouts)?;
        let rem = (offset % u64::from(a)) as u32;
        if rem != 0 {
            pad(&mut fields, &mut descs, &mut offset, a - rem);
        }
        align = align.max(a);
        descs.push(FieldDescriptor::new(
            &f.name,
            offset as usize,
            kind_of(t, layouts),
        ));
        fields.push(Field {
            name: f.name.clone(),
            doc: f.doc.clone(),
            ty: t.plain(),
            offset: offset as u32,
            size: size as u32,
            padding: false,
            line: f.line,
        });
        offset += size;
        if offset > u64::from(u32::MAX) {
            return Err(cx.err(item, item.line, format!("`{m}` is larger than 4 GiB")));
        }
    }
    let rem = (offset % u64::from(align)) as u32;
    if rem != 0 {
        pad(&mut fields, &mut descs, &mut offset, align - rem);
    }
    if offset > u64::from(u32::MAX) {
        return Err(cx.err(item, item.line, format!("`{m}` is larger than 4 GiB")));
    }
    // A variable-size message has no fixed size: it is neither a field
    // nor a tail element of another.
    for (f, t) in c.fields.iter().chain(&c.tail) {
        if let Some(n) = t.plain().message() {
            if layouts.get(n).is_some_and(|l| l.tail.is_some()) {
                return Err(blame.err(
                    cx,
                    f.line,
                    false,
                    format!(
                        "`{m}.{}`: `{n}` is a variable-size message (it has a tail), so it cannot be part of another message",
                        f.name
                    ),
                ));
            }
        }
    }
    let mut layout = LayoutDescriptor::new(m, offset as usize, align as usize, descs);
    let mut tail = None;
    if let Some((f, t)) = &c.tail {
        let (size, _) = check_sizes(cx, blame, f, t, layouts)?;
        layout = layout.with_tail(kind_of(t, layouts), 0).map_err(|e| {
            cx.err(
                item,
                f.line,
                format!("the tail of `{m}` cannot be described: {}", e.reason),
            )
        })?;
        tail = Some(Field {
            name: f.name.clone(),
            doc: f.doc.clone(),
            ty: t.plain(),
            offset: layout.tail.as_ref().map_or(0, |t| t.offset),
            size: size as u32,
            padding: false,
            line: f.line,
        });
    }
    // What a peer would check when reading the descriptor from a segment.
    LayoutDescriptor::decode(&layout.encode()).map_err(|e| {
        cx.err(
            item,
            item.line,
            format!("`{m}` cannot be described: {}", e.reason),
        )
    })?;
    Ok(Message {
        name: m.clone(),
        doc: item.doc.clone(),
        file: cx.files[item.file].clone(),
        line: item.line,
        prelude: item.file < cx.prelude_files,
        variant_of: c.variant_of.clone(),
        fields,
        constants: c.constants.clone(),
        tail,
        layout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(fields: &str) -> Result<Schema, SchemaError> {
        let text = format!("version = 1\n[[message]]\nname = \"M\"\nfields = [\n{fields}]\n");
        compile(
            &[],
            &[Source {
                path: "m.toml".into(),
                text,
            }],
            true,
        )
    }

    fn names(s: &Schema) -> Vec<(String, u32, u32)> {
        s.get("M")
            .unwrap()
            .fields
            .iter()
            .map(|f| (f.name.clone(), f.offset, f.size))
            .collect()
    }

    fn src(text: &str) -> Result<Schema, SchemaError> {
        compile(
            &[],
            &[Source {
                path: "m.toml".into(),
                text: format!("version = 1\n{text}"),
            }],
            true,
        )
    }

    #[test]
    fn a_tail_makes_a_variable_size_message() {
        let s = src(
            "[[message]]\nname = \"P\"\nfields = [{ name = \"x\", type = \"f32\" }, { name = \"i\", type = \"u8\" }]\n\
             [[message]]\nname = \"M\"\nfields = [{ name = \"n\", type = \"u8\" }]\n\
             tail = { name = \"points\", type = \"P\", doc = \"The points.\" }\n",
        )
        .unwrap();
        let m = s.get("M").unwrap();
        assert_eq!(m.fields.len(), 1, "the tail is not a field");
        let tail = m.tail.as_ref().unwrap();
        assert_eq!(
            (tail.name.as_str(), tail.offset, tail.size),
            ("points", 4, 8)
        );
        let t = m.layout.tail.as_ref().unwrap();
        assert_eq!((t.offset, t.elem.size, t.max_len), (4, 8, 0));
        assert!(m
            .doc_lines()
            .iter()
            .any(|l| l.contains("followed by `points`")));
    }

    #[test]
    fn a_tail_is_refused_on_templates_and_as_a_part() {
        let e = src(
            "[[message]]\nname = \"M\"\nparams = [\"N\"]\nfields = [{ name = \"a\", type = \"[u8; N]\" }]\n\
             tail = { name = \"t\", type = \"u8\" }\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("cannot have a tail"), "{e}");
        let e = src(
            "[[message]]\nname = \"V\"\nfields = [{ name = \"a\", type = \"u8\" }]\ntail = { name = \"t\", type = \"u8\" }\n\
             [[message]]\nname = \"M\"\nfields = [{ name = \"v\", type = \"V\" }]\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("is a variable-size message"), "{e}");
        let e = src(
            "[[message]]\nname = \"M\"\nfields = [{ name = \"a\", type = \"u8\" }]\ntail = { name = \"a\", type = \"u8\" }\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("duplicate field `a`"), "{e}");
    }

    #[test]
    fn padding_is_explicit_and_named_around_declared_fields() {
        let s = one(
            "{ name = \"a\", type = \"u8\" },\n{ name = \"_pad0\", type = \"u8\" },\n{ name = \"b\", type = \"u32\" },\n{ name = \"c\", type = \"f64\" },\n{ name = \"d\", type = \"u16\" },\n",
        )
        .unwrap();
        let n = |s: &str, o, z| (s.to_owned(), o, z);
        assert_eq!(
            names(&s),
            [
                n("a", 0, 1),
                n("_pad0", 1, 1),
                n("_pad1", 2, 2),
                n("b", 4, 4),
                n("c", 8, 8),
                n("d", 16, 2),
                n("_pad2", 18, 6),
            ]
        );
        let l = &s.get("M").unwrap().layout;
        assert_eq!((l.size, l.align), (24, 8));
        assert!(s.get("M").unwrap().fields[2].padding);
    }

    #[test]
    fn vec_and_string_rules_are_those_of_the_rust_helpers() {
        for ok in ["vec<u16, 2>", "vec<f64, 1>", "vec<[u8; 4], 3>", "string<4>"] {
            one(&format!("{{ name = \"v\", type = \"{ok}\" }},\n")).unwrap();
        }
        for bad in ["vec<u16, 1>", "vec<u8, 6>", "string<6>", "[u8; 0]"] {
            let e = one(&format!("{{ name = \"v\", type = \"{bad}\" }},\n")).unwrap_err();
            assert_eq!((e.file.as_str(), e.line), ("m.toml", 5), "{bad}: {e}");
        }
        // A vec is aligned like its items, and at least to 4.
        let s =
            one("{ name = \"a\", type = \"u8\" },\n{ name = \"v\", type = \"vec<f64, 1>\" },\n")
                .unwrap();
        assert_eq!(names(&s)[2], ("v".to_owned(), 8, 16));
    }

    #[test]
    fn variant_docs_name_the_template_and_arguments() {
        let text = "version = 1\n[[message]]\nname = \"T\"\ndoc = \"Template.\"\nparams = [\"N\"]\nfields = [{ name = \"d\", type = \"vec<u8, N>\" }]\n[[variant]]\nname = \"V\"\ntemplate = \"T\"\nargs = { N = 8 }\n";
        let s = compile(
            &[],
            &[Source {
                path: "t.toml".into(),
                text: text.into(),
            }],
            true,
        )
        .unwrap();
        assert!(s.get("T").is_none(), "a template is not a message");
        let v = s.get("V").unwrap();
        assert_eq!(v.layout.size, 16);
        let doc = v.doc_lines();
        assert_eq!(doc[0], "Template.");
        assert_eq!(doc[2], "Variant of `T` with N = 8.");
        assert!(doc[4].starts_with("Layout: 16 bytes, align 4, hash 0x"));
    }
}
