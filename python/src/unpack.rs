//! Building a message object from a typed message's bytes with a compiled
//! [`Plan`]: the objects, values and types `shm_comm.typed.decode` gives
//! (numbers arrays as new numpy arrays, strings as `str`, nested messages as
//! their classes' objects), with no intermediate numpy record.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};

use shm_comm::Scalar;

use crate::convert::{Numbers, Plan, Struct, Ty};
use crate::error;
use crate::view::View;

impl Plan {
    /// The message object of `data` (one message's bytes; a shorter buffer
    /// is an `SHMError`).
    pub(crate) fn unpack<'py>(&self, py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
        if data.len() < self.size {
            return Err(error(
                py,
                "SHMError",
                format!(
                    "message of {} bytes; its layout needs {}",
                    data.len(),
                    self.size
                ),
            ));
        }
        self.unpack_struct(py, &self.root, data, 0)
    }

    fn unpack_struct<'py>(
        &self,
        py: Python<'py>,
        s: &Struct,
        data: &[u8],
        base: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let class = s
            .class
            .as_ref()
            .ok_or_else(|| pyo3::exceptions::PySystemError::new_err("a send plan used to receive"))?
            .bind(py);
        if s.fast {
            static OBJECT_NEW: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            let new = OBJECT_NEW.get_or_try_init(py, || {
                py.get_type::<PyAny>().getattr("__new__").map(Bound::unbind)
            })?;
            let obj = new.bind(py).call1((class,))?;
            for f in &s.fields {
                let v = self.unpack_ty(py, &f.ty, data, base + f.offset)?;
                // SAFETY: the three are live objects we hold references to
                // (the GIL is held); PyObject_GenericSetAttr takes its own
                // reference to the value and steals none. It sets the
                // attribute as `object.__setattr__` does, which is what a
                // dataclass's `__init__` does (`fast_init` checked the class).
                let rc = unsafe {
                    ffi::PyObject_GenericSetAttr(obj.as_ptr(), f.attr.as_ptr(), v.as_ptr())
                };
                if rc != 0 {
                    return Err(PyErr::fetch(py));
                }
            }
            return Ok(obj);
        }
        let kwargs = PyDict::new(py);
        for f in &s.fields {
            kwargs.set_item(
                f.attr.bind(py),
                self.unpack_ty(py, &f.ty, data, base + f.offset)?,
            )?;
        }
        class.call((), Some(&kwargs))
    }

    fn unpack_ty<'py>(
        &self,
        py: Python<'py>,
        ty: &Ty,
        data: &[u8],
        off: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        match ty {
            Ty::Scalar(s) => scalar(py, *s, get(data, off, s.size() as usize)?),
            Ty::Numbers(n) => self.array(py, n, n.dims.bind(py).as_any(), get(data, off, n.bytes)?),
            Ty::Struct(s) => self.unpack_struct(py, s, data, off),
            Ty::String { capacity } => {
                let n = (len_at(data, off)?).min(*capacity);
                let bytes = get(data, off + 4, n)?;
                Ok(PyString::new(py, &String::from_utf8_lossy(bytes)).into_any())
            }
            Ty::Vec {
                capacity,
                elem,
                elem_size,
                numbers,
            } => {
                let n = (len_at(data, off)?).min(*capacity);
                if let Some(nums) = numbers {
                    let bytes = get(data, off + 8, n.saturating_mul(*elem_size))?;
                    return self.array(py, nums, &(n,).into_pyobject(py)?.into_any(), bytes);
                }
                let list = PyList::empty(py);
                for i in 0..n {
                    list.append(self.unpack_ty(py, elem, data, off + 8 + i * elem_size)?)?;
                }
                Ok(list.into_any())
            }
            Ty::Opaque { size } => Ok(PyBytes::new(py, get(data, off, *size)?).into_any()),
            Ty::Array { len, stride, inner } => {
                let list = PyList::empty(py);
                for i in 0..*len {
                    list.append(self.unpack_ty(py, inner, data, off + i * stride)?)?;
                }
                Ok(list.into_any())
            }
        }
    }

    /// A new numpy array of `dims` filled from `bytes` (flags as bools).
    fn array<'py>(
        &self,
        py: Python<'py>,
        n: &Numbers,
        dims: &Bound<'py, PyAny>,
        bytes: &[u8],
    ) -> PyResult<Bound<'py, PyAny>> {
        let arr = self.np_empty.bind(py).call1((dims, n.out_dtype.bind(py)))?;
        {
            let mut view = View::get(&arr, true).ok_or_else(|| {
                pyo3::exceptions::PyBufferError::new_err("numpy.empty gave no buffer")
            })?;
            let dst = view
                .bytes_mut()
                .filter(|d| d.len() == bytes.len())
                .ok_or_else(|| {
                    pyo3::exceptions::PyBufferError::new_err(
                        "numpy.empty gave a buffer of another size",
                    )
                })?;
            if n.bools {
                for (d, s) in dst.iter_mut().zip(bytes) {
                    *d = u8::from(*s != 0);
                }
            } else {
                dst.copy_from_slice(bytes);
            }
        }
        Ok(arr)
    }
}

/// `data[at..at + len]`, or an error if the layout reaches past the message.
fn get(data: &[u8], at: usize, len: usize) -> PyResult<&[u8]> {
    at.checked_add(len)
        .and_then(|end| data.get(at..end))
        .ok_or_else(|| {
            pyo3::exceptions::PyValueError::new_err("layout: a field lies outside its message")
        })
}

/// The `u32` length at the start of a string or vector.
fn len_at(data: &[u8], at: usize) -> PyResult<usize> {
    let b = get(data, at, 4)?;
    Ok(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

fn scalar<'py>(py: Python<'py>, s: Scalar, b: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
        let mut a = [0; N];
        a.copy_from_slice(&b[..N]);
        a
    }
    Ok(match s {
        Scalar::U8 => b[0].into_pyobject(py)?.into_any(),
        Scalar::I8 => (b[0] as i8).into_pyobject(py)?.into_any(),
        Scalar::U16 => u16::from_ne_bytes(arr(b)).into_pyobject(py)?.into_any(),
        Scalar::I16 => i16::from_ne_bytes(arr(b)).into_pyobject(py)?.into_any(),
        Scalar::U32 => u32::from_ne_bytes(arr(b)).into_pyobject(py)?.into_any(),
        Scalar::I32 => i32::from_ne_bytes(arr(b)).into_pyobject(py)?.into_any(),
        Scalar::U64 => u64::from_ne_bytes(arr(b)).into_pyobject(py)?.into_any(),
        Scalar::I64 => i64::from_ne_bytes(arr(b)).into_pyobject(py)?.into_any(),
        Scalar::F32 => f64::from(f32::from_ne_bytes(arr(b)))
            .into_pyobject(py)?
            .into_any(),
        Scalar::F64 => f64::from_ne_bytes(arr(b)).into_pyobject(py)?.into_any(),
        Scalar::Flag => (b[0] != 0).into_pyobject(py)?.to_owned().into_any(),
    })
}
