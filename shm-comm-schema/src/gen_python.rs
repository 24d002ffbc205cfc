//! Python source for a compiled schema: one dataclass per message, with its
//! layout dict (`__shm_layout__`, the format of `shm_comm.typed`) and numpy
//! dtype (`__shm_dtype__`).
//!
//! `python -m shm_comm.schema gen` runs this generator too, through the
//! native module `shm_comm._native`.

use std::collections::BTreeSet;
use std::fmt::Write;

use shm_comm::{Kind, Scalar, TypeDesc};

use crate::compile::{field_doc_lines, py_name, Message, Schema, Ty};
use crate::gen_rust::files_list;

fn dtype(s: Scalar) -> &'static str {
    match s {
        Scalar::U8 => "<u1",
        Scalar::U16 => "<u2",
        Scalar::U32 => "<u4",
        Scalar::U64 => "<u8",
        Scalar::I8 => "<i1",
        Scalar::I16 => "<i2",
        Scalar::I32 => "<i4",
        Scalar::I64 => "<i8",
        Scalar::F32 => "<f4",
        Scalar::F64 => "<f8",
        Scalar::Flag => "?",
    }
}

fn scalar_hint(s: Scalar) -> &'static str {
    match s {
        Scalar::F32 | Scalar::F64 => "float",
        Scalar::Flag => "bool",
        _ => "int",
    }
}

fn scalar_default(s: Scalar) -> &'static str {
    match s {
        Scalar::F32 | Scalar::F64 => "0.0",
        Scalar::Flag => "False",
        _ => "0",
    }
}

/// The scalar at the bottom of nested arrays, and their shape.
fn array_of_scalar(t: &Ty) -> Option<(Scalar, Vec<u32>)> {
    match t {
        Ty::Scalar(s) => Some((*s, Vec::new())),
        Ty::Array(e, n) => {
            let (s, mut shape) = array_of_scalar(e)?;
            shape.insert(0, *n);
            Some((s, shape))
        }
        _ => None,
    }
}

fn shape_tuple(shape: &[u32]) -> String {
    if shape.len() == 1 {
        format!("({},)", shape[0])
    } else {
        let dims: Vec<String> = shape.iter().map(u32::to_string).collect();
        format!("({})", dims.join(", "))
    }
}

/// The numpy scalar type of an array of `s`, as `shm_comm.typed` returns
/// it (flags come back as booleans).
fn np_scalar(s: Scalar) -> &'static str {
    match s {
        Scalar::U8 => "np.uint8",
        Scalar::U16 => "np.uint16",
        Scalar::U32 => "np.uint32",
        Scalar::U64 => "np.uint64",
        Scalar::I8 => "np.int8",
        Scalar::I16 => "np.int16",
        Scalar::I32 => "np.int32",
        Scalar::I64 => "np.int64",
        Scalar::F32 => "np.float32",
        Scalar::F64 => "np.float64",
        Scalar::Flag => "np.bool_",
    }
}

/// The Python type of a value of `t`, as `shm_comm.typed.decode` returns it:
/// precise enough for `mypy --strict` (arrays as `npt.NDArray[np.float64]`,
/// not a bare `np.ndarray`).
fn hint(t: &Ty) -> String {
    match t {
        Ty::Scalar(s) => scalar_hint(*s).to_owned(),
        Ty::Message(n) => n.clone(),
        Ty::String(_) => "str".to_owned(),
        Ty::Array(e, _) => match array_of_scalar(t) {
            Some((s, _)) => format!("npt.NDArray[{}]", np_scalar(s)),
            None => format!("list[{}]", hint(e)),
        },
        Ty::Vec(e, _) => match **e {
            Ty::Scalar(s) => format!("npt.NDArray[{}]", np_scalar(s)),
            _ => format!("list[{}]", hint(e)),
        },
    }
}

/// Whether the hint of `t` names `npt` (so the module imports it).
fn uses_ndarray(t: &Ty) -> bool {
    match t {
        Ty::Array(..) => array_of_scalar(t).is_some(),
        Ty::Vec(e, _) => matches!(**e, Ty::Scalar(_)),
        _ => false,
    }
}

/// An expression building the default value of `t`.
fn default_expr(t: &Ty) -> String {
    if let (Some((s, shape)), false) = (array_of_scalar(t), matches!(t, Ty::Scalar(_))) {
        return format!("np.zeros({}, dtype=\"{}\")", shape_tuple(&shape), dtype(s));
    }
    match t {
        Ty::Scalar(s) => scalar_default(*s).to_owned(),
        Ty::Message(n) => format!("{n}()"),
        Ty::String(_) => "\"\"".to_owned(),
        Ty::Array(e, n) => format!("[{} for _ in range({n})]", default_expr(e)),
        Ty::Vec(e, _) => match **e {
            Ty::Scalar(s) => format!("np.zeros(0, dtype=\"{}\")", dtype(s)),
            _ => "[]".to_owned(),
        },
    }
}

/// The `= default` part of a dataclass field.
fn default(t: &Ty, padding: bool) -> String {
    let repr = if padding { ", repr=False" } else { "" };
    match t {
        Ty::Scalar(s) => scalar_default(*s).to_owned(),
        Ty::String(_) => "\"\"".to_owned(),
        Ty::Message(n) => format!("dataclasses.field(default_factory={n}{repr})"),
        Ty::Vec(e, _) if !matches!(**e, Ty::Scalar(_)) => {
            format!("dataclasses.field(default_factory=list{repr})")
        }
        _ => format!(
            "dataclasses.field(default_factory=lambda: {}{repr})",
            default_expr(t)
        ),
    }
}

fn escape_doc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn docstring(out: &mut String, indent: &str, lines: &[String]) {
    match lines {
        [] => {}
        [one] => {
            let _ = writeln!(out, "{indent}\"\"\"{}\"\"\"", escape_doc(one));
        }
        [first, rest @ ..] => {
            let _ = writeln!(out, "{indent}\"\"\"{}", escape_doc(first));
            for l in rest {
                if l.is_empty() {
                    out.push('\n');
                } else {
                    let _ = writeln!(out, "{indent}{}", escape_doc(l));
                }
            }
            let _ = writeln!(out, "{indent}\"\"\"");
        }
    }
}

fn shape_list(shape: &[u32]) -> String {
    let dims: Vec<String> = shape.iter().map(u32::to_string).collect();
    format!("[{}]", dims.join(", "))
}

/// The entries of a type dict after `"name"` and `"offset"`.
fn type_entries(t: &TypeDesc) -> String {
    let mut s = format!(
        "\"size\": {}, \"shape\": {}, ",
        t.size,
        shape_list(&t.shape)
    );
    match &t.kind {
        Kind::Scalar(sc) => {
            let _ = write!(s, "\"kind\": \"{}\"", sc.name());
        }
        Kind::Struct(l) => {
            let _ = write!(
                s,
                "\"kind\": \"struct\", \"layout\": {}.__shm_layout__",
                l.name
            );
        }
        Kind::FixedString { capacity } => {
            let _ = write!(s, "\"kind\": \"string\", \"capacity\": {capacity}");
        }
        Kind::FixedVec { elem, capacity } => {
            let _ = write!(
                s,
                "\"kind\": \"vec\", \"capacity\": {capacity}, \"elem\": {{{}}}",
                type_entries(elem)
            );
        }
        // Not written by the schema language; here for completeness.
        Kind::Opaque { align, .. } => {
            let _ = write!(s, "\"kind\": \"opaque\", \"align\": {align}");
        }
    }
    s
}

fn message(out: &mut String, m: &Message) {
    out.push_str("\n\n@typed.register\n@dataclasses.dataclass\n");
    let _ = writeln!(out, "class {}:", m.name);
    docstring(out, "    ", &m.doc_lines());
    for c in &m.constants {
        out.push('\n');
        let _ = writeln!(out, "    {}: ClassVar[int] = {}", c.name, c.value);
        let lines: Vec<String> = c
            .doc
            .trim_end()
            .lines()
            .map(|l| l.trim_end().to_owned())
            .collect();
        docstring(out, "    ", &lines);
    }
    out.push('\n');
    for f in &m.fields {
        let _ = writeln!(
            out,
            "    {}: {} = {}",
            py_name(&f.name),
            hint(&f.ty),
            default(&f.ty, f.padding)
        );
        docstring(out, "    ", &field_doc_lines(f));
    }
    if let Some(t) = &m.tail {
        // The elements, as a numpy array: one row per element (a struct
        // element is a record of its structured dtype).
        let (hint, zeros) = match array_of_scalar(&t.ty) {
            Some((s, shape)) => {
                let mut dims = vec![0];
                dims.extend(shape);
                (
                    format!("npt.NDArray[{}]", np_scalar(s)),
                    format!("np.zeros({}, dtype=\"{}\")", shape_tuple(&dims), dtype(s)),
                )
            }
            None => (
                "npt.NDArray[np.void]".to_owned(),
                format!(
                    "np.zeros(0, dtype=typed.tail_dtype({}.__shm_layout__))",
                    m.name
                ),
            ),
        };
        let _ = writeln!(
            out,
            "    {}: {hint} = dataclasses.field(default_factory=lambda: {zeros})",
            py_name(&t.name)
        );
        let mut doc = field_doc_lines(t);
        if !doc.is_empty() {
            doc.push(String::new());
        }
        doc.push(
            "The tail: as many elements as the message has, at most the topic's `max_len`."
                .to_owned(),
        );
        docstring(out, "    ", &doc);
    }
    let l = &m.layout;
    out.push('\n');
    if let Some(t) = &m.tail {
        let _ = writeln!(
            out,
            "    __shm_tail__: ClassVar[str] = \"{}\"",
            py_name(&t.name)
        );
    }
    out.push_str("    __shm_layout__: ClassVar[dict[str, Any]] = {\n");
    let _ = writeln!(out, "        \"name\": \"{}\",", l.name);
    let _ = writeln!(out, "        \"size\": {},", l.size);
    let _ = writeln!(out, "        \"align\": {},", l.align);
    let _ = writeln!(out, "        \"hash\": 0x{:016x},", l.hash());
    out.push_str("        \"fields\": [\n");
    for f in &l.fields {
        let _ = writeln!(
            out,
            "            {{\"name\": \"{}\", \"offset\": {}, {}}},",
            f.name,
            f.offset,
            type_entries(&f.ty)
        );
    }
    out.push_str("        ],\n");
    if let Some(t) = &l.tail {
        // The maximum, generation and base are a topic's, set when it is
        // created: 0 in the type's own layout (the binding's format).
        let _ = writeln!(
            out,
            "        \"tail\": {{\"offset\": {}, \"max_len\": 0, \"generation\": 0, \"base\": 0, \"elem\": {{{}}}}},",
            t.offset,
            type_entries(&t.elem)
        );
    }
    out.push_str("    }\n");
    out.push_str("    __shm_dtype__: ClassVar[np.dtype[Any]]\n");
}

/// A Python string literal holding `text` exactly.
fn py_text(text: &str) -> String {
    format!(
        "'''\\\n{}'''",
        text.replace('\\', "\\\\").replace('\'', "\\'")
    )
}

/// The Python module for `schema` (see [`crate::generate_rust`]); for the
/// standard set it also embeds the schema files (`_SCHEMA_SOURCES`), which
/// `python -m shm_comm.schema gen` compiles as the prelude of a user's files.
pub fn generate(schema: &Schema) -> String {
    let gen: Vec<&Message> = schema.generated().collect();
    let mut out = String::new();
    if schema.std_set {
        out.push_str(
            "\"\"\"The standard message set: time and header, geometry, sensors, images and\n\
             point clouds, as dataclasses with the layouts of the Rust types of\n\
             `shm_comm::msgs` (see the table in the README).\n\
             \n\
             Generated from `schemas/` by `shm-comm-schema`: do not edit. After changing a\n\
             schema, run `cargo run -p shm-comm-schema -- gen-std` from the workspace root\n\
             (a test checks that the checked-in files are up to date).\n\
             \n\
             Each class has `__shm_layout__` (its layout dict) and `__shm_dtype__` (its numpy\n\
             dtype): pass it as `msg_type=` to `shm_comm.Publisher` and `shm_comm.Subscriber`.\n\
             For large messages (images, point clouds), `Subscriber.recv_view()` and\n\
             `shm_comm.typed.view()` give numpy views into the shared slot, without a copy.\n\
             \"\"\"\n",
        );
    } else {
        let _ = writeln!(
            out,
            "\"\"\"Messages generated from {} by the shm-comm schema compiler: do not edit.",
            files_list(&schema.files())
        );
        out.push_str(
            "\n\
             Regenerate with `python -m shm_comm.schema gen FILES -o OUT` (or\n\
             `shm-comm-schema gen-python`); the same files give Rust types with the same\n\
             layouts (`shm-comm-schema gen-rust`).\n\
             \"\"\"\n",
        );
    }
    out.push_str(
        "\nfrom __future__ import annotations\n\n\
         import dataclasses\n\
         from typing import Any, ClassVar\n\n\
         import numpy as np\n",
    );
    if gen
        .iter()
        .any(|m| m.tail.is_some() || m.fields.iter().any(|f| uses_ndarray(&f.ty)))
    {
        out.push_str("import numpy.typing as npt\n");
    }
    out.push('\n');
    if schema.std_set {
        out.push_str("from . import typed\n");
    } else {
        out.push_str("from shm_comm import typed\n");
        let mut prelude: BTreeSet<&str> = BTreeSet::new();
        for m in &gen {
            for f in &m.fields {
                if let Some(n) = f.ty.message() {
                    if schema.get(n).is_some_and(|t| t.prelude) {
                        prelude.insert(n);
                    }
                }
            }
        }
        if !prelude.is_empty() {
            let names: Vec<&str> = prelude.into_iter().collect();
            let _ = writeln!(out, "from shm_comm.msgs import {}", names.join(", "));
        }
    }
    out.push_str("\n__all__ = [\n");
    for m in &gen {
        let _ = writeln!(out, "    \"{}\",", m.name);
    }
    out.push_str("]\n\n#: The version of the schema format these classes were generated from.\nSCHEMA_VERSION = 1\n");
    for m in &gen {
        message(&mut out, m);
    }
    if schema.std_set {
        out.push_str(
            "\n\n#: The schema files these classes were generated from: the standard set that\n\
             #: `python -m shm_comm.schema gen` compiles along with a user's files.\n\
             _SCHEMA_SOURCES = {\n",
        );
        for src in &schema.sources {
            let name = src.path.rsplit(['/', '\\']).next().unwrap_or(&src.path);
            let _ = writeln!(out, "    \"{name}\": {},", py_text(&src.text));
        }
        out.push_str("}\n");
    }
    out
}
