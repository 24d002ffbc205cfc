//! Layout descriptors as Python dicts, for typed topics.
//!
//! A descriptor dict: `{"name", "size", "align", "hash", "fields": [field]}`;
//! a field: `{"name", "offset", "size", "shape": [dims], "kind", ...}` where
//! `kind` is a scalar name (`"u8"` ... `"f64"`, `"flag"`), `"struct"` (with
//! `"layout"`: a descriptor dict), `"string"` (with `"capacity"`), `"vec"`
//! (with `"capacity"` and `"elem"`: a type dict `{"kind", "shape", "size", ...}`)
//! or `"opaque"` (with `"align"`: a foreign type's `size` bytes, undescribed).
//! A variable-size message's dict also has `"tail"`: `{"offset", "max_len",
//! "generation", "base", "elem": type dict}` (`"name"`, the schema's name
//! of the array, is kept when a dict is normalized; the others default to 0).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use shm_comm::{FieldDescriptor, Kind, LayoutDescriptor, Scalar, TypeDesc};

fn type_into(py: Python<'_>, t: &TypeDesc, d: &Bound<'_, PyDict>) -> PyResult<()> {
    d.set_item("size", t.size)?;
    d.set_item("shape", PyList::new(py, &t.shape)?)?;
    match &t.kind {
        Kind::Scalar(s) => d.set_item("kind", s.name())?,
        Kind::Struct(l) => {
            d.set_item("kind", "struct")?;
            d.set_item("layout", to_dict(py, l)?)?;
        }
        Kind::FixedString { capacity } => {
            d.set_item("kind", "string")?;
            d.set_item("capacity", capacity)?;
        }
        Kind::FixedVec { elem, capacity } => {
            d.set_item("kind", "vec")?;
            d.set_item("capacity", capacity)?;
            let e = PyDict::new(py);
            type_into(py, elem, &e)?;
            d.set_item("elem", e)?;
        }
        Kind::Opaque { align, .. } => {
            d.set_item("kind", "opaque")?;
            d.set_item("align", align)?;
        }
    }
    Ok(())
}

/// A descriptor as a dict.
pub fn to_dict<'py>(py: Python<'py>, l: &LayoutDescriptor) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("name", &l.name)?;
    d.set_item("size", l.size)?;
    d.set_item("align", l.align)?;
    d.set_item("hash", l.hash())?;
    let fields = PyList::empty(py);
    for f in &l.fields {
        let fd = PyDict::new(py);
        fd.set_item("name", &f.name)?;
        fd.set_item("offset", f.offset)?;
        type_into(py, &f.ty, &fd)?;
        fields.append(fd)?;
    }
    d.set_item("fields", fields)?;
    if let Some(t) = &l.tail {
        let td = PyDict::new(py);
        td.set_item("offset", t.offset)?;
        td.set_item("max_len", t.max_len)?;
        td.set_item("generation", t.generation)?;
        td.set_item("base", t.base)?;
        let e = PyDict::new(py);
        type_into(py, &t.elem, &e)?;
        td.set_item("elem", e)?;
        d.set_item("tail", td)?;
    }
    Ok(d)
}

fn get<'py, T: for<'a> FromPyObject<'a, 'py>>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<T> {
    match d.get_item(key)? {
        Some(v) => v
            .extract::<T>()
            .map_err(|_| PyValueError::new_err(format!("layout: `{key}` has the wrong type"))),
        None => Err(PyValueError::new_err(format!("layout: missing `{key}`"))),
    }
}

fn type_from(d: &Bound<'_, PyDict>, depth: u32) -> PyResult<TypeDesc> {
    if depth > 16 {
        return Err(PyValueError::new_err("layout: nesting too deep"));
    }
    let kind: String = get(d, "kind")?;
    let kind = match kind.as_str() {
        "struct" => Kind::Struct(from_dict_at(
            &get::<Bound<'_, PyDict>>(d, "layout")?,
            depth + 1,
        )?),
        "string" => Kind::FixedString {
            capacity: get(d, "capacity")?,
        },
        "vec" => Kind::FixedVec {
            elem: Box::new(type_from(&get::<Bound<'_, PyDict>>(d, "elem")?, depth + 1)?),
            capacity: get(d, "capacity")?,
        },
        "opaque" => Kind::Opaque {
            size: get(d, "size")?,
            align: get(d, "align")?,
        },
        s => Kind::Scalar(
            Scalar::from_name(s)
                .ok_or_else(|| PyValueError::new_err(format!("layout: unknown kind {s:?}")))?,
        ),
    };
    let shape: Vec<u32> = d
        .get_item("shape")?
        .map(|s| s.extract())
        .transpose()?
        .unwrap_or_default();
    let mut t = TypeDesc::of(kind);
    for dim in shape.iter().rev() {
        t = t.array(*dim);
    }
    Ok(t)
}

fn from_dict_at(d: &Bound<'_, PyDict>, depth: u32) -> PyResult<LayoutDescriptor> {
    let name: String = get(d, "name")?;
    let size: usize = get(d, "size")?;
    let align: usize = get(d, "align")?;
    let list: Bound<'_, PyList> = get(d, "fields")?;
    let mut fields = Vec::with_capacity(list.len());
    for f in list.iter() {
        let f = f.cast_into::<PyDict>()?;
        let fname: String = get(&f, "name")?;
        let offset: usize = get(&f, "offset")?;
        fields.push(FieldDescriptor::new(&fname, offset, type_from(&f, depth)?));
    }
    let l = LayoutDescriptor::new(&name, size, align, fields);
    let Some(t) = d.get_item("tail")? else {
        return Ok(l);
    };
    if depth > 0 || t.is_none() {
        return if t.is_none() {
            Ok(l)
        } else {
            Err(PyValueError::new_err(
                "layout: a nested message cannot have a tail",
            ))
        };
    }
    let t = t.cast_into::<PyDict>()?;
    let opt = |key: &str| -> PyResult<u64> {
        Ok(t.get_item(key)?
            .map(|v| v.extract())
            .transpose()?
            .unwrap_or(0))
    };
    let elem = type_from(&get::<Bound<'_, PyDict>>(&t, "elem")?, depth + 1)?;
    let max_len = u32::try_from(opt("max_len")?)
        .map_err(|_| PyValueError::new_err("layout: tail `max_len` too large"))?;
    let mut l = l
        .with_tail(elem, max_len)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let tail = l.tail.as_mut().expect("set by with_tail");
    if let Some(off) = t.get_item("offset")? {
        if off.extract::<u32>()? != tail.offset {
            return Err(PyValueError::new_err(format!(
                "layout: tail at offset {off}, not {}",
                tail.offset
            )));
        }
    }
    tail.generation = u32::try_from(opt("generation")?)
        .map_err(|_| PyValueError::new_err("layout: tail `generation` too large"))?;
    tail.base = opt("base")?;
    Ok(l)
}

/// A descriptor from a dict, validated exactly as one read from a segment.
pub fn from_dict(d: &Bound<'_, PyDict>) -> PyResult<LayoutDescriptor> {
    let l = from_dict_at(d, 0)?;
    LayoutDescriptor::decode(&l.encode()).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// The structural hash of a layout dict (the same as Rust's derive computes).
#[pyfunction]
pub fn layout_hash(layout: &Bound<'_, PyDict>) -> PyResult<u64> {
    Ok(from_dict(layout)?.hash())
}

/// Validates a layout dict and returns it normalized (with its hash).
#[pyfunction]
pub fn check_layout<'py>(layout: &Bound<'py, PyDict>) -> PyResult<Bound<'py, PyDict>> {
    to_dict(layout.py(), &from_dict(layout)?)
}

/// A layout dict from an encoded layout descriptor (the bytes a bridge
/// serves for a layout hash), validated as a segment's would be.
#[pyfunction]
pub fn decode_layout<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyDict>> {
    let l = LayoutDescriptor::decode(data).map_err(|e| PyValueError::new_err(e.to_string()))?;
    to_dict(py, &l)
}

/// The first difference between two layouts (ours, theirs), or `None`.
#[pyfunction]
pub fn first_difference(
    ours: &Bound<'_, PyDict>,
    theirs: &Bound<'_, PyDict>,
) -> PyResult<Option<String>> {
    Ok(from_dict(ours)?.first_difference(&from_dict(theirs)?))
}
