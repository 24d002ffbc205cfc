//! [`Builder`]: schema files to a Rust module, from a build script.

use std::path::{Path, PathBuf};

use crate::{compile_user, generate_rust, read_sources, SchemaError};

/// Compiles schema files into a Rust module in `OUT_DIR` at build time,
/// from a build script (the way `prost-build` works), so programs stop
/// including generated files by path (`examples/schema_build` in the
/// repository does this).
///
/// ```toml
/// # Cargo.toml
/// [dependencies]
/// shm-comm = "..."
/// [build-dependencies]
/// shm-comm-schema = "..."
/// ```
///
/// ```no_run
/// // build.rs, in `fn main()`:
/// shm_comm_schema::Builder::new()
///     .file("schemas/robot.toml")
///     .compile()
///     .unwrap_or_else(|e| panic!("{e}"));
/// ```
///
/// ```ignore
/// // src/main.rs: the module is named after the first file (`robot`).
/// mod robot {
///     shm_comm::include_msgs!("robot");
/// }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Builder {
    files: Vec<PathBuf>,
    out_dir: Option<PathBuf>,
    module: Option<String>,
}

impl Builder {
    /// A builder with no files yet.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Adds a schema file (or a directory: its `*.toml` files, by name),
    /// relative to the package's root, where build scripts run.
    pub fn file(mut self, path: impl AsRef<Path>) -> Builder {
        self.files.push(path.as_ref().to_owned());
        self
    }

    /// Where to write the module (default: `OUT_DIR`, which cargo sets
    /// for build scripts).
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Builder {
        self.out_dir = Some(dir.as_ref().to_owned());
        self
    }

    /// The module's name: the file is `<name>.rs`, included with
    /// `shm_comm::include_msgs!("<name>")` (default: the first file's stem).
    pub fn module(mut self, name: &str) -> Builder {
        self.module = Some(name.to_owned());
        self
    }

    /// Compiles the files together (the standard set in scope, as with
    /// `shm-comm-schema gen-rust`), writes the module when its text
    /// changed, tells cargo to run the build script again when a file
    /// changes, and returns the module's path.
    pub fn compile(self) -> Result<PathBuf, SchemaError> {
        let err = |message: String| SchemaError {
            file: "<build>".to_owned(),
            line: 1,
            message,
        };
        let first = self
            .files
            .first()
            .ok_or_else(|| err("no schema file given (Builder::file)".to_owned()))?;
        let module = match &self.module {
            Some(m) => m.clone(),
            None => first
                .file_stem()
                .map(|s| s.to_string_lossy().replace(['-', '.'], "_"))
                .ok_or_else(|| err(format!("no module name in {}", first.display())))?,
        };
        let out_dir = match self.out_dir {
            Some(d) => d,
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| {
                    err(
                        "OUT_DIR is not set: call from a build script, or set Builder::out_dir"
                            .to_owned(),
                    )
                })?,
        };
        for f in &self.files {
            println!("cargo:rerun-if-changed={}", f.display());
        }
        let schema = compile_user(&read_sources(&self.files)?)?;
        let text = for_include(&generate_rust(&schema));
        let path = out_dir.join(format!("{module}.rs"));
        let io = |e: std::io::Error| err(format!("cannot write {}: {e}", path.display()));
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::create_dir_all(&out_dir).map_err(io)?;
            std::fs::write(&path, &text).map_err(io)?;
        }
        Ok(path)
    }
}

/// A generated module as text that `include!` accepts: its `//!` header
/// becomes plain comments (inner attributes are not allowed there).
fn for_include(module: &str) -> String {
    module
        .lines()
        .map(|l| match l.strip_prefix("//!") {
            Some(rest) => format!("//{rest}\n"),
            None => format!("{l}\n"),
        })
        .collect()
}
