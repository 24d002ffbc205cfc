//! PUSH/PULL: `Pusher` and `Puller`, with the original 1.0.0 signatures.

use std::sync::Mutex;
use std::time::Instant;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use shm_comm::codec::Codec;
use shm_comm::pipeline::{DynPuller, DynPusher, PullerOptions, QueueOptions};
use shm_comm::{DynSendTimeoutError, DynTrySendError, RecvTimeoutError, TryRecvError};

use crate::handle::{connect_with, handle_surface, lock, stats_dict, Held};
use crate::ready::Ready;
use crate::{
    blocking, check_timeout, closed, create_error, deadline, error, too_large, Buffer, Ser,
};

/// Pushes jobs onto a work queue; each job goes to exactly one puller.
/// `Pusher(name, num_slots=128, slot_size=4096, serialization="pickle")`.
#[pyclass(subclass, frozen, module = "shm_comm._native")]
pub(crate) struct Pusher {
    name: String,
    pub(crate) ser: Ser,
    pub(crate) inner: Mutex<Option<std::sync::Arc<DynPusher>>>,
    /// The bell of `fileno()`, made by its first call.
    pub(crate) ready: Ready,
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
            .detach(|| DynPusher::create_with(name, opts))
            .map_err(|e| create_error(py, e))?;
        Ok(Pusher {
            name: name.to_owned(),
            ser,
            inner: Mutex::new(Some(std::sync::Arc::new(raw))),
            ready: Ready::default(),
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

    /// `msg_count` (jobs waiting), `drop_count` (always 0: a queue never
    /// drops a job), `num_slots`, `slot_size`, `used_slots` (jobs waiting),
    /// `free_slots` (room for more), `pullers`.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let raw = self.handle(py)?;
        let geo = raw.geometry();
        let (num_slots, waiting) = (u64::from(geo.capacity), raw.len());
        let (head, tail) = raw.positions();
        stats_dict(
            py,
            &[
                ("head", head),
                ("tail", tail),
                ("msg_count", waiting),
                ("drop_count", 0),
                ("num_slots", num_slots),
                ("slot_size", u64::from(geo.max_payload)),
                ("used_slots", waiting.min(num_slots)),
                ("free_slots", num_slots.saturating_sub(waiting)),
                ("pullers", u64::from(raw.pullers())),
            ],
        )
    }

    /// Leaves the queue (removed when its last participant leaves). Idempotent.
    fn close(&self, py: Python<'_>) {
        lock(py, &self.inner).take();
    }
}

handle_surface!(Pusher);

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
        loop {
            match raw.try_send(data, codec) {
                Ok(()) => return Ok(true),
                Err(DynTrySendError::TooLarge { len, max }) => return Err(too_large(py, len, max)),
                // Full: `fileno()` users wait for the bell, armed again here.
                Err(DynTrySendError::Full) if !block && self.ready.rearm(py, self) => continue,
                Err(DynTrySendError::Full) if !block => return Ok(false),
                Err(DynTrySendError::Full) => break,
                Err(DynTrySendError::Corrupt(why)) => return Err(error(py, "SHMError", why)),
            }
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
                Err(DynSendTimeoutError::Timeout) => None,
                Err(e) => Some(Err(Some(e))),
            }
        })?;
        match got {
            Some(Ok(())) => Ok(true),
            Some(Err(None)) => Err(closed(py, "Pusher", &self.name)),
            Some(Err(Some(DynSendTimeoutError::TooLarge { len, max }))) => {
                Err(too_large(py, len, max))
            }
            Some(Err(Some(DynSendTimeoutError::Corrupt(why)))) => Err(error(py, "SHMError", why)),
            Some(Err(Some(DynSendTimeoutError::Timeout))) | None => Err(error(
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
    pub(crate) ser: Ser,
    pub(crate) inner: Mutex<Option<std::sync::Arc<DynPuller>>>,
    pub(crate) held: Held,
    /// The bell of `fileno()`, made by its first call.
    pub(crate) ready: Ready,
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
        let raw = connect_with(py, timeout_connect, |left| {
            DynPuller::connect_with(name, PullerOptions::with_timeout(left))
        })?;
        Ok(Puller {
            name: name.to_owned(),
            ser,
            inner: Mutex::new(Some(std::sync::Arc::new(raw))),
            held: Held::default(),
            ready: Ready::default(),
        })
    }

    /// The next job, deserialized, or `None` on timeout.
    #[pyo3(signature = (timeout=None))]
    fn recv<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let frame = self.take(py, timeout)?;
        self.held.decoded(py, frame, self.ser)
    }

    /// The next job as raw bytes, or `None` on timeout.
    #[pyo3(signature = (timeout=None))]
    fn recv_bytes<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let frame = self.take(py, timeout)?;
        self.held.raw(py, frame)
    }

    /// `msg_count` (jobs waiting), `drop_count` (always 0), `num_slots`,
    /// `slot_size`, `used_slots` (jobs waiting), `free_slots`.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let raw = self.handle(py)?;
        let geo = raw.geometry();
        let (num_slots, waiting) = (u64::from(geo.capacity), raw.len());
        let (head, tail) = raw.positions();
        stats_dict(
            py,
            &[
                ("head", head),
                ("tail", tail),
                ("msg_count", waiting),
                ("drop_count", 0),
                ("num_slots", num_slots),
                ("slot_size", u64::from(geo.max_payload)),
                ("used_slots", waiting.min(num_slots)),
                ("free_slots", num_slots.saturating_sub(waiting)),
            ],
        )
    }

    /// Leaves the queue. Idempotent.
    fn close(&self, py: Python<'_>) {
        lock(py, &self.inner).take();
    }
}

handle_surface!(Puller);

impl Puller {
    fn handle(&self, py: Python<'_>) -> PyResult<std::sync::Arc<DynPuller>> {
        lock(py, &self.inner)
            .clone()
            .ok_or_else(|| closed(py, "Puller", &self.name))
    }

    /// The next job (or `None` on timeout); a receive that finds nothing
    /// arms the bell of `fileno()` again, if there is one.
    pub(crate) fn take(
        &self,
        py: Python<'_>,
        mut timeout: Option<f64>,
    ) -> PyResult<Option<(Codec, Vec<u8>)>> {
        loop {
            match self.take_once(py, timeout)? {
                None if self.ready.rearm(py, self) => timeout = Some(0.0),
                got => return Ok(got),
            }
        }
    }

    fn take_once(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
    ) -> PyResult<Option<(Codec, Vec<u8>)>> {
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
