//! `Poller`: waits for any of many handles and file descriptors, with
//! pyzmq's surface (`register`, `modify`, `unregister`, `poll`).
//!
//! One doorbell for the whole poller, as `shm_comm::poll::Poller` does: each
//! registered handle has a slot on the board ringing it. A poll drains the
//! bell, arms every slot and looks at every channel, then sleeps in
//! `poll(2)` on the bell and the registered descriptors, with the GIL
//! released, in slices of at most 100 ms (Ctrl-C is checked between them).
//! It arms again when the bell rang or after a 1 s health slice (a
//! subscriber whose publisher was replaced is found then), so an idle
//! poller costs one wake-up per 100 ms whatever it watches.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use shm_comm::bells::{Bell, Watch};

use crate::handle::lock;
use crate::multipub::MultiSubscriber;
use crate::pipeline::{Puller, Pusher};
use crate::pubsub::Subscriber;
use crate::ready::Armable;
use crate::reqrep::{Replier, Requester};
use crate::{error, SIGNAL_SLICE};

/// Ready to receive (a handle may have something to take; a descriptor is
/// readable). pyzmq's value.
pub(crate) const POLLIN: u8 = 1;
/// Ready to send (a `Pusher`'s queue has room; a descriptor is writable).
pub(crate) const POLLOUT: u8 = 2;
/// An error condition on a descriptor (hang-up, invalid descriptor).
pub(crate) const POLLERR: u8 = 4;

/// How often a waiting poll arms its channels again though its bell did
/// not ring (as `shm_comm::poll`'s health slice).
const HEALTH: Duration = Duration::from_secs(1);

/// Which kind of handle an item is, with the flag it can be ready for.
#[derive(Clone, Copy)]
enum Kind {
    Subscriber,
    MultiSubscriber,
    Puller,
    Replier,
    Requester,
    Pusher,
}

impl Kind {
    fn of(obj: &Bound<'_, PyAny>) -> Option<Kind> {
        if obj.cast::<Subscriber>().is_ok() {
            Some(Kind::Subscriber)
        } else if obj.cast::<MultiSubscriber>().is_ok() {
            Some(Kind::MultiSubscriber)
        } else if obj.cast::<Puller>().is_ok() {
            Some(Kind::Puller)
        } else if obj.cast::<Replier>().is_ok() {
            Some(Kind::Replier)
        } else if obj.cast::<Requester>().is_ok() {
            Some(Kind::Requester)
        } else if obj.cast::<Pusher>().is_ok() {
            Some(Kind::Pusher)
        } else {
            None
        }
    }

    fn flag(self) -> u8 {
        match self {
            Kind::Pusher => POLLOUT,
            _ => POLLIN,
        }
    }

    /// Arms `watch` on `obj` (of this kind): `true` if it has something.
    fn arm(self, obj: &Bound<'_, PyAny>, watch: &mut Watch) -> bool {
        let py = obj.py();
        match self {
            Kind::Subscriber => obj
                .cast::<Subscriber>()
                .is_ok_and(|h| h.get().arm_watch(py, watch)),
            Kind::MultiSubscriber => obj
                .cast::<MultiSubscriber>()
                .is_ok_and(|h| h.get().arm_watch(py, watch)),
            Kind::Puller => obj
                .cast::<Puller>()
                .is_ok_and(|h| h.get().arm_watch(py, watch)),
            Kind::Replier => obj
                .cast::<Replier>()
                .is_ok_and(|h| h.get().arm_watch(py, watch)),
            Kind::Requester => obj
                .cast::<Requester>()
                .is_ok_and(|h| h.get().arm_watch(py, watch)),
            Kind::Pusher => obj
                .cast::<Pusher>()
                .is_ok_and(|h| h.get().arm_watch(py, watch)),
        }
    }
}

enum Target {
    /// One of our handles, with the poller's slot on its channel.
    Handle(Kind, Watch),
    /// A file descriptor (an int, or what the object's `fileno()` gave).
    Fd(i32),
}

struct Item {
    obj: Py<PyAny>,
    flags: u8,
    target: Target,
}

struct State {
    bell: Bell,
    items: Vec<Item>,
}

/// Waits for any of many handles and file descriptors (pyzmq's `Poller`).
///
/// `register(obj, flags=POLLIN)` takes a Subscriber, Puller, Replier or
/// Requester (POLLIN: something may be there to receive), a Pusher
/// (POLLOUT: its queue has room), an int file descriptor or an object with
/// `fileno()` (POLLIN, POLLOUT or both). `poll(timeout_ms=None)` returns
/// `[(obj, flags), ...]` of what is ready, `[]` on timeout. Readiness of a
/// handle is a hint: receive from it with `timeout=0` until nothing comes
/// (a handle left with messages is reported again by the next poll). One
/// poller is for one thread at a time; polls release the GIL and stop for
/// Ctrl-C within 100 ms.
#[pyclass(subclass, frozen, module = "shm_comm._native")]
pub(crate) struct Poller {
    inner: Mutex<State>,
}

fn same(a: &Bound<'_, PyAny>, b: &Bound<'_, PyAny>) -> bool {
    a.is(b) || a.eq(b).unwrap_or(false)
}

#[pymethods]
impl Poller {
    #[new]
    fn new(py: Python<'_>) -> PyResult<Self> {
        let bell = Bell::new().map_err(|e| error(py, "SHMError", e.to_string()))?;
        Ok(Poller {
            inner: Mutex::new(State {
                bell,
                items: Vec::new(),
            }),
        })
    }

    /// Waits for `obj` (a handle, an int fd or an object with `fileno()`)
    /// to be ready for `flags` (POLLIN, POLLOUT or both; 0 unregisters).
    /// Registering an object again changes its flags.
    #[pyo3(signature = (obj, flags=1))] // 1: POLLIN
    fn register(&self, py: Python<'_>, obj: &Bound<'_, PyAny>, flags: u8) -> PyResult<()> {
        if flags == 0 {
            return self.unregister(py, obj).or_else(|e| {
                if e.is_instance_of::<PyKeyError>(py) {
                    Ok(())
                } else {
                    Err(e)
                }
            });
        }
        if flags & !(POLLIN | POLLOUT | POLLERR) != 0 {
            return Err(PyValueError::new_err(format!(
                "unknown poll flags {flags:#x}"
            )));
        }
        let kind = Kind::of(obj);
        if let Some(k) = kind {
            if flags & k.flag() == 0 {
                let (name, flag) = if k.flag() == POLLOUT {
                    ("a Pusher", "POLLOUT (room in its queue)")
                } else {
                    ("a receiving handle", "POLLIN")
                };
                return Err(PyValueError::new_err(format!(
                    "{name} can only be polled for {flag}, not flags {flags:#x}"
                )));
            }
        }
        let mut st = lock(py, &self.inner);
        if let Some(it) = st.items.iter_mut().find(|i| same(i.obj.bind(py), obj)) {
            it.flags = flags;
            return Ok(());
        }
        let target = match kind {
            Some(k) => {
                let watch = st
                    .bell
                    .watch()
                    .map_err(|e| error(py, "SHMError", e.to_string()))?;
                Target::Handle(k, watch)
            }
            None => Target::Fd(fd_of(obj)?),
        };
        st.items.push(Item {
            obj: obj.clone().unbind(),
            flags,
            target,
        });
        Ok(())
    }

    /// Changes the flags of a registered `obj`.
    #[pyo3(signature = (obj, flags=1))] // 1: POLLIN
    fn modify(&self, py: Python<'_>, obj: &Bound<'_, PyAny>, flags: u8) -> PyResult<()> {
        self.register(py, obj, flags)
    }

    /// Stops waiting for `obj`; `KeyError` if it is not registered.
    fn unregister(&self, py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<()> {
        let removed = {
            let mut st = lock(py, &self.inner);
            let i = st.items.iter().position(|i| same(i.obj.bind(py), obj));
            i.map(|i| st.items.remove(i))
        };
        // Dropped after the lock: its object's finalizer may run.
        match removed {
            Some(_) => Ok(()),
            None => Err(PyKeyError::new_err(format!("{obj} is not registered"))),
        }
    }

    /// The registered objects and their flags, in registration order.
    #[getter]
    fn sockets(&self, py: Python<'_>) -> Vec<(Py<PyAny>, u8)> {
        lock(py, &self.inner)
            .items
            .iter()
            .map(|i| (i.obj.clone_ref(py), i.flags))
            .collect()
    }

    /// Waits up to `timeout` milliseconds (`None` or negative: forever; 0:
    /// looks once) for a registered object to be ready; returns
    /// `[(obj, flags), ...]`, `[]` on timeout.
    #[pyo3(signature = (timeout=None))]
    fn poll(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Vec<(Py<PyAny>, u8)>> {
        let deadline = match timeout {
            Some(t) if t.is_nan() => return Err(PyValueError::new_err("timeout is NaN")),
            Some(t) if t >= 0.0 => {
                Instant::now().checked_add(Duration::from_secs_f64((t / 1000.0).min(1e9)))
            }
            _ => None,
        };
        let st = lock(py, &self.inner);
        let mut fds: Vec<libc::pollfd> = std::iter::once(pollfd(st.bell.as_raw_fd(), POLLIN))
            .chain(st.items.iter().filter_map(|i| match i.target {
                Target::Fd(fd) => Some(pollfd(fd, i.flags)),
                Target::Handle(..) => None,
            }))
            .collect();
        let mut st = st;
        loop {
            st.bell.drain();
            let mut ready = Vec::new();
            for it in &mut st.items {
                if let Target::Handle(kind, watch) = &mut it.target {
                    if kind.arm(it.obj.bind(py), watch) {
                        ready.push((it.obj.clone_ref(py), kind.flag()));
                    }
                }
            }
            let rearm_at = Instant::now() + HEALTH;
            loop {
                let now = Instant::now();
                let wait = if ready.is_empty() {
                    [
                        Some(SIGNAL_SLICE),
                        Some(rearm_at.saturating_duration_since(now)),
                    ]
                    .into_iter()
                    .chain([deadline.map(|d| d.saturating_duration_since(now))])
                    .flatten()
                    .min()
                    .unwrap_or(Duration::ZERO)
                } else {
                    Duration::ZERO
                };
                py.detach(|| poll_fds(&mut fds, wait))
                    .map_err(|e| error(py, "SHMError", format!("poll: {e}")))?;
                let mut raw = fds[1..].iter();
                for it in &st.items {
                    if let Target::Fd(_) = it.target {
                        // Errors are reported even if not asked for, as
                        // poll(2) does.
                        let got =
                            raw.next().map_or(0, |f| revents(f.revents)) & (it.flags | POLLERR);
                        if got != 0 {
                            ready.push((it.obj.clone_ref(py), got));
                        }
                    }
                }
                if !ready.is_empty() {
                    return Ok(ready);
                }
                py.check_signals()?;
                let now = Instant::now();
                if deadline.is_some_and(|d| now >= d) {
                    return Ok(ready);
                }
                if fds[0].revents != 0 || now >= rearm_at {
                    break; // the bell rang, or a health slice ended: arm again
                }
            }
        }
    }

    /// The poller's doorbell and the registered descriptors with their
    /// flags, for `shm_comm.asyncio.Poller` (which waits on them in its
    /// event loop after a `poll(0)`).
    fn _fds(&self, py: Python<'_>) -> (i32, Vec<(i32, u8)>) {
        let st = lock(py, &self.inner);
        let fds = st
            .items
            .iter()
            .filter_map(|i| match i.target {
                Target::Fd(fd) => Some((fd, i.flags)),
                Target::Handle(..) => None,
            })
            .collect();
        (st.bell.as_raw_fd(), fds)
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        lock(py, &self.inner).items.len()
    }
}

/// The descriptor of an int or of an object with `fileno()`.
fn fd_of(obj: &Bound<'_, PyAny>) -> PyResult<i32> {
    let fd: i32 = match obj.extract() {
        Ok(fd) => fd,
        Err(_) if obj.hasattr("fileno")? => obj.call_method0("fileno")?.extract()?,
        Err(_) => {
            return Err(PyTypeError::new_err(format!(
                "cannot poll {}: not a shm_comm handle, an int fd or an object with fileno()",
                obj.get_type().name()?
            )))
        }
    };
    if fd < 0 {
        return Err(PyValueError::new_err(format!(
            "invalid file descriptor {fd}"
        )));
    }
    Ok(fd)
}

fn pollfd(fd: i32, flags: u8) -> libc::pollfd {
    let mut events = 0;
    if flags & POLLIN != 0 {
        events |= libc::POLLIN;
    }
    if flags & POLLOUT != 0 {
        events |= libc::POLLOUT;
    }
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// `poll(2)`'s revents as our flags.
fn revents(r: libc::c_short) -> u8 {
    let mut f = 0;
    if r & (libc::POLLIN | libc::POLLHUP) != 0 {
        f |= POLLIN;
    }
    if r & libc::POLLOUT != 0 {
        f |= POLLOUT;
    }
    if r & (libc::POLLERR | libc::POLLNVAL) != 0 {
        f |= POLLERR;
    }
    f
}

/// Waits up to `wait` for any of `fds`, filling their `revents`. An
/// interrupted wait (a signal) returns with none set.
fn poll_fds(fds: &mut [libc::pollfd], wait: Duration) -> io::Result<()> {
    for f in fds.iter_mut() {
        f.revents = 0;
    }
    let ts = libc::timespec {
        tv_sec: wait.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: libc::c_long::from(wait.subsec_nanos() as i32),
    };
    // SAFETY: `fds` is an exclusively borrowed array of `fds.len()`
    // initialized pollfd structs, which ppoll reads and whose `revents` it
    // writes, and `ts` a valid timespec; both outlive the call. A null
    // signal mask leaves the thread's mask as it is.
    let rc = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &ts,
            std::ptr::null(),
        )
    };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(());
        }
        return Err(e);
    }
    Ok(())
}
