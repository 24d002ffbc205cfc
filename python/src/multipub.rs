//! Multi-publisher topics: `MultiPublisher` and `MultiSubscriber`, over the
//! core's `RawMultiPublisher` / `RawMultiSubscriber`. Each publisher writes
//! its own ring; a subscriber reads them all, round-robin, and names the
//! sender of every message as `(slot, pid)`.
//!
//! A multi-publisher topic is not an ordinary one: an ordinary `Publisher`
//! or `Subscriber` on its name is refused, and so is a `MultiPublisher` on
//! an ordinary topic (the core checks the segment kinds).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};

use shm_comm::codec::Codec;
use shm_comm::multipub::{PublisherId, RawMultiPublisher, RawMultiSubscriber};
use shm_comm::pubsub::{ConnectOptions, Expect, PubOptions};
use shm_comm::segment::Payload;
use shm_comm::TryRecvError;

use crate::convert::{Plan, Purpose};
use crate::handle::{handle_surface, lock, stats_dict};
use crate::msgpack;
use crate::pubsub::send_error;
use crate::ready::{readiness_surface, Armable, Ready};
use crate::{
    blocking, check_timeout, closed, create_error, decode, error, typed, Buffer, Deadline, Ser,
};

/// A typed topic's layout, as the two classes take it (`layout=`): the
/// payload the directory is made or checked with, and the plan.
fn payload_of(
    py: Python<'_>,
    layout: Option<&Bound<'_, PyDict>>,
    purpose: Purpose,
) -> PyResult<(Payload, Option<Plan>)> {
    match layout {
        None => Ok((Payload::Dynamic, None)),
        Some(d) => {
            let l = typed::from_dict(d)?;
            Ok((Payload::of_layout(&l), Some(Plan::new(py, &l, purpose)?)))
        }
    }
}

fn id_tuple(py: Python<'_>, id: PublisherId) -> PyResult<Bound<'_, PyTuple>> {
    PyTuple::new(py, [id.slot, id.pid])
}

/// One of several publishers of a topic. Never blocks.
///
/// `MultiPublisher(name, num_slots=64, slot_size=4096,
/// serialization="pickle")`; pass `layout=` (a layout dict) for a typed
/// topic. Each publisher has a ring of its own, of its own geometry.
#[pyclass(subclass, frozen, module = "shm_comm._native")]
pub(crate) struct MultiPublisher {
    name: String,
    ser: Ser,
    inner: Mutex<Option<RawMultiPublisher>>,
    /// A typed topic's converter and layout dict (for `typed.encode`,
    /// where the plan leaves a value to numpy).
    plan: Option<(Plan, Py<PyDict>)>,
}

#[pymethods]
impl MultiPublisher {
    #[new]
    #[pyo3(signature = (name, num_slots=64, slot_size=4096, serialization="pickle", *, layout=None))]
    fn new(
        py: Python<'_>,
        name: &str,
        num_slots: u32,
        slot_size: u32,
        serialization: &str,
        layout: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Self> {
        let ser = Ser::parse(py, serialization)?;
        let (payload, plan) = payload_of(py, layout, Purpose::Send)?;
        let opts = PubOptions {
            capacity: num_slots,
            max_payload: slot_size,
            ..PubOptions::default()
        };
        let owned = name.to_owned();
        let raw = py
            .detach(|| RawMultiPublisher::create(&owned, &payload, opts))
            .map_err(|e| create_error(py, e))?;
        Ok(MultiPublisher {
            name: owned,
            ser,
            inner: Mutex::new(Some(raw)),
            plan: plan.zip(layout.map(|d| d.clone().unbind())),
        })
    }

    /// Serializes and publishes `data` (packs it, on a typed topic);
    /// returns `True`. `block` and `timeout` are accepted for
    /// compatibility: a publisher never blocks.
    #[pyo3(signature = (data, *, block=false, timeout=None))]
    fn send(
        &self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        block: bool,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        let _ = block;
        check_timeout("timeout", timeout)?;
        if let Some((plan, layout)) = &self.plan {
            let mut buf = vec![0u8; plan.size];
            if plan.pack(data, &mut buf)? {
                return self.publish(py, &buf, Codec::Typed);
            }
            // A value the plan leaves to numpy: the Python reference packs it.
            let packed = py
                .import("shm_comm.typed")?
                .getattr("encode")?
                .call1((layout.bind(py), data))?;
            let buf = Buffer::get(&packed)?;
            return self.publish(py, buf.as_slice(), Codec::Typed);
        }
        let bytes = self.ser.encode(data)?;
        self.publish(py, &bytes, self.ser.codec())
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
        let _ = block;
        check_timeout("timeout", timeout)?;
        let buf = Buffer::get(payload)?;
        let codec = if self.plan.is_some() {
            Codec::Typed
        } else {
            Codec::Raw
        };
        self.publish(py, buf.as_slice(), codec)
    }

    /// Who this publisher is, as its subscribers name it: `(slot, pid)`.
    #[getter]
    fn id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let id = self.with(py, |raw| raw.id())?;
        id_tuple(py, id)
    }

    /// Live publishers on the topic now, this one included.
    fn publishers(&self, py: Python<'_>) -> PyResult<u32> {
        self.with(py, |raw| raw.publishers())
    }

    /// `msg_count` (published by this publisher), `num_slots`, `slot_size`
    /// (of its ring), `slot` and `pid` (its id) and `publishers` (live
    /// publishers on the topic).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let items = self.with(py, |raw| {
            let id = raw.id();
            let publishers = raw.publishers();
            let ring = raw.ring();
            let geo = ring.geometry();
            [
                ("msg_count", ring.published()),
                ("num_slots", u64::from(geo.capacity)),
                ("slot_size", u64::from(geo.max_payload)),
                ("slot", u64::from(id.slot)),
                ("pid", u64::from(id.pid)),
                ("publishers", u64::from(publishers)),
            ]
        })?;
        stats_dict(py, &items)
    }

    /// Leaves the topic: removes this publisher's ring (its subscribers
    /// read it to its end first) and its directory entry. Idempotent.
    fn close(&self, py: Python<'_>) {
        // Dropped after the lock is released.
        let _raw = lock(py, &self.inner).take();
    }
}

handle_surface!(MultiPublisher);

impl MultiPublisher {
    fn with<R>(&self, py: Python<'_>, f: impl FnOnce(&mut RawMultiPublisher) -> R) -> PyResult<R> {
        let mut g = lock(py, &self.inner);
        let raw = g
            .as_mut()
            .ok_or_else(|| closed(py, "MultiPublisher", &self.name))?;
        Ok(f(raw))
    }

    fn publish(&self, py: Python<'_>, data: &[u8], codec: Codec) -> PyResult<bool> {
        self.with(py, |raw| raw.ring().send(data, codec))?
            .map_err(|e| send_error(py, e))?;
        Ok(true)
    }
}

/// Receives what every publisher of a multi-publisher topic sends, in each
/// publisher's order, taking turns between publishers.
///
/// `MultiSubscriber(name, timeout_connect=5.0, serialization="pickle")`;
/// pass `layout=` (a layout dict) for a typed topic. The topic may have no
/// publisher yet: they are picked up as they come.
#[pyclass(subclass, frozen, module = "shm_comm._native")]
pub(crate) struct MultiSubscriber {
    name: String,
    ser: Ser,
    inner: Mutex<Option<RawMultiSubscriber>>,
    /// A typed topic's converter.
    plan: Option<Plan>,
    /// The doorbell of `fileno()`, made by its first call.
    ready: Ready,
}

/// A received frame: who sent it, its codec and its bytes.
type Got = (PublisherId, Codec, Vec<u8>);

#[pymethods]
impl MultiSubscriber {
    #[new]
    #[pyo3(signature = (name, timeout_connect=5.0, serialization="pickle", *, layout=None, last_value=false, max_borrows=4))]
    fn new(
        py: Python<'_>,
        name: &str,
        timeout_connect: f64,
        serialization: &str,
        layout: Option<&Bound<'_, PyDict>>,
        last_value: bool,
        max_borrows: u32,
    ) -> PyResult<Self> {
        let ser = Ser::parse(py, serialization)?;
        check_timeout("timeout_connect", Some(timeout_connect))?;
        let (payload, plan) = payload_of(py, layout, Purpose::Receive)?;
        let opts = ConnectOptions {
            // A huge value would overflow `Duration`: a day is forever here.
            timeout: Duration::from_secs_f64(timeout_connect.min(86_400.0)),
            last_value,
            max_borrows,
        };
        let expect = if layout.is_some() {
            Expect::Any
        } else {
            Expect::Dynamic
        };
        let owned = name.to_owned();
        let raw = py
            .detach(|| RawMultiSubscriber::connect(&owned, &payload, expect, opts))
            .map_err(|e| create_error(py, e))?;
        Ok(MultiSubscriber {
            name: owned,
            ser,
            inner: Mutex::new(Some(raw)),
            plan,
            ready: Ready::default(),
        })
    }

    /// The next message, deserialized; `None` if none arrived within
    /// `timeout` seconds (`None` waits forever, `0` checks once).
    #[pyo3(signature = (timeout=None))]
    fn recv<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        match self.recv_frame(py, timeout)? {
            Some((_, codec, data)) => self.decoded(py, codec, &data),
            None => Ok(py.None().into_bound(py)),
        }
    }

    /// The next message and who sent it, `((slot, pid), message)`, or
    /// `None` on timeout.
    #[pyo3(signature = (timeout=None))]
    fn recv_from<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<(Bound<'py, PyTuple>, Bound<'py, PyAny>)>> {
        self.recv_frame(py, timeout)?
            .map(|(id, codec, data)| Ok((id_tuple(py, id)?, self.decoded(py, codec, &data)?)))
            .transpose()
    }

    /// The next message as raw bytes, or `None` on timeout.
    #[pyo3(signature = (timeout=None))]
    fn recv_bytes<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        Ok(self
            .recv_frame(py, timeout)?
            .map(|(_, _, data)| PyBytes::new(py, &data)))
    }

    /// The publishers read now, as `(slot, pid)` tuples.
    fn publishers<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        let ids = self.with(py, |raw| raw.publishers())?;
        ids.into_iter().map(|id| id_tuple(py, id)).collect()
    }

    /// Messages skipped of all publishers, including those that left.
    fn missed(&self, py: Python<'_>) -> PyResult<u64> {
        self.with(py, |raw| raw.missed())
    }

    /// Messages skipped of one publisher, given as a pid or a `(slot,
    /// pid)` tuple; `None` if this subscriber does not read it now.
    fn missed_from(&self, py: Python<'_>, publisher: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
        let wanted: (Option<u32>, u32) = match publisher.extract::<(u32, u32)>() {
            Ok((slot, pid)) => (Some(slot), pid),
            Err(_) => (None, publisher.extract::<u32>()?),
        };
        self.with(py, |raw| {
            let id = raw
                .publishers()
                .into_iter()
                .find(|id| id.pid == wanted.1 && wanted.0.is_none_or(|s| s == id.slot))?;
            raw.missed_from(id)
        })
    }

    /// `drop_count` (messages missed, all publishers) and `publishers`
    /// (rings read now).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let items = self.with(py, |raw| {
            [
                ("drop_count", raw.missed()),
                ("publishers", raw.publishers().len() as u64),
            ]
        })?;
        stats_dict(py, &items)
    }

    /// Disconnects (never removes the topic). Idempotent.
    fn close(&self, py: Python<'_>) {
        let _raw = lock(py, &self.inner).take();
    }
}

handle_surface!(MultiSubscriber);

impl Armable for MultiSubscriber {
    fn arm_watch(&self, py: Python<'_>, watch: &mut shm_comm::bells::Watch) -> bool {
        match lock(py, &self.inner).as_mut() {
            Some(raw) => raw.arm(watch),
            None => true,
        }
    }
}

readiness_surface!(
    MultiSubscriber,
    "a message of any publisher may have been published"
);

#[pymethods]
impl MultiSubscriber {
    /// The next message and its sender as `((slot, pid), msg)` if one is
    /// there, else `None` (never waits).
    fn _try_recv_from<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Option<(Bound<'py, PyTuple>, Bound<'py, PyAny>)>> {
        self.recv_from(py, Some(0.0))
    }
}

impl MultiSubscriber {
    fn with<R>(&self, py: Python<'_>, f: impl FnOnce(&mut RawMultiSubscriber) -> R) -> PyResult<R> {
        let mut g = lock(py, &self.inner);
        let raw = g
            .as_mut()
            .ok_or_else(|| closed(py, "MultiSubscriber", &self.name))?;
        Ok(f(raw))
    }

    fn decoded<'py>(
        &self,
        py: Python<'py>,
        codec: Codec,
        data: &[u8],
    ) -> PyResult<Bound<'py, PyAny>> {
        match (codec, &self.plan) {
            (Codec::Typed, Some(plan)) => plan.unpack(py, data),
            // Straight from the received bytes: no `bytes` object to make.
            (Codec::MsgPack, _) => msgpack::decode(py, data)
                .map_err(|e| error(py, "SHMSerializationError", e.to_string())),
            _ => decode(py, codec, &PyBytes::new(py, data), self.ser),
        }
    }

    /// The next frame, or `None` on timeout. Waiting happens with the GIL
    /// released, in slices so that Ctrl-C works; the subscriber's lock is
    /// held during a slice (the core's wait needs it), so `close()` from
    /// another thread takes effect within a slice.
    fn recv_frame(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Got>> {
        let mut deadline = Deadline::new(timeout)?;
        let mut buf = Vec::new();
        let mut last = false;
        loop {
            match self.with(py, |raw| raw.try_recv_into(&mut buf))? {
                Ok((id, codec)) => return Ok(Some((id, codec, buf))),
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Corrupt(s)) => return Err(error(py, "SHMError", s)),
            }
            let deadline = deadline.get();
            if last || deadline.is_some_and(|d| Instant::now() >= d) {
                if self.ready.rearm(py, self) {
                    last = false;
                    continue; // arrived meanwhile
                }
                return Ok(None);
            }
            let woke = blocking(py, deadline, |until| {
                let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
                match g.as_mut() {
                    // Closed meanwhile: the next attempt reports it.
                    None => Some(()),
                    Some(raw) => raw.wait(Some(until)).then_some(()),
                }
            })?;
            // Timed out: one last look (a message may have come at the end).
            last = woke.is_none();
        }
    }
}
