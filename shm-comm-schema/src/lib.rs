//! The schema compiler of shm-comm: message definitions in TOML, compiled to
//! Rust types (`#[derive(ShmMessage)]`) and Python dataclasses that agree
//! byte for byte.
//!
//! # The schema format
//! A schema file is TOML:
//!
//! ```toml
//! version = 1                      # the version of this format (required)
//! doc = "What the file is about."
//!
//! [[message]]
//! name = "BatteryCell"             # CamelCase
//! doc = "One cell of a battery."
//! constants = [
//!     { name = "MAX_SENSORS", type = "u32", value = 4, doc = "Integer constants (enumerations)." },
//! ]
//! fields = [                       # one inline table per line, in layout order
//!     { name = "header", type = "Header", doc = "A message by name, from any file compiled together." },
//!     { name = "voltage", type = "f32" },
//!     { name = "balancing", type = "flag", doc = "A boolean stored as a u8." },
//!     { name = "temperatures", type = "vec<f32, MAX_SENSORS>", doc = "Bounded sequence: up to N items." },
//!     { name = "label", type = "string<16>", doc = "Bounded UTF-8 string: up to N bytes, N a multiple of 4." },
//!     { name = "calibration", type = "[[f64; 3]; 3]", doc = "Fixed arrays and matrices." },
//! ]
//!
//! [[message]]
//! name = "Frame"
//! params = ["CAPACITY"]            # a template: not a type itself
//! fields = [{ name = "data", type = "vec<u8, CAPACITY>" }]
//!
//! [[variant]]                      # a concrete type from a template
//! name = "FrameSmall"
//! template = "Frame"
//! args = { CAPACITY = 4096 }
//! ```
//!
//! Types: `u8` `u16` `u32` `u64` `i8` `i16` `i32` `i64` `f32` `f64` `flag`,
//! `[T; N]`, `string<N>`, `vec<T, N>` and message names; sizes are numbers,
//! constants of the message or template parameters.
//!
//! Layouts follow C's rules (`#[repr(C)]`): each field at the next multiple of
//! its alignment, the size rounded up to the largest alignment. Where that
//! leaves a gap, the compiler inserts an explicit field `_pad0`, `_pad1`, ...
//! (`[u8; N]`), in Rust and in Python alike, because a shared-memory message
//! has no hidden padding.
//!
//! # Using it
//! - [`compile_std`] compiles the standard set (`schemas/` of the repository,
//!   generated into `shm_comm::msgs` and `shm_comm.msgs`);
//! - [`compile_user`] compiles a user's files, with the standard set in scope;
//! - [`generate_rust`] and [`generate_python`] write the modules;
//! - [`Builder`] does it from a build script, for `shm_comm::include_msgs!`.
//!
//! Every error is a [`SchemaError`]: `file:line: reason`.

mod builder;
mod compile;
mod gen_python;
mod gen_rust;
mod parse;
mod ty;

use std::fmt;
use std::path::Path;

pub use builder::Builder;
pub use compile::{py_name, Constant, Field, Message, Schema, Ty, VariantOf};
pub use gen_python::generate as generate_python;
pub use gen_rust::generate as generate_rust;

/// A problem in a schema file, with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaError {
    /// The file, as given to the compiler.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for SchemaError {}

/// A schema file: its name (as shown in errors and generated headers) and text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The path as given (never made absolute).
    pub path: String,
    /// The TOML text.
    pub text: String,
}

/// The files of the standard set, as compiled into this crate (the `schemas/`
/// directory of the repository).
pub const STD_FILES: &[(&str, &str)] = &[
    ("builtins.toml", include_str!("../../schemas/builtins.toml")),
    ("geometry.toml", include_str!("../../schemas/geometry.toml")),
    (
        "large_data.toml",
        include_str!("../../schemas/large_data.toml"),
    ),
    ("sensors.toml", include_str!("../../schemas/sensors.toml")),
];

/// The standard set as sources named `<std>/FILE` (how they appear in errors
/// when they are a prelude to a user's files).
pub fn std_sources() -> Vec<Source> {
    STD_FILES
        .iter()
        .map(|(name, text)| Source {
            path: format!("<std>/{name}"),
            text: (*text).to_owned(),
        })
        .collect()
}

/// Reads schema files; a directory stands for its `*.toml` files, sorted by name.
pub fn read_sources(paths: &[impl AsRef<Path>]) -> Result<Vec<Source>, SchemaError> {
    let mut out = Vec::new();
    for p in paths {
        let p = p.as_ref();
        let io = |e: std::io::Error, p: &Path| SchemaError {
            file: p.display().to_string(),
            line: 1,
            message: format!("cannot read: {e}"),
        };
        if p.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(p)
                .map_err(|e| io(e, p))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                .collect();
            files.sort();
            for f in files {
                let text = std::fs::read_to_string(&f).map_err(|e| io(e, &f))?;
                out.push(Source {
                    path: f.display().to_string(),
                    text,
                });
            }
        } else {
            let text = std::fs::read_to_string(p).map_err(|e| io(e, p))?;
            out.push(Source {
                path: p.display().to_string(),
                text,
            });
        }
    }
    Ok(out)
}

/// Compiles the standard set itself (no prelude): what `shm_comm::msgs` is
/// generated from. Pass [`std_sources`] or the files of `schemas/`.
pub fn compile_std(sources: &[Source]) -> Result<Schema, SchemaError> {
    compile::compile(&[], sources, true)
}

/// Compiles a user's files, with the standard set in scope: their messages
/// may use `Header`, `Pose`, ... by name and declare variants of `Image` or
/// `PointCloud`.
pub fn compile_user(sources: &[Source]) -> Result<Schema, SchemaError> {
    compile::compile(&std_sources(), sources, false)
}

/// Compiles `sources` with the messages of `prelude` in scope (marked
/// [`Message::prelude`], not generated again); `std_set` marks the result as
/// the standard set itself. [`compile_std`] and [`compile_user`] are the two
/// usual cases; this is the general one (the Python binding uses it).
pub fn compile_sources(
    prelude: &[Source],
    sources: &[Source],
    std_set: bool,
) -> Result<Schema, SchemaError> {
    compile::compile(prelude, sources, std_set)
}

/// The generated files of the standard set, from `ROOT/schemas/*.toml`:
/// `(path relative to ROOT, contents)` for `shm-comm/src/msgs.rs` and
/// `python/shm_comm/msgs.py`. This is what `shm-comm-schema gen-std` writes
/// and what the staleness test compares with the checked-in files.
pub fn std_outputs(root: &Path) -> Result<Vec<(&'static str, String)>, SchemaError> {
    let mut sources = read_sources(&[root.join("schemas")])?;
    // Name them relative to the root, whatever the root is.
    for s in &mut sources {
        let name = Path::new(&s.path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        s.path = format!("schemas/{name}");
    }
    let schema = compile_std(&sources)?;
    Ok(vec![
        ("shm-comm/src/msgs.rs", generate_rust(&schema)),
        ("python/shm_comm/msgs.py", generate_python(&schema)),
    ])
}
