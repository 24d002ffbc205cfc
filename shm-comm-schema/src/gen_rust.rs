//! Rust source for a compiled schema: one `#[derive(ShmMessage)]` struct per
//! message, constants in an `impl` block, and `all_layouts()`.
//!
//! The output is what `rustfmt` would write, so that `cargo fmt --check`
//! accepts the checked-in files.

use std::collections::BTreeSet;
use std::fmt::Write;

use shm_comm::Scalar;

use crate::compile::{field_doc_lines, Message, Schema, Ty, RUST_KEYWORDS};

fn rust_type(t: &Ty, used: &mut BTreeSet<&'static str>) -> String {
    match t {
        Ty::Scalar(Scalar::Flag) => {
            used.insert("Flag");
            "Flag".to_owned()
        }
        Ty::Scalar(s) => s.name().to_owned(),
        Ty::Message(n) => n.clone(),
        Ty::Array(e, n) => format!("[{}; {n}]", rust_type(e, used)),
        Ty::String(n) => {
            used.insert("FixedString");
            format!("FixedString<{n}>")
        }
        Ty::Vec(e, n) => {
            used.insert("FixedVec");
            format!("FixedVec<{}, {n}>", rust_type(e, used))
        }
    }
}

fn doc(out: &mut String, indent: &str, lines: &[String]) {
    for l in lines {
        if l.is_empty() {
            let _ = writeln!(out, "{indent}///");
        } else {
            let _ = writeln!(out, "{indent}/// {l}");
        }
    }
}

fn field_ident(name: &str) -> String {
    if RUST_KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_owned()
    }
}

/// Whether values of `t` implement `Default`: std implements it for arrays
/// of at most 32 elements only.
fn ty_has_default(schema: &Schema, t: &Ty) -> bool {
    match t {
        Ty::Scalar(_) | Ty::String(_) | Ty::Vec(..) => true,
        Ty::Array(e, n) => *n <= 32 && ty_has_default(schema, e),
        Ty::Message(n) => schema.get(n).is_some_and(|m| has_default(schema, m)),
    }
}

/// Whether message `m` derives `Default`: where its fields allow, and
/// where it is small enough to build by value (a `Default` of a 24 MB
/// image would overflow the stack; `shm_comm::zeroed_box` builds it).
pub(crate) fn has_default(schema: &Schema, m: &Message) -> bool {
    m.layout.size as usize <= shm_comm::message::MAX_BY_VALUE
        && m.fields.iter().all(|f| ty_has_default(schema, &f.ty))
}

fn message(
    out: &mut String,
    schema: &Schema,
    m: &Message,
    std: bool,
    used: &mut BTreeSet<&'static str>,
) {
    doc(out, "", &m.doc_lines());
    if !std {
        // A program need not use every message of its schema files.
        out.push_str("#[allow(dead_code)]\n");
    }
    let default = if has_default(schema, m) {
        ", Default"
    } else {
        ""
    };
    let _ = write!(
        out,
        "#[derive(ShmMessage, Clone, Copy, Debug{default}, PartialEq)]\n#[repr(C)]\n"
    );
    if std {
        out.push_str("#[shm(crate = \"crate\")]\n");
    }
    let _ = writeln!(out, "pub struct {} {{", m.name);
    for f in &m.fields {
        doc(out, "    ", &field_doc_lines(f));
        let _ = writeln!(
            out,
            "    pub {}: {},",
            field_ident(&f.name),
            rust_type(&f.ty, used)
        );
    }
    out.push_str("}\n");
    if let Some(t) = &m.tail {
        let _ = write!(
            out,
            "\nimpl VarMessage for {} {{\n    type Elem = {};\n}}\n",
            m.name,
            rust_type(&t.ty, used)
        );
    }
    if !m.constants.is_empty() {
        out.push('\n');
        if !std {
            out.push_str("#[allow(dead_code)]\n");
        }
        let _ = writeln!(out, "impl {} {{", m.name);
        for (i, c) in m.constants.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let lines: Vec<String> = c
                .doc
                .trim_end()
                .lines()
                .map(|l| l.trim_end().to_owned())
                .collect();
            doc(out, "    ", &lines);
            let _ = writeln!(
                out,
                "    pub const {}: {} = {};",
                c.name,
                c.ty.name(),
                c.value
            );
        }
        out.push_str("}\n");
    }
}

/// The Rust module for `schema`: for the standard set, `shm-comm/src/msgs.rs`
/// (inside the `shm_comm` crate); for a user's files, a module that uses
/// `shm_comm` and imports standard messages from `shm_comm::msgs`.
pub fn generate(schema: &Schema) -> String {
    let std = schema.std_set;
    let mut body = String::new();
    let mut used: BTreeSet<&'static str> = BTreeSet::new();
    let gen: Vec<&Message> = schema.generated().collect();
    for m in &gen {
        body.push('\n');
        message(&mut body, schema, m, std, &mut used);
    }
    let krate = if std { "crate" } else { "shm_comm" };
    body.push_str(
        "\n/// The layout descriptors of every message of this module, in the order of the module.\n",
    );
    if !std {
        body.push_str("#[allow(dead_code)]\n");
    }
    let _ = writeln!(
        body,
        "pub fn all_layouts() -> Vec<&'static {krate}::LayoutDescriptor> {{"
    );
    // A variable-size message's layout is its whole layout, tail included.
    let layout_call = |m: &Message| match m.tail {
        Some(_) => format!("{}::var_layout()", m.name),
        None => format!("{}::layout()", m.name),
    };
    let calls: Vec<String> = gen.iter().map(|m| layout_call(m)).collect();
    let one_line = format!("vec![{}]", calls.join(", "));
    // rustfmt's `array_width`: 60% of the 100-column line.
    if one_line.len() <= 60 {
        let _ = writeln!(body, "    {one_line}\n}}");
    } else {
        body.push_str("    vec![\n");
        for m in &gen {
            let _ = writeln!(body, "        {},", layout_call(m));
        }
        body.push_str("    ]\n}\n");
    }

    let mut out = String::new();
    if std {
        out.push_str(
            "//! The standard message set: time and header, geometry, sensors, images and\n\
             //! point clouds, as fixed-layout types (see the table in the README).\n\
             //!\n\
             //! Generated from `schemas/` by `shm-comm-schema`: do not edit. After changing a\n\
             //! schema, run `cargo run -p shm-comm-schema -- gen-std` from the workspace root;\n\
             //! it also writes the Python dataclasses of `shm_comm.msgs`, which have the same\n\
             //! layouts (a test checks that the checked-in files are up to date).\n\
             //!\n\
             //! Large messages (`ImageVga` is 900 KB, `Image4K` 24 MB) should not be built on\n\
             //! the stack (receiving one over 256 KiB by value does not compile): fill them\n\
             //! in place with `Publisher::loan()` (or in `shm_comm::zeroed_box()`), and read\n\
             //! them in place with `Subscriber::try_borrow()` or into a box with\n\
             //! `recv_into`/`recv_boxed`.\n",
        );
    } else {
        let _ = writeln!(
            out,
            "//! Messages generated from {} by the shm-comm schema compiler: do not edit.",
            files_list(&schema.files())
        );
        out.push_str(
            "//!\n\
             //! Regenerate with `shm-comm-schema gen-rust FILES -o OUT`; the same files give\n\
             //! Python dataclasses with the same layouts (`python -m shm_comm.schema gen`).\n",
        );
    }
    out.push('\n');
    // Imports, in rustfmt's order.
    let mut prelude: BTreeSet<&str> = BTreeSet::new();
    for m in &gen {
        for f in m.fields.iter().chain(&m.tail) {
            if let Some(n) = f.ty.message() {
                if schema.get(n).is_some_and(|t| t.prelude) {
                    prelude.insert(n);
                }
            }
        }
    }
    used.insert("ShmMessage");
    let helpers: Vec<&str> = used.iter().copied().collect();
    if !prelude.is_empty() {
        let names: Vec<&str> = prelude.iter().copied().collect();
        out.push_str(&use_line("shm_comm::msgs", &names));
    }
    // rustfmt's order: `krate::varsize::...` before `krate::{...}`.
    if gen.iter().any(|m| m.tail.is_some()) {
        out.push_str(&use_line(&format!("{krate}::varsize"), &["VarMessage"]));
    }
    out.push_str(&use_line(krate, &helpers));
    out.push_str("\n/// The version of the schema format these types were generated from.\n");
    if !std {
        out.push_str("#[allow(dead_code)]\n");
    }
    out.push_str("pub const SCHEMA_VERSION: u32 = 1;\n");
    out.push_str(&body);
    out
}

fn use_line(path: &str, names: &[&str]) -> String {
    if names.len() == 1 {
        return format!("use {path}::{};\n", names[0]);
    }
    let one = format!("use {path}::{{{}}};", names.join(", "));
    if one.len() <= 100 {
        return one + "\n";
    }
    // One `use` per name: rustfmt keeps them as they are (sorted).
    names
        .iter()
        .map(|n| format!("use {path}::{n};\n"))
        .collect()
}

/// `a.toml`, `a.toml and b.toml`, `a.toml, b.toml and c.toml`.
pub fn files_list(files: &[String]) -> String {
    let names: Vec<String> = files.iter().map(|f| format!("`{f}`")).collect();
    match names.len() {
        0 => "no files".to_owned(),
        1 => names[0].clone(),
        n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
    }
}
