//! REQ/REP: `Requester` and `Replier`, with the original 1.0.0 signatures.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use shm_comm::codec::Codec;
use shm_comm::reqrep::{
    Call, DynReplier, DynRequester, Pending, RequestError, RequesterOptions, ServiceOptions,
};
use shm_comm::RecvTimeoutError;

use crate::handle::{connect_with, handle_surface, lock, stats_dict, Held};
use crate::ready::Ready;
use crate::{
    blocking, check_timeout, closed, create_error, deadline, error, too_large, Buffer, Ser,
};

pub(crate) struct ReqState {
    pub(crate) raw: Arc<DynRequester>,
    pub(crate) pending: Option<Pending>,
}

/// Calls a service: `request(obj, timeout=5.0)`, or `send(obj)` then
/// `recv(timeout)`. Each reply is the one to this requester's latest request.
#[pyclass(subclass, frozen, module = "shm_comm._native")]
pub(crate) struct Requester {
    name: String,
    pub(crate) ser: Ser,
    pub(crate) inner: Mutex<Option<ReqState>>,
    pub(crate) held: Held,
    /// The bell of `fileno()`, made by its first call.
    pub(crate) ready: Ready,
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
            DynRequester::connect_with(name, RequesterOptions::with_timeout(left))
        })?;
        Ok(Requester {
            name: name.to_owned(),
            ser,
            inner: Mutex::new(Some(ReqState {
                raw: Arc::new(raw),
                pending: None,
            })),
            held: Held::default(),
            ready: Ready::default(),
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
        let frame = self.wait(py, timeout)?;
        self.held.decoded(py, frame, self.ser)
    }

    /// The reply as raw bytes, or `None` on timeout.
    #[pyo3(signature = (timeout=None))]
    fn recv_bytes<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let frame = self.wait(py, timeout)?;
        self.held.raw(py, frame)
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
            frame @ Some(_) => self.held.decoded(py, frame, self.ser),
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
}

handle_surface!(Requester);

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

    pub(crate) fn cancel(&self, py: Python<'_>) {
        if let Some(st) = lock(py, &self.inner).as_mut() {
            if let Some(p) = st.pending.take() {
                st.raw.raw().cancel(p);
            }
        }
    }

    /// The reply (or `None` on timeout); a receive that finds nothing
    /// arms the bell of `fileno()` again, if there is one.
    pub(crate) fn wait(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
    ) -> PyResult<Option<(Codec, Vec<u8>)>> {
        check_timeout("timeout", timeout)?;
        if let Some(held) = self.held.take(py) {
            return Ok(Some(held));
        }
        let mut deadline = deadline(timeout)?;
        loop {
            match self.wait_until(py, deadline)? {
                None if self.ready.rearm(py, self) => deadline = Some(Instant::now()),
                got => return Ok(got),
            }
        }
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

pub(crate) struct RepState {
    pub(crate) raw: Arc<DynReplier>,
    last: Option<Call>,
}

/// Serves a service: `recv(timeout)` a request, then `send(reply)`.
/// `Replier(name, num_slots=16, slot_size=8192, serialization="pickle")`.
/// Several repliers may serve one service; each request is answered once.
#[pyclass(subclass, frozen, module = "shm_comm._native")]
pub(crate) struct Replier {
    name: String,
    pub(crate) ser: Ser,
    pub(crate) inner: Mutex<Option<RepState>>,
    pub(crate) held: Held,
    /// The bell of `fileno()`, made by its first call.
    pub(crate) ready: Ready,
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
            .detach(|| DynReplier::create_with(name, opts))
            .map_err(|e| create_error(py, e))?;
        Ok(Replier {
            name: name.to_owned(),
            ser,
            inner: Mutex::new(Some(RepState {
                raw: Arc::new(raw),
                last: None,
            })),
            held: Held::default(),
            ready: Ready::default(),
        })
    }

    /// The next request, deserialized, or `None` on timeout.
    #[pyo3(signature = (timeout=None))]
    fn recv<'py>(&self, py: Python<'py>, timeout: Option<f64>) -> PyResult<Bound<'py, PyAny>> {
        let frame = self.take(py, timeout)?;
        self.held.decoded(py, frame, self.ser)
    }

    /// The next request as raw bytes, or `None` on timeout.
    #[pyo3(signature = (timeout=None))]
    fn recv_bytes<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let frame = self.take(py, timeout)?;
        self.held.raw(py, frame)
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
}

handle_surface!(Replier);

impl Replier {
    /// The next request (or `None` on timeout); a receive that finds
    /// nothing arms the bell of `fileno()` again, if there is one.
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
            .map(|d| d.is_delivered())
            .map_err(|shm_comm::reqrep::ReplyError::TooLarge { len, max }| too_large(py, len, max))
    }
}
