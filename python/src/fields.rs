//! Field access by name on typed samples and loans, in place:
//! `sample["seq"]`, `loan["seq"] = 5`.
//!
//! Plain scalar fields (numbers and flags) are read and written here, with
//! no numpy involved: tens of nanoseconds. Every other field (arrays, nested
//! messages, strings, vectors) goes through `shm_comm.typed.get_field` /
//! `set_field`, which return numpy views into the slot (no copy).

use std::sync::Arc;

use pyo3::exceptions::{PyKeyError, PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple};

use shm_comm::{Kind, LayoutDescriptor, Scalar};

use crate::{error, typed};

/// A typed topic's fields, shared by its samples (or loans).
pub(crate) struct Fields {
    /// The layout as a dict, for the Python path.
    dict: Py<PyDict>,
    /// Its numpy dtype, made on first use.
    dtype: PyOnceLock<Py<PyAny>>,
    /// Bytes of one message.
    size: usize,
    fields: Vec<Field>,
}

pub(crate) struct Field {
    name: String,
    /// The name as an interned Python string: keys written as literals in
    /// Python code are the same object, so most lookups compare pointers.
    key: Py<PyString>,
    /// Byte offset (the layout was validated: the field lies inside the message).
    offset: usize,
    access: Access,
}

/// How a field is read and written.
enum Access {
    /// A plain number or flag: here, with no numpy.
    Scalar(Scalar),
    /// An array of numbers: one `numpy.frombuffer` (numpy's name of the
    /// element type, and the shape).
    Numbers(&'static str, Vec<usize>),
    /// Anything else: `shm_comm.typed`.
    Python,
}

impl Field {
    /// Where the field is and its kind, if it is a plain scalar (read and
    /// written here); `None` for a field of another kind (see
    /// [`Fields::get_py`]).
    pub(crate) fn scalar(&self) -> Option<(usize, Scalar)> {
        match self.access {
            Access::Scalar(s) => Some((self.offset, s)),
            _ => None,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }
}

impl Access {
    fn of(ty: &shm_comm::TypeDesc) -> Access {
        match ty.kind {
            Kind::Scalar(s) if ty.shape.is_empty() => Access::Scalar(s),
            Kind::Scalar(s) => match numpy_name(s) {
                Some(n) => Access::Numbers(n, ty.shape.iter().map(|&d| d as usize).collect()),
                None => Access::Python,
            },
            _ => Access::Python,
        }
    }
}

/// numpy's name of a number kind in native byte order (the segment header
/// proved the writer's byte order is ours); `None` for flags (read as bools).
pub(crate) fn numpy_name(s: Scalar) -> Option<&'static str> {
    Some(match s {
        Scalar::U8 => "u1",
        Scalar::U16 => "u2",
        Scalar::U32 => "u4",
        Scalar::U64 => "u8",
        Scalar::I8 => "i1",
        Scalar::I16 => "i2",
        Scalar::I32 => "i4",
        Scalar::I64 => "i8",
        Scalar::F32 => "f4",
        Scalar::F64 => "f8",
        Scalar::Flag => return None,
    })
}

impl Fields {
    pub(crate) fn new(py: Python<'_>, l: &LayoutDescriptor) -> PyResult<Arc<Fields>> {
        let fields = l
            .fields
            .iter()
            .map(|f| Field {
                name: f.name.clone(),
                key: PyString::intern(py, &f.name).unbind(),
                offset: f.offset as usize,
                access: Access::of(&f.ty),
            })
            .collect();
        Ok(Arc::new(Fields {
            dict: typed::to_dict(py, l)?.unbind(),
            dtype: PyOnceLock::new(),
            size: l.size as usize,
            fields,
        }))
    }

    /// Field `name` (a `str`): `KeyError` if the layout has none.
    pub(crate) fn lookup(&self, name: &Bound<'_, PyAny>) -> PyResult<&Field> {
        if let Some(f) = self.fields.iter().find(|f| f.key.as_ptr() == name.as_ptr()) {
            return Ok(f);
        }
        let s = name.cast::<PyString>()?.to_str()?;
        self.fields
            .iter()
            .find(|f| f.name == s)
            .ok_or_else(|| PyKeyError::new_err(s.to_owned()))
    }

    /// Checks that a message of `len` bytes holds the whole layout (a slot
    /// written by another process is never trusted to).
    pub(crate) fn check_len(&self, py: Python<'_>, len: usize) -> PyResult<()> {
        if len < self.size {
            return Err(error(
                py,
                "SHMError",
                format!("message of {len} bytes; its layout needs {}", self.size),
            ));
        }
        Ok(())
    }

    /// Field `f` (not a plain scalar) of the message in `owner`'s buffer,
    /// as numpy views where it has arrays.
    pub(crate) fn get_py<'py>(
        &self,
        owner: &Bound<'py, PyAny>,
        f: &Field,
    ) -> PyResult<Bound<'py, PyAny>> {
        static GET: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        static FROMBUFFER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let py = owner.py();
        if let Access::Numbers(dtype, shape) = &f.access {
            // An array of numbers: one `numpy.frombuffer` over the owner's
            // buffer (which checks that it is long enough).
            let count: usize = shape.iter().product();
            let kwargs = PyDict::new(py);
            kwargs.set_item("dtype", *dtype)?;
            kwargs.set_item("count", count)?;
            kwargs.set_item("offset", f.offset)?;
            let flat = FROMBUFFER
                .import(py, "numpy", "frombuffer")?
                .call((owner,), Some(&kwargs))?;
            return if shape.len() == 1 {
                Ok(flat)
            } else {
                flat.call_method1("reshape", (PyTuple::new(py, shape)?,))
            };
        }
        GET.import(py, "shm_comm.typed", "get_field")?.call1((
            owner,
            self.dict.bind(py),
            f.key.bind(py),
            self.dtype(py)?,
        ))
    }

    /// Sets field `f` (not a plain scalar) in `owner`'s (writable) buffer.
    pub(crate) fn set_py(
        &self,
        owner: &Bound<'_, PyAny>,
        f: &Field,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        static SET: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let py = owner.py();
        SET.import(py, "shm_comm.typed", "set_field")?.call1((
            owner,
            self.dict.bind(py),
            f.key.bind(py),
            value,
            self.dtype(py)?,
        ))?;
        Ok(())
    }

    fn dtype<'py>(&self, py: Python<'py>) -> PyResult<&Bound<'py, PyAny>> {
        static DTYPE_OF: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
        let dtype = self.dtype.get_or_try_init(py, || {
            DTYPE_OF
                .import(py, "shm_comm.typed", "dtype_of")?
                .call1((self.dict.bind(py),))
                .map(Bound::unbind)
        })?;
        Ok(dtype.bind(py))
    }
}

/// Reads a scalar of kind `s` at `at`.
///
/// # Safety
/// `at` is valid for reads of `s.size()` bytes that nobody writes meanwhile.
pub(crate) unsafe fn read(py: Python<'_>, at: *const u8, s: Scalar) -> PyResult<Bound<'_, PyAny>> {
    // SAFETY: forwarded from the caller; `read_unaligned` needs no alignment.
    unsafe {
        Ok(match s {
            Scalar::U8 => at.read().into_pyobject(py)?.into_any(),
            Scalar::U16 => at
                .cast::<u16>()
                .read_unaligned()
                .into_pyobject(py)?
                .into_any(),
            Scalar::U32 => at
                .cast::<u32>()
                .read_unaligned()
                .into_pyobject(py)?
                .into_any(),
            Scalar::U64 => at
                .cast::<u64>()
                .read_unaligned()
                .into_pyobject(py)?
                .into_any(),
            Scalar::I8 => at.cast::<i8>().read().into_pyobject(py)?.into_any(),
            Scalar::I16 => at
                .cast::<i16>()
                .read_unaligned()
                .into_pyobject(py)?
                .into_any(),
            Scalar::I32 => at
                .cast::<i32>()
                .read_unaligned()
                .into_pyobject(py)?
                .into_any(),
            Scalar::I64 => at
                .cast::<i64>()
                .read_unaligned()
                .into_pyobject(py)?
                .into_any(),
            Scalar::F32 => f64::from(at.cast::<f32>().read_unaligned())
                .into_pyobject(py)?
                .into_any(),
            Scalar::F64 => at
                .cast::<f64>()
                .read_unaligned()
                .into_pyobject(py)?
                .into_any(),
            Scalar::Flag => {
                let b = at.read() != 0;
                b.into_pyobject(py)?.to_owned().into_any()
            }
        })
    }
}

/// A value converted for a scalar field, ready to store: its bytes in
/// native order.
pub(crate) struct Encoded {
    bytes: [u8; 8],
    len: usize,
}

/// Converts `value` for a scalar field of kind `s` named `name` (`TypeError`
/// for a value of the wrong type, `OverflowError` out of range). May run
/// Python code (`__index__`, `__float__`, `__bool__`): call it before taking
/// any lock the buffer's owner also takes.
pub(crate) fn encode(s: Scalar, name: &str, value: &Bound<'_, PyAny>) -> PyResult<Encoded> {
    let py = value.py();
    let wrong = |e: PyErr| {
        let msg = format!("field `{name}` ({}): {e}", s.name());
        if e.is_instance_of::<PyOverflowError>(py) {
            PyOverflowError::new_err(msg)
        } else {
            PyTypeError::new_err(msg)
        }
    };
    fn ne<const N: usize>(b: [u8; N]) -> Encoded {
        let mut bytes = [0; 8];
        bytes[..N].copy_from_slice(&b);
        Encoded { bytes, len: N }
    }
    Ok(match s {
        Scalar::U8 => ne(value.extract::<u8>().map_err(wrong)?.to_ne_bytes()),
        Scalar::U16 => ne(value.extract::<u16>().map_err(wrong)?.to_ne_bytes()),
        Scalar::U32 => ne(value.extract::<u32>().map_err(wrong)?.to_ne_bytes()),
        Scalar::U64 => ne(value.extract::<u64>().map_err(wrong)?.to_ne_bytes()),
        Scalar::I8 => ne(value.extract::<i8>().map_err(wrong)?.to_ne_bytes()),
        Scalar::I16 => ne(value.extract::<i16>().map_err(wrong)?.to_ne_bytes()),
        Scalar::I32 => ne(value.extract::<i32>().map_err(wrong)?.to_ne_bytes()),
        Scalar::I64 => ne(value.extract::<i64>().map_err(wrong)?.to_ne_bytes()),
        Scalar::F32 => ne((value.extract::<f64>().map_err(wrong)? as f32).to_ne_bytes()),
        Scalar::F64 => ne(value.extract::<f64>().map_err(wrong)?.to_ne_bytes()),
        Scalar::Flag => ne([u8::from(value.is_truthy()?)]),
    })
}

/// Stores a converted value at `at`.
///
/// # Safety
/// `at` is valid for writes of the field's size (that of the kind `e` was
/// encoded for) that only the caller writes.
pub(crate) unsafe fn store(at: *mut u8, e: &Encoded) {
    // SAFETY: forwarded from the caller; `e.len` is the kind's size.
    unsafe { std::ptr::copy_nonoverlapping(e.bytes.as_ptr(), at, e.len) }
}
