//! The six pattern classes, with the original 1.0.0 signatures, plus
//! `Sample` (a borrowed slot) and `Loan` (a slot being written).
//!
//! Thread safety: every class is `frozen` (shared freely between Python
//! threads); mutable state sits behind a `Mutex` that is only waited for
//! with the GIL released, so a thread blocked in `recv` never blocks others.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyBufferError, PyOverflowError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use shm_comm::codec::Codec;
use shm_comm::pipeline::{DynPuller, DynPusher, QueueOptions};
use shm_comm::pubsub::{
    ConnectOptions, Expect, PubOptions, RawPublisher, RawSample, RawSubscriber,
};
use shm_comm::reqrep::{Call, DynReplier, DynRequester, Pending, RequestError, ServiceOptions};
use shm_comm::segment::Payload;
use shm_comm::{RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError};

use crate::fields::{self, Fields};
use crate::handle::{connect_with, lock, stats_dict, Held};
use crate::quick::QuickLock;
use crate::{
    blocking, check_timeout, closed, create_error, deadline, decode, error, too_large, typed,
    Buffer, Deadline, Ser,
};

// ---------------------------------------------------------------------------
// PUB/SUB
// ---------------------------------------------------------------------------

/// Broadcasts messages to every subscriber of a topic. Never blocks.
///
/// `Publisher(name, num_slots=64, slot_size=4096, serialization="pickle")`;
/// pass `layout=` (a layout dict) to create a typed topic instead.
#[pyclass(subclass, frozen, module = "shm_comm._native")]
pub(crate) struct Publisher {
    name: String,
    ser: Ser,
    typed: bool,
    inner: QuickLock<Option<RawPublisher>>,
    /// Packs objects into a typed topic's layout (set by `shm_comm.Publisher`).
    encoder: Mutex<Option<Py<PyAny>>>,
    /// A typed topic's fields, for `loan[name]`.
    fields: Option<Arc<Fields>>,
    /// The topic's mapping, kept by `close()` while a loan is open: the
    /// loan (and views of it) may still write into it, and holds this
    /// publisher, so the memory stays mapped until this object is freed.
    orphaned: Mutex<Option<Arc<dyn std::any::Any + Send + Sync>>>,
    /// The claim of a loan dropped while `inner` was held (see `Loan`'s
    /// `Drop`), given back by the next call that takes it; `claim_dropped`
    /// says there may be one (so the calls check with one plain load).
    dropped_claim: Mutex<Option<shm_comm::ring::Claim>>,
    claim_dropped: std::sync::atomic::AtomicBool,
}

#[pymethods]
impl Publisher {
    #[new]
    #[pyo3(signature = (name, num_slots=64, slot_size=4096, serialization="pickle", *, layout=None, borrow_budget=8))]
    fn new(
        py: Python<'_>,
        name: &str,
        num_slots: u32,
        slot_size: u32,
        serialization: &str,
        layout: Option<&Bound<'_, PyDict>>,
        borrow_budget: u32,
    ) -> PyResult<Self> {
        let ser = Ser::parse(py, serialization)?;
        let (payload, fields) = match layout {
            None => (Payload::Dynamic, None),
            Some(d) => {
                let l = typed::from_dict(d)?;
                let payload = Payload::Typed {
                    hash: l.hash(),
                    descriptor: l.encode(),
                };
                (payload, Some(Fields::new(py, &l)?))
            }
        };
        let opts = PubOptions {
            capacity: num_slots,
            max_payload: slot_size,
            borrow_budget,
        };
        let name_owned = name.to_owned();
        let raw = py
            .detach(|| RawPublisher::create(&name_owned, &payload, opts))
            .map_err(|e| create_error(py, e))?;
        Ok(Publisher {
            name: name.to_owned(),
            ser,
            typed: layout.is_some(),
            inner: QuickLock::new(Some(raw)),
            encoder: Mutex::new(None),
            fields,
            orphaned: Mutex::new(None),
            dropped_claim: Mutex::new(None),
            claim_dropped: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Serializes and publishes `data`; returns `True`. `block` and
    /// `timeout` are accepted for compatibility: a publisher never blocks.
    #[pyo3(signature = (data, *, block=false, timeout=None))]
    fn send(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        block: bool,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        // A publisher never blocks: `block` and `timeout` are accepted for
        // compatibility, and `timeout` is checked like every other.
        let _ = block;
        check_timeout("timeout", timeout)?;
        if self.typed {
            let encoder = lock(py, &self.encoder).as_ref().map(|e| e.clone_ref(py));
            let Some(encoder) = encoder else {
                return Err(error(
                    py,
                    "SHMSerializationError",
                    "typed topic without an encoder: publish packed bytes with send_bytes()",
                ));
            };
            let packed = encoder.bind(py).call1((data,))?;
            let buf = Buffer::get(&packed)?;
            return self.publish(py, buf.as_slice(), Codec::Typed);
        }
        let bytes = self.ser.encode(data)?;
        self.publish(py, &bytes, self.ser.codec())
    }

    /// Installs a callable packing objects into the typed topic's layout.
    fn _set_encoder(&self, py: Python<'_>, encoder: Py<PyAny>) {
        // The old one is dropped after the lock (its finalizer may run).
        let _old = lock(py, &self.encoder).replace(encoder);
    }

    /// Publishes raw bytes (any buffer: bytes, bytearray, memoryview, numpy array).
    #[pyo3(signature = (payload, *, block=false, timeout=None))]
    fn send_bytes(
        &self,
        py: Python<'_>,
        payload: &Bound<'_, PyAny>,
        block: bool,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        // A publisher never blocks: `block` and `timeout` are accepted for
        // compatibility, and `timeout` is checked like every other.
        let _ = block;
        check_timeout("timeout", timeout)?;
        let buf = Buffer::get(payload)?;
        let codec = if self.typed { Codec::Typed } else { Codec::Raw };
        self.publish(py, buf.as_slice(), codec)
    }

    /// Claims the next slot for writing in place; see `Loan`.
    fn loan(slf: &Bound<'_, Self>) -> PyResult<Loan> {
        let py = slf.py();
        let me = slf.get();
        let mut g = me.inner.lock(py);
        let raw = g
            .as_mut()
            .ok_or_else(|| closed(py, "Publisher", &me.name))?;
        me.settle(py, raw);
        let cap = raw.max_payload();
        let (claim, ptr) = raw.claim().map_err(|e| send_error(py, e))?;
        Ok(Loan {
            publisher: slf.clone().unbind(),
            inner: QuickLock::new(Claimed {
                state: Some(LoanState {
                    claim,
                    ptr: ptr as usize,
                }),
                exports: 0,
            }),
            cap,
            codec: if me.typed { Codec::Typed } else { Codec::Raw },
        })
    }

    /// `msg_count` (published), `drop_count` (always 0: a publisher never
    /// drops), `num_slots`, `slot_size`, `borrow_budget`.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        // The figures under the lock, the dict (Python objects) after it.
        let (published, geo) = {
            let g = self.inner.lock(py);
            let raw = g
                .as_ref()
                .ok_or_else(|| closed(py, "Publisher", &self.name))?;
            (raw.published(), raw.geometry())
        };
        stats_dict(
            py,
            &[
                ("msg_count", published),
                ("drop_count", 0),
                ("num_slots", u64::from(geo.capacity)),
                ("slot_size", u64::from(geo.max_payload)),
                ("borrow_budget", u64::from(geo.borrow_budget)),
            ],
        )
    }

    /// The topic's layout dict (typed topics) or `None`.
    fn layout<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let layout = {
            let g = self.inner.lock(py);
            let raw = g
                .as_ref()
                .ok_or_else(|| closed(py, "Publisher", &self.name))?;
            raw.layout()
        };
        layout.map(|l| typed::to_dict(py, &l)).transpose()
    }

    /// Removes the topic. Idempotent.
    fn close(&self, py: Python<'_>) {
        let raw = self.inner.lock(py).take();
        if let Some(raw) = raw {
            if raw.claim_open() {
                *lock(py, &self.orphaned) = Some(raw.keep_alive());
            }
        }
    }

    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    #[getter]
    fn serialization(&self) -> &'static str {
        self.ser.name()
    }

    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        self.inner.lock(py).is_none()
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let state = if self.closed(py) { "closed" } else { "open" };
        format!("Publisher({:?}, {state})", self.name)
    }
}

impl Publisher {
    fn publish(&self, py: Python<'_>, data: &[u8], codec: Codec) -> PyResult<bool> {
        let mut g = self.inner.lock(py);
        let raw = g
            .as_mut()
            .ok_or_else(|| closed(py, "Publisher", &self.name))?;
        self.settle(py, raw);
        raw.send(data, codec).map_err(|e| send_error(py, e))?;
        Ok(true)
    }

    /// Gives back the claim of a loan dropped while the lock was held.
    fn settle(&self, py: Python<'_>, raw: &mut RawPublisher) {
        use std::sync::atomic::Ordering;
        // Relaxed: a hint; the claim itself passes through the mutex. A flag
        // set just after this load is seen by a later call.
        if self.claim_dropped.load(Ordering::Relaxed) {
            self.claim_dropped.store(false, Ordering::Relaxed);
            if let Some(claim) = lock(py, &self.dropped_claim).take() {
                raw.abandon(claim);
            }
        }
    }
}

fn send_error(py: Python<'_>, e: SendError) -> PyErr {
    match e {
        SendError::TooLarge { len, max } => too_large(py, len, max),
        SendError::Encode(s) => error(py, "SHMSerializationError", s),
        e => error(py, "SHMError", e.to_string()),
    }
}

struct SubState {
    raw: RawSubscriber,
}

/// Receives the messages published on a topic after it connected.
///
/// `Subscriber(name, timeout_connect=5.0, serialization="pickle")`. Frames
/// are decoded by the codec they were sent with (msgpack, raw bytes, typed),
/// except that a pickle frame is only unpickled by a receiver whose
/// `serialization` is "pickle": elsewhere it is an `SHMSerializationError`.
#[pyclass(subclass, frozen, module = "shm_comm._native")]
pub(crate) struct Subscriber {
    name: String,
    ser: Ser,
    inner: QuickLock<Option<SubState>>,
    /// Set once by `shm_comm.Subscriber` for typed topics; read on every
    /// `recv` without a lock.
    decoder: std::sync::OnceLock<Py<PyAny>>,
    /// A typed topic's fields, for `sample[name]` (read on the first borrow).
    fields: std::sync::OnceLock<Option<Arc<Fields>>>,
}

#[pymethods]
impl Subscriber {
    #[new]
    #[pyo3(signature = (name, timeout_connect=5.0, serialization="pickle", *, last_value=false, max_borrows=4))]
    fn new(
        py: Python<'_>,
        name: &str,
        timeout_connect: f64,
        serialization: &str,
        last_value: bool,
        max_borrows: u32,
    ) -> PyResult<Self> {
        let ser = Ser::parse(py, serialization)?;
        let raw = connect_with(py, timeout_connect, |left| {
            RawSubscriber::connect(
                name,
                Expect::Any,
                ConnectOptions {
                    timeout: left,
                    last_value,
                    max_borrows,
                },
            )
        })?;
        Ok(Subscriber {
            name: name.to_owned(),
            ser,
            inner: QuickLock::new(Some(SubState { raw })),
            decoder: std::sync::OnceLock::new(),
            fields: std::sync::OnceLock::new(),
        })
    }

    /// The next message, deserialized; `None` if none arrived within
    /// `timeout` seconds (`None` waits forever, `0` checks once).
    #[pyo3(signature = (timeout=None))]
    fn recv<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        match self.recv_frame(py, timeout)? {
            Some((codec, data)) => decode(py, codec, &data, self.decoder.get(), self.ser),
            None => Ok(py.None().into_bound(py)),
        }
    }

    /// The next message as raw bytes, or `None` on timeout.
    #[pyo3(signature = (timeout=None))]
    fn recv_bytes<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        Ok(self.recv_frame(py, timeout)?.map(|(_, data)| data))
    }

    /// The next frame as `(codec, bytes)` (codec: "raw", "pickle",
    /// "msgpack", "typed"), or `None` on timeout.
    #[pyo3(signature = (timeout=None))]
    fn recv_frame_bytes<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<(String, Bound<'py, PyBytes>)>> {
        Ok(self
            .recv_frame(py, timeout)?
            .map(|(c, data)| (c.name(), data)))
    }

    /// Borrows the next message in place: a read-only buffer over the slot
    /// (use `memoryview(sample)` or `numpy.frombuffer(sample, ...)`). The
    /// slot is not overwritten while the sample or any view of it lives.
    /// `None` on timeout.
    #[pyo3(signature = (timeout=None))]
    fn borrow(slf: &Bound<'_, Self>, timeout: Option<f64>) -> PyResult<Option<Sample>> {
        let py = slf.py();
        let me = slf.get();
        let mut deadline = Deadline::new(timeout)?;
        let attempt = |raw: &mut RawSubscriber| match raw.try_borrow() {
            Ok(s) => Some(Ok(s)),
            Err(shm_comm::BorrowError::Empty) => None,
            Err(e) => Some(Err(e)),
        };
        // The fields first (samples read them through this subscriber): an
        // error there must not consume a message. Made outside the lock
        // (they are Python objects).
        if me.fields.get().is_none() {
            let layout = me
                .inner
                .lock(py)
                .as_ref()
                .ok_or_else(|| closed(py, "Subscriber", &me.name))?
                .raw
                .layout();
            let f = layout.map(|l| Fields::new(py, &l)).transpose()?;
            me.fields.get_or_init(|| f);
        }
        loop {
            {
                let mut g = me.inner.lock(py);
                let st = g
                    .as_mut()
                    .ok_or_else(|| closed(py, "Subscriber", &me.name))?;
                if let Some(r) = attempt(&mut st.raw) {
                    return r
                        .map(|s| Some(Sample::new(s, slf.clone().unbind())))
                        .map_err(|e| borrow_error(py, e));
                }
            }
            let deadline = deadline.get();
            if deadline.is_some_and(|d| Instant::now() >= d) || !me.wait(py, deadline)? {
                return Ok(None);
            }
        }
    }

    /// Installs a callable turning typed frames (bytes) into objects.
    fn _set_decoder(&self, py: Python<'_>, decoder: Py<PyAny>) -> PyResult<()> {
        self.decoder
            .set(decoder)
            .map_err(|_| error(py, "SHMError", "the decoder is already set"))
    }

    /// The topic's layout dict (typed topics) or `None`.
    fn layout<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let layout = {
            let g = self.inner.lock(py);
            let st = g
                .as_ref()
                .ok_or_else(|| closed(py, "Subscriber", &self.name))?;
            st.raw.layout()
        };
        layout.map(|l| typed::to_dict(py, &l)).transpose()
    }

    /// `msg_count` (published on the topic), `drop_count` (messages this
    /// subscriber missed by falling behind), `lag` (published, not yet
    /// read), `local_tail` (this subscriber's position), `num_slots`,
    /// `slot_size`, `publisher_pid`, `publisher_alive`.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        // The figures under the lock, the dict (Python objects) after it.
        let items = {
            let g = self.inner.lock(py);
            let raw = &g
                .as_ref()
                .ok_or_else(|| closed(py, "Subscriber", &self.name))?
                .raw;
            let (geo, published, lag) = (raw.geometry(), raw.published(), raw.lag());
            [
                ("msg_count", published),
                ("drop_count", raw.missed()),
                ("lag", lag),
                ("local_tail", published - lag.min(published)),
                ("num_slots", u64::from(geo.capacity)),
                ("slot_size", u64::from(geo.max_payload)),
                ("publisher_pid", u64::from(raw.publisher_pid())),
                ("publisher_alive", u64::from(raw.publisher_alive())),
            ]
        };
        stats_dict(py, &items)
    }

    /// Disconnects (never removes the topic). Idempotent.
    fn close(&self, py: Python<'_>) {
        self.inner.lock(py).take();
    }

    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    #[getter]
    fn serialization(&self) -> &'static str {
        self.ser.name()
    }

    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        self.inner.lock(py).is_none()
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let state = if self.closed(py) { "closed" } else { "open" };
        format!("Subscriber({:?}, {state})", self.name)
    }
}

impl Subscriber {
    /// The next frame as `(codec, bytes)`, or `None` on timeout. The frame is
    /// copied once, from the slot into a reused buffer, then into the
    /// Python `bytes` (with the GIL held); waiting happens with the GIL released.
    fn recv_frame<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<(Codec, Bound<'py, PyBytes>)>> {
        let mut deadline = Deadline::new(timeout)?;
        loop {
            {
                let mut g = self.inner.lock(py);
                let st = g
                    .as_mut()
                    .ok_or_else(|| closed(py, "Subscriber", &self.name))?;
                // Copied once, from the slot straight into the `bytes`.
                let got = st
                    .raw
                    .try_recv_with(|len, copy| uninit_bytes(py, len, copy));
                match got {
                    Ok(Ok((bytes, codec))) => return Ok(Some((codec, bytes))),
                    // No memory for the `bytes`: the message stays unread.
                    Ok(Err(e)) => return Err(e),
                    Err(TryRecvError::Empty) => {}
                    Err(TryRecvError::Corrupt(s)) => return Err(error(py, "SHMError", s)),
                }
            }
            let deadline = deadline.get();
            if deadline.is_some_and(|d| Instant::now() >= d) || !self.wait(py, deadline)? {
                return Ok(None);
            }
        }
    }

    /// Waits (GIL released) until a message may be ready, the subscriber is
    /// closed (`true`: the caller's next attempt reports it) or `deadline`
    /// passes (`false`). The subscriber's lock is only taken between slices,
    /// never held while waiting, so other threads using the same subscriber
    /// (`stats()`, `close()`, another `recv`) are not held up.
    fn wait(&self, py: Python<'_>, deadline: Option<Instant>) -> PyResult<bool> {
        let mut waiter = match self.inner.lock(py).as_ref() {
            Some(st) => st.raw.waiter(),
            None => return Ok(true),
        };
        let ready = blocking(py, deadline, |until| {
            let ready = waiter.wait(Some(until));
            let mut g = self.inner.lock_detached();
            let Some(st) = g.as_mut() else {
                return Some(()); // closed meanwhile
            };
            st.raw.after_wait(ready);
            if ready {
                return Some(());
            }
            // The publisher may have been replaced: wait on the current one.
            waiter = st.raw.waiter();
            None
        })?;
        Ok(ready.is_some())
    }
}

/// A `bytes` of `len` bytes that `fill` writes in full (no zero-filling
/// first: `fill` is the ring's copy, which writes every byte).
fn uninit_bytes<'py>(
    py: Python<'py>,
    len: usize,
    fill: &mut dyn FnMut(&mut [u8]),
) -> PyResult<Bound<'py, PyBytes>> {
    let n = isize::try_from(len).map_err(|_| PyOverflowError::new_err("frame too large"))?;
    // SAFETY: a NULL source asks CPython for an uninitialized `bytes` of `n`
    // bytes (plus its terminating NUL), owned by the returned reference.
    let obj = unsafe { pyo3::ffi::PyBytes_FromStringAndSize(std::ptr::null(), n) };
    // SAFETY: `obj` is a new reference or NULL with an exception set.
    let bytes = unsafe { Bound::from_owned_ptr_or_err(py, obj)? }.cast_into::<PyBytes>()?;
    // SAFETY: the object was just created and nobody else sees it yet, so
    // writing its `len` bytes of storage is sound; they are all written
    // below before the object escapes (`copy_out` writes `len` bytes).
    let buf = unsafe {
        std::slice::from_raw_parts_mut(pyo3::ffi::PyBytes_AsString(obj).cast::<u8>(), len)
    };
    fill(buf);
    Ok(bytes)
}

fn borrow_error(py: Python<'_>, e: shm_comm::BorrowError) -> PyErr {
    error(py, "SHMError", e.to_string())
}

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
}

struct Pinned {
    raw: Option<RawSample>,
    exports: usize,
}

impl Sample {
    fn new(raw: RawSample, subscriber: Py<Subscriber>) -> Sample {
        Sample {
            codec: raw.codec(),
            inner: QuickLock::new(Pinned {
                raw: Some(raw),
                exports: 0,
            }),
            subscriber,
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
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.release(py)?;
        Ok(false)
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

struct LoanState {
    claim: shm_comm::ring::Claim,
    /// The slot's address (a `usize` so the state is `Send`).
    ptr: usize,
}

/// A slot of a topic claimed for writing in place: a writable buffer of
/// `slot_size` bytes (`numpy.frombuffer(loan, ...)` gives a writable array).
/// `send(nbytes)` publishes it; dropping it unsent gives the slot back.
#[pyclass(frozen, module = "shm_comm._native")]
pub(crate) struct Loan {
    /// Its publisher, which keeps the slot mapped even when closed while
    /// the loan is open (views then write into memory nobody reads).
    publisher: Py<Publisher>,
    /// The claimed slot (`None` once sent or discarded), and how many views
    /// of it are alive: one lock, so a send and a new view cannot cross.
    inner: QuickLock<Claimed>,
    cap: usize,
    codec: Codec,
}

struct Claimed {
    state: Option<LoanState>,
    exports: usize,
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
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        let _ = self.discard(py);
        false
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

// ---------------------------------------------------------------------------
// REQ/REP
// ---------------------------------------------------------------------------

struct ReqState {
    raw: Arc<DynRequester>,
    pending: Option<Pending>,
}

/// Calls a service: `request(obj, timeout=5.0)`, or `send(obj)` then
/// `recv(timeout)`. Each reply is the one to this requester's latest request.
#[pyclass(subclass, frozen, module = "shm_comm._native")]
pub(crate) struct Requester {
    name: String,
    ser: Ser,
    inner: Mutex<Option<ReqState>>,
    held: Held,
}

fn request_error(py: Python<'_>, e: RequestError) -> PyErr {
    match e {
        RequestError::Timeout { .. } => error(py, "SHMTimeoutError", e.to_string()),
        RequestError::TooLarge { len, max } => too_large(py, len, max),
        RequestError::Corrupt(s) => error(py, "SHMError", s),
    }
}

#[pymethods]
impl Requester {
    #[new]
    #[pyo3(signature = (name, timeout_connect=5.0, serialization="pickle"))]
    fn new(
        py: Python<'_>,
        name: &str,
        timeout_connect: f64,
        serialization: &str,
    ) -> PyResult<Self> {
        let ser = Ser::parse(py, serialization)?;
        let raw = connect_with(py, timeout_connect, |left| {
            DynRequester::connect(name, left)
        })?;
        Ok(Requester {
            name: name.to_owned(),
            ser,
            inner: Mutex::new(Some(ReqState {
                raw: Arc::new(raw),
                pending: None,
            })),
            held: Held::default(),
        })
    }

    /// Sends a request (replacing any unanswered one); returns `True`.
    fn send(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<bool> {
        let bytes = self.ser.encode(data)?;
        self.send_frame(py, bytes, self.ser.codec())
    }

    /// Sends raw bytes as a request.
    fn send_bytes(&self, py: Python<'_>, payload: &Bound<'_, PyAny>) -> PyResult<bool> {
        let bytes = Buffer::get(payload)?.as_slice().to_vec();
        self.send_frame(py, bytes, Codec::Raw)
    }

    /// The reply to the latest request, or `None` on timeout (the request
    /// stays pending: call `recv` again to keep waiting for it).
    #[pyo3(signature = (timeout=None))]
    fn recv<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        match self.wait(py, timeout)? {
            Some((codec, data)) => decode(
                py,
                codec,
                &self.held.bytes(py, codec, data)?,
                None,
                self.ser,
            ),
            None => Ok(py.None().into_bound(py)),
        }
    }

    /// The reply as raw bytes, or `None` on timeout.
    #[pyo3(signature = (timeout=None))]
    fn recv_bytes<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        self.wait(py, timeout)?
            .map(|(c, d)| self.held.bytes(py, c, d))
            .transpose()
    }

    /// Sends `data` and returns the reply; raises `SHMTimeoutError` if none
    /// comes within `timeout` seconds (`None`: wait forever). A reply that
    /// arrives later is discarded.
    #[pyo3(signature = (data, timeout=5.0))]
    fn request<'py>(
        &self,
        py: Python<'py>,
        data: &Bound<'py, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let bytes = self.ser.encode(data)?;
        let deadline = deadline(timeout)?;
        self.send_frame(py, bytes, self.ser.codec())?;
        match self.wait_until(py, deadline)? {
            Some((codec, data)) => decode(
                py,
                codec,
                &self.held.bytes(py, codec, data)?,
                None,
                self.ser,
            ),
            None => {
                self.cancel(py);
                Err(error(
                    py,
                    "SHMTimeoutError",
                    format!(
                        "no reply from service {:?} within {:?} s ({})",
                        self.name,
                        timeout.unwrap_or(0.0),
                        if self.repliers(py) > 0 {
                            "a replier is alive but did not answer in time"
                        } else {
                            "no replier is alive"
                        }
                    ),
                ))
            }
        }
    }

    /// Live repliers of the service.
    fn repliers(&self, py: Python<'_>) -> u32 {
        lock(py, &self.inner)
            .as_ref()
            .map_or(0, |s| s.raw.raw().repliers())
    }

    /// Disconnects (never removes the service while others use it). Idempotent.
    fn close(&self, py: Python<'_>) {
        lock(py, &self.inner).take();
    }

    #[getter]
    fn serialization(&self) -> &'static str {
        self.ser.name()
    }

    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        lock(py, &self.inner).is_none()
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let state = if self.closed(py) { "closed" } else { "open" };
        format!("Requester({:?}, {state})", self.name)
    }
}

impl Requester {
    /// The requester and its pending call, without holding the lock after.
    fn snapshot(&self, py: Python<'_>) -> PyResult<(Arc<DynRequester>, Option<Pending>)> {
        let g = lock(py, &self.inner);
        let st = g
            .as_ref()
            .ok_or_else(|| closed(py, "Requester", &self.name))?;
        Ok((st.raw.clone(), st.pending))
    }

    fn send_frame(&self, py: Python<'_>, bytes: Vec<u8>, codec: Codec) -> PyResult<bool> {
        // A reply kept for want of memory answers the previous request.
        self.held.clear(py);
        let (raw, old) = self.snapshot(py)?;
        if let Some(p) = old {
            raw.raw().cancel(p);
        }
        // Sending waits only if the request queue is full.
        let deadline = Instant::now() + Duration::from_secs(5);
        let pending = py
            .detach(|| raw.raw().send(&bytes, codec, Some(deadline)))
            .map_err(|e| request_error(py, e))?;
        if let Some(st) = lock(py, &self.inner).as_mut() {
            st.pending = Some(pending);
        }
        Ok(true)
    }

    fn cancel(&self, py: Python<'_>) {
        if let Some(st) = lock(py, &self.inner).as_mut() {
            if let Some(p) = st.pending.take() {
                st.raw.raw().cancel(p);
            }
        }
    }

    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<(Codec, Vec<u8>)>> {
        check_timeout("timeout", timeout)?;
        if let Some(held) = self.held.take(py) {
            return Ok(Some(held));
        }
        self.wait_until(py, deadline(timeout)?)
    }

    /// Waits for the reply to the pending request without holding the
    /// requester's lock (other threads may call `stats`/`close` meanwhile;
    /// a `close` ends the wait at the next slice).
    fn wait_until(
        &self,
        py: Python<'_>,
        deadline: Option<Instant>,
    ) -> PyResult<Option<(Codec, Vec<u8>)>> {
        let (raw, pending) = self.snapshot(py)?;
        let Some(p) = pending else {
            return Err(error(
                py,
                "SHMError",
                "recv() without a pending request: send() first",
            ));
        };
        let mut buf = Vec::new();
        let got = blocking(py, deadline, |until| {
            if self.inner.lock().map_or(true, |g| g.is_none()) {
                return Some(Err(None));
            }
            match raw.raw().wait_reply(&p, Some(until), &mut buf) {
                Ok(codec) => {
                    let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(st) = g.as_mut() {
                        if st.pending == Some(p) {
                            st.pending = None;
                        }
                    }
                    Some(Ok((codec, std::mem::take(&mut buf))))
                }
                Err(RequestError::Timeout { .. }) => None,
                Err(e) => Some(Err(Some(e))),
            }
        })?;
        match got {
            None => Ok(None),
            Some(Ok(r)) => Ok(Some(r)),
            Some(Err(None)) => Err(closed(py, "Requester", &self.name)),
            Some(Err(Some(e))) => Err(request_error(py, e)),
        }
    }
}

struct RepState {
    raw: Arc<DynReplier>,
    last: Option<Call>,
}

/// Serves a service: `recv(timeout)` a request, then `send(reply)`.
/// `Replier(name, num_slots=16, slot_size=8192, serialization="pickle")`.
/// Several repliers may serve one service; each request is answered once.
#[pyclass(subclass, frozen, module = "shm_comm._native")]
pub(crate) struct Replier {
    name: String,
    ser: Ser,
    inner: Mutex<Option<RepState>>,
    held: Held,
}

#[pymethods]
impl Replier {
    #[new]
    #[pyo3(signature = (name, num_slots=16, slot_size=8192, serialization="pickle"))]
    fn new(
        py: Python<'_>,
        name: &str,
        num_slots: u32,
        slot_size: u32,
        serialization: &str,
    ) -> PyResult<Self> {
        let ser = Ser::parse(py, serialization)?;
        let opts = ServiceOptions {
            capacity: num_slots,
            max_payload: slot_size,
        };
        let raw = py
            .detach(|| DynReplier::create(name, opts))
            .map_err(|e| create_error(py, e))?;
        Ok(Replier {
            name: name.to_owned(),
            ser,
            inner: Mutex::new(Some(RepState {
                raw: Arc::new(raw),
                last: None,
            })),
            held: Held::default(),
        })
    }

    /// The next request, deserialized, or `None` on timeout.
    #[pyo3(signature = (timeout=None))]
    fn recv<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        match self.take(py, timeout)? {
            Some((codec, data)) => decode(
                py,
                codec,
                &self.held.bytes(py, codec, data)?,
                None,
                self.ser,
            ),
            None => Ok(py.None().into_bound(py)),
        }
    }

    /// The next request as raw bytes, or `None` on timeout.
    #[pyo3(signature = (timeout=None))]
    fn recv_bytes<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        self.take(py, timeout)?
            .map(|(c, d)| self.held.bytes(py, c, d))
            .transpose()
    }

    /// Replies to the last request received; `False` if there is none or
    /// its requester stopped waiting (timed out, or gone).
    fn send(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<bool> {
        let bytes = self.ser.encode(data)?;
        self.reply(py, &bytes, self.ser.codec())
    }

    /// Replies with raw bytes.
    fn send_bytes(&self, py: Python<'_>, payload: &Bound<'_, PyAny>) -> PyResult<bool> {
        let buf = Buffer::get(payload)?;
        self.reply(py, buf.as_slice(), Codec::Raw)
    }

    /// Requests waiting, live requesters, slot size.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let g = lock(py, &self.inner);
        let st = g
            .as_ref()
            .ok_or_else(|| closed(py, "Replier", &self.name))?;
        stats_dict(
            py,
            &[
                ("pending", st.raw.raw().pending()),
                ("requesters", u64::from(st.raw.raw().requesters())),
                ("slot_size", st.raw.raw().max_reply() as u64),
            ],
        )
    }

    /// Leaves the service (removed when its last participant leaves). Idempotent.
    fn close(&self, py: Python<'_>) {
        lock(py, &self.inner).take();
    }

    #[getter]
    fn serialization(&self) -> &'static str {
        self.ser.name()
    }

    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        lock(py, &self.inner).is_none()
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let state = if self.closed(py) { "closed" } else { "open" };
        format!("Replier({:?}, {state})", self.name)
    }
}

impl Replier {
    fn take(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<(Codec, Vec<u8>)>> {
        check_timeout("timeout", timeout)?;
        if let Some(held) = self.held.take(py) {
            return Ok(Some(held));
        }
        let deadline = deadline(timeout)?;
        let raw = match lock(py, &self.inner).as_ref() {
            Some(st) => st.raw.clone(),
            None => return Err(closed(py, "Replier", &self.name)),
        };
        // Waits without holding the replier's lock; a `close` from another
        // thread ends the wait at the next slice.
        let mut buf = Vec::new();
        let got = blocking(py, deadline, |until| {
            if self.inner.lock().map_or(true, |g| g.is_none()) {
                return Some(Err(None));
            }
            match raw.raw().recv_into(&mut buf, Some(until)) {
                Ok((call, codec)) => {
                    let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(st) = g.as_mut() {
                        st.last = Some(call);
                    }
                    Some(Ok((codec, std::mem::take(&mut buf))))
                }
                Err(RecvTimeoutError::Timeout) => None,
                Err(e) => Some(Err(Some(e))),
            }
        })?;
        match got {
            None => Ok(None),
            Some(Ok(r)) => Ok(Some(r)),
            Some(Err(None)) => Err(closed(py, "Replier", &self.name)),
            Some(Err(Some(e))) => Err(error(py, "SHMError", e.to_string())),
        }
    }

    fn reply(&self, py: Python<'_>, data: &[u8], codec: Codec) -> PyResult<bool> {
        let mut g = lock(py, &self.inner);
        let st = g
            .as_mut()
            .ok_or_else(|| closed(py, "Replier", &self.name))?;
        let Some(call) = st.last.take() else {
            return Ok(false);
        };
        st.raw
            .reply(&call, data, codec)
            .map_err(|shm_comm::reqrep::ReplyError::TooLarge { len, max }| too_large(py, len, max))
    }
}

// ---------------------------------------------------------------------------
// PUSH/PULL
// ---------------------------------------------------------------------------

/// Pushes jobs onto a work queue; each job goes to exactly one puller.
/// `Pusher(name, num_slots=128, slot_size=4096, serialization="pickle")`.
#[pyclass(subclass, frozen, module = "shm_comm._native")]
pub(crate) struct Pusher {
    name: String,
    ser: Ser,
    inner: Mutex<Option<std::sync::Arc<DynPusher>>>,
}

#[pymethods]
impl Pusher {
    #[new]
    #[pyo3(signature = (name, num_slots=128, slot_size=4096, serialization="pickle"))]
    fn new(
        py: Python<'_>,
        name: &str,
        num_slots: u32,
        slot_size: u32,
        serialization: &str,
    ) -> PyResult<Self> {
        let ser = Ser::parse(py, serialization)?;
        let opts = QueueOptions {
            capacity: num_slots,
            max_payload: slot_size,
        };
        let raw = py
            .detach(|| DynPusher::create(name, opts))
            .map_err(|e| create_error(py, e))?;
        Ok(Pusher {
            name: name.to_owned(),
            ser,
            inner: Mutex::new(Some(std::sync::Arc::new(raw))),
        })
    }

    /// Queues `data`. If the queue is full: with `block=False` returns
    /// `False` at once; otherwise waits up to `timeout` seconds (`None`:
    /// as long as it takes), then raises `SHMBufferFullError`.
    #[pyo3(signature = (data, *, block=true, timeout=None))]
    fn send(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        block: bool,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        let bytes = self.ser.encode(data)?;
        self.push(py, &bytes, self.ser.codec(), block, timeout)
    }

    /// Queues raw bytes (any buffer); same blocking rules as `send`.
    #[pyo3(signature = (payload, *, block=true, timeout=None))]
    fn send_bytes(
        &self,
        py: Python<'_>,
        payload: &Bound<'_, PyAny>,
        block: bool,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        let buf = Buffer::get(payload)?;
        self.push(py, buf.as_slice(), Codec::Raw, block, timeout)
    }

    /// `msg_count` (jobs waiting), `num_slots`, `slot_size`, `pullers`.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let raw = self.handle(py)?;
        let geo = raw.geometry();
        stats_dict(
            py,
            &[
                ("msg_count", raw.len()),
                ("drop_count", 0),
                ("num_slots", u64::from(geo.capacity)),
                ("slot_size", u64::from(geo.max_payload)),
                ("pullers", u64::from(raw.pullers())),
            ],
        )
    }

    /// Leaves the queue (removed when its last participant leaves). Idempotent.
    fn close(&self, py: Python<'_>) {
        lock(py, &self.inner).take();
    }

    #[getter]
    fn serialization(&self) -> &'static str {
        self.ser.name()
    }

    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        lock(py, &self.inner).is_none()
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let state = if self.closed(py) { "closed" } else { "open" };
        format!("Pusher({:?}, {state})", self.name)
    }
}

impl Pusher {
    fn handle(&self, py: Python<'_>) -> PyResult<std::sync::Arc<DynPusher>> {
        lock(py, &self.inner)
            .clone()
            .ok_or_else(|| closed(py, "Pusher", &self.name))
    }

    fn push(
        &self,
        py: Python<'_>,
        data: &[u8],
        codec: Codec,
        block: bool,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        check_timeout("timeout", timeout)?;
        let raw = self.handle(py)?;
        match raw.try_send(data, codec) {
            Ok(()) => return Ok(true),
            Err(TrySendError::TooLarge { len, max }) => return Err(too_large(py, len, max)),
            Err(TrySendError::Full(())) if !block => return Ok(false),
            Err(TrySendError::Full(())) => {}
            Err(TrySendError::Corrupt((), why)) => return Err(error(py, "SHMError", why)),
        }
        let deadline = deadline(timeout)?;
        // The wait runs with the GIL released, when another thread may write
        // the caller's buffer (a bytearray, an array): send a copy.
        let data = data.to_vec();
        let got = blocking(py, deadline, |until| {
            if self.inner.lock().map_or(true, |g| g.is_none()) {
                return Some(Err(None)); // closed by another thread
            }
            match raw.send_deadline(&data, codec, Some(until)) {
                Ok(()) => Some(Ok(())),
                Err(SendTimeoutError::Timeout(())) => None,
                Err(e) => Some(Err(Some(e))),
            }
        })?;
        match got {
            Some(Ok(())) => Ok(true),
            Some(Err(None)) => Err(closed(py, "Pusher", &self.name)),
            Some(Err(Some(SendTimeoutError::TooLarge { len, max }))) => {
                Err(too_large(py, len, max))
            }
            Some(Err(Some(SendTimeoutError::Corrupt((), why)))) => Err(error(py, "SHMError", why)),
            Some(Err(Some(SendTimeoutError::Timeout(())))) | None => Err(error(
                py,
                "SHMBufferFullError",
                format!(
                    "queue {:?} stayed full for {} s ({} puller(s) connected)",
                    self.name,
                    timeout.unwrap_or(0.0),
                    raw.pullers()
                ),
            )),
        }
    }
}

/// Takes jobs from a work queue. `Puller(name, timeout_connect=5.0, serialization="pickle")`.
#[pyclass(subclass, frozen, module = "shm_comm._native")]
pub(crate) struct Puller {
    name: String,
    ser: Ser,
    inner: Mutex<Option<std::sync::Arc<DynPuller>>>,
    held: Held,
}

#[pymethods]
impl Puller {
    #[new]
    #[pyo3(signature = (name, timeout_connect=5.0, serialization="pickle"))]
    fn new(
        py: Python<'_>,
        name: &str,
        timeout_connect: f64,
        serialization: &str,
    ) -> PyResult<Self> {
        let ser = Ser::parse(py, serialization)?;
        let raw = connect_with(py, timeout_connect, |left| DynPuller::connect(name, left))?;
        Ok(Puller {
            name: name.to_owned(),
            ser,
            inner: Mutex::new(Some(std::sync::Arc::new(raw))),
            held: Held::default(),
        })
    }

    /// The next job, deserialized, or `None` on timeout.
    #[pyo3(signature = (timeout=None))]
    fn recv<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        match self.take(py, timeout)? {
            Some((codec, data)) => decode(
                py,
                codec,
                &self.held.bytes(py, codec, data)?,
                None,
                self.ser,
            ),
            None => Ok(py.None().into_bound(py)),
        }
    }

    /// The next job as raw bytes, or `None` on timeout.
    #[pyo3(signature = (timeout=None))]
    fn recv_bytes<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        self.take(py, timeout)?
            .map(|(c, d)| self.held.bytes(py, c, d))
            .transpose()
    }

    /// `msg_count` (jobs waiting), `num_slots`, `slot_size`.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let raw = self.handle(py)?;
        let geo = raw.geometry();
        stats_dict(
            py,
            &[
                ("msg_count", raw.len()),
                ("drop_count", 0),
                ("num_slots", u64::from(geo.capacity)),
                ("slot_size", u64::from(geo.max_payload)),
            ],
        )
    }

    /// Leaves the queue. Idempotent.
    fn close(&self, py: Python<'_>) {
        lock(py, &self.inner).take();
    }

    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    #[getter]
    fn serialization(&self) -> &'static str {
        self.ser.name()
    }

    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        lock(py, &self.inner).is_none()
    }

    fn __enter__(slf: Bound<'_, Self>) -> Bound<'_, Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let state = if self.closed(py) { "closed" } else { "open" };
        format!("Puller({:?}, {state})", self.name)
    }
}

impl Puller {
    fn handle(&self, py: Python<'_>) -> PyResult<std::sync::Arc<DynPuller>> {
        lock(py, &self.inner)
            .clone()
            .ok_or_else(|| closed(py, "Puller", &self.name))
    }

    fn take(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<(Codec, Vec<u8>)>> {
        check_timeout("timeout", timeout)?;
        if let Some(held) = self.held.take(py) {
            return Ok(Some(held));
        }
        let raw = self.handle(py)?;
        match raw.try_recv() {
            Ok(f) => return Ok(Some((f.codec, f.data))),
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Corrupt(s)) => return Err(error(py, "SHMError", s)),
        }
        let deadline = deadline(timeout)?;
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(None);
        }
        let got = blocking(py, deadline, |until| {
            if self.inner.lock().map_or(true, |g| g.is_none()) {
                return Some(Err(None)); // closed by another thread
            }
            let mut buf = Vec::new();
            match raw.recv_into(&mut buf, Some(until)) {
                Ok(codec) => Some(Ok((codec, buf))),
                Err(RecvTimeoutError::Timeout) => None,
                Err(e) => Some(Err(Some(e))),
            }
        })?;
        match got {
            None => Ok(None),
            Some(Ok(r)) => Ok(Some(r)),
            Some(Err(None)) => Err(closed(py, "Puller", &self.name)),
            Some(Err(Some(e))) => Err(error(py, "SHMError", e.to_string())),
        }
    }
}
