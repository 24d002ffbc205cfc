//! `shm_comm._native`: the Python binding of shm-comm.
//!
//! The classes keep the names, arguments and semantics of the original
//! pure-Python `shm-comm` 1.0.0 (`Publisher`, `Subscriber`, `Requester`,
//! `Replier`, `Pusher`, `Puller`); the pure-Python package `shm_comm`
//! re-exports them and adds typed topics. Every blocking call releases the
//! GIL and wakes at least every 100 ms to let Ctrl-C through.

#[cfg(not(target_os = "linux"))]
compile_error!("shm-comm supports Linux only: it is built on Linux shared memory (/dev/shm), futexes and /proc");

mod cli;
mod convert;
mod events;
mod fields;
mod handle;
mod msgpack;
mod multipub;
mod pack;
mod pipeline;
mod poller;
mod pubsub;
mod quick;
mod ready;
mod reqrep;
mod schema;
mod typed;
mod unpack;
mod view;
mod zerocopy;

use std::time::{Duration, Instant};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyType};

use shm_comm::codec::Codec;
use shm_comm::{CreateError, OpenError};

/// Longest a blocking call waits before looking for Ctrl-C.
const SIGNAL_SLICE: Duration = Duration::from_millis(100);

/// The exception classes live in pure Python (`shm_comm._errors`), so that
/// they can have several bases (e.g. `SHMMessageTooLargeError` is also a
/// `ValueError`). These are the ones this module raises; the module's
/// import fails unless `_errors.__all__` lists exactly these (see
/// `error_classes`), so the two lists cannot drift apart.
const ERROR_CLASSES: [&str; 10] = [
    "SHMError",
    "SHMConnectionError",
    "SHMTimeoutError",
    "SHMBufferFullError",
    "SHMSerializationError",
    "SHMMessageTooLargeError",
    "SHMMessageTooLongError",
    "SHMNameError",
    "SHMConfigError",
    "SHMLayoutError",
];

/// The classes of `ERROR_CLASSES`, fetched once (the module's init does it),
/// after checking that `_errors.__all__` names the same classes.
fn error_classes(py: Python<'_>) -> PyResult<&'static [Py<PyType>]> {
    static CLASSES: PyOnceLock<Vec<Py<PyType>>> = PyOnceLock::new();
    CLASSES
        .get_or_try_init(py, || {
            let module = py.import("shm_comm._errors")?;
            let listed: Vec<String> = module.getattr("__all__")?.extract()?;
            let only_python: Vec<&str> = listed
                .iter()
                .map(String::as_str)
                .filter(|n| !ERROR_CLASSES.contains(n))
                .collect();
            let only_native: Vec<&str> = ERROR_CLASSES
                .iter()
                .copied()
                .filter(|n| !listed.iter().any(|l| l == n))
                .collect();
            if !only_python.is_empty() || !only_native.is_empty() {
                return Err(pyo3::exceptions::PyImportError::new_err(format!(
                    "the exception classes of shm_comm._errors.__all__ and of the native \
                     module differ: only in _errors: {only_python:?}; only native: \
                     {only_native:?}"
                )));
            }
            ERROR_CLASSES
                .iter()
                .map(|name| Ok(module.getattr(*name)?.cast_into::<PyType>()?.unbind()))
                .collect()
        })
        .map(Vec::as_slice)
}

/// An exception of class `class` (one of `ERROR_CLASSES`). Lazy: the
/// exception object is made when Python raises it, after the caller has
/// returned, so this runs no Python code and allocates no Python object.
/// Callers build errors while holding a publisher's or subscriber's lock,
/// where a garbage collection (which an allocation can start) could run a
/// finalizer that takes that lock again.
fn error(py: Python<'_>, class: &str, msg: impl Into<String>) -> PyErr {
    let i = ERROR_CLASSES.iter().position(|c| *c == class);
    match (error_classes(py), i) {
        (Ok(classes), Some(i)) => PyErr::from_type(classes[i].bind(py).clone(), msg.into()),
        (Err(e), _) => e,
        (_, None) => pyo3::exceptions::PySystemError::new_err(format!("no error class {class}")),
    }
}

fn create_error(py: Python<'_>, e: CreateError) -> PyErr {
    match e {
        CreateError::Name(n) => error(py, "SHMNameError", n.to_string()),
        CreateError::Config { .. } => error(py, "SHMConfigError", e.to_string()),
        CreateError::Existing(o) => open_error(py, *o),
        e => error(py, "SHMConnectionError", e.to_string()),
    }
}

fn open_error(py: Python<'_>, e: OpenError) -> PyErr {
    match e {
        OpenError::Name(n) => error(py, "SHMNameError", n.to_string()),
        OpenError::LayoutMismatch { .. } => error(py, "SHMLayoutError", e.to_string()),
        e => error(py, "SHMConnectionError", e.to_string()),
    }
}

fn too_large(py: Python<'_>, len: usize, max: usize) -> PyErr {
    error(
        py,
        "SHMMessageTooLargeError",
        format!("message of {len} bytes exceeds the channel's limit of {max} bytes per message (slot_size)"),
    )
}

fn closed(py: Python<'_>, what: &str, name: &str) -> PyErr {
    error(py, "SHMError", format!("{what}({name:?}) is closed"))
}

/// How messages are serialized by `send`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ser {
    Pickle,
    MsgPack,
}

impl Ser {
    fn parse(py: Python<'_>, s: &str) -> PyResult<Ser> {
        match s {
            "pickle" => Ok(Ser::Pickle),
            "msgpack" => Ok(Ser::MsgPack),
            other => Err(error(
                py,
                "SHMSerializationError",
                format!("unknown serialization {other:?}: use \"pickle\" or \"msgpack\""),
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Ser::Pickle => "pickle",
            Ser::MsgPack => "msgpack",
        }
    }

    fn codec(self) -> Codec {
        match self {
            Ser::Pickle => Codec::Pickle,
            Ser::MsgPack => Codec::MsgPack,
        }
    }

    /// Serializes `obj`.
    fn encode(self, obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
        let py = obj.py();
        match self {
            Ser::Pickle => {
                static DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
                let dumps = DUMPS.import(py, "pickle", "dumps")?;
                let b = dumps.call1((obj, 5)).map_err(|e| {
                    error(py, "SHMSerializationError", format!("cannot pickle: {e}"))
                })?;
                Ok(b.cast::<PyBytes>()?.as_bytes().to_vec())
            }
            Ser::MsgPack => {
                let mut out = Vec::with_capacity(64);
                msgpack::encode(obj, &mut out)
                    .map_err(|e| error(py, "SHMSerializationError", e.to_string()))?;
                Ok(out)
            }
        }
    }
}

/// A Python object from msgpack bytes (a bridged dynamic frame), as a
/// msgpack subscriber would decode it.
#[pyfunction]
fn decode_msgpack<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    msgpack::decode(py, data).map_err(|e| error(py, "SHMSerializationError", e.to_string()))
}

/// Turns a received frame into a Python object according to its codec tag,
/// within what the receiver allows: msgpack, raw bytes and typed messages
/// are data and always decoded; a pickle frame runs code when unpickled, so
/// only a receiver created with `serialization="pickle"` unpickles it
/// (trusting every process of its user, the only ones that can write its
/// segments). Anywhere else a pickle frame is an `SHMSerializationError`
/// and its bytes are never handed to `pickle`.
fn decode<'py>(
    py: Python<'py>,
    codec: Codec,
    data: &Bound<'py, PyBytes>,
    allow: Ser,
) -> PyResult<Bound<'py, PyAny>> {
    match codec {
        Codec::Pickle if allow != Ser::Pickle => Err(error(
            py,
            "SHMSerializationError",
            format!(
                "refused a pickle frame on a receiver created with serialization={:?}: \
                 unpickling runs code, so only serialization=\"pickle\" receivers unpickle",
                allow.name()
            ),
        )),
        Codec::Pickle => {
            static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            let loads = LOADS.import(py, "pickle", "loads")?;
            loads
                .call1((data,))
                .map_err(|e| error(py, "SHMSerializationError", format!("cannot unpickle: {e}")))
        }
        Codec::MsgPack => msgpack::decode(py, data.as_bytes())
            .map_err(|e| error(py, "SHMSerializationError", e.to_string())),
        // Typed frames reach here only where no message class is known
        // (typed subscribers convert theirs with a plan): their bytes.
        Codec::Typed | Codec::Raw | Codec::Other(_) => Ok(data.clone().into_any()),
    }
}

/// A `timeout` argument, checked at once but read against the clock only
/// when the call first has to wait (a call that finds its message reads no
/// clock).
struct Deadline {
    timeout: Option<f64>,
    at: Option<Option<Instant>>,
}

impl Deadline {
    fn new(timeout: Option<f64>) -> PyResult<Deadline> {
        check_timeout("timeout", timeout)?;
        Ok(Deadline { timeout, at: None })
    }

    /// The deadline, fixed on the first call.
    fn get(&mut self) -> Option<Instant> {
        let timeout = self.timeout;
        *self
            .at
            .get_or_insert_with(|| deadline(timeout).expect("checked in `new`"))
    }
}

/// Every timeout argument of the API, checked the same way: seconds, `0`
/// checks once, `None` waits forever (so does `inf`); NaN or a negative
/// number is a `ValueError` naming the argument (a non-number is already
/// a `TypeError` from the conversion to `float`).
fn check_timeout(arg: &str, timeout: Option<f64>) -> PyResult<()> {
    match timeout {
        Some(t) if t.is_nan() => Err(PyValueError::new_err(format!("{arg} is NaN"))),
        Some(t) if t < 0.0 => Err(PyValueError::new_err(format!(
            "{arg} must be a non-negative number of seconds (or None to wait forever), not {t}"
        ))),
        _ => Ok(()),
    }
}

/// A `timeout` argument: `None` waits forever, `0` checks once.
fn deadline(timeout: Option<f64>) -> PyResult<Option<Instant>> {
    check_timeout("timeout", timeout)?;
    match timeout {
        None => Ok(None),
        Some(t) => Ok(Instant::now().checked_add(Duration::from_secs_f64(t.min(1e9)))),
    }
}

/// Runs `attempt` with the GIL released, in slices of at most
/// [`SIGNAL_SLICE`], checking for signals (Ctrl-C) between slices, until it
/// returns `Some` or `deadline` passes.
fn blocking<R: Send>(
    py: Python<'_>,
    deadline: Option<Instant>,
    mut attempt: impl FnMut(Instant) -> Option<R> + Send,
) -> PyResult<Option<R>> {
    loop {
        let slice = Instant::now() + SIGNAL_SLICE;
        let until = deadline.map_or(slice, |d| d.min(slice));
        let got = py.detach(|| attempt(until));
        events::flush(py);
        if let Some(r) = got {
            return Ok(Some(r));
        }
        py.check_signals()?;
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(None);
        }
    }
}

/// The bytes of any object with the buffer protocol (bytes, bytearray,
/// memoryview, numpy arrays of any dtype), contiguous.
struct Buffer {
    view: pyo3::ffi::Py_buffer,
}

impl Buffer {
    fn get(obj: &Bound<'_, PyAny>) -> PyResult<Buffer> {
        let mut view = std::mem::MaybeUninit::<pyo3::ffi::Py_buffer>::zeroed();
        // SAFETY: `obj` is a live object (we hold the GIL); `view` is valid
        // for writes; PyBUF_SIMPLE asks for a contiguous byte view.
        let rc = unsafe {
            pyo3::ffi::PyObject_GetBuffer(obj.as_ptr(), view.as_mut_ptr(), pyo3::ffi::PyBUF_SIMPLE)
        };
        if rc != 0 {
            return Err(PyErr::fetch(obj.py()));
        }
        // SAFETY: PyObject_GetBuffer succeeded and filled the view.
        let view = unsafe { view.assume_init() };
        Ok(Buffer { view })
    }

    fn as_slice(&self) -> &[u8] {
        if self.view.len <= 0 || self.view.buf.is_null() {
            return &[];
        }
        // SAFETY: a successful PyBUF_SIMPLE export is `len` contiguous bytes
        // at `buf`, valid until PyBuffer_Release (in Drop).
        unsafe { std::slice::from_raw_parts(self.view.buf.cast(), self.view.len as usize) }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: the view was filled by PyObject_GetBuffer; releasing needs
        // the GIL, which we take (it is re-entrant if already held).
        Python::attach(|_| unsafe { pyo3::ffi::PyBuffer_Release(&mut self.view) });
    }
}

/// The segments `force_unlink(name)` acts on, each with the pid of a live
/// process that uses it (`None` if none): the segment `name` if it is one
/// `list_segments()` returns (`"<channel>.<role>"`), otherwise every
/// segment of channel `name`. An invalid channel name that is no listed
/// segment is an `SHMNameError`.
#[pyfunction(name = "_segments_of")]
fn segments_of(py: Python<'_>, name: &str) -> PyResult<Vec<(String, String, Option<u32>)>> {
    let all = shm_comm::segment::list();
    let mut hits: Vec<(String, String)> = all
        .iter()
        .filter(|(chan, role)| name.strip_suffix(role.as_str()) == Some(&format!("{chan}.")))
        .cloned()
        .collect();
    if hits.is_empty() {
        shm_comm::segment::validate_name(name)
            .map_err(|e| error(py, "SHMNameError", e.to_string()))?;
        hits = all.into_iter().filter(|(chan, _)| chan == name).collect();
    }
    Ok(py.detach(|| {
        hits.into_iter()
            .map(|(chan, role)| {
                let pid = shm_comm::segment::live_user(&chan, &role);
                (chan, role, pid)
            })
            .collect()
    }))
}

/// Removes segment `role` of channel `channel`, whoever created it (live
/// peers keep their mappings). `True` if it existed.
#[pyfunction(name = "_unlink")]
fn unlink(py: Python<'_>, channel: &str, role: &str) -> PyResult<bool> {
    shm_comm::segment::unlink(channel, role).map_err(|e| error(py, "SHMNameError", e.to_string()))
}

/// Names of the segments of this user that exist now, as
/// `"<channel>.<role>"` (e.g. `"robot/pose.pub"`): names that
/// `force_unlink` accepts.
#[pyfunction]
fn list_segments() -> Vec<String> {
    shm_comm::segment::list()
        .into_iter()
        .map(|(name, role)| format!("{name}.{role}"))
        .collect()
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Now, so that `error` never imports (runs Python code) later.
    error_classes(m.py())?;
    m.add_class::<pubsub::Publisher>()?;
    m.add_class::<pubsub::Subscriber>()?;
    m.add_class::<multipub::MultiPublisher>()?;
    m.add_class::<multipub::MultiSubscriber>()?;
    m.add_class::<reqrep::Requester>()?;
    m.add_class::<reqrep::Replier>()?;
    m.add_class::<pipeline::Pusher>()?;
    m.add_class::<pipeline::Puller>()?;
    m.add_class::<zerocopy::Sample>()?;
    m.add_class::<zerocopy::Loan>()?;
    m.add_class::<poller::Poller>()?;
    m.add("POLLIN", poller::POLLIN)?;
    m.add("POLLOUT", poller::POLLOUT)?;
    m.add("POLLERR", poller::POLLERR)?;
    // The package's version, from `python/Cargo.toml` (as the wheel's is).
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(segments_of, m)?)?;
    m.add_function(wrap_pyfunction!(unlink, m)?)?;
    m.add_function(wrap_pyfunction!(list_segments, m)?)?;
    m.add_function(wrap_pyfunction!(typed::layout_hash, m)?)?;
    m.add_function(wrap_pyfunction!(typed::check_layout, m)?)?;
    m.add_function(wrap_pyfunction!(typed::first_difference, m)?)?;
    m.add_function(wrap_pyfunction!(typed::decode_layout, m)?)?;
    m.add_function(wrap_pyfunction!(decode_msgpack, m)?)?;
    m.add_function(wrap_pyfunction!(events::flush_events, m)?)?;
    m.add_function(wrap_pyfunction!(cli::cli_main, m)?)?;
    schema::register(m)?;
    events::install();
    Ok(())
}
