//! Readiness from Python: `fileno()` on every receiving end (and on a
//! `Pusher`, for room), and the private calls `shm_comm.asyncio` and the
//! `Poller` build on (`_arm`, `_drain`, `_try_recv`, `_cancel`).
//!
//! A handle makes its doorbell (a [`Bell`] and one [`Watch`] on its
//! channel) on the first `fileno()`; until then nothing here costs the
//! message path anything. A receive that finds nothing (`timeout=0` or a
//! timeout that ran out) drains the bell and arms it again, and if the
//! arming finds something after all, takes it: that is the re-check rule
//! of `shm_comm::bells`, done where the caller cannot forget it.

use std::sync::Mutex;

use pyo3::prelude::*;

use shm_comm::bells::{Bell, Watch};

use crate::handle::lock;
use crate::pipeline::{Puller, Pusher};
use crate::pubsub::Subscriber;
use crate::reqrep::{Replier, Requester};
use crate::{decode, error};

/// A handle's own doorbell, made by its first `fileno()`.
#[derive(Default)]
pub(crate) struct Ready(Mutex<Option<Doorbell>>);

struct Doorbell {
    bell: Bell,
    watch: Watch,
}

/// A channel end whose watch can be armed (see `shm_comm::bells`).
pub(crate) trait Armable {
    /// Arms `watch` on the channel: `true` if there is something to take
    /// already (or the handle is closed: the next call says so).
    fn arm_watch(&self, py: Python<'_>, watch: &mut Watch) -> bool;
}

impl Ready {
    /// Runs `f` on the doorbell, made first if needed.
    pub(crate) fn with<R>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&Bell, &mut Watch) -> R,
    ) -> PyResult<R> {
        let mut g = lock(py, &self.0);
        let d = match g.take() {
            Some(d) => d,
            None => {
                let bell = Bell::new().map_err(|e| error(py, "SHMError", e.to_string()))?;
                let watch = bell
                    .watch()
                    .map_err(|e| error(py, "SHMError", e.to_string()))?;
                Doorbell { bell, watch }
            }
        };
        let d = g.insert(d);
        Ok(f(&d.bell, &mut d.watch))
    }

    /// After a receive found nothing: if `fileno()` made a doorbell,
    /// drains it and arms it again. `true` if the arming found something
    /// (it may have come after the receive looked): take it.
    pub(crate) fn rearm(&self, py: Python<'_>, handle: &impl Armable) -> bool {
        let mut g = lock(py, &self.0);
        match g.as_mut() {
            None => false,
            Some(d) => {
                d.bell.drain();
                handle.arm_watch(py, &mut d.watch)
            }
        }
    }
}

/// `fileno`, `_arm` and `_drain` for `$class`, which implements
/// [`Armable`] and has a `ready: Ready` field.
macro_rules! readiness_surface {
    ($class:ident, $what:literal) => {
        #[pyo3::pymethods]
        impl $class {
            #[doc = concat!(
                        "The file descriptor of this handle's doorbell (made by the first call), ",
                        "for select, poll, epoll or an event loop: it becomes readable when ",
                        $what, ".\n\n",
                        "Edge-triggered, like ZeroMQ's ZMQ_FD: when it is readable, receive with ",
                        "timeout=0 until nothing comes, then wait on it again. The receive that ",
                        "finds nothing drains the descriptor and arms it again, so never wait ",
                        "without that empty receive first (this call arms it, but something that ",
                        "arrived before is not rung for). Readiness is a hint: a receive after a ",
                        "ring may find nothing (another puller or replier was quicker). The ",
                        "descriptor lives as long as this object; do not close it."
                    )]
            fn fileno(&self, py: pyo3::Python<'_>) -> pyo3::PyResult<i32> {
                self.ready.with(py, |bell, watch| {
                    $crate::ready::Armable::arm_watch(self, py, watch);
                    std::os::fd::AsRawFd::as_raw_fd(bell)
                })
            }

            /// Arms the doorbell of `fileno()`: `True` if something is
            /// there already (take it instead of waiting).
            fn _arm(&self, py: pyo3::Python<'_>) -> pyo3::PyResult<bool> {
                self.ready.with(py, |_, watch| {
                    $crate::ready::Armable::arm_watch(self, py, watch)
                })
            }

            /// Takes the rings of the doorbell of `fileno()`.
            fn _drain(&self, py: pyo3::Python<'_>) -> pyo3::PyResult<usize> {
                self.ready.with(py, |bell, _| bell.drain())
            }
        }
    };
}

pub(crate) use readiness_surface;

impl Armable for Subscriber {
    fn arm_watch(&self, py: Python<'_>, watch: &mut Watch) -> bool {
        match self.inner.lock(py).as_mut() {
            Some(st) => st.raw.arm(watch),
            None => true,
        }
    }
}

impl Armable for Puller {
    fn arm_watch(&self, py: Python<'_>, watch: &mut Watch) -> bool {
        if self.held.has(py) {
            return true;
        }
        match lock(py, &self.inner).as_ref() {
            Some(raw) => raw.arm(watch),
            None => true,
        }
    }
}

impl Armable for Pusher {
    fn arm_watch(&self, py: Python<'_>, watch: &mut Watch) -> bool {
        match lock(py, &self.inner).as_ref() {
            Some(raw) => raw.arm_room(watch),
            None => true,
        }
    }
}

impl Armable for Replier {
    fn arm_watch(&self, py: Python<'_>, watch: &mut Watch) -> bool {
        if self.held.has(py) {
            return true;
        }
        match lock(py, &self.inner).as_ref() {
            Some(st) => st.raw.raw().arm(watch),
            None => true,
        }
    }
}

impl Armable for Requester {
    fn arm_watch(&self, py: Python<'_>, watch: &mut Watch) -> bool {
        if self.held.has(py) {
            return true;
        }
        match lock(py, &self.inner).as_ref() {
            Some(st) => match &st.pending {
                Some(p) => st.raw.raw().arm_reply(p, watch),
                // Nothing to wait for: a receive says so at once.
                None => true,
            },
            None => true,
        }
    }
}

readiness_surface!(Subscriber, "a message may have been published");
readiness_surface!(Puller, "a job may be queued");
readiness_surface!(Pusher, "the queue may have room for a job");
readiness_surface!(Replier, "a request may be queued");
readiness_surface!(
    Requester,
    "the reply to the pending request (of send() or an async request) may be there"
);

#[pymethods]
impl Subscriber {
    /// The next message as `(msg,)` if one is there, else `None` (never
    /// waits; a message that is `None` comes back as `(None,)`).
    fn _try_recv<'py>(&self, py: Python<'py>) -> PyResult<Option<(Bound<'py, PyAny>,)>> {
        if let Some(plan) = self.plan.get() {
            // A typed message is never `None`.
            let m = self.recv_typed(py, Some(0.0), plan)?;
            return Ok((!m.is_none()).then_some((m,)));
        }
        match self.recv_frame(py, Some(0.0))? {
            Some((codec, data)) => Ok(Some((decode(py, codec, &data, self.ser)?,))),
            None => Ok(None),
        }
    }
}

#[pymethods]
impl Puller {
    /// The next job as `(job,)` if one is there, else `None` (never waits).
    fn _try_recv<'py>(&self, py: Python<'py>) -> PyResult<Option<(Bound<'py, PyAny>,)>> {
        match self.take(py, Some(0.0))? {
            f @ Some(_) => Ok(Some((self.held.decoded(py, f, self.ser)?,))),
            None => Ok(None),
        }
    }
}

#[pymethods]
impl Replier {
    /// The next request as `(req,)` if one is there, else `None` (never
    /// waits).
    fn _try_recv<'py>(&self, py: Python<'py>) -> PyResult<Option<(Bound<'py, PyAny>,)>> {
        match self.take(py, Some(0.0))? {
            f @ Some(_) => Ok(Some((self.held.decoded(py, f, self.ser)?,))),
            None => Ok(None),
        }
    }
}

#[pymethods]
impl Requester {
    /// The reply to the pending request as `(rep,)` if it is there, else
    /// `None` (never waits).
    fn _try_recv<'py>(&self, py: Python<'py>) -> PyResult<Option<(Bound<'py, PyAny>,)>> {
        match self.wait(py, Some(0.0))? {
            f @ Some(_) => Ok(Some((self.held.decoded(py, f, self.ser)?,))),
            None => Ok(None),
        }
    }

    /// Withdraws the pending request: a reply that comes later is
    /// discarded.
    fn _cancel(&self, py: Python<'_>) {
        self.cancel(py);
    }
}
