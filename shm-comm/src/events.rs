//! Rare lifecycle events a program may want in its logs: a dead process's
//! segment replaced, a subscriber moved to a new publisher, work recovered
//! from a peer that died. The core reports them to one process-wide hook
//! (none by default); the Python package routes them to the `shmcomm.*`
//! loggers of shm-comm 1.0.0, a Rust program to `log`, `tracing` or stderr.
//!
//! Events come from the rare paths only (creating a channel, a subscriber's
//! health check, a queue's repair of a dead peer's cell), never from a send
//! or receive that finds what it expects, and then cost one read of the
//! hook.
//!
//! ```
//! use shm_comm::events::{self, Event};
//!
//! fn log(e: &Event) {
//!     eprintln!("shm-comm: {e}");
//! }
//! events::set_hook(Some(log));
//! ```

use std::cell::RefCell;
use std::fmt;
use std::sync::RwLock;

/// What happened. Displays as one log line.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A channel's segment, left by a creator that died (or died before
    /// writing its header: `pid` 0), was removed so a new one could be
    /// created under its name.
    Replaced {
        /// The channel.
        name: String,
        /// Its kind of segment: `"pub"` (a topic), `"svc"` (a service) or
        /// `"queue"`.
        role: String,
        /// The dead creator.
        pid: u32,
    },
    /// A subscriber whose publisher went away attached to the segment of
    /// the publisher that created the topic again.
    Reattached {
        /// The topic.
        name: String,
        /// The new publisher.
        pid: u32,
    },
    /// A process died in the middle of an operation on a channel, and what
    /// it held was recovered (a queue cell it was writing or reading).
    PeerDied {
        /// The channel (empty if not known where it was noticed).
        name: String,
        /// The dead process (or its participant token).
        pid: u32,
        /// What was recovered.
        what: &'static str,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Replaced { name, role, pid } => write!(
                f,
                "replaced the {role} segment of {name:?} left by dead process {pid}"
            ),
            Event::Reattached { name, pid } => write!(
                f,
                "subscriber of {name:?} attached to the new publisher (pid {pid})"
            ),
            Event::PeerDied { name, pid, what } => {
                write!(f, "peer {pid} of {name:?} died; recovered {what}")
            }
        }
    }
}

/// The hook: a plain function, called on the thread that noticed the
/// event, possibly while that thread is inside a shm-comm call. It must not
/// call back into shm-comm, and should be short (log and return).
pub type Hook = fn(&Event);

static HOOK: RwLock<Option<Hook>> = RwLock::new(None);

/// Sets the process-wide hook (`None` removes it).
pub fn set_hook(hook: Option<Hook>) {
    *HOOK.write().unwrap_or_else(|p| p.into_inner()) = hook;
}

thread_local! {
    /// The channel a repair on this thread works for (see [`on_channel`]).
    static CHANNEL: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f` with `name` as the channel of the events it reports without
/// knowing it (the queue, ring and mailbox work on bare regions).
pub(crate) fn on_channel<R>(name: &str, f: impl FnOnce() -> R) -> R {
    let old = CHANNEL.with(|c| c.replace(Some(name.to_owned())));
    let r = f();
    CHANNEL.with(|c| *c.borrow_mut() = old);
    r
}

/// The channel set by [`on_channel`] on this thread, or empty.
pub(crate) fn channel() -> String {
    CHANNEL.with(|c| c.borrow().clone().unwrap_or_default())
}

/// Reports `event()` to the hook, if one is set.
pub(crate) fn emit(event: impl FnOnce() -> Event) {
    let hook = *HOOK.read().unwrap_or_else(|p| p.into_inner());
    if let Some(hook) = hook {
        hook(&event());
    }
}
