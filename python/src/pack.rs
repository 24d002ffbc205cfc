//! Packing a Python object into a typed message's bytes with a compiled
//! [`Plan`], as `shm_comm.typed.encode` does.
//!
//! Values are taken the way the Python reference takes them: a message
//! object's attributes, a dict's keys, `None` fields left zero. Plain values
//! (`int`, `float`, `bool`, `str`, `bytes`, numpy arrays of the field's
//! dtype and shape) are converted here; an array of another dtype or shape,
//! or a list, goes through numpy for that field. A value only numpy's
//! conversion takes (a float for an integer field, a numpy scalar, a numpy
//! record) makes `pack` answer `false`, and the caller packs the whole
//! message with `typed.encode`, so every value converts exactly as before.

use std::fmt;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple, PyType,
};

use shm_comm::Scalar;

use crate::convert::{Numbers, Plan, Struct, Ty};
use crate::error;
use crate::view::View;

/// Where a value goes, for error messages: `header.frame_id`, `points[3].x`.
#[derive(Clone, Copy)]
enum At<'a> {
    Top,
    Field(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            At::Top => Ok(()),
            At::Field(At::Top, name) => f.write_str(name),
            At::Field(parent, name) => write!(f, "{parent}.{name}"),
            At::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

impl Plan {
    /// Writes `obj` into `out` (`self.size` zeroed bytes). `Ok(false)`: a
    /// value needs numpy's own conversion; pack with `typed.encode` instead.
    pub(crate) fn pack(&self, obj: &Bound<'_, PyAny>, out: &mut [u8]) -> PyResult<bool> {
        pack_struct(&self.root, obj, out, 0, &At::Top)
    }
}

/// `numpy.void` (a record), which only `typed.encode` packs.
fn is_record(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    static VOID: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let void = VOID.import(obj.py(), "numpy", "void")?;
    obj.is_instance(void)
}

fn pack_struct(
    s: &Struct,
    obj: &Bound<'_, PyAny>,
    out: &mut [u8],
    base: usize,
    at: &At<'_>,
) -> PyResult<bool> {
    let py = obj.py();
    let dict = obj.cast::<PyDict>().ok();
    if dict.is_none() && is_record(obj)? {
        return Ok(false);
    }
    let mut found = false;
    for f in &s.fields {
        let value = match dict {
            Some(d) => d.get_item(f.key.bind(py))?,
            None => match obj.getattr(f.attr.bind(py)) {
                Ok(v) => Some(v),
                Err(e) if e.is_instance_of::<pyo3::exceptions::PyAttributeError>(py) => None,
                Err(e) => return Err(e),
            },
        };
        found |= value.is_some();
        let Some(value) = value else { continue };
        if value.is_none() {
            continue;
        }
        let here = At::Field(at, &f.name);
        if !pack_ty(&f.ty, &value, out, base + f.offset, &here)? {
            return Ok(false);
        }
    }
    if dict.is_none() && !found {
        let place = match at {
            At::Top => s.name.clone(),
            at => at.to_string(),
        };
        return Err(error(
            py,
            "SHMSerializationError",
            format!(
                "`{place}`: cannot pack a {} as `{}` (give a message object, a dict or a \
                 numpy record with its fields)",
                obj.get_type().name()?,
                s.name
            ),
        ));
    }
    Ok(true)
}

/// Copies `bytes` to `out[at..]`.
fn put(out: &mut [u8], at: usize, bytes: &[u8]) -> PyResult<()> {
    at.checked_add(bytes.len())
        .and_then(|end| out.get_mut(at..end))
        .ok_or_else(|| {
            pyo3::exceptions::PyValueError::new_err("layout: a field lies outside its message")
        })?
        .copy_from_slice(bytes);
    Ok(())
}

fn too_large(py: Python<'_>, msg: String) -> PyErr {
    error(py, "SHMMessageTooLargeError", msg)
}

/// A list or tuple's items (what the plan iterates itself).
fn items<'py>(v: &Bound<'py, PyAny>) -> Option<Vec<Bound<'py, PyAny>>> {
    if let Ok(l) = v.cast::<PyList>() {
        return Some(l.iter().collect());
    }
    v.cast::<PyTuple>().ok().map(|t| t.iter().collect())
}

fn pack_ty(
    ty: &Ty,
    v: &Bound<'_, PyAny>,
    out: &mut [u8],
    off: usize,
    at: &At<'_>,
) -> PyResult<bool> {
    let py = v.py();
    match ty {
        Ty::Scalar(s) => match scalar_bytes(*s, v) {
            Some((bytes, n)) => put(out, off, &bytes[..n]).map(|()| true),
            None => Ok(false),
        },
        Ty::Numbers(n) => pack_numbers(n, v, out, off),
        Ty::Struct(s) => pack_struct(s, v, out, off, at),
        Ty::String { capacity } => {
            let Ok(s) = v.cast::<PyString>() else {
                return Ok(false);
            };
            let b = s.to_str()?.as_bytes();
            if b.len() > *capacity {
                return Err(too_large(
                    py,
                    format!(
                        "`{at}`: {} bytes do not fit FixedString<{capacity}>",
                        b.len()
                    ),
                ));
            }
            put(out, off, &(b.len() as u32).to_ne_bytes())?;
            put(out, off + 4, b).map(|()| true)
        }
        Ty::Vec {
            capacity,
            elem,
            elem_size,
            numbers,
        } => {
            let fits = |len: usize| {
                if len > *capacity {
                    return Err(too_large(
                        py,
                        format!("`{at}`: {len} items do not fit FixedVec<_, {capacity}>"),
                    ));
                }
                Ok((len as u32).to_ne_bytes())
            };
            if let Some(n) = numbers {
                let Some(view) = View::get(v, false) else {
                    return Ok(false);
                };
                if !same_dtype(&view, n.scalar) || view.has_shape(&[]) {
                    return Ok(false);
                }
                let len = view.bytes().len() / view.itemsize().max(1);
                if !view.has_shape(&[len]) {
                    return Ok(false);
                }
                put(out, off, &fits(len)?)?;
                return put(out, off + 8, view.bytes()).map(|()| true);
            }
            let Some(list) = items(v) else {
                return Ok(false);
            };
            put(out, off, &fits(list.len())?)?;
            for (i, item) in list.iter().enumerate() {
                if !pack_ty(elem, item, out, off + 8 + i * elem_size, &At::Index(at, i))? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Ty::Opaque { size } => {
            let b = if let Ok(b) = v.cast::<PyBytes>() {
                b.as_bytes().to_vec()
            } else if let Ok(b) = v.cast::<PyByteArray>() {
                b.to_vec()
            } else {
                return Ok(false);
            };
            if b.len() != *size {
                return Err(error(
                    py,
                    "SHMSerializationError",
                    format!("`{at}`: {} bytes for an opaque field of {size}", b.len()),
                ));
            }
            put(out, off, &b).map(|()| true)
        }
        Ty::Array { len, stride, inner } => {
            let Some(list) = items(v) else {
                return Ok(false);
            };
            if list.len() > *len {
                return Ok(false);
            }
            for (i, item) in list.iter().enumerate() {
                if !pack_ty(inner, item, out, off + i * stride, &At::Index(at, i))? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
    }
}

/// Whether a buffer's items are numbers of kind `s` (flags: bytes or bools).
fn same_dtype(view: &View<'_>, s: Scalar) -> bool {
    let Some(&[c]) = view.format() else {
        return false;
    };
    let class = match c {
        b'b' | b'h' | b'i' | b'l' | b'q' => 'i',
        b'B' | b'H' | b'I' | b'L' | b'Q' => 'u',
        b'e' | b'f' | b'd' => 'f',
        b'?' => '?',
        _ => return false,
    };
    let want = match s {
        Scalar::I8 | Scalar::I16 | Scalar::I32 | Scalar::I64 => 'i',
        Scalar::U8 | Scalar::U16 | Scalar::U32 | Scalar::U64 | Scalar::Flag => 'u',
        Scalar::F32 | Scalar::F64 => 'f',
    };
    let bools = class == '?' && matches!(s, Scalar::U8 | Scalar::Flag);
    (class == want || bools) && view.itemsize() == s.size() as usize
}

/// An array of numbers: copied as is when it already has the field's dtype
/// and shape; anything else is converted by numpy as `typed.encode` does
/// (`field[...] = numpy.asarray(value, dtype=field.dtype)`: broadcasting,
/// and its errors, included).
fn pack_numbers(n: &Numbers, v: &Bound<'_, PyAny>, out: &mut [u8], off: usize) -> PyResult<bool> {
    let py = v.py();
    if let Some(view) = View::get(v, false) {
        if same_dtype(&view, n.scalar) && view.has_shape(&n.shape) && view.bytes().len() == n.bytes
        {
            put(out, off, view.bytes())?;
            return Ok(true);
        }
    }
    static EMPTY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    static ASARRAY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let field = EMPTY
        .import(py, "numpy", "empty")?
        .call1((n.dims.bind(py), n.dtype.bind(py)))?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("dtype", n.dtype.bind(py))?;
    let value = ASARRAY
        .import(py, "numpy", "asarray")?
        .call((v,), Some(&kwargs))?;
    field.set_item(py.Ellipsis(), value)?;
    let view = View::get(&field, false)
        .ok_or_else(|| pyo3::exceptions::PyBufferError::new_err("numpy.empty gave no buffer"))?;
    put(out, off, view.bytes())?;
    Ok(true)
}

/// A plain value's bytes for a scalar field (native order), or `None` when
/// only numpy's conversion gives the stored value or error exactly (a float
/// for an integer field is truncated, an integer out of range is an
/// `OverflowError`, a numpy scalar may wrap).
fn scalar_bytes(s: Scalar, v: &Bound<'_, PyAny>) -> Option<([u8; 8], usize)> {
    fn ne<const N: usize>(b: [u8; N]) -> Option<([u8; 8], usize)> {
        let mut bytes = [0; 8];
        bytes[..N].copy_from_slice(&b);
        Some((bytes, N))
    }
    let int = v.is_instance_of::<PyInt>();
    match s {
        Scalar::F32 | Scalar::F64 => {
            if !int && !v.is_instance_of::<PyFloat>() {
                return None;
            }
            let x: f64 = v.extract().ok()?;
            if s == Scalar::F64 {
                return ne(x.to_ne_bytes());
            }
            // An integer past 2^53 would be rounded twice; a finite value
            // past f32's range is numpy's to warn about.
            if (int && x.abs() > 9_007_199_254_740_992.0)
                || (x.is_finite() && (x as f32).is_infinite())
            {
                return None;
            }
            ne((x as f32).to_ne_bytes())
        }
        Scalar::Flag => {
            if let Ok(b) = v.cast::<PyBool>() {
                return ne([u8::from(b.is_true())]);
            }
            if !int {
                return None;
            }
            ne([v.extract::<u8>().ok()?])
        }
        _ if !int => None,
        Scalar::U8 => ne(v.extract::<u8>().ok()?.to_ne_bytes()),
        Scalar::U16 => ne(v.extract::<u16>().ok()?.to_ne_bytes()),
        Scalar::U32 => ne(v.extract::<u32>().ok()?.to_ne_bytes()),
        Scalar::U64 => ne(v.extract::<u64>().ok()?.to_ne_bytes()),
        Scalar::I8 => ne(v.extract::<i8>().ok()?.to_ne_bytes()),
        Scalar::I16 => ne(v.extract::<i16>().ok()?.to_ne_bytes()),
        Scalar::I32 => ne(v.extract::<i32>().ok()?.to_ne_bytes()),
        Scalar::I64 => ne(v.extract::<i64>().ok()?.to_ne_bytes()),
    }
}
