//! PUSH/PULL: a work queue. Any number of pushers and pullers; every job is
//! delivered to exactly one puller.
//!
//! ```
//! use shm_comm::{ShmMessage, pipeline::{Pusher, Puller}};
//! use std::time::Duration;
//!
//! #[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
//! #[repr(C)]
//! struct Job { id: u64, size: f64 }
//!
//! let pusher = Pusher::<Job>::create("doc/jobs")?;
//! let puller = Puller::<Job>::connect("doc/jobs")?;
//! pusher.send(Job { id: 1, size: 2.5 })?;
//! assert_eq!(puller.recv_timeout(Duration::from_secs(1))?.id, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Backpressure
//! The queue holds [`QueueOptions::capacity`] jobs. When it is full,
//! [`Pusher::try_send`] returns [`TrySendError::Full`] with the job,
//! [`Pusher::send_timeout`] waits (sleeping on a futex, not spinning) up to
//! its timeout and then returns [`SendTimeoutError::Timeout`] with the job,
//! and [`Pusher::send`] waits as long as it takes (its
//! [`BlockingSendError`] has no timeout). Every error that holds the job
//! gives it back with `into_inner()`. A typed job always fits its queue;
//! only a dynamic frame can be too large ([`DynTrySendError::TooLarge`]).
//! Nothing is dropped silently.
//! Like ZeroMQ's low-water mark, a waiting sender resumes once a run of
//! slots is free (an eighth of the queue, at most 32), or after 20 ms with
//! any room: resuming on every freed slot would have it and the puller
//! fight over the same cache lines, job after job (a third fewer jobs per
//! second in the benchmark). For the same reason a puller that keeps
//! finding jobs streaming in waits a moment, spinning, for a run of them
//! (an eighth of the queue, at most 128) before it takes a lone one: at
//! most two polls per job of the run, about 6 us for a queue of 1024 and
//! 0.8 us for the default 128. After a wait that found no run, and after an
//! idle spell, a job is taken as soon as it lands; a steady trickle just
//! slower than the puller has every other job wait out that patience.
//!
//! # Coming and going
//! The first pusher creates the queue (its options set the geometry); other
//! pushers join it. Pullers join an existing queue, waiting up to their
//! connect timeout for it. The queue lives as long as any participant
//! (pusher or puller) does, **and as long as it holds jobs**: a pusher may
//! send its jobs and exit (or be killed) before any puller has connected,
//! and a puller that comes later still gets every job. This is ZeroMQ's
//! `LINGER`, unlimited while jobs remain: the last participant to leave
//! removes the queue only if it is empty; a queue whose participants all
//! died is joined by the next pusher or puller (the dead ones pruned) if it
//! holds jobs, and replaced by the next pusher if it is empty. A queue whose
//! jobs nobody will ever take stays until a cleanup removes it by hand
//! ([`segment::force_unlink`](crate::segment::force_unlink)). A queue holds
//! on to a job a pusher died while writing (its `send` never returned) the
//! same way, until a puller skips it.
//!
//! # Crashes
//! A puller killed while taking a job (between claiming it and finishing the
//! copy out of shared memory) loses **that one job**; every other job is
//! delivered exactly once. A pusher killed while writing a job loses only
//! the job it was sending (its `send` never returned). Neither stalls the
//! queue: the next process that finds the dead one's cell in its way frees it.
//! See the [`queue`](crate::queue) module for the protocol.
//!
//! # Threads
//! Handles are `Send + Sync` and every operation takes `&self`: one pusher
//! or puller can be shared by several threads.

use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::codec::{Codec, Frame};
use crate::error::{
    forever, BlockingSendError, CreateError, DynSendTimeoutError, DynTrySendError, OpenError,
    RecvError, RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError,
};
use crate::layout::LayoutDescriptor;
use crate::message::{as_bytes, read_into, read_with, zeroed_box, ByValue, ShmMessage};
use crate::queue::{Geometry, PushError, Queue};
use crate::region::fill_vec;
use crate::segment::{ChannelKind, CreateSpec, CreatedOrJoined, OpenSpec, Payload, SharedSegment};

const ROLE: &str = "queue";
/// Participant role of pushers.
pub const PUSHER: u32 = 1;
/// Participant role of pullers.
pub const PULLER: u32 = 2;
/// How often a blocked call re-checks for dead peers in its way.
const SLICE: Duration = Duration::from_millis(20);

/// Queue settings (used by the pusher that creates the queue).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueOptions {
    /// Jobs the queue holds. Default 128.
    pub capacity: u32,
    /// Largest job in bytes for dynamic queues (typed ones use the type's
    /// size). Default 4096.
    pub max_payload: u32,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            capacity: 128,
            max_payload: 4096,
        }
    }
}

/// Puller settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PullerOptions {
    /// How long to wait for the queue to exist. Default 5 s.
    pub timeout: Duration,
}

impl Default for PullerOptions {
    fn default() -> Self {
        PullerOptions {
            timeout: Duration::from_secs(5),
        }
    }
}

impl PullerOptions {
    /// The defaults, waiting up to `timeout` for the queue.
    pub fn with_timeout(timeout: Duration) -> Self {
        PullerOptions { timeout }
    }
}

/// `Job::pusher("robot/jobs")` and `Job::puller("robot/jobs")` for every
/// message type: PUSH/PULL's constructors, named from the type, as
/// [`TopicExt`](crate::TopicExt) is for PUB/SUB. Implemented for every
/// [`ShmMessage`]; in scope with `use shm_comm::QueueExt` (or
/// `shm_comm::prelude::*`).
pub trait QueueExt: ShmMessage {
    /// Creates (or joins) the queue `name` for this type (see [`Pusher::create`]).
    fn pusher(name: &str) -> Result<Pusher<Self>, CreateError> {
        Pusher::create(name)
    }

    /// Joins the queue `name` of this type (waits up to 5 s for it; see
    /// [`Puller::connect`]).
    fn puller(name: &str) -> Result<Puller<Self>, OpenError> {
        Puller::connect(name)
    }
}

impl<T: ShmMessage> QueueExt for T {}

/// Settings of a typed queue: those of [`QueueOptions`] but the payload
/// size, which is the job type's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypedQueueOptions {
    /// Jobs the queue holds. Default 128, fewer of large jobs (see
    /// [`QueueOptions::for_size`]).
    pub capacity: u32,
}

impl Default for TypedQueueOptions {
    fn default() -> Self {
        TypedQueueOptions {
            capacity: QueueOptions::default().capacity,
        }
    }
}

impl QueueOptions {
    /// The options [`Pusher::create`] uses for jobs of `size` bytes: the
    /// [defaults](QueueOptions::default), with fewer slots when 128 of them
    /// would take more than [`DEFAULT_POOL_BYTES`](crate::pubsub::DEFAULT_POOL_BYTES)
    /// (4 MiB), but never fewer than 2: jobs up to about 32 KiB keep 128, a
    /// 1 MiB queue holds 3 and a 24 MB one 2 (48 MB). A full queue makes
    /// pushers wait (backpressure); [`Pusher::create_with`] takes options
    /// as given.
    pub fn for_size(size: usize) -> QueueOptions {
        let d = QueueOptions {
            max_payload: u32::try_from(size).unwrap_or(u32::MAX),
            ..QueueOptions::default()
        };
        let stride = Geometry {
            capacity: d.capacity,
            max_payload: d.max_payload,
        }
        .stride();
        let fit =
            u32::try_from(crate::pubsub::DEFAULT_POOL_BYTES / stride.max(1)).unwrap_or(u32::MAX);
        QueueOptions {
            capacity: fit.clamp(2, d.capacity),
            ..d
        }
    }
}

/// The untyped side shared by pushers and pullers.
#[derive(Debug)]
struct Endpoint {
    seg: SharedSegment,
    queue: Queue,
    /// Exact size of every message on a typed queue.
    typed_len: Option<u32>,
    misses: AtomicU32,
    /// The last wait for a job timed out: do not spin on the next one.
    idle: std::sync::atomic::AtomicBool,
    /// The last wait for a job was short: jobs are streaming in (see
    /// `Queue::wait_jobs`).
    streaming: std::sync::atomic::AtomicBool,
}

impl Endpoint {
    fn attach(
        seg: SharedSegment,
        expect: Option<&LayoutDescriptor>,
    ) -> Result<Endpoint, OpenError> {
        let name = seg.name().to_owned();
        let corrupt = |reason: String| OpenError::Corrupt {
            name: name.clone(),
            reason,
        };
        seg.check_payload(expect, "queue")?;
        let typed_len = expect.map(|l| l.size);
        // The body lives as long as `seg`, which is stored next to the queue.
        let queue = Queue::attach(seg.body())
            .map_err(corrupt)?
            .with_peers(seg.peers());
        if let Some(n) = typed_len {
            if queue.geometry().max_payload != n {
                return Err(corrupt(format!(
                    "slots of {} bytes for {n}-byte messages",
                    queue.geometry().max_payload
                )));
            }
        }
        Ok(Endpoint {
            seg,
            queue,
            typed_len,
            misses: AtomicU32::new(0),
            idle: std::sync::atomic::AtomicBool::new(false),
            streaming: std::sync::atomic::AtomicBool::new(false),
        })
    }

    fn create(
        name: &str,
        payload: &Payload,
        opts: QueueOptions,
        layout: Option<&LayoutDescriptor>,
    ) -> Result<Endpoint, CreateError> {
        let geo = Geometry {
            capacity: opts.capacity,
            max_payload: layout.map_or(opts.max_payload, |l| l.size.max(1)),
        };
        let config = |reason: String| CreateError::Config {
            name: name.to_owned(),
            reason,
        };
        geo.check().map_err(config)?;
        let seg = match SharedSegment::create_or_join(
            &CreateSpec {
                name,
                role: ROLE,
                kind: ChannelKind::Queue,
                payload,
                region_len: geo.region_len().ok_or_else(|| config("too large".into()))?,
            },
            PUSHER,
            Some(Queue::holds_jobs),
        )? {
            CreatedOrJoined::Created(new) => {
                // The zeroed body, published once the queue is written.
                Queue::init(new.body(), geo).map_err(config)?;
                new.publish()
            }
            CreatedOrJoined::Joined(seg) => seg,
        };
        Self::attach(seg, layout).map_err(|e| CreateError::Existing(Box::new(e)))
    }

    fn max_payload(&self) -> usize {
        self.queue.geometry().max_payload as usize
    }

    fn check_len(&self, len: usize) -> Result<(), (usize, usize)> {
        let max = self.max_payload();
        match self.typed_len {
            Some(n) if len != n as usize => Err((len, max)),
            _ if len > max => Err((len, max)),
            _ => Ok(()),
        }
    }

    #[cfg(not(loom))]
    fn arm_jobs(&self, watch: &mut crate::bells::Watch) -> bool {
        self.queue.arm_jobs(watch)
    }

    #[cfg(not(loom))]
    fn arm_room(&self, watch: &mut crate::bells::Watch) -> bool {
        self.queue.arm_room(watch)
    }

    /// After a miss, a non-blocking call looks for dead peers now and then.
    fn repair_now(&self) -> bool {
        crate::queue::repair_due(&self.misses)
    }

    /// `Ok(true)`: queued; `Ok(false)`: full; `Err`: the queue is corrupt
    /// (what was found).
    fn try_push(&self, data: &[u8], codec: Codec, repair: bool) -> Result<bool, String> {
        let pushed = if repair {
            // A repair reports the dead peer it finds under this queue's name.
            crate::events::on_channel(self.seg.name(), || {
                self.queue.try_push(data, codec.tag(), true)
            })
        } else {
            self.queue.try_push(data, codec.tag(), false)
        };
        match pushed {
            Ok(()) => Ok(true),
            Err(PushError::Full) => Ok(false),
            Err(PushError::Corrupt(why)) => Err(why),
        }
    }

    /// Pushes if there is room; after a miss, now and then looks for a dead
    /// puller in the way. A job that fits costs no more than the queue's own
    /// atomics.
    fn push_now(&self, data: &[u8], codec: Codec) -> Result<bool, String> {
        Ok(self.try_push(data, codec, false)?
            || (self.repair_now() && self.try_push(data, codec, true)?))
    }

    /// Pushes, waiting until `deadline()` (called only if the queue is full,
    /// so a push that fits costs no clock reading); `Ok(false)` if still
    /// full then.
    fn push_deadline(
        &self,
        data: &[u8],
        codec: Codec,
        deadline: impl FnOnce() -> Option<Instant>,
    ) -> Result<bool, String> {
        if self.push_now(data, codec)? {
            return Ok(true);
        }
        let deadline = deadline();
        let mut first = true;
        loop {
            let slice = Instant::now() + SLICE;
            let until = deadline.map_or(slice, |d| d.min(slice));
            // Spin only on the first wait of the call (see `sync::Event::wait`);
            // look for dead pullers in the way only after a wait found no room.
            let repair = !self.queue.wait_room(Some(until), first);
            first = false;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                // One last try: it either queues the job (once) or we give up.
                return self.try_push(data, codec, true);
            }
            if self.try_push(data, codec, repair)? {
                return Ok(true);
            }
        }
    }

    /// Copies a job into the start of `dst` (see `Queue::try_pop_uninit`).
    fn try_pop(
        &self,
        dst: &mut [MaybeUninit<u8>],
        repair: bool,
    ) -> Result<(usize, Codec), TryRecvError> {
        let (len, tag) = if repair {
            crate::events::on_channel(self.seg.name(), || self.queue.try_pop_uninit(dst, true))?
        } else {
            self.queue.try_pop_uninit(dst, false)?
        };
        Ok((len as usize, Codec::from_tag(tag)))
    }

    /// Takes a job if one is queued; after a miss, now and then looks for a
    /// dead pusher in the way (a job there costs no more than the queue's
    /// own atomics).
    fn pop_now(&self, dst: &mut [MaybeUninit<u8>]) -> Result<(usize, Codec), TryRecvError> {
        match self.try_pop(dst, false) {
            Err(TryRecvError::Empty) if self.repair_now() => self.try_pop(dst, true),
            r => r,
        }
    }

    /// Takes a job, waiting until `deadline()` (called only if the queue is
    /// empty, so a job already there costs no clock reading).
    fn pop_deadline(
        &self,
        dst: &mut [MaybeUninit<u8>],
        deadline: impl FnOnce() -> Option<Instant>,
    ) -> Result<(usize, Codec), RecvTimeoutError> {
        match self.pop_now(dst) {
            Err(TryRecvError::Empty) => {}
            r => return r.map_err(Into::into),
        }
        let deadline = deadline();
        loop {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(RecvTimeoutError::Timeout);
            }
            let slice = Instant::now() + SLICE;
            let until = deadline.map_or(slice, |d| d.min(slice));
            // Spin only while jobs flow: after a wait that timed out, go
            // straight to the futex (an idle puller costs nothing).
            // Relaxed: hints private to this endpoint, no memory to order.
            let (got, streaming) = self.queue.wait_jobs(
                Some(until),
                !self.idle.load(Ordering::Relaxed),
                self.streaming.load(Ordering::Relaxed),
            );
            self.idle.store(!got, Ordering::Relaxed);
            self.streaming.store(streaming, Ordering::Relaxed);
            // Look for a dead pusher in the way only after a slice with no job
            // (a live one finishes its write long before that).
            match self.try_pop(dst, !got) {
                // Another puller was quicker: no run to count on.
                Err(TryRecvError::Empty) => self.streaming.store(false, Ordering::Relaxed),
                r => return r.map_err(Into::into),
            }
        }
    }
}

/// Pushes typed jobs. See the [module docs](self).
#[derive(Debug)]
pub struct Pusher<T: ShmMessage> {
    ep: Endpoint,
    _t: PhantomData<fn(T)>,
}

impl<T: ShmMessage> Pusher<T> {
    /// Arms `watch` (see [`crate::bells`]) for room: its bell rings when a
    /// puller takes a job. Returns `true` if there is room already.
    #[cfg(not(loom))]
    pub fn arm_room(&self, watch: &mut crate::bells::Watch) -> bool {
        self.ep.arm_room(watch)
    }

    /// Creates (or joins) queue `name` with default options.
    /// The queue holds 128 jobs, fewer of large ones (see
    /// [`QueueOptions::for_size`]).
    pub fn create(name: &str) -> Result<Self, CreateError> {
        let capacity = QueueOptions::for_size(std::mem::size_of::<T>()).capacity;
        Self::create_with(name, TypedQueueOptions { capacity })
    }

    /// Creates queue `name`, or joins it if it exists with live participants
    /// (its geometry is then the creator's).
    pub fn create_with(name: &str, opts: TypedQueueOptions) -> Result<Self, CreateError> {
        let opts = QueueOptions {
            capacity: opts.capacity,
            // The type's size is the payload; Endpoint::create takes it
            // from the layout.
            ..QueueOptions::default()
        };
        Ok(Pusher {
            ep: Endpoint::create(name, &Payload::typed::<T>(), opts, Some(T::layout()))?,
            _t: PhantomData,
        })
    }

    /// Queues `job` if there is room; otherwise gives it back in `Full`.
    ///
    /// By value: a type over [`MAX_BY_VALUE`](crate::message::MAX_BY_VALUE)
    /// does not compile here; queue a copy of it with [`send_ref`](Self::send_ref).
    pub fn try_send(&self, job: T) -> Result<(), TrySendError<T>> {
        let () = ByValue::<T>::CHECK;
        match self.ep.push_now(as_bytes(&job), Codec::Typed) {
            Ok(true) => Ok(()),
            Ok(false) => Err(TrySendError::Full(job)),
            Err(why) => Err(TrySendError::Corrupt(job, why)),
        }
    }

    /// Queues `job`, waiting up to `timeout` for room.
    pub fn send_timeout(&self, job: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        let () = ByValue::<T>::CHECK;
        let r = self.ep.push_deadline(as_bytes(&job), Codec::Typed, || {
            Instant::now().checked_add(timeout)
        });
        match r {
            Ok(true) => Ok(()),
            Ok(false) => Err(SendTimeoutError::Timeout(job)),
            Err(why) => Err(SendTimeoutError::Corrupt(job, why)),
        }
    }

    /// Queues `job`, waiting as long as it takes for room (an error only
    /// if the queue is corrupt: no timeout).
    pub fn send(&self, job: T) -> Result<(), BlockingSendError<T>> {
        let () = ByValue::<T>::CHECK;
        match self.ep.push_deadline(as_bytes(&job), Codec::Typed, || None) {
            Err(why) => Err(BlockingSendError::Corrupt(job, why)),
            Ok(_) => Ok(()),
        }
    }

    /// Queues a copy of `*job` if there is room (any size of job: build a
    /// large one with [`zeroed_box`]).
    pub fn try_send_ref(&self, job: &T) -> Result<(), TrySendError<()>> {
        match self.ep.push_now(as_bytes(job), Codec::Typed) {
            Ok(true) => Ok(()),
            Ok(false) => Err(TrySendError::Full(())),
            Err(why) => Err(TrySendError::Corrupt((), why)),
        }
    }

    /// Queues a copy of `*job`, waiting up to `timeout` for room.
    pub fn send_ref_timeout(&self, job: &T, timeout: Duration) -> Result<(), SendTimeoutError<()>> {
        let r = self.ep.push_deadline(as_bytes(job), Codec::Typed, || {
            Instant::now().checked_add(timeout)
        });
        match r {
            Ok(true) => Ok(()),
            Ok(false) => Err(SendTimeoutError::Timeout(())),
            Err(why) => Err(SendTimeoutError::Corrupt((), why)),
        }
    }

    /// Queues a copy of `*job`, waiting as long as it takes for room.
    pub fn send_ref(&self, job: &T) -> Result<(), BlockingSendError<()>> {
        match self.ep.push_deadline(as_bytes(job), Codec::Typed, || None) {
            Err(why) => Err(BlockingSendError::Corrupt((), why)),
            Ok(_) => Ok(()),
        }
    }

    /// Jobs waiting in the queue (approximate).
    pub fn len(&self) -> u64 {
        self.ep.queue.len()
    }

    /// `true` if no job waits (approximate).
    pub fn is_empty(&self) -> bool {
        self.ep.queue.is_empty()
    }

    /// Live pullers connected to the queue.
    pub fn pullers(&self) -> u32 {
        self.ep.seg.count_live(PULLER)
    }
}

/// Pulls typed jobs. See the [module docs](self).
#[derive(Debug)]
pub struct Puller<T: ShmMessage> {
    ep: Endpoint,
    _t: PhantomData<fn() -> T>,
}

fn join(
    name: &str,
    timeout: Duration,
    layout: Option<&LayoutDescriptor>,
) -> Result<Endpoint, OpenError> {
    let seg = SharedSegment::join(
        &OpenSpec {
            name,
            role: ROLE,
            kind: ChannelKind::Queue,
            timeout,
        },
        PULLER,
        Some(Queue::holds_jobs),
    )?;
    Endpoint::attach(seg, layout)
}

impl<T: ShmMessage> Puller<T> {
    /// Arms `watch` (see [`crate::bells`]): its bell rings when a job is
    /// queued. Returns `true` if one is queued already: take it instead of
    /// waiting (another puller may be quicker: readiness is a hint).
    #[cfg(not(loom))]
    pub fn arm(&self, watch: &mut crate::bells::Watch) -> bool {
        self.ep.arm_jobs(watch)
    }

    /// Joins queue `name` with default options (waits up to 5 s for it
    /// to exist).
    pub fn connect(name: &str) -> Result<Self, OpenError> {
        Self::connect_with(name, PullerOptions::default())
    }

    /// Joins queue `name`, waiting up to `opts.timeout` for it to exist;
    /// fails with [`OpenError::LayoutMismatch`] if it carries another type.
    pub fn connect_with(name: &str, opts: PullerOptions) -> Result<Self, OpenError> {
        Ok(Puller {
            ep: join(name, opts.timeout, Some(T::layout()))?,
            _t: PhantomData,
        })
    }

    fn wrong_size<E>(len: usize, make: impl FnOnce(String) -> E) -> E {
        make(format!(
            "job of {len} bytes on a queue of {}-byte jobs",
            std::mem::size_of::<T>()
        ))
    }

    /// Takes a job if one is queued. Never blocks.
    ///
    /// By value: a type over [`MAX_BY_VALUE`](crate::message::MAX_BY_VALUE)
    /// does not compile here; take it with [`try_recv_into`](Self::try_recv_into)
    /// or [`recv_boxed`](Self::recv_boxed).
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let () = ByValue::<T>::CHECK;
        read_with(
            |dst| self.ep.pop_now(dst).map(|(n, _)| n),
            |len| Self::wrong_size(len, TryRecvError::Corrupt),
        )
    }

    /// Takes a job, waiting up to `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_until(|| Instant::now().checked_add(timeout))
    }

    /// Takes a job, waiting until `deadline` (forever if `None`).
    pub fn recv_deadline(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        self.recv_until(|| deadline)
    }

    fn recv_until(
        &self,
        deadline: impl FnOnce() -> Option<Instant>,
    ) -> Result<T, RecvTimeoutError> {
        let () = ByValue::<T>::CHECK;
        read_with(
            |dst| self.ep.pop_deadline(dst, deadline).map(|(n, _)| n),
            |len| Self::wrong_size(len, RecvTimeoutError::Corrupt),
        )
    }

    /// Takes a job, waiting as long as it takes.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_deadline(None).map_err(forever)
    }

    /// Takes a job if one is queued, copying it into `out` (any size of
    /// job, no stack used). Never blocks. On an error `out` is left valid
    /// but unspecified.
    pub fn try_recv_into(&self, out: &mut T) -> Result<(), TryRecvError> {
        read_into(
            out,
            |dst| self.ep.pop_now(dst).map(|(n, _)| n),
            |len| Self::wrong_size(len, TryRecvError::Corrupt),
        )
    }

    /// Takes a job into `out`, waiting until `deadline` (forever if `None`).
    pub fn recv_into_deadline(
        &self,
        out: &mut T,
        deadline: Option<Instant>,
    ) -> Result<(), RecvTimeoutError> {
        self.recv_into_until(out, || deadline)
    }

    /// Takes a job into `out`, waiting up to `timeout`.
    pub fn recv_into_timeout(
        &self,
        out: &mut T,
        timeout: Duration,
    ) -> Result<(), RecvTimeoutError> {
        self.recv_into_until(out, || Instant::now().checked_add(timeout))
    }

    fn recv_into_until(
        &self,
        out: &mut T,
        deadline: impl FnOnce() -> Option<Instant>,
    ) -> Result<(), RecvTimeoutError> {
        read_into(
            out,
            |dst| self.ep.pop_deadline(dst, deadline).map(|(n, _)| n),
            |len| Self::wrong_size(len, RecvTimeoutError::Corrupt),
        )
    }

    /// Takes a job into `out`, waiting as long as it takes.
    pub fn recv_into(&self, out: &mut T) -> Result<(), RecvError> {
        self.recv_into_deadline(out, None).map_err(forever)
    }

    /// Takes a job into a new box, waiting up to `timeout`: for types too
    /// large for the stack.
    pub fn recv_boxed_timeout(&self, timeout: Duration) -> Result<Box<T>, RecvTimeoutError> {
        let mut out = zeroed_box::<T>();
        self.recv_into_timeout(&mut out, timeout)?;
        Ok(out)
    }

    /// Takes a job into a new box, waiting as long as it takes.
    pub fn recv_boxed(&self) -> Result<Box<T>, RecvError> {
        let mut out = zeroed_box::<T>();
        self.recv_into(&mut out)?;
        Ok(out)
    }

    /// Jobs waiting in the queue (approximate).
    pub fn len(&self) -> u64 {
        self.ep.queue.len()
    }

    /// `true` if no job waits (approximate).
    pub fn is_empty(&self) -> bool {
        self.ep.queue.is_empty()
    }

    /// Live pushers connected to the queue.
    pub fn pushers(&self) -> u32 {
        self.ep.seg.count_live(PUSHER)
    }
}

/// Pushes dynamic frames (bytes, msgpack, pickle).
#[derive(Debug)]
pub struct DynPusher {
    ep: Endpoint,
}

impl DynPusher {
    /// Arms `watch` (see [`crate::bells`]) for room: its bell rings when a
    /// puller takes a job. Returns `true` if there is room already.
    #[cfg(not(loom))]
    pub fn arm_room(&self, watch: &mut crate::bells::Watch) -> bool {
        self.ep.arm_room(watch)
    }

    /// Creates (or joins) dynamic queue `name` with the default options
    /// (128 frames of up to 4096 bytes).
    pub fn create(name: &str) -> Result<Self, CreateError> {
        Self::create_with(name, QueueOptions::default())
    }

    /// Creates dynamic queue `name`, or joins it if it exists with live
    /// participants (its geometry is then the creator's).
    pub fn create_with(name: &str, opts: QueueOptions) -> Result<Self, CreateError> {
        Ok(DynPusher {
            ep: Endpoint::create(name, &Payload::Dynamic, opts, None)?,
        })
    }

    /// Creates (or joins) queue `name` carrying `layout` (a descriptor
    /// read from a segment or received from a peer, for callers that do
    /// not know the type at compile time, such as a bridge), or dynamic
    /// frames if `None`. Typed frames must be exactly the layout's size.
    pub fn create_for(
        name: &str,
        opts: QueueOptions,
        layout: Option<&LayoutDescriptor>,
    ) -> Result<Self, CreateError> {
        let payload = layout.map_or(Payload::Dynamic, Payload::of_layout);
        Ok(DynPusher {
            ep: Endpoint::create(name, &payload, opts, layout)?,
        })
    }

    /// Largest frame in bytes.
    pub fn max_payload(&self) -> usize {
        self.ep.max_payload()
    }

    /// The queue geometry.
    pub fn geometry(&self) -> Geometry {
        self.ep.queue.geometry()
    }

    /// Queues a frame if there is room.
    pub fn try_send(&self, data: &[u8], codec: Codec) -> Result<(), DynTrySendError> {
        self.ep
            .check_len(data.len())
            .map_err(|(len, max)| DynTrySendError::TooLarge { len, max })?;
        match self.ep.push_now(data, codec) {
            Ok(true) => Ok(()),
            Ok(false) => Err(DynTrySendError::Full),
            Err(why) => Err(DynTrySendError::Corrupt(why)),
        }
    }

    /// Queues a frame, waiting until `deadline` (forever if `None`) for room.
    pub fn send_deadline(
        &self,
        data: &[u8],
        codec: Codec,
        deadline: Option<Instant>,
    ) -> Result<(), DynSendTimeoutError> {
        self.ep
            .check_len(data.len())
            .map_err(|(len, max)| DynSendTimeoutError::TooLarge { len, max })?;
        match self.ep.push_deadline(data, codec, || deadline) {
            Ok(true) => Ok(()),
            Ok(false) => Err(DynSendTimeoutError::Timeout),
            Err(why) => Err(DynSendTimeoutError::Corrupt(why)),
        }
    }

    /// Jobs waiting (approximate).
    pub fn len(&self) -> u64 {
        self.ep.queue.len()
    }

    /// `(jobs ever pushed, jobs ever taken)`: the queue's enqueue and
    /// dequeue positions (1.0.0's `head` and `tail`; approximate while
    /// others operate).
    pub fn positions(&self) -> (u64, u64) {
        (self.ep.queue.pushed(), self.ep.queue.taken())
    }

    /// `true` if no job waits (approximate).
    pub fn is_empty(&self) -> bool {
        self.ep.queue.is_empty()
    }

    /// Live pullers.
    pub fn pullers(&self) -> u32 {
        self.ep.seg.count_live(PULLER)
    }
}

/// Pulls dynamic frames.
#[derive(Debug)]
pub struct DynPuller {
    ep: Endpoint,
}

impl DynPuller {
    /// Arms `watch` (see [`crate::bells`]): its bell rings when a job is
    /// queued. Returns `true` if one is queued already: take it instead of
    /// waiting (another puller may be quicker: readiness is a hint).
    #[cfg(not(loom))]
    pub fn arm(&self, watch: &mut crate::bells::Watch) -> bool {
        self.ep.arm_jobs(watch)
    }

    /// Joins dynamic queue `name` with default options (waits up to 5 s
    /// for it).
    pub fn connect(name: &str) -> Result<Self, OpenError> {
        Self::connect_with(name, PullerOptions::default())
    }

    /// Joins dynamic queue `name`, waiting up to `opts.timeout` for it.
    pub fn connect_with(name: &str, opts: PullerOptions) -> Result<Self, OpenError> {
        Ok(DynPuller {
            ep: join(name, opts.timeout, None)?,
        })
    }

    /// Joins queue `name` carrying `layout` (see
    /// [`DynPusher::create_for`]), or dynamic frames if `None`, waiting up
    /// to `opts.timeout` for it.
    pub fn connect_for(
        name: &str,
        opts: PullerOptions,
        layout: Option<&LayoutDescriptor>,
    ) -> Result<Self, OpenError> {
        Ok(DynPuller {
            ep: join(name, opts.timeout, layout)?,
        })
    }

    /// Largest frame in bytes.
    pub fn max_payload(&self) -> usize {
        self.ep.max_payload()
    }

    /// The queue geometry.
    pub fn geometry(&self) -> Geometry {
        self.ep.queue.geometry()
    }

    /// Takes a frame into `buf` (cleared first), waiting until `deadline`
    /// (forever if `None`); `Ok(None)`-free: a timeout is an error.
    pub fn recv_into(
        &self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<Codec, RecvTimeoutError> {
        self.recv_until(buf, || deadline)
    }

    fn recv_until(
        &self,
        buf: &mut Vec<u8>,
        deadline: impl FnOnce() -> Option<Instant>,
    ) -> Result<Codec, RecvTimeoutError> {
        let mut codec = Codec::Raw;
        fill_vec(buf, self.max_payload(), |room| {
            let (len, c) = self.ep.pop_deadline(room, deadline)?;
            codec = c;
            Ok::<_, RecvTimeoutError>(len)
        })?;
        Ok(codec)
    }

    /// Takes a frame if one is queued.
    pub fn try_recv(&self) -> Result<Frame, TryRecvError> {
        let mut data = Vec::new();
        let mut codec = Codec::Raw;
        fill_vec(&mut data, self.max_payload(), |room| {
            let (len, c) = self.ep.pop_now(room)?;
            codec = c;
            Ok::<_, TryRecvError>(len)
        })?;
        Ok(Frame { codec, data })
    }

    /// Takes a frame, waiting up to `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Frame, RecvTimeoutError> {
        let mut data = Vec::new();
        let codec = self.recv_until(&mut data, || Instant::now().checked_add(timeout))?;
        Ok(Frame { codec, data })
    }

    /// Jobs waiting (approximate).
    pub fn len(&self) -> u64 {
        self.ep.queue.len()
    }

    /// `(jobs ever pushed, jobs ever taken)`: the queue's enqueue and
    /// dequeue positions (1.0.0's `head` and `tail`; approximate while
    /// others operate).
    pub fn positions(&self) -> (u64, u64) {
        (self.ep.queue.pushed(), self.ep.queue.taken())
    }

    /// `true` if no job waits (approximate).
    pub fn is_empty(&self) -> bool {
        self.ep.queue.is_empty()
    }
}
