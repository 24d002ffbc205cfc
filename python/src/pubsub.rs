//! PUB/SUB: `Publisher` and `Subscriber`, with the original 1.0.0
//! signatures. Their zero-copy companions, `Sample` and `Loan`, are in
//! `zerocopy`.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use shm_comm::codec::Codec;
use shm_comm::pubsub::{
    ConnectOptions, Expect, PubOptions, RawPublisher, RawSubscriber, TypedPubOptions,
};
use shm_comm::segment::Payload;
use shm_comm::varsize::{RawVarPublisher, VarPubOptions};
use shm_comm::{LayoutDescriptor, SendError, TryRecvError};

use crate::convert::{Plan, Purpose};
use crate::fields::Fields;
use crate::handle::{connect_with, handle_surface, lock, stats_dict};
use crate::quick::QuickLock;
use crate::ready::Ready;
use crate::view::View;
use crate::zerocopy::{Claimed, Loan, LoanState, Sample, TailView};
use crate::{
    blocking, check_timeout, closed, create_error, decode, error, too_large, typed, Buffer,
    Deadline, Ser,
};

/// What a `Publisher` writes to: the topic's ring, or a variable-size
/// topic's publisher (which replaces its ring when the topic grows). Both
/// dereference to the ring of now.
pub(crate) enum PubRaw {
    Fixed(RawPublisher),
    Var(RawVarPublisher),
}

impl std::ops::Deref for PubRaw {
    type Target = RawPublisher;
    fn deref(&self) -> &RawPublisher {
        match self {
            PubRaw::Fixed(r) => r,
            PubRaw::Var(v) => v.raw(),
        }
    }
}

impl std::ops::DerefMut for PubRaw {
    fn deref_mut(&mut self) -> &mut RawPublisher {
        match self {
            PubRaw::Fixed(r) => r,
            PubRaw::Var(v) => v.raw_mut(),
        }
    }
}

/// The tail of a variable-size message type, as a handle sees it.
pub(crate) struct TailInfo {
    /// The attribute of message objects that holds the elements.
    pub(crate) name: String,
    /// Byte offset of the first element, and bytes per element.
    pub(crate) offset: usize,
    pub(crate) elem_size: usize,
    /// The numpy dtype of one element (`shm_comm.typed.tail_dtype`).
    pub(crate) dtype: Py<PyAny>,
}

impl TailInfo {
    /// The tail of `layout` (`None` for a fixed-size message), its
    /// elements in attribute `name` of message objects.
    pub(crate) fn of(
        py: Python<'_>,
        layout: &LayoutDescriptor,
        name: &str,
    ) -> PyResult<Option<TailInfo>> {
        static TAIL_DTYPE: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();
        let Some(t) = &layout.tail else {
            return Ok(None);
        };
        let dtype = TAIL_DTYPE
            .import(py, "shm_comm.typed", "tail_dtype")?
            .call1((typed::to_dict(py, layout)?,))?
            .unbind();
        Ok(Some(TailInfo {
            name: name.to_owned(),
            offset: t.offset as usize,
            elem_size: t.elem.size as usize,
            dtype,
        }))
    }
}

/// Broadcasts messages to every subscriber of a topic. Never blocks.
///
/// `Publisher(name, num_slots=64, slot_size=4096, serialization="pickle")`;
/// pass `layout=` (a layout dict) to create a typed topic instead, and for
/// a variable-size message (a layout with a tail) `max_len=`, the most
/// elements a message may have until `grow()` (or `auto_grow=True`) raises it.
#[pyclass(subclass, frozen, module = "shm_comm._native")]
pub(crate) struct Publisher {
    pub(crate) name: String,
    ser: Ser,
    typed: bool,
    pub(crate) inner: QuickLock<Option<PubRaw>>,
    /// A variable-size topic's tail.
    pub(crate) tail: Option<TailInfo>,
    /// Packs objects into a typed topic's layout (set by `shm_comm.Publisher`):
    /// `typed.encode`, for the values `plan` leaves to numpy.
    encoder: Mutex<Option<Py<PyAny>>>,
    /// A typed topic's converter, compiled from its layout.
    plan: Option<Plan>,
    /// A typed topic's fields, for `loan[name]`.
    pub(crate) fields: Option<Arc<Fields>>,
    /// The topic's mapping, kept by `close()` while a loan is open: the
    /// loan (and views of it) may still write into it, and holds this
    /// publisher, so the memory stays mapped until this object is freed.
    orphaned: Mutex<Option<Arc<dyn std::any::Any + Send + Sync>>>,
    /// The claim of a loan dropped while `inner` was held (see `Loan`'s
    /// `Drop`), given back by the next call that takes it; `claim_dropped`
    /// says there may be one (so the calls check with one plain load).
    pub(crate) dropped_claim: Mutex<Option<shm_comm::ring::Claim>>,
    pub(crate) claim_dropped: std::sync::atomic::AtomicBool,
}

#[pymethods]
impl Publisher {
    #[new]
    #[pyo3(signature = (name, num_slots=64, slot_size=4096, serialization="pickle", *, layout=None, borrow_budget=8, max_len=None, auto_grow=false, tail_name="data"))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        name: &str,
        num_slots: u32,
        slot_size: u32,
        serialization: &str,
        layout: Option<&Bound<'_, PyDict>>,
        borrow_budget: u32,
        max_len: Option<usize>,
        auto_grow: bool,
        tail_name: &str,
    ) -> PyResult<Self> {
        let ser = Ser::parse(py, serialization)?;
        let (l, fields, plan) = match layout {
            None => (None, None, None),
            Some(d) => {
                let l = typed::from_dict(d)?;
                let plan = Plan::new(py, &l, Purpose::Send)?;
                let fields = Fields::new(py, &l)?;
                (Some(l), Some(fields), Some(plan))
            }
        };
        let tail = match &l {
            Some(l) => TailInfo::of(py, l, tail_name)?,
            None => None,
        };
        let what = l.as_ref().map_or("a dynamic topic", |l| l.name.as_str());
        match (&tail, max_len) {
            (Some(_), None) => {
                return Err(error(
                    py,
                    "SHMConfigError",
                    format!(
                        "`{what}` is a variable-size message: give max_len=, the most \
                         elements of `{tail_name}` a message may have (grow() raises it)"
                    ),
                ))
            }
            (None, Some(_)) => {
                return Err(error(
                    py,
                    "SHMConfigError",
                    format!(
                        "max_len= is for variable-size messages (a layout with a tail); \
                         `{what}` has a fixed size"
                    ),
                ))
            }
            _ => {}
        }
        let opts = PubOptions {
            capacity: num_slots,
            max_payload: slot_size,
            borrow_budget,
        };
        let name_owned = name.to_owned();
        let raw = match (&l, max_len) {
            (Some(l), Some(max_len)) => {
                // The ring is sized for the largest message at each growth,
                // as in Rust, unless the caller chose its geometry.
                let ring = (num_slots != 64 || borrow_budget != 8).then_some(TypedPubOptions {
                    capacity: num_slots,
                    borrow_budget,
                });
                let opts = VarPubOptions { ring, auto_grow };
                py.detach(|| RawVarPublisher::create(&name_owned, l, max_len, opts))
                    .map(PubRaw::Var)
            }
            (l, _) => {
                let payload = l.as_ref().map_or(Payload::Dynamic, Payload::of_layout);
                py.detach(|| RawPublisher::create(&name_owned, &payload, opts))
                    .map(PubRaw::Fixed)
            }
        }
        .map_err(|e| create_error(py, e))?;
        Ok(Publisher {
            name: name.to_owned(),
            ser,
            typed: layout.is_some(),
            inner: QuickLock::new(Some(raw)),
            tail,
            encoder: Mutex::new(None),
            plan,
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
        if let Some(tail) = &self.tail {
            return self.send_var(py, data, tail);
        }
        if let Some(plan) = &self.plan {
            // Packed on the stack (or the heap, for large messages), then
            // copied into the slot by the ring, which writes a slot that a
            // lagging reader may still be checking only with atomic stores.
            let mut stack = [0u8; 1024];
            let mut heap = Vec::new();
            let buf = if plan.size <= stack.len() {
                &mut stack[..plan.size]
            } else {
                heap.resize(plan.size, 0);
                &mut heap[..]
            };
            if plan.pack(data, buf)? {
                return self.publish(py, buf, Codec::Typed);
            }
        }
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

    /// Claims the next slot for writing in place; see `Loan`. On a
    /// variable-size topic, `n` (required there) is the number of elements
    /// of the message: the loan is exactly that message.
    #[pyo3(signature = (n=None))]
    fn loan(slf: &Bound<'_, Self>, n: Option<usize>) -> PyResult<Loan> {
        let py = slf.py();
        let me = slf.get();
        let mut g = me.inner.lock(py);
        let raw = g
            .as_mut()
            .ok_or_else(|| closed(py, "Publisher", &me.name))?;
        me.settle(py, raw);
        let (cap, tail) =
            match (&mut *raw, n) {
                (PubRaw::Var(v), Some(n)) => {
                    v.reserve(n).map_err(|e| send_error(py, e))?;
                    let len = v
                        .message_len(n)
                        .ok_or_else(|| too_large(py, usize::MAX, 0))?;
                    (
                        len,
                        Some(TailView {
                            offset: v.tail_offset(),
                            len: n,
                        }),
                    )
                }
                (PubRaw::Var(_), None) => {
                    return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                        "loan(n) on a variable-size topic: say how many elements of `{}` the \
                     message has",
                        me.tail.as_ref().map_or("the tail", |t| t.name.as_str())
                    )))
                }
                (PubRaw::Fixed(_), Some(_)) => return Err(pyo3::exceptions::PyTypeError::new_err(
                    "loan(n) is for variable-size topics; this one's messages have a fixed size",
                )),
                (PubRaw::Fixed(r), None) => (r.max_payload(), None),
            };
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
            tail,
        })
    }

    /// Grows a variable-size topic to messages of up to `max_len` elements
    /// (a smaller or equal maximum changes nothing). Subscribers read the
    /// messages sent before, then follow to the larger topic by themselves.
    fn grow(&self, py: Python<'_>, max_len: usize) -> PyResult<()> {
        let mut g = self.inner.lock(py);
        match g.as_mut() {
            None => Err(closed(py, "Publisher", &self.name)),
            Some(PubRaw::Fixed(_)) => Err(error(
                py,
                "SHMConfigError",
                "grow() is for variable-size topics; this one's messages have a fixed size",
            )),
            Some(PubRaw::Var(v)) => {
                if v.raw().claim_open() {
                    return Err(error(
                        py,
                        "SHMError",
                        "a loan is open: send or discard it first",
                    ));
                }
                v.grow(max_len).map_err(|e| create_error(py, e))
            }
        }
    }

    /// A variable-size topic's maximum number of elements per message now
    /// (`None` on a fixed-size topic).
    #[getter]
    fn max_len(&self, py: Python<'_>) -> PyResult<Option<usize>> {
        let g = self.inner.lock(py);
        match g.as_ref() {
            None => Err(closed(py, "Publisher", &self.name)),
            Some(PubRaw::Var(v)) => Ok(Some(v.max_len())),
            Some(PubRaw::Fixed(_)) => Ok(None),
        }
    }

    /// How many times a variable-size topic grew (0 on a fixed-size one).
    #[getter]
    fn generation(&self, py: Python<'_>) -> PyResult<u32> {
        let g = self.inner.lock(py);
        match g.as_ref() {
            None => Err(closed(py, "Publisher", &self.name)),
            Some(PubRaw::Var(v)) => Ok(v.generation()),
            Some(PubRaw::Fixed(_)) => Ok(0),
        }
    }

    /// The keys of the original shm-comm 1.0.0, with their meaning in this
    /// ring: `head` (sequence number of the next message: messages
    /// published), `tail` (sequence number of the oldest message still in
    /// the ring: messages overwritten), `msg_count` (published),
    /// `drop_count` (always 0: a publisher never drops; what a subscriber
    /// missed is in its own stats), `num_slots`, `slot_size`, `used_slots`
    /// (slots holding a message), `free_slots` (slots never written yet);
    /// and `borrow_budget`.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        // The figures under the lock, the dict (Python objects) after it.
        let (published, geo) = {
            let g = self.inner.lock(py);
            let raw = g
                .as_ref()
                .ok_or_else(|| closed(py, "Publisher", &self.name))?;
            match raw {
                // Over all generations; the geometry is the current one's.
                PubRaw::Var(v) => (v.published(), raw.geometry()),
                PubRaw::Fixed(r) => (r.published(), r.geometry()),
            }
        };
        let num_slots = u64::from(geo.capacity);
        let used = published.min(num_slots);
        stats_dict(
            py,
            &[
                ("head", published),
                ("tail", published - used),
                ("num_slots", num_slots),
                ("slot_size", u64::from(geo.max_payload)),
                ("msg_count", published),
                ("drop_count", 0),
                ("used_slots", used),
                ("free_slots", num_slots - used),
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
}

handle_surface!(Publisher);

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

    /// Publishes a variable-size message: `data`'s fixed part (packed as
    /// a fixed message is) followed by the elements in its tail attribute
    /// (any buffer: a numpy array of the elements, bytes; `None` for none).
    fn send_var(&self, py: Python<'_>, data: &Bound<'_, PyAny>, tail: &TailInfo) -> PyResult<bool> {
        let elems = match data.cast::<PyDict>() {
            Ok(d) => d.get_item(&tail.name)?,
            Err(_) => data.getattr_opt(tail.name.as_str())?,
        };
        let elems = elems.filter(|e| !e.is_none());
        let view = match &elems {
            None => None,
            Some(e) => Some(View::get(e, false).ok_or_else(|| {
                error(
                    py,
                    "SHMSerializationError",
                    format!(
                        "`{}`: a {} is not a buffer of elements (give a numpy array or bytes)",
                        tail.name,
                        e.get_type()
                            .name()
                            .map_or_else(|_| "?".into(), |n| n.to_string())
                    ),
                )
            })?),
        };
        let bytes = view.as_ref().map_or(&[][..], |v| v.bytes());
        // Whole elements, from items that divide them (u8 rows of [u8; 3]
        // pixels, say): a float64 array for a u8 tail is a mistake, not
        // eight times as many elements.
        let itemsize = view.as_ref().map_or(1, |v| v.itemsize().max(1));
        if tail.elem_size % itemsize != 0 {
            return Err(error(
                py,
                "SHMSerializationError",
                format!(
                    "`{}`: an array of {itemsize}-byte items for elements of {} bytes \
                     (give the elements' dtype)",
                    tail.name, tail.elem_size
                ),
            ));
        }
        if bytes.len() % tail.elem_size != 0 {
            return Err(error(
                py,
                "SHMSerializationError",
                format!(
                    "`{}`: {} bytes are not a whole number of {}-byte elements",
                    tail.name,
                    bytes.len(),
                    tail.elem_size
                ),
            ));
        }
        let n = bytes.len() / tail.elem_size;
        // The fixed part, packed as a fixed message's (the tail attribute
        // is not one of its fields).
        let head = match &self.plan {
            Some(plan) => {
                let mut buf = vec![0u8; plan.size];
                if plan.pack(data, &mut buf)? {
                    Some(buf)
                } else {
                    None
                }
            }
            None => None,
        };
        let head = match head {
            Some(h) => h,
            None => {
                let encoder = lock(py, &self.encoder).as_ref().map(|e| e.clone_ref(py));
                let encoder = encoder.ok_or_else(|| {
                    error(
                        py,
                        "SHMSerializationError",
                        "typed topic without an encoder",
                    )
                })?;
                // `typed.encode` packs the tail too: keep the fixed part.
                let packed = encoder.bind(py).call1((data,))?;
                let packed = Buffer::get(&packed)?;
                let bytes = packed.as_slice();
                bytes[..bytes.len().min(tail.offset)].to_vec()
            }
        };
        if head.len() > tail.offset {
            return Err(error(
                py,
                "SHMSerializationError",
                "fixed part longer than its layout",
            ));
        }
        let mut g = self.inner.lock(py);
        let raw = g
            .as_mut()
            .ok_or_else(|| closed(py, "Publisher", &self.name))?;
        self.settle(py, raw);
        let PubRaw::Var(v) = raw else {
            return Err(error(py, "SHMError", "not a variable-size topic"));
        };
        v.reserve(n).map_err(|e| send_error(py, e))?;
        // One buffer for the ring to copy in (it writes slots that a
        // lagging reader may still check only with atomic stores); `loan`
        // writes in place instead.
        let mut msg = vec![0u8; tail.offset + bytes.len()];
        msg[..head.len()].copy_from_slice(&head);
        msg[tail.offset..].copy_from_slice(bytes);
        v.raw_mut()
            .send(&msg, Codec::Typed)
            .map_err(|e| send_error(py, e))?;
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

pub(crate) fn send_error(py: Python<'_>, e: SendError) -> PyErr {
    match e {
        SendError::TooLarge { len, max } => too_large(py, len, max),
        SendError::TooLong { len, max } => error(
            py,
            "SHMMessageTooLongError",
            format!(
                "message of {len} elements exceeds the topic's maximum of {max} (max_len): \
                 grow() the topic first, or create it with auto_grow=True"
            ),
        ),
        SendError::Encode(s) => error(py, "SHMSerializationError", s),
        e => error(py, "SHMError", e.to_string()),
    }
}

pub(crate) struct SubState {
    pub(crate) raw: RawSubscriber,
    /// A variable-size topic's tail in the generation read now.
    tail: Option<TailGen>,
    /// Messages of generations of a variable-size topic that this
    /// subscriber never saw (it looked after two grows in a row).
    skipped: u64,
}

/// Where a variable-size topic's elements are, in one generation.
#[derive(Clone, Copy)]
struct TailGen {
    offset: usize,
    elem_size: usize,
    max_len: usize,
    /// `raw.switches().0` when read.
    switches: u64,
    /// Messages published in the generations before this one.
    base: u64,
}

impl SubState {
    fn new(raw: RawSubscriber) -> SubState {
        let mut st = SubState {
            raw,
            tail: None,
            skipped: 0,
        };
        st.tail = st.read_tail();
        st
    }

    fn read_tail(&self) -> Option<TailGen> {
        let t = self.raw.layout()?.tail?;
        Some(TailGen {
            offset: t.offset as usize,
            elem_size: t.elem.size as usize,
            max_len: t.max_len as usize,
            switches: self.raw.switches().0,
            base: t.base,
        })
    }

    /// Messages this subscriber missed: those it fell too far behind to
    /// read, and those of generations it never saw.
    pub(crate) fn missed(&self) -> u64 {
        self.raw.missed() + self.skipped
    }

    /// The number of elements of a message of `len` bytes just read (its
    /// length written by the publisher's process: checked), or `None` on a
    /// fixed-size topic.
    fn elems_in(&mut self, py: Python<'_>, len: usize) -> PyResult<Option<TailView>> {
        let Some(t) = self.tail else {
            return Ok(None);
        };
        let t = if t.switches == self.raw.switches().0 {
            t
        } else {
            // The topic grew: the new generation's maximum. The ring left
            // was read to its end (or its losses counted by the raw
            // subscriber); what lies between it and the new generation's
            // first message was never seen (a publisher that restarted
            // counts from 0).
            let left_published = self.raw.switches().1;
            self.tail = self.read_tail();
            let new = self
                .tail
                .ok_or_else(|| error(py, "SHMError", "the topic's new segment has no tail"))?;
            self.skipped += new.base.saturating_sub(t.base + left_published);
            new
        };
        shm_comm::layout::elems_in(len, t.offset, t.elem_size, t.max_len)
            .map(|n| {
                Some(TailView {
                    offset: t.offset,
                    len: n,
                })
            })
            .map_err(|reason| error(py, "SHMError", format!("corrupt message: {reason}")))
    }

    /// After a receive found nothing: `true` if the publisher closed this
    /// ring (a variable-size topic grew) and the subscriber attached to its
    /// successor, so that another attempt may find a message now.
    fn followed(&mut self) -> bool {
        self.tail.is_some() && self.raw.follow_closed()
    }
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
    pub(crate) ser: Ser,
    pub(crate) inner: QuickLock<Option<SubState>>,
    /// The bell of `fileno()`, made by its first call.
    pub(crate) ready: Ready,
    /// A typed topic's converter (set once by `shm_comm.Subscriber`, from
    /// its message class); read on every `recv` without a lock.
    pub(crate) plan: std::sync::OnceLock<Plan>,
    /// A typed topic's fields, for `sample[name]` (read on the first borrow).
    pub(crate) fields: std::sync::OnceLock<Option<Arc<Fields>>>,
    /// A variable-size topic's tail: where `recv()` puts the elements,
    /// and their dtype (read with `fields`, or set with the message type).
    pub(crate) tail: std::sync::OnceLock<Option<TailInfo>>,
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
            inner: QuickLock::new(Some(SubState::new(raw))),
            ready: Ready::default(),
            plan: std::sync::OnceLock::new(),
            fields: std::sync::OnceLock::new(),
            tail: std::sync::OnceLock::new(),
        })
    }

    /// The next message, deserialized; `None` if none arrived within
    /// `timeout` seconds (`None` waits forever, `0` checks once).
    #[pyo3(signature = (timeout=None))]
    fn recv<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        if let Some(plan) = self.plan.get() {
            return self.recv_typed(py, timeout, plan);
        }
        match self.recv_frame(py, timeout)? {
            Some((codec, data)) => decode(py, codec, &data, self.ser),
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
            let f = layout.as_ref().map(|l| Fields::new(py, l)).transpose()?;
            if me.tail.get().is_none() {
                let t = match &layout {
                    Some(l) => TailInfo::of(py, l, "data")?,
                    None => None,
                };
                let _ = me.tail.set(t);
            }
            me.fields.get_or_init(|| f);
        }
        loop {
            {
                let mut g = me.inner.lock(py);
                let st = g
                    .as_mut()
                    .ok_or_else(|| closed(py, "Subscriber", &me.name))?;
                let mut got = attempt(&mut st.raw);
                if got.is_none() && st.followed() {
                    got = attempt(&mut st.raw);
                }
                if let Some(r) = got {
                    let s = r.map_err(|e| borrow_error(py, e))?;
                    let tail = st.elems_in(py, s.len())?;
                    return Ok(Some(Sample::new(s, slf.clone().unbind(), tail)));
                }
            }
            let deadline = deadline.get();
            if deadline.is_some_and(|d| Instant::now() >= d) || !me.wait(py, deadline)? {
                if me.ready.rearm(py, me) {
                    continue; // arrived meanwhile
                }
                return Ok(None);
            }
        }
    }

    /// Makes `recv()` return typed messages as objects of `msg_type` (a
    /// message class: its `__shm_layout__`, nested messages as the classes
    /// `shm_comm.typed.message_class` gives), converted by a plan compiled
    /// here, once.
    fn _set_msg_type(&self, py: Python<'_>, msg_type: &Bound<'_, PyAny>) -> PyResult<()> {
        let layout = msg_type.getattr("__shm_layout__")?;
        let layout = typed::from_dict(layout.cast::<PyDict>()?)?;
        let plan = Plan::new(py, &layout, Purpose::Receive)?;
        if self.tail.get().is_none() {
            let name: Option<String> = msg_type
                .getattr_opt("__shm_tail__")?
                .map(|n| n.extract())
                .transpose()?;
            let t = TailInfo::of(py, &layout, name.as_deref().unwrap_or("data"))?;
            let _ = self.tail.set(t);
        }
        self.plan
            .set(plan)
            .map_err(|_| error(py, "SHMError", "the message type is already set"))
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

    /// The keys of the original shm-comm 1.0.0, with their meaning in this
    /// ring: `head` and `tail` (sequence numbers of the next message and of
    /// the oldest one still in the ring), `msg_count` (published on the
    /// topic), `drop_count` (messages this subscriber missed by falling
    /// behind), `num_slots`, `slot_size`, `used_slots`, `free_slots` (as
    /// the publisher's), `local_tail` (this subscriber's position); and
    /// `lag` (published, not yet read), `publisher_pid`, `publisher_alive`.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        // The figures under the lock, the dict (Python objects) after it.
        let items = {
            let g = self.inner.lock(py);
            let st = g
                .as_ref()
                .ok_or_else(|| closed(py, "Subscriber", &self.name))?;
            let raw = &st.raw;
            let (geo, published, lag) = (raw.geometry(), raw.published(), raw.lag());
            let num_slots = u64::from(geo.capacity);
            let used = published.min(num_slots);
            [
                ("head", published),
                ("tail", published - used),
                ("num_slots", num_slots),
                ("slot_size", u64::from(geo.max_payload)),
                ("msg_count", published),
                ("drop_count", st.missed()),
                ("used_slots", used),
                ("free_slots", num_slots - used),
                ("local_tail", published - lag.min(published)),
                ("lag", lag),
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
}

handle_surface!(Subscriber);

impl Subscriber {
    /// The next frame as `(codec, bytes)`, or `None` on timeout. The frame is
    /// copied once, from the slot into a reused buffer, then into the
    /// Python `bytes` (with the GIL held); waiting happens with the GIL released.
    pub(crate) fn recv_frame<'py>(
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
                let mut got = st
                    .raw
                    .try_recv_with(|len, copy| uninit_bytes(py, len, copy));
                if matches!(got, Err(TryRecvError::Empty)) && st.followed() {
                    got = st
                        .raw
                        .try_recv_with(|len, copy| uninit_bytes(py, len, copy));
                }
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
                if self.ready.rearm(py, self) {
                    continue; // arrived meanwhile
                }
                return Ok(None);
            }
        }
    }

    /// The next message of a typed topic as an object (`plan`), or `None`
    /// on timeout. The ring copies it (checked against concurrent
    /// overwrites) into a buffer on the stack, and the object is built from
    /// there after the lock is released (building it runs Python code).
    pub(crate) fn recv_typed<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
        plan: &Plan,
    ) -> PyResult<Bound<'py, PyAny>> {
        let mut deadline = Deadline::new(timeout)?;
        let mut stack = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut heap = Vec::new();
        loop {
            let got = {
                let mut g = self.inner.lock(py);
                let st = g
                    .as_mut()
                    .ok_or_else(|| closed(py, "Subscriber", &self.name))?;
                let mut attempt = |raw: &mut RawSubscriber| {
                    if raw.max_payload() <= stack.len() {
                        raw.try_recv_uninit(&mut stack)
                            .map(|(len, c)| (len, c, true))
                    } else {
                        raw.try_recv_into(&mut heap).map(|c| (heap.len(), c, false))
                    }
                };
                let mut got = attempt(&mut st.raw);
                if matches!(got, Err(TryRecvError::Empty)) && st.followed() {
                    got = attempt(&mut st.raw);
                }
                match got {
                    Ok((len, Codec::Typed, on_stack)) => {
                        Some((len, Codec::Typed, on_stack, st.elems_in(py, len)?))
                    }
                    Ok((len, c, on_stack)) => Some((len, c, on_stack, None)),
                    Err(TryRecvError::Empty) => None,
                    Err(TryRecvError::Corrupt(s)) => return Err(error(py, "SHMError", s)),
                }
            };
            if let Some((len, codec, on_stack, tail)) = got {
                let data: &[u8] = if on_stack {
                    // SAFETY: `try_recv_uninit` initialized the first `len`
                    // bytes of `stack` (`len <= stack.len()`), and u8 has
                    // the layout of MaybeUninit<u8>.
                    unsafe { std::slice::from_raw_parts(stack.as_ptr().cast::<u8>(), len) }
                } else {
                    &heap
                };
                return match codec {
                    Codec::Typed => {
                        let obj = plan.unpack(py, data)?;
                        if let (Some(t), Some(Some(info))) = (tail, self.tail.get()) {
                            // The elements, copied into an array of their own.
                            let elems = &data[t.offset..t.offset + t.len * info.elem_size];
                            let arr = elem_array(py, info, elems)?;
                            obj.setattr(info.name.as_str(), arr)?;
                        }
                        Ok(obj)
                    }
                    c => decode(py, c, &PyBytes::new(py, data), self.ser),
                };
            }
            let deadline = deadline.get();
            if deadline.is_some_and(|d| Instant::now() >= d) || !self.wait(py, deadline)? {
                if self.ready.rearm(py, self) {
                    continue; // arrived meanwhile
                }
                return Ok(py.None().into_bound(py));
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

/// A writable numpy array of the elements `bytes` (a copy), of `tail`'s dtype.
fn elem_array<'py>(py: Python<'py>, tail: &TailInfo, bytes: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    static FROMBUFFER: pyo3::sync::PyOnceLock<Py<PyAny>> = pyo3::sync::PyOnceLock::new();
    let copy = pyo3::types::PyByteArray::new(py, bytes);
    FROMBUFFER
        .import(py, "numpy", "frombuffer")?
        .call1((copy, tail.dtype.bind(py)))
}

fn borrow_error(py: Python<'_>, e: shm_comm::BorrowError) -> PyErr {
    error(py, "SHMError", e.to_string())
}
