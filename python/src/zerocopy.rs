//! `Sample` (a topic's slot borrowed for reading in place) and `Loan` (a
//! slot claimed for writing in place), the zero-copy side of PUB/SUB.

use pyo3::exceptions::{PyBufferError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use shm_comm::codec::Codec;
use shm_comm::pubsub::RawSample;

use crate::fields::{self, Fields};
use crate::handle::lock;
use crate::pubsub::{send_error, Publisher, Subscriber, TailInfo};
use crate::quick::QuickLock;
use crate::{closed, error};

/// A message borrowed in place from a topic's slot: a read-only buffer.
/// The slot stays pinned until the sample and every view of it are gone
/// (or `release()` is called with no view alive).
#[pyclass(frozen, module = "shm_comm._native")]
pub(crate) struct Sample {
    /// The pinned slot (`None` once released), and how many views of it
    /// (buffer exports) are alive: one lock, so a release and a new view
    /// cannot cross.
    inner: QuickLock<Pinned>,
    codec: Codec,
    /// The subscriber it came from (for the topic's fields).
    subscriber: Py<Subscriber>,
    /// A variable-size message's elements.
    tail: Option<TailView>,
}

/// Where the elements of a variable-size message are in its slot: from
/// byte `offset`, `len` of them (checked against the slot's length).
#[derive(Clone, Copy, Debug)]
pub(crate) struct TailView {
    pub(crate) offset: usize,
    pub(crate) len: usize,
}

/// Whether field name `name` is a variable-size message's tail (`info`).
/// Compared as text, without making a Python string (this is on the path
/// of every `sample["seq"]`).
fn is_tail(name: &Bound<'_, PyAny>, info: Option<&TailInfo>) -> bool {
    let Some(info) = info else {
        return false;
    };
    name.cast::<pyo3::types::PyString>()
        .ok()
        .and_then(|s| s.to_str().ok())
        .is_some_and(|s| s == info.name)
}

/// A numpy view of `tail`'s `len` elements in `owner`'s buffer (a sample or
/// a loan, which `numpy.frombuffer` keeps alive and exported while the
/// view lives), of dtype `info.dtype`.
fn tail_array<'py>(
    owner: &Bound<'py, PyAny>,
    tail: Option<TailView>,
    info: Option<&TailInfo>,
) -> PyResult<Bound<'py, PyAny>> {
    static FROMBUFFER: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();
    let py = owner.py();
    let (Some(t), Some(info)) = (tail, info) else {
        return Err(PyTypeError::new_err(
            "`tail` is a variable-size message's; this topic's messages have a fixed size",
        ));
    };
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("dtype", info.dtype.bind(py))?;
    kwargs.set_item("count", t.len)?;
    kwargs.set_item("offset", t.offset)?;
    FROMBUFFER
        .import(py, "numpy", "frombuffer")?
        .call((owner,), Some(&kwargs))
}

struct Pinned {
    raw: Option<RawSample>,
    exports: usize,
}

impl Sample {
    pub(crate) fn new(
        raw: RawSample,
        subscriber: Py<Subscriber>,
        tail: Option<TailView>,
    ) -> Sample {
        Sample {
            codec: raw.codec(),
            inner: QuickLock::new(Pinned {
                raw: Some(raw),
                exports: 0,
            }),
            subscriber,
            tail,
        }
    }
}

/// The fields of a typed sample or loan, or a `TypeError`.
fn fields_of<'a>(fields: Option<&'a Fields>, what: &str) -> PyResult<&'a Fields> {
    fields.ok_or_else(|| {
        PyTypeError::new_err(format!(
            "fields by name need a typed topic; on this one, read the {what}'s bytes \
             (memoryview({what}))"
        ))
    })
}

#[pymethods]
impl Sample {
    /// Payload length in bytes.
    fn __len__(&self, py: Python<'_>) -> usize {
        self.inner.lock(py).raw.as_ref().map_or(0, |r| r.len())
    }

    /// The frame's codec name.
    #[getter]
    fn codec(&self) -> String {
        self.codec.name()
    }

    /// Field `name` of a typed message, read in place: a number or flag as
    /// a Python value; an array field as a read-only numpy view (which keeps
    /// the sample pinned while it lives); nested messages, strings and
    /// vectors as `shm_comm.typed.view` gives them.
    fn __getitem__<'py>(
        slf: &Bound<'py, Self>,
        name: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let me = slf.get();
        let info = me.subscriber.get().tail.get().and_then(Option::as_ref);
        if is_tail(name, info) {
            return tail_array(slf.as_any(), me.tail, info);
        }
        let fields = fields_of(
            me.subscriber.get().fields.get().and_then(Option::as_deref),
            "sample",
        )?;
        let field = fields.lookup(name)?;
        let Some((offset, kind)) = field.scalar() else {
            return fields.get_py(slf.as_any(), field);
        };
        let g = me.inner.lock(py);
        let raw = g
            .raw
            .as_ref()
            .ok_or_else(|| error(py, "SHMError", "sample released"))?;
        fields.check_len(py, raw.len())?;
        // SAFETY: `check_len` proved the layout (so the field) fits the
        // sample's bytes, which stay pinned (unwritten) while we hold `raw`.
        unsafe { fields::read(py, raw.as_ptr().add(offset), kind) }
    }

    /// A variable-size message's elements, exactly as many as were sent:
    /// a read-only numpy view into the slot (of the element's dtype:
    /// structured for struct elements), which keeps the sample pinned.
    #[getter]
    fn tail<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let me = slf.get();
        let info = me.subscriber.get().tail.get().and_then(Option::as_ref);
        tail_array(slf.as_any(), me.tail, info)
    }

    /// A copy of the payload.
    fn tobytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let g = self.inner.lock(py);
        let raw = g
            .raw
            .as_ref()
            .ok_or_else(|| error(py, "SHMError", "sample released"))?;
        Ok(PyBytes::new(py, raw.as_bytes()))
    }

    /// Unpins the slot now. Fails while a view (memoryview, numpy array)
    /// of the sample is alive.
    fn release(&self, py: Python<'_>) -> PyResult<()> {
        let mut g = self.inner.lock(py);
        if g.exports > 0 {
            return Err(PyBufferError::new_err(
                "cannot release a sample while views of it exist",
            ));
        }
        let raw = g.raw.take();
        drop(g);
        drop(raw);
        Ok(())
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<()> {
        self.release(py)
    }

    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut pyo3::ffi::Py_buffer,
        flags: std::os::raw::c_int,
    ) -> PyResult<()> {
        let py = slf.py();
        let me = slf.get();
        if flags & pyo3::ffi::PyBUF_WRITABLE != 0 {
            return Err(PyBufferError::new_err("a borrowed sample is read-only"));
        }
        let mut g = me.inner.lock(py);
        let raw = g
            .raw
            .as_ref()
            .ok_or_else(|| PyBufferError::new_err("sample released"))?;
        // SAFETY: `view` is the pointer Python passed us; the buffer is
        // `len` bytes of a pinned slot that stays valid (pinned, mapped)
        // while `slf` lives, and PyBuffer_FillInfo takes a reference to `slf`.
        let rc = unsafe {
            pyo3::ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                raw.as_ptr() as *mut std::ffi::c_void,
                raw.len() as isize,
                1,
                flags,
            )
        };
        if rc != 0 {
            return Err(PyErr::fetch(py));
        }
        g.exports += 1;
        Ok(())
    }

    unsafe fn __releasebuffer__(&self, py: Python<'_>, _view: *mut pyo3::ffi::Py_buffer) {
        let mut g = self.inner.lock(py);
        g.exports = g.exports.saturating_sub(1);
    }
}

pub(crate) struct LoanState {
    pub(crate) claim: shm_comm::ring::Claim,
    /// The slot's address (a `usize` so the state is `Send`).
    pub(crate) ptr: usize,
}

/// A slot of a topic claimed for writing in place: a writable buffer of
/// `slot_size` bytes (`numpy.frombuffer(loan, ...)` gives a writable array).
/// `send(nbytes)` publishes it; dropping it unsent gives the slot back.
#[pyclass(frozen, module = "shm_comm._native")]
pub(crate) struct Loan {
    /// Its publisher, which keeps the slot mapped even when closed while
    /// the loan is open (views then write into memory nobody reads).
    pub(crate) publisher: Py<Publisher>,
    /// The claimed slot (`None` once sent or discarded), and how many views
    /// of it are alive: one lock, so a send and a new view cannot cross.
    pub(crate) inner: QuickLock<Claimed>,
    pub(crate) cap: usize,
    pub(crate) codec: Codec,
    /// A variable-size message's elements (the loan is `cap` bytes: the
    /// fixed part and exactly these).
    pub(crate) tail: Option<TailView>,
}

pub(crate) struct Claimed {
    pub(crate) state: Option<LoanState>,
    pub(crate) exports: usize,
}

#[pymethods]
impl Loan {
    /// Field `name` of the typed message being written (see `Sample`); array
    /// fields are writable numpy views.
    fn __getitem__<'py>(
        slf: &Bound<'py, Self>,
        name: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let me = slf.get();
        let info = me.publisher.get().tail.as_ref();
        if is_tail(name, info) {
            return tail_array(slf.as_any(), me.tail, info);
        }
        let fields = fields_of(me.publisher.get().fields.as_deref(), "loan")?;
        let field = fields.lookup(name)?;
        let Some((offset, kind)) = field.scalar() else {
            return fields.get_py(slf.as_any(), field);
        };
        let g = me.inner.lock(py);
        let st = g
            .state
            .as_ref()
            .ok_or_else(|| error(py, "SHMError", "loan already sent or discarded"))?;
        fields.check_len(py, me.cap)?;
        // SAFETY: the slot is `cap` bytes claimed by this loan and mapped
        // while the publisher lives (closed, it keeps the mapping while the
        // claim is open); the field fits (`check_len`).
        unsafe { fields::read(py, (st.ptr as *const u8).add(offset), kind) }
    }

    /// Sets field `name` in place: `loan["seq"] = 5`; an array field takes
    /// anything numpy can assign to it (`loan["pixels"] = frame`).
    fn __setitem__(
        slf: &Bound<'_, Self>,
        name: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        let me = slf.get();
        let info = me.publisher.get().tail.as_ref();
        if is_tail(name, info) {
            // `loan["data"] = frame`: numpy copies (and checks the shape).
            let view = tail_array(slf.as_any(), me.tail, info)?;
            return view.set_item(pyo3::types::PySlice::full(py), value);
        }
        let fields = fields_of(me.publisher.get().fields.as_deref(), "loan")?;
        let field = fields.lookup(name)?;
        let Some((offset, kind)) = field.scalar() else {
            return fields.set_py(slf.as_any(), field, value);
        };
        // Convert first: it may run Python code, which may use this loan.
        let encoded = fields::encode(kind, field.name(), value)?;
        let g = me.inner.lock(py);
        let st = g
            .state
            .as_ref()
            .ok_or_else(|| error(py, "SHMError", "loan already sent or discarded"))?;
        fields.check_len(py, me.cap)?;
        // SAFETY: as in `__getitem__`: the slot is claimed by this loan (no
        // other process writes it, no reader returns it before `send`).
        // Views of the loan (numpy arrays) may write it too, from any thread;
        // two writers of the same bytes at once race as they would on any
        // numpy array, which is the caller's to avoid, as it is there.
        unsafe { fields::store((st.ptr as *mut u8).add(offset), &encoded) };
        Ok(())
    }

    fn __len__(&self) -> usize {
        self.cap
    }

    /// A variable-size message's elements, exactly as many as the loan was
    /// asked for: a writable numpy view into the slot, to fill in place
    /// (delete it before `send()`).
    #[getter]
    fn tail<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let me = slf.get();
        tail_array(slf.as_any(), me.tail, me.publisher.get().tail.as_ref())
    }

    /// Publishes the first `nbytes` bytes (default: the whole slot, which is
    /// right for typed topics). Raises `BufferError` (and keeps the loan
    /// open) while a view of the loan (memoryview, numpy array) is alive: a
    /// write through it after the send would change a message that readers
    /// may be holding.
    #[pyo3(signature = (nbytes=None))]
    fn send(&self, py: Python<'_>, nbytes: Option<usize>) -> PyResult<bool> {
        let mut g = self.inner.lock(py);
        if g.state.is_none() {
            return Err(error(py, "SHMError", "loan already sent or discarded"));
        }
        if g.exports > 0 {
            return Err(PyBufferError::new_err(
                "cannot send a loan while views of it exist: delete them first",
            ));
        }
        let st = g
            .state
            .take()
            .ok_or_else(|| error(py, "SHMError", "loan already sent or discarded"))?;
        drop(g);
        let publisher = self.publisher.get();
        let mut g = publisher.inner.lock(py);
        let raw = g
            .as_mut()
            .ok_or_else(|| closed(py, "Publisher", &publisher.name))?;
        raw.commit(st.claim, nbytes.unwrap_or(self.cap), self.codec)
            .map_err(|e| send_error(py, e))?;
        Ok(true)
    }

    /// Gives the slot back unpublished. Idempotent. Raises `BufferError`
    /// (and keeps the loan open) while a view of the loan is alive, as
    /// `send` does: a write through it would land in a slot that the next
    /// loan or send publishes.
    fn discard(&self, py: Python<'_>) -> PyResult<()> {
        let mut g = self.inner.lock(py);
        if g.state.is_some() && g.exports > 0 {
            return Err(PyBufferError::new_err(
                "cannot discard a loan while views of it exist: delete them first",
            ));
        }
        let st = g.state.take();
        drop(g);
        if let Some(st) = st {
            let publisher = self.publisher.get();
            if let Some(raw) = publisher.inner.lock(py).as_mut() {
                raw.abandon(st.claim);
            }
        }
        Ok(())
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    /// Discards the loan unless it was sent. If a view of it is still
    /// alive, the loan stays open instead and is given back when the last
    /// view (and the loan) is gone: raising here would hide the exception
    /// that may be leaving the `with` block.
    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) {
        let _ = self.discard(py);
    }

    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut pyo3::ffi::Py_buffer,
        flags: std::os::raw::c_int,
    ) -> PyResult<()> {
        let py = slf.py();
        let me = slf.get();
        if me.publisher.get().inner.lock(py).is_none() {
            return Err(PyBufferError::new_err("the loan's publisher is closed"));
        }
        let mut g = me.inner.lock(py);
        let st = g
            .state
            .as_ref()
            .ok_or_else(|| PyBufferError::new_err("loan already sent"))?;
        // SAFETY: `view` is the pointer Python passed us; the slot is
        // `cap` bytes claimed by this loan (no other writer; readers never
        // return it before it is sent) inside a mapping the publisher keeps
        // alive, and the view holds a reference to `slf`, which holds the publisher.
        let rc = unsafe {
            pyo3::ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                st.ptr as *mut std::ffi::c_void,
                me.cap as isize,
                0,
                flags,
            )
        };
        if rc != 0 {
            return Err(PyErr::fetch(py));
        }
        g.exports += 1;
        Ok(())
    }

    unsafe fn __releasebuffer__(&self, py: Python<'_>, _view: *mut pyo3::ffi::Py_buffer) {
        let mut g = self.inner.lock(py);
        g.exports = g.exports.saturating_sub(1);
    }
}

impl Drop for Loan {
    fn drop(&mut self) {
        let st = self.inner.get_mut().state.take();
        if let Some(st) = st {
            Python::attach(|py| {
                let publisher = self.publisher.get();
                // Never wait for the lock here: a garbage collection run by
                // an allocation inside a publisher call (an exception being
                // built, say) may be dropping this loan on the very thread
                // that holds it. Then the next call gives the slot back.
                match publisher.inner.try_lock() {
                    Some(mut g) => {
                        if let Some(raw) = g.as_mut() {
                            raw.abandon(st.claim);
                        }
                    }
                    None => {
                        *lock(py, &publisher.dropped_claim) = Some(st.claim);
                        // Relaxed: see `Publisher::settle`.
                        publisher
                            .claim_dropped
                            .store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    }
}
