//! The core's lifecycle events (`shm_comm::events`) as log records under
//! the logger names of shm-comm 1.0.0: a replaced segment and a dead peer
//! at WARNING, a subscriber that moved to a new publisher at INFO.
//!
//! The core calls its hook on whatever thread noticed the event, often
//! with the GIL released and a channel lock held, so the hook only queues
//! the event; the queue is logged, with the GIL held, when a blocking call
//! of this module ends a slice of waiting and when an endpoint has been
//! made (`_flush_events`, from the package's lifecycle logging). Nothing of
//! this runs on a send or receive that finds what it expects beyond one
//! relaxed load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use pyo3::prelude::*;
use shm_comm::events::{self, Event};

/// Events waiting to be logged; at most `MAX_QUEUED` (the rest counted).
static QUEUED: Mutex<(Vec<Event>, u64)> = Mutex::new((Vec::new(), 0));
/// Set when `QUEUED` holds something (Relaxed: a hint; the mutex orders
/// the events themselves).
static PENDING: AtomicBool = AtomicBool::new(false);
const MAX_QUEUED: usize = 256;

fn queue(e: &Event) {
    let mut q = QUEUED.lock().unwrap_or_else(|p| p.into_inner());
    if q.0.len() < MAX_QUEUED {
        q.0.push(e.clone());
    } else {
        q.1 += 1;
    }
    PENDING.store(true, Ordering::Relaxed);
}

/// Installs the hook (once, when the module is imported).
pub(crate) fn install() {
    events::set_hook(Some(queue));
}

/// Logs the queued events, if any.
pub(crate) fn flush(py: Python<'_>) {
    if !PENDING.load(Ordering::Relaxed) {
        return;
    }
    PENDING.store(false, Ordering::Relaxed);
    let (list, dropped) = {
        let mut q = QUEUED.lock().unwrap_or_else(|p| p.into_inner());
        (std::mem::take(&mut q.0), std::mem::take(&mut q.1))
    };
    // Logging must never turn into an error of the call that flushed.
    let _ = log_all(py, &list, dropped);
}

fn logger_of(e: &Event) -> (&'static str, u32) {
    const INFO: u32 = 20;
    const WARNING: u32 = 30;
    match e {
        Event::Replaced { role, .. } => (
            match role.as_str() {
                "svc" => "shmcomm.reqrep",
                "queue" => "shmcomm.pipeline",
                _ => "shmcomm.pubsub",
            },
            WARNING,
        ),
        Event::Reattached { .. } => ("shmcomm.pubsub", INFO),
        Event::PeerDied { .. } => ("shmcomm.pipeline", WARNING),
        _ => ("shmcomm", INFO),
    }
}

fn log_all(py: Python<'_>, list: &[Event], dropped: u64) -> PyResult<()> {
    let logging = py.import("logging")?;
    for e in list {
        let (name, level) = logger_of(e);
        let logger = logging.call_method1("getLogger", (name,))?;
        logger.call_method1("log", (level, "%s", e.to_string()))?;
    }
    if dropped > 0 {
        logging
            .call_method1("getLogger", ("shmcomm",))?
            .call_method1(
                "warning",
                ("%d more shm-comm events were not logged", dropped),
            )?;
    }
    Ok(())
}

/// Logs the events queued so far (the package calls it after making an
/// endpoint).
#[pyfunction(name = "_flush_events")]
pub(crate) fn flush_events(py: Python<'_>) {
    flush(py);
}
