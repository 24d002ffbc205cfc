//! The schema compiler (`shm-comm-schema`) for `shm_comm.schema`: the one
//! compiler and generator of the project, with its layouts as Python data.
//!
//! `compile_schema(sources, prelude, std_set)` returns a `CompiledSchema`:
//! `messages()` gives each message as a dict (`name`, `doc`, `doc_lines`,
//! `file`, `line`, `prelude`, `variant_of`, `fields`, `constants` and
//! `layout`, a descriptor dict of `typed.rs`), and `generate_python()` /
//! `generate_rust()` write the modules. Errors are `shm_comm.schema.SchemaError`
//! (`file:line: reason`).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use shm_comm_schema::{Message, Schema, SchemaError, Source, Ty};

/// `e` as `shm_comm.schema.SchemaError(file, line, message)`.
fn schema_error(py: Python<'_>, e: SchemaError) -> PyErr {
    let made = py
        .import("shm_comm.schema")
        .and_then(|m| m.getattr("SchemaError"))
        .and_then(|class| class.call1((e.file, e.line, e.message)));
    match made {
        Ok(err) => PyErr::from_value(err),
        Err(err) => err,
    }
}

fn sources(list: Vec<(String, String)>) -> Vec<Source> {
    list.into_iter()
        .map(|(path, text)| Source { path, text })
        .collect()
}

/// A resolved type as a tuple: `("scalar", "f64")`, `("message", "Pose")`,
/// `("array", elem, n)`, `("string", n)` or `("vec", elem, n)`.
fn ty_tuple<'py>(py: Python<'py>, t: &Ty) -> PyResult<Bound<'py, PyAny>> {
    Ok(match t {
        Ty::Scalar(s) => ("scalar", s.name()).into_pyobject(py)?.into_any(),
        Ty::Message(n) => ("message", n).into_pyobject(py)?.into_any(),
        Ty::Array(e, n) => ("array", ty_tuple(py, e)?, n).into_pyobject(py)?.into_any(),
        Ty::String(n) => ("string", n).into_pyobject(py)?.into_any(),
        Ty::Vec(e, n) => ("vec", ty_tuple(py, e)?, n).into_pyobject(py)?.into_any(),
    })
}

fn message_dict<'py>(py: Python<'py>, m: &Message) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &m.name)?;
    d.set_item("doc", &m.doc)?;
    d.set_item("doc_lines", m.doc_lines())?;
    d.set_item("file", &m.file)?;
    d.set_item("line", m.line)?;
    d.set_item("prelude", m.prelude)?;
    match &m.variant_of {
        Some(v) => d.set_item("variant_of", (&v.template, &v.template_doc, &v.args))?,
        None => d.set_item("variant_of", py.None())?,
    }
    let fields = PyList::empty(py);
    for f in &m.fields {
        let fd = PyDict::new(py);
        fd.set_item("name", &f.name)?;
        fd.set_item("doc", &f.doc)?;
        fd.set_item("ty", ty_tuple(py, &f.ty)?)?;
        fd.set_item("type", f.ty.to_string())?;
        fd.set_item("offset", f.offset)?;
        fd.set_item("size", f.size)?;
        fd.set_item("padding", f.padding)?;
        fd.set_item("line", f.line)?;
        fields.append(fd)?;
    }
    d.set_item("fields", fields)?;
    let constants = PyList::empty(py);
    for c in &m.constants {
        let cd = PyDict::new(py);
        cd.set_item("name", &c.name)?;
        cd.set_item("ty", c.ty.name())?;
        cd.set_item("value", c.value)?;
        cd.set_item("doc", &c.doc)?;
        constants.append(cd)?;
    }
    d.set_item("constants", constants)?;
    d.set_item("layout", crate::typed::to_dict(py, &m.layout)?)?;
    Ok(d)
}

/// The result of a compilation (`shm_comm_schema::Schema`).
#[pyclass(frozen, module = "shm_comm._native")]
#[derive(Debug)]
pub struct CompiledSchema {
    schema: Schema,
}

#[pymethods]
impl CompiledSchema {
    /// Every message, dependencies first (those of the prelude included,
    /// with `prelude` true), as dicts.
    fn messages<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for m in &self.schema.messages {
            out.append(message_dict(py, m)?)?;
        }
        Ok(out)
    }

    /// `true` if this is the standard set itself.
    #[getter]
    fn std_set(&self) -> bool {
        self.schema.std_set
    }

    /// The files compiled (not the prelude), as `(path, text)` pairs.
    #[getter]
    fn sources(&self) -> Vec<(String, String)> {
        self.schema
            .sources
            .iter()
            .map(|s| (s.path.clone(), s.text.clone()))
            .collect()
    }

    /// The Python module (what `shm-comm-schema gen-python` writes).
    fn generate_python(&self) -> String {
        shm_comm_schema::generate_python(&self.schema)
    }

    /// The Rust module (what `shm-comm-schema gen-rust` writes).
    fn generate_rust(&self) -> String {
        shm_comm_schema::generate_rust(&self.schema)
    }
}

/// Compiles `sources` (`(path, text)` pairs) with the messages of `prelude`
/// in scope; `std_set` compiles them as the standard set.
#[pyfunction]
#[pyo3(signature = (sources, prelude = Vec::new(), std_set = false))]
pub fn compile_schema(
    py: Python<'_>,
    sources: Vec<(String, String)>,
    prelude: Vec<(String, String)>,
    std_set: bool,
) -> PyResult<CompiledSchema> {
    let (prelude, sources) = (self::sources(prelude), self::sources(sources));
    shm_comm_schema::compile_sources(&prelude, &sources, std_set)
        .map(|schema| CompiledSchema { schema })
        .map_err(|e| schema_error(py, e))
}

/// Adds this file's functions and classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CompiledSchema>()?;
    m.add_function(wrap_pyfunction!(compile_schema, m)?)
}
