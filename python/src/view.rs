//! `View`: a C-contiguous buffer export of a Python object (a numpy array,
//! bytes, ...) with its item format and shape, for the converters.

use std::ffi::CStr;
use std::marker::PhantomData;

use pyo3::ffi;
use pyo3::prelude::*;

/// A buffer export, released on drop. Tied to the GIL (`'py`): the export
/// is only used, and released, while the GIL is held.
pub(crate) struct View<'py> {
    view: ffi::Py_buffer,
    writable: bool,
    _gil: PhantomData<Python<'py>>,
}

impl<'py> View<'py> {
    /// A C-contiguous export of `obj` with its format and shape (writable
    /// if asked), or `None` if `obj` gives none (the exception is cleared:
    /// the caller converts the value another way).
    pub(crate) fn get(obj: &Bound<'py, PyAny>, writable: bool) -> Option<View<'py>> {
        let mut flags = ffi::PyBUF_C_CONTIGUOUS | ffi::PyBUF_FORMAT;
        if writable {
            flags |= ffi::PyBUF_WRITABLE;
        }
        let mut view = std::mem::MaybeUninit::<ffi::Py_buffer>::zeroed();
        // SAFETY: `obj` is a live object (we hold the GIL, `'py`); `view`
        // is valid for writes of a `Py_buffer`.
        let rc = unsafe { ffi::PyObject_GetBuffer(obj.as_ptr(), view.as_mut_ptr(), flags) };
        if rc != 0 {
            drop(PyErr::take(obj.py()));
            return None;
        }
        Some(View {
            // SAFETY: PyObject_GetBuffer succeeded, so it filled the view.
            view: unsafe { view.assume_init() },
            writable,
            _gil: PhantomData,
        })
    }

    /// The exported bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        let len = usize::try_from(self.view.len).unwrap_or(0);
        if len == 0 || self.view.buf.is_null() {
            return &[];
        }
        // SAFETY: a successful C-contiguous export is `len` bytes at `buf`,
        // valid until PyBuffer_Release (in Drop); `&self` borrows the view.
        unsafe { std::slice::from_raw_parts(self.view.buf.cast::<u8>(), len) }
    }

    /// The exported bytes, to write (`None` unless asked for writable).
    pub(crate) fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        let len = usize::try_from(self.view.len).unwrap_or(0);
        if !self.writable {
            return None;
        }
        if len == 0 || self.view.buf.is_null() {
            return Some(&mut []);
        }
        // SAFETY: as in `bytes`, and the export is writable (PyBUF_WRITABLE
        // was granted); `&mut self` makes this the only slice of it.
        Some(unsafe { std::slice::from_raw_parts_mut(self.view.buf.cast::<u8>(), len) })
    }

    /// The struct-module format of one item, without a byte-order prefix
    /// for native order (`b"d"` for float64); `None` for a non-native one.
    pub(crate) fn format(&self) -> Option<&[u8]> {
        if self.view.format.is_null() {
            return Some(b"B");
        }
        // SAFETY: PyBUF_FORMAT was asked for, so a non-NULL `format` is a
        // NUL-terminated string that lives as long as the export.
        let f = unsafe { CStr::from_ptr(self.view.format) }.to_bytes();
        match f.split_first() {
            Some((b'@' | b'=', rest)) => Some(rest),
            Some((b'<', rest)) if cfg!(target_endian = "little") => Some(rest),
            Some((b'>' | b'!', rest)) if cfg!(target_endian = "big") => Some(rest),
            Some((b'<' | b'>' | b'!', _)) => None,
            _ => Some(f),
        }
    }

    /// Bytes of one item.
    pub(crate) fn itemsize(&self) -> usize {
        usize::try_from(self.view.itemsize).unwrap_or(0)
    }

    /// Whether the dimensions are exactly `shape`.
    pub(crate) fn has_shape(&self, shape: &[usize]) -> bool {
        let ndim = usize::try_from(self.view.ndim).unwrap_or(usize::MAX);
        if ndim != shape.len() {
            return false;
        }
        if ndim == 0 {
            return true;
        }
        if self.view.shape.is_null() {
            // A one-dimensional export of bytes (no shape given).
            return ndim == 1
                && self.view.itemsize > 0
                && shape[0] == self.bytes().len() / self.itemsize();
        }
        // SAFETY: PyBUF_C_CONTIGUOUS implies PyBUF_ND: `shape` points to
        // `ndim` lengths that live as long as the export.
        let dims = unsafe { std::slice::from_raw_parts(self.view.shape, ndim) };
        dims.iter()
            .zip(shape)
            .all(|(&d, &s)| usize::try_from(d) == Ok(s))
    }
}

impl Drop for View<'_> {
    fn drop(&mut self) {
        // SAFETY: the view was filled by PyObject_GetBuffer and is released
        // once; the GIL is held (`'py`).
        unsafe { ffi::PyBuffer_Release(&mut self.view) };
    }
}
