//! Waiting for many channels (and file descriptors) at once: a [`Poller`]
//! over anything [`Waitable`], built on one [`Bell`].
//!
//! ```no_run
//! use std::time::Duration;
//! use shm_comm::poll::{Poller, Waitable};
//! use shm_comm::pubsub::DynSubscriber;
//!
//! let mut imu = DynSubscriber::connect("robot/imu")?;
//! let mut odom = DynSubscriber::connect("robot/odom")?;
//! let mut poller = Poller::new()?;
//! loop {
//!     let ready = poller.poll(&mut [&mut imu, &mut odom], Some(Duration::from_secs(1)))?;
//!     for i in ready.items {
//!         // Take everything there is: readiness is edge-triggered.
//!         let sub = if i == 0 { &mut imu } else { &mut odom };
//!         while let Ok(frame) = sub.try_recv() {
//!             println!("{i}: {} bytes", frame.data.len());
//!         }
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use crate::bells::{Bell, Watch};
use crate::message::ShmMessage;
use crate::multipub::{DynMultiSubscriber, MultiSubscriber, RawMultiSubscriber};
use crate::pipeline::{DynPuller, Puller};
use crate::pubsub::{DynSubscriber, RawSubscriber, Subscriber};
use crate::reqrep::{DynReplier, RawReplier, Replier};

/// A receiving end a [`Poller`] can wait on.
pub trait Waitable {
    /// Arms `watch` on the channel; `true` if something is there already.
    fn arm(&mut self, watch: &mut Watch) -> bool;
}

impl Waitable for RawSubscriber {
    fn arm(&mut self, watch: &mut Watch) -> bool {
        RawSubscriber::arm(self, watch)
    }
}

impl<T: ShmMessage> Waitable for Subscriber<T> {
    fn arm(&mut self, watch: &mut Watch) -> bool {
        self.raw_mut().arm(watch)
    }
}

impl Waitable for DynSubscriber {
    fn arm(&mut self, watch: &mut Watch) -> bool {
        self.raw_mut().arm(watch)
    }
}

impl Waitable for RawMultiSubscriber {
    fn arm(&mut self, watch: &mut Watch) -> bool {
        RawMultiSubscriber::arm(self, watch)
    }
}

impl<T: ShmMessage> Waitable for MultiSubscriber<T> {
    fn arm(&mut self, watch: &mut Watch) -> bool {
        self.raw_mut().arm(watch)
    }
}

impl Waitable for DynMultiSubscriber {
    fn arm(&mut self, watch: &mut Watch) -> bool {
        self.raw_mut().arm(watch)
    }
}

impl<T: ShmMessage> Waitable for Puller<T> {
    fn arm(&mut self, watch: &mut Watch) -> bool {
        Puller::arm(self, watch)
    }
}

impl Waitable for DynPuller {
    fn arm(&mut self, watch: &mut Watch) -> bool {
        DynPuller::arm(self, watch)
    }
}

impl Waitable for RawReplier {
    fn arm(&mut self, watch: &mut Watch) -> bool {
        RawReplier::arm(self, watch)
    }
}

impl<Req: ShmMessage, Rep: ShmMessage> Waitable for Replier<Req, Rep> {
    fn arm(&mut self, watch: &mut Watch) -> bool {
        self.raw().arm(watch)
    }
}

impl Waitable for DynReplier {
    fn arm(&mut self, watch: &mut Watch) -> bool {
        self.raw().arm(watch)
    }
}

impl<W: Waitable + ?Sized> Waitable for &mut W {
    fn arm(&mut self, watch: &mut Watch) -> bool {
        (**self).arm(watch)
    }
}

/// How long a poll sleeps at most before arming its channels again: a
/// subscriber whose publisher went away (and was replaced without a word)
/// is looked at again this often.
const HEALTH: Duration = Duration::from_secs(1);

/// What [`Poller::poll`] found ready.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// Indices, into the slice given to `poll`, of the channels that may
    /// have something to take.
    pub items: Vec<usize>,
    /// The registered file descriptors that are readable.
    pub fds: Vec<RawFd>,
}

impl Ready {
    /// `true` if nothing is ready (the poll timed out).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.fds.is_empty()
    }
}

/// Waits for any of several channels and file descriptors (see the
/// [module docs](self)). The channels are passed to each [`poll`](Self::poll)
/// (so that the caller keeps them between polls, to receive); the same
/// position should hold the same channel from one poll to the next (each
/// position keeps its slot on the doorbell board). File descriptors are
/// registered.
#[derive(Debug)]
pub struct Poller {
    bell: Bell,
    watches: Vec<Watch>,
    fds: Vec<RawFd>,
}

impl Poller {
    /// A poller with its own doorbell.
    pub fn new() -> io::Result<Poller> {
        Ok(Poller {
            bell: Bell::new()?,
            watches: Vec::new(),
            fds: Vec::new(),
        })
    }

    /// Also waits for `fd` to be readable (a socket, a timerfd, ...).
    pub fn add_fd(&mut self, fd: RawFd) {
        if !self.fds.contains(&fd) {
            self.fds.push(fd);
        }
    }

    /// Stops waiting for `fd`.
    pub fn remove_fd(&mut self, fd: RawFd) {
        self.fds.retain(|&f| f != fd);
    }

    /// Waits until one of `items` may have something to take, or a
    /// registered fd is readable, at most `timeout` (forever if `None`).
    /// Returns what is ready, empty on timeout. Readiness is a hint, and
    /// edge-triggered: take everything a ready channel has, or the next
    /// poll reports it again at once (it is re-checked on every poll).
    pub fn poll(
        &mut self,
        items: &mut [&mut dyn Waitable],
        timeout: Option<Duration>,
    ) -> io::Result<Ready> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        while self.watches.len() < items.len() {
            self.watches.push(self.bell.watch()?);
        }
        let mut fds = Vec::with_capacity(1 + self.fds.len());
        fds.push(self.bell.as_raw_fd());
        fds.extend_from_slice(&self.fds);
        loop {
            // Take the rings so far, then arm everything and look: what
            // arrives after its arming rings the bell again.
            self.bell.drain();
            let mut ready = Ready::default();
            for (i, (item, watch)) in items.iter_mut().zip(&mut self.watches).enumerate() {
                if item.arm(watch) {
                    ready.items.push(i);
                }
            }
            let now = Instant::now();
            let left = deadline.map(|d| d.saturating_duration_since(now));
            let wait = if ready.items.is_empty() {
                Some(left.map_or(HEALTH, |l| l.min(HEALTH)))
            } else {
                Some(Duration::ZERO)
            };
            let readable = crate::platform::poll_readable(&fds, wait)?;
            ready.fds = fds[1..]
                .iter()
                .zip(&readable[1..])
                .filter(|(_, &r)| r)
                .map(|(&fd, _)| fd)
                .collect();
            if !ready.is_empty() || left == Some(Duration::ZERO) {
                return Ok(ready);
            }
            // The bell rang (look again), or a health slice ended.
        }
    }

    /// The poller's doorbell, to wait on it from another event loop.
    pub fn bell(&self) -> &Bell {
        &self.bell
    }
}
