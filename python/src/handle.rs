//! What the pattern classes share: the handle surface (`name`,
//! `serialization`, `closed`, the context manager, `repr`), taking their
//! locks without blocking while holding the GIL, connecting with Ctrl-C
//! working, their `stats()` dicts, and frames held back for want of memory.
//!
//! Thread safety: every class is `frozen` (shared freely between Python
//! threads); mutable state sits behind a `Mutex` that is only waited for
//! with the GIL released, so a thread blocked in `recv` never blocks others.

use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use shm_comm::codec::Codec;
use shm_comm::OpenError;

use crate::quick::QuickLock;
use crate::{blocking, check_timeout, deadline, decode, open_error, Ser};

/// The surface the pattern classes share, as a second `#[pymethods]`
/// block of `$class` (PyO3's `multiple-pymethods`): the `name`,
/// `serialization` and `closed` properties, the context manager and the
/// `repr`. `__exit__` calls the class's own `close`, which each class
/// defines: what closing means (and its docstring) differs. The class has
/// the fields `name: String`, `ser: Ser` and `inner`, a [`Slot`].
macro_rules! handle_surface {
    ($class:ident) => {
        #[pyo3::pymethods]
        impl $class {
            #[getter]
            fn name(&self) -> &str {
                &self.name
            }

            #[getter]
            fn serialization(&self) -> &'static str {
                self.ser.name()
            }

            #[getter]
            fn closed(&self, py: pyo3::Python<'_>) -> bool {
                $crate::handle::Slot::is_vacant(&self.inner, py)
            }

            fn __enter__(slf: pyo3::Bound<'_, Self>) -> pyo3::Bound<'_, Self> {
                slf
            }

            #[pyo3(signature = (*_args))]
            fn __exit__(
                &self,
                py: pyo3::Python<'_>,
                _args: &pyo3::Bound<'_, pyo3::types::PyTuple>,
            ) {
                self.close(py);
            }

            fn __repr__(&self, py: pyo3::Python<'_>) -> String {
                let state = if self.closed(py) { "closed" } else { "open" };
                format!("{}({:?}, {state})", stringify!($class), self.name)
            }
        }
    };
}
pub(crate) use handle_surface;

/// Where a pattern class keeps what it is connected to: `None` once
/// closed, behind either kind of lock.
pub(crate) trait Slot {
    /// Closed.
    fn is_vacant(&self, py: Python<'_>) -> bool;
}

impl<T: Send> Slot for Mutex<Option<T>> {
    fn is_vacant(&self, py: Python<'_>) -> bool {
        lock(py, self).is_none()
    }
}

impl<T> Slot for QuickLock<Option<T>> {
    fn is_vacant(&self, py: Python<'_>) -> bool {
        self.lock(py).is_none()
    }
}

/// Locks `m` without ever blocking while holding the GIL: try first, and if
/// another thread holds it, wait for it with the GIL released.
pub(crate) fn lock<'a, T: Send>(py: Python<'_>, m: &'a Mutex<T>) -> MutexGuard<'a, T> {
    match m.try_lock() {
        Ok(g) => g,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => {
            // `MutexGuard` is not `Send`, so lock inside `detach` only to wait,
            // then take it again (uncontended by then, or we loop).
            loop {
                py.detach(|| drop(m.lock()));
                match m.try_lock() {
                    Ok(g) => return g,
                    Err(TryLockError::Poisoned(p)) => return p.into_inner(),
                    Err(TryLockError::WouldBlock) => {}
                }
            }
        }
    }
}

/// Waits for `name` to be connectable, in slices, so Ctrl-C works while a
/// subscriber waits for its publisher.
pub(crate) fn connect_with<R: Send>(
    py: Python<'_>,
    timeout_connect: f64,
    mut attempt: impl FnMut(Duration) -> Result<R, OpenError> + Send,
) -> PyResult<R> {
    check_timeout("timeout_connect", Some(timeout_connect))?;
    let deadline = deadline(Some(timeout_connect))?;
    let start = Instant::now();
    let mut last = None;
    let got = blocking(py, deadline, |until| {
        let left = until.saturating_duration_since(Instant::now());
        match attempt(left) {
            Ok(r) => Some(Ok(r)),
            // Not there yet, or its creator has not finished setting it up:
            // either may change before `timeout_connect` (a slice ends
            // long before it), so try again until then.
            Err(e @ (OpenError::NotFound { .. } | OpenError::NotReady { .. })) => {
                last = Some(e);
                None
            }
            Err(e) => Some(Err(e)),
        }
    })?;
    match got {
        Some(r) => r.map_err(|e| open_error(py, e)),
        None => {
            let waited = start.elapsed();
            Err(open_error(
                py,
                match last {
                    Some(OpenError::NotReady { name, pid, .. }) => {
                        OpenError::NotReady { name, pid, waited }
                    }
                    Some(OpenError::NotFound { name, .. }) => OpenError::NotFound { name, waited },
                    _ => OpenError::NotFound {
                        name: String::new(),
                        waited,
                    },
                },
            ))
        }
    }
}

pub(crate) fn stats_dict<'py>(
    py: Python<'py>,
    items: &[(&str, u64)],
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in items {
        d.set_item(*k, *v)?;
    }
    Ok(d)
}

/// A frame taken from a queue but not handed to Python yet because its
/// `bytes` could not be made (`MemoryError`): the next receive returns it
/// first, so a failed allocation never loses a job, request or reply.
#[derive(Default)]
pub(crate) struct Held(Mutex<Option<(Codec, Vec<u8>)>>);

impl Held {
    pub(crate) fn take(&self, py: Python<'_>) -> Option<(Codec, Vec<u8>)> {
        lock(py, &self.0).take()
    }

    /// A frame is held (the next receive returns it without waiting).
    pub(crate) fn has(&self, py: Python<'_>) -> bool {
        lock(py, &self.0).is_some()
    }

    pub(crate) fn clear(&self, py: Python<'_>) {
        lock(py, &self.0).take();
    }

    /// `data` as `bytes`; if there is no memory for it, the frame is kept
    /// for the next receive and the error raised.
    pub(crate) fn bytes<'py>(
        &self,
        py: Python<'py>,
        codec: Codec,
        data: Vec<u8>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let n =
            isize::try_from(data.len()).map_err(|_| PyOverflowError::new_err("frame too large"))?;
        // SAFETY: `data` is valid for `n` bytes, which CPython copies into a
        // new `bytes` (or returns NULL with an exception set).
        let obj = unsafe { pyo3::ffi::PyBytes_FromStringAndSize(data.as_ptr().cast(), n) };
        // SAFETY: `obj` is a new reference or NULL with an exception set.
        match unsafe { Bound::from_owned_ptr_or_err(py, obj) } {
            Ok(b) => Ok(b.cast_into::<PyBytes>()?),
            Err(e) => {
                *lock(py, &self.0) = Some((codec, data));
                Err(e)
            }
        }
    }

    /// A received frame (or `None` on timeout) as the object `recv`
    /// returns: decoded within what `ser` allows, or `None`.
    pub(crate) fn decoded<'py>(
        &self,
        py: Python<'py>,
        frame: Option<(Codec, Vec<u8>)>,
        ser: Ser,
    ) -> PyResult<Bound<'py, PyAny>> {
        match frame {
            Some((codec, data)) => decode(py, codec, &self.bytes(py, codec, data)?, ser),
            None => Ok(py.None().into_bound(py)),
        }
    }

    /// A received frame (or `None` on timeout) as `recv_bytes` returns it.
    pub(crate) fn raw<'py>(
        &self,
        py: Python<'py>,
        frame: Option<(Codec, Vec<u8>)>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        frame.map(|(c, d)| self.bytes(py, c, d)).transpose()
    }
}
