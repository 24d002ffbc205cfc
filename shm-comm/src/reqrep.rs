//! REQ/REP: service calls. Any number of requesters call one service; any
//! number of repliers share its load; every reply reaches the requester that
//! asked, for the call it asked.
//!
//! ```
//! use shm_comm::{ShmMessage, reqrep::{Delivery, Replier, Requester}};
//! use std::time::Duration;
//!
//! #[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
//! #[repr(C)]
//! struct Add { a: i64, b: i64 }
//! #[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
//! #[repr(C)]
//! struct Sum { sum: i64 }
//!
//! let replier = Replier::<Add, Sum>::create("doc/add")?;
//! let server = std::thread::spawn(move || {
//!     let (call, req) = replier.recv_timeout(Duration::from_secs(5)).unwrap();
//!     // `Discarded` if the requester stopped waiting (not here).
//!     let delivery = replier.reply(&call, &Sum { sum: req.a + req.b }).unwrap();
//!     assert_eq!(delivery, Delivery::Delivered);
//! });
//! let requester = Requester::<Add, Sum>::connect("doc/add")?;
//! let reply = requester.request(&Add { a: 2, b: 3 }, Duration::from_secs(5))?;
//! assert_eq!(reply.sum, 5);
//! server.join().unwrap();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How a call travels
//! Requests go through one shared work queue (see [`pipeline`](crate::pipeline)),
//! so each is taken by exactly one replier. Each requester owns a *mailbox*
//! in the service segment (one slot: a requester has one call in flight),
//! and each request carries the requester's mailbox and a call id. A replier
//! writes its reply only if that mailbox still waits for that call id
//! (compare-and-swap), so:
//! - a reply always reaches the requester and the call it answers;
//! - a reply to a call that timed out is discarded, never returned to a later call;
//! - a requester that died mid-call costs the replier nothing (its reply is dropped).
//!
//! # Timeouts and absent repliers
//! [`Requester::request`] returns the reply or [`RequestError::Timeout`] at its
//! deadline, which says whether any replier was alive. Connecting to a service
//! that does not exist waits up to the connect timeout, then fails with
//! [`OpenError::NotFound`]. A full request queue counts against the same deadline.
//!
//! # Lifetime
//! The first replier creates the service; others join it. Requesters join an
//! existing service. The service lives while any replier or requester does;
//! the last to leave removes it; a service whose participants all died is
//! replaced by the next replier.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::codec::{Codec, Frame};
use crate::error::{CreateError, OpenError, RecvTimeoutError, TryRecvError};
use crate::layout::{FieldDescriptor, Kind, LayoutDescriptor, TypeDesc};
use crate::mailbox::{self, ArmError, Mailbox, TakeError};
use crate::message::{as_bytes, read_from_bytes, ByValue, ShmMessage};
use crate::queue::{self, Queue};
use crate::region::{align_up, Region};
use crate::segment::{
    ChannelKind, CreateSpec, CreatedOrJoined, OpenSpec, Payload, SharedSegment, MAX_PARTICIPANTS,
};

const ROLE: &str = "svc";
/// Participant role of repliers.
pub const REPLIER: u32 = 3;
/// Participant role of requesters.
pub const REQUESTER: u32 = 4;

/// Bytes of the header every request frame carries before its payload.
const REQ_HEADER: usize = 16;
/// Bytes of a mailbox header (state, len, tag, event); the payload follows.
const MB_HEADER: usize = mailbox::HEADER;
/// How often a waiting requester re-checks for dead repliers / stuck mailboxes.
const SLICE: Duration = Duration::from_millis(50);
/// A timed-out call looks up whether a replier is alive (reading `/proc`
/// for each) at most this often; polls in between reuse the last verdict.
const LIVENESS_EVERY: Duration = Duration::from_millis(5);

/// Service settings (used by the replier that creates the service).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceOptions {
    /// Requests that can wait in the queue. Default 16.
    pub capacity: u32,
    /// Largest request or reply in bytes for dynamic services (typed ones
    /// use the types' sizes). Default 8192.
    pub max_payload: u32,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions {
            capacity: 16,
            max_payload: 8192,
        }
    }
}

/// Requester settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequesterOptions {
    /// How long to wait for the service to exist. Default 5 s.
    pub timeout: Duration,
}

impl Default for RequesterOptions {
    fn default() -> Self {
        RequesterOptions {
            timeout: Duration::from_secs(5),
        }
    }
}

impl RequesterOptions {
    /// The defaults, waiting up to `timeout` for the service.
    pub fn with_timeout(timeout: Duration) -> Self {
        RequesterOptions { timeout }
    }
}

/// Settings of a typed service: those of [`ServiceOptions`] but the
/// payload sizes, which are the request and reply types'.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypedServiceOptions {
    /// Requests that can wait in the queue. Default 16.
    pub capacity: u32,
}

impl Default for TypedServiceOptions {
    fn default() -> Self {
        TypedServiceOptions {
            capacity: ServiceOptions::default().capacity,
        }
    }
}

/// Why a request got no reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No reply before the deadline (the request may still be processed;
    /// its late reply will be discarded).
    #[error("no reply within the timeout ({})", if *.replier_alive { "a replier is alive but did not answer in time" } else { "no replier is alive" })]
    Timeout {
        /// Whether any replier was alive at the deadline.
        replier_alive: bool,
    },
    /// The request is larger than the service accepts.
    #[error("request of {len} bytes exceeds the service's limit of {max} bytes")]
    TooLarge {
        /// Request size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The service's shared data is inconsistent (a misbehaving peer): the
    /// reply in the mailbox, or the request queue the call was sent on.
    #[error("service data is corrupt: {0}")]
    Corrupt(String),
}

/// Why a reply was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// The reply is larger than the service's mailboxes.
    #[error("reply of {len} bytes exceeds the service's limit of {max} bytes")]
    TooLarge {
        /// Reply size.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// What became of a reply. `#[must_use]`, so `replier.reply(..)?;` warns
/// where a discarded reply would go unnoticed (`let _ =` says it does not
/// matter).
#[must_use = "a reply the requester stopped waiting for is discarded: check the `Delivery`, or `let _ =` to ignore it"]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Written into the requester's mailbox for the call it waits for. A
    /// requester that died mid-call counts here too: the reply is written
    /// and never read (the next owner of the mailbox ignores it).
    Delivered,
    /// The requester no longer waits for this call (it timed out, or sent
    /// a newer request): the reply was discarded.
    Discarded,
}

impl Delivery {
    /// `true` for [`Delivery::Delivered`].
    pub fn is_delivered(self) -> bool {
        self == Delivery::Delivered
    }
}

/// Sizes of a service: the request queue and the mailboxes.
#[derive(Clone, Copy, Debug)]
struct Shape {
    queue: queue::Geometry,
    reply_max: u32,
}

impl Shape {
    fn mailbox_stride(&self) -> usize {
        align_up(MB_HEADER + align_up(self.reply_max as usize, 8), 64)
    }

    fn body_len(&self) -> Option<usize> {
        let q = align_up(self.queue.region_len()?, 64);
        q.checked_add(
            self.mailbox_stride()
                .checked_mul(MAX_PARTICIPANTS as usize)?,
        )
    }
}

/// The parts of a service shared by requesters and repliers.
#[derive(Debug)]
struct Service {
    seg: SharedSegment,
    queue: Queue,
    /// The body after the queue: `MAX_PARTICIPANTS` mailboxes of `stride`
    /// bytes (kept alive by `seg`).
    mailboxes: Region,
    stride: usize,
    reply_max: u32,
    /// For typed services: exact request and reply sizes.
    typed: Option<(u32, u32)>,
}

/// A synthetic layout that names both message types of a typed service, so
/// that the segment's descriptor and hash cover the request and the reply.
fn service_layout(req: &LayoutDescriptor, rep: &LayoutDescriptor) -> LayoutDescriptor {
    let align = req.align.max(rep.align).max(1);
    let rep_off = req.size.div_ceil(rep.align.max(1)) * rep.align.max(1);
    let size = (rep_off + rep.size).div_ceil(align) * align;
    LayoutDescriptor::new(
        &format!("Service<{}, {}>", req.name, rep.name),
        size as usize,
        align as usize,
        vec![
            FieldDescriptor::new("request", 0, TypeDesc::of(Kind::Struct(req.clone()))),
            FieldDescriptor::new(
                "reply",
                rep_off as usize,
                TypeDesc::of(Kind::Struct(rep.clone())),
            ),
        ],
    )
}

impl Service {
    fn create(
        name: &str,
        payload: &Payload,
        shape: Shape,
        typed: Option<&LayoutDescriptor>,
    ) -> Result<Service, CreateError> {
        let config = |reason: String| CreateError::Config {
            name: name.to_owned(),
            reason,
        };
        shape.queue.check().map_err(config)?;
        if shape.reply_max == 0 {
            return Err(config("slot size 0: replies need at least 1 byte".into()));
        }
        let body_len = shape.body_len().ok_or_else(|| config("too large".into()))?;
        let seg = match SharedSegment::create_or_join(
            &CreateSpec {
                name,
                role: ROLE,
                kind: ChannelKind::Request,
                payload,
                region_len: body_len,
            },
            REPLIER,
            None,
        )? {
            CreatedOrJoined::Created(new) => {
                // The zeroed body (`body_len >= queue region` bytes),
                // published once the queue is written; the mailboxes start
                // zeroed (IDLE of call 0).
                Queue::init(new.body(), shape.queue).map_err(config)?;
                new.publish()
            }
            CreatedOrJoined::Joined(seg) => seg,
        };
        Self::attach(seg, typed).map_err(|e| CreateError::Existing(Box::new(e)))
    }

    fn join(
        name: &str,
        timeout: Duration,
        typed: Option<&LayoutDescriptor>,
    ) -> Result<Service, OpenError> {
        let seg = SharedSegment::join(
            &OpenSpec {
                name,
                role: ROLE,
                kind: ChannelKind::Request,
                timeout,
            },
            REQUESTER,
            None,
        )?;
        Self::attach(seg, typed)
    }

    fn attach(seg: SharedSegment, expect: Option<&LayoutDescriptor>) -> Result<Service, OpenError> {
        let name = seg.name().to_owned();
        let corrupt = |reason: String| OpenError::Corrupt {
            name: name.clone(),
            reason,
        };
        seg.check_payload(expect, "service")?;
        let typed = expect.map(|ours| {
            let size = |i: usize| match &ours.fields[i].ty.kind {
                Kind::Struct(l) => l.size,
                _ => 0,
            };
            (size(0), size(1))
        });
        // The body lives as long as `seg`, stored next to the queue.
        let body = seg.body();
        let len = body.len();
        let queue = Queue::attach(body)
            .map_err(corrupt)?
            .with_peers(seg.peers());
        let qlen = align_up(
            queue
                .geometry()
                .region_len()
                .ok_or_else(|| corrupt("queue too large".into()))?,
            64,
        );
        // The mailboxes take the rest of the body: derive their payload size
        // from it, and check it covers every participant.
        let stride = (len - qlen.min(len)) / MAX_PARTICIPANTS as usize / 64 * 64;
        if stride <= MB_HEADER {
            return Err(corrupt(format!(
                "no room for reply mailboxes in a {len}-byte body"
            )));
        }
        let reply_max = (stride - MB_HEADER) as u32;
        // Every request slot starts with its header (`request_max`).
        if queue.geometry().max_payload as usize <= REQ_HEADER {
            return Err(corrupt(format!(
                "request slots of {} bytes cannot hold the {REQ_HEADER}-byte request header",
                queue.geometry().max_payload
            )));
        }
        if let Some((req, rep)) = typed {
            if queue.geometry().max_payload as usize != REQ_HEADER + req as usize || reply_max < rep
            {
                return Err(corrupt(format!(
                    "slots of {} / {reply_max} bytes for {req}-byte requests and {rep}-byte replies",
                    queue.geometry().max_payload
                )));
            }
        }
        Ok(Service {
            // `qlen <= len` (stride > 0 implies the body is larger).
            mailboxes: body.tail(qlen),
            seg,
            queue,
            stride,
            reply_max: typed.map_or(reply_max, |(_, rep)| rep),
            typed,
        })
    }

    fn mailbox(&self, i: u32) -> Mailbox {
        debug_assert!(i < MAX_PARTICIPANTS);
        // `i < MAX_PARTICIPANTS` (checked by callers) and the body holds
        // MAX_PARTICIPANTS mailboxes of `stride` bytes (checked in
        // `attach`), each 64-aligned with `reply_max <= stride - MB_HEADER`
        // bytes of payload.
        let region = self
            .mailboxes
            .sub(i as usize * self.stride, self.stride)
            .expect("mailbox inside the body");
        Mailbox::at(region, self.reply_max as usize)
    }

    fn request_max(&self) -> usize {
        // `attach` checked that the slots are larger than the header.
        self.queue.geometry().max_payload as usize - REQ_HEADER
    }
}

/// The untyped requester that the typed and dynamic ones wrap.
#[derive(Debug)]
pub struct RawRequester {
    svc: Service,
    /// The next call id.
    next_call: AtomicU32,
    /// Serializes `request_into` calls: one mailbox, one call in flight.
    in_call: Mutex<()>,
    /// The last wait for a reply timed out: do not spin on the next one.
    idle: AtomicBool,
    /// Times a timeout looked up whether a replier is alive (`/proc`).
    liveness_checks: AtomicU64,
    /// The last such verdict, and when it was made (nanoseconds after
    /// `epoch`, plus one; 0: never): reused for `LIVENESS_EVERY`.
    replier_alive: AtomicBool,
    alive_at: AtomicU64,
    epoch: Instant,
}

/// A request sent by [`RawRequester::send`] whose reply has not been taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    call: u32,
}

impl RawRequester {
    fn new(svc: Service) -> RawRequester {
        let me = svc.seg.index();
        // Continue the mailbox's call numbering, so that stale requests of a
        // previous (dead) owner of this mailbox can never match our calls.
        let last = svc.mailbox(me).last_call();
        RawRequester {
            svc,
            next_call: AtomicU32::new(last.wrapping_add(1)),
            in_call: Mutex::new(()),
            idle: AtomicBool::new(false),
            liveness_checks: AtomicU64::new(0),
            replier_alive: AtomicBool::new(false),
            alive_at: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Connects to service `name` without knowing its types at compile
    /// time (tools such as `shmc call`): `layout` is the service's stored
    /// descriptor (`Service<Req, Rep>`, as [`segment::inspect`] reads
    /// it) for a typed service, `None` for a dynamic one. Waits up to
    /// `opts.timeout` for the service; fails with
    /// [`OpenError::LayoutMismatch`] if it serves other types. Typed
    /// requests must then be exactly the request type's size.
    ///
    /// [`segment::inspect`]: crate::segment::inspect
    pub fn connect_with(
        name: &str,
        opts: RequesterOptions,
        layout: Option<&LayoutDescriptor>,
    ) -> Result<RawRequester, OpenError> {
        if let Some(l) = layout {
            let is_service = l.fields.len() == 2
                && l.fields
                    .iter()
                    .all(|f| matches!(f.ty.kind, Kind::Struct(_)) && f.ty.shape.is_empty());
            if !is_service {
                return Err(OpenError::Incompatible {
                    name: name.to_owned(),
                    reason: format!("`{}` is not a service layout (request, reply)", l.name),
                });
            }
        }
        Ok(RawRequester::new(Service::join(
            name,
            opts.timeout,
            layout,
        )?))
    }

    /// Sends a request and waits for its reply until `deadline`; the reply
    /// is written into `out` (cleared first) and its codec returned. On a
    /// timeout the call is withdrawn: a late reply is discarded.
    pub fn request_into(
        &self,
        data: &[u8],
        codec: Codec,
        deadline: Option<Instant>,
        out: &mut Vec<u8>,
    ) -> Result<Codec, RequestError> {
        let _one_call = self.in_call.lock().unwrap_or_else(|p| p.into_inner());
        let pending = self.send(data, codec, deadline)?;
        let r = self.wait_reply(&pending, deadline, out);
        if r.is_err() {
            self.cancel(pending);
        }
        r
    }

    /// Sends a request without waiting for the reply. Sending another
    /// request withdraws this one (its reply, if any, is then discarded).
    pub fn send(
        &self,
        data: &[u8],
        codec: Codec,
        deadline: Option<Instant>,
    ) -> Result<Pending, RequestError> {
        let max = self.svc.request_max();
        let wrong = match self.svc.typed {
            Some((req, _)) => data.len() != req as usize,
            None => data.len() > max,
        };
        if wrong {
            return Err(RequestError::TooLarge {
                len: data.len(),
                max,
            });
        }
        let call = self.next_call.fetch_add(1, Ordering::Relaxed);
        let me = self.svc.seg.index();
        let mb = self.svc.mailbox(me);
        mb.arm(call, deadline, |claimer| {
            self.svc.queue.claimer_alive(claimer)
        })
        .map_err(|e| match e {
            ArmError::Busy => RequestError::Timeout {
                replier_alive: true,
            },
            ArmError::Contended => self.timeout(),
        })?;
        let mut frame = Vec::with_capacity(REQ_HEADER + data.len());
        frame.extend_from_slice(&me.to_le_bytes());
        frame.extend_from_slice(&call.to_le_bytes());
        frame.extend_from_slice(&[0; 8]);
        frame.extend_from_slice(data);
        let pending = Pending { call };
        let (mut repair, mut first) = (false, true);
        loop {
            match self.svc.queue.try_push(&frame, codec.tag(), repair) {
                Ok(()) => return Ok(pending),
                Err(queue::PushError::Full) => {}
                Err(queue::PushError::Corrupt(why)) => {
                    self.cancel(pending);
                    return Err(RequestError::Corrupt(format!("request queue: {why}")));
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                self.cancel(pending);
                return Err(self.timeout());
            }
            let slice = Instant::now() + SLICE;
            let until = deadline.map_or(slice, |d| d.min(slice));
            // Spin only on the first wait (see `sync::Event::wait`); look for
            // dead repliers in the way only after a wait found no room.
            repair = !self.svc.queue.wait_room(Some(until), first);
            first = false;
        }
    }

    fn timeout(&self) -> RequestError {
        RequestError::Timeout {
            replier_alive: self.replier_alive(),
        }
    }

    /// Whether a replier is alive: looked up (in `/proc`, per replier) at
    /// most every `LIVENESS_EVERY`, so that polling with a zero timeout
    /// makes no system call (a replier that died is told within that time).
    fn replier_alive(&self) -> bool {
        let now = (self.epoch.elapsed().as_nanos() as u64).saturating_add(1);
        // Relaxed: a cached hint private to this requester; the verdict and
        // its time may be seen out of step, costing at most an early or a
        // late look-up.
        let at = self.alive_at.load(Ordering::Relaxed);
        if at != 0 && now.saturating_sub(at) < LIVENESS_EVERY.as_nanos() as u64 {
            return self.replier_alive.load(Ordering::Relaxed);
        }
        let alive = self.svc.seg.count_live(REPLIER) > 0;
        // Relaxed: as above; the count is a statistic.
        self.liveness_checks.fetch_add(1, Ordering::Relaxed);
        self.replier_alive.store(alive, Ordering::Relaxed);
        self.alive_at.store(now, Ordering::Relaxed);
        alive
    }

    /// How many times this requester looked up whether a replier is alive
    /// (for tests of the cost of polling).
    #[doc(hidden)]
    pub fn liveness_checks(&self) -> u64 {
        // Relaxed: a statistic, orders nothing.
        self.liveness_checks.load(Ordering::Relaxed)
    }

    /// Arms `watch` (see [`crate::bells`]) for the reply to `pending`:
    /// `true` if it is there already (take it with
    /// [`wait_reply`](Self::wait_reply), which then does not wait).
    #[cfg(not(loom))]
    pub fn arm_reply(&self, pending: &Pending, watch: &mut crate::bells::Watch) -> bool {
        self.svc
            .mailbox(self.svc.seg.index())
            .arm_reply(pending.call, watch)
    }

    /// Arms `watch` (see [`crate::bells`]) for room in the request queue:
    /// its bell rings when a replier takes a request. Returns `true` if
    /// there is room already. For callers that [`send`](Self::send) with a
    /// deadline of now and must not block (event loops).
    #[cfg(not(loom))]
    pub fn arm_room(&self, watch: &mut crate::bells::Watch) -> bool {
        self.svc.queue.arm_room(watch)
    }

    /// Withdraws a pending call: a reply that arrives later is discarded.
    pub fn cancel(&self, pending: Pending) {
        self.svc.mailbox(self.svc.seg.index()).cancel(pending.call);
    }

    /// Waits until `deadline` for the reply to `pending`, written into `out`.
    /// On [`RequestError::Timeout`] the call stays pending: wait again or
    /// [`cancel`](Self::cancel) it.
    pub fn wait_reply(
        &self,
        pending: &Pending,
        deadline: Option<Instant>,
        out: &mut Vec<u8>,
    ) -> Result<Codec, RequestError> {
        let call = pending.call;
        let mb = self.svc.mailbox(self.svc.seg.index());
        loop {
            let slice = Instant::now() + SLICE;
            let until = deadline.map_or(slice, |d| d.min(slice));
            // Spin only while replies come quickly: after a wait that timed
            // out, go straight to the futex.
            let got = mb.wait(call, Some(until), !self.idle.load(Ordering::Relaxed));
            self.idle.store(!got, Ordering::Relaxed);
            if got {
                match mb.take(call, out) {
                    Ok(tag) => return Ok(Codec::from_tag(tag)),
                    Err(TakeError::TooLong(len)) => {
                        return Err(RequestError::Corrupt(format!(
                            "reply of {len} bytes; the limit is {}",
                            self.svc.reply_max
                        )))
                    }
                    // Only we move the mailbox out of READY(call), unless a
                    // peer wrote garbage into it: wait on.
                    Err(TakeError::NotReady) => {}
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(self.timeout());
            }
        }
    }

    /// Live repliers of the service.
    pub fn repliers(&self) -> u32 {
        self.svc.seg.count_live(REPLIER)
    }

    /// Largest request in bytes.
    pub fn max_request(&self) -> usize {
        self.svc.request_max()
    }
}

/// Identifies a received request, to [reply](RawReplier::reply) to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    mailbox: u32,
    call: u32,
}

/// The untyped replier that the typed and dynamic ones wrap.
#[derive(Debug)]
pub struct RawReplier {
    svc: Service,
    /// The last wait for a request timed out: do not spin on the next one.
    idle: AtomicBool,
    /// Empty looks of calls that do not wait (see `queue::repair_due`).
    misses: AtomicU32,
}

impl RawReplier {
    /// Creates (or joins) service `name` without knowing its types at
    /// compile time (a bridge that serves a remote service locally):
    /// `layout` is a stored service descriptor (`Service<Req, Rep>`, as
    /// [`segment::inspect`] reads it) for a typed service, `None` for a
    /// dynamic one (`opts.max_payload` then bounds requests and replies).
    /// `opts.capacity` sizes the request queue.
    ///
    /// [`segment::inspect`]: crate::segment::inspect
    pub fn create_with(
        name: &str,
        opts: ServiceOptions,
        layout: Option<&LayoutDescriptor>,
    ) -> Result<RawReplier, CreateError> {
        let (payload, shape) = match layout {
            None => (Payload::Dynamic, dyn_shape(opts)),
            Some(l) => {
                let sizes: Vec<u32> = l
                    .fields
                    .iter()
                    .filter(|f| f.ty.shape.is_empty())
                    .filter_map(|f| match &f.ty.kind {
                        Kind::Struct(inner) => Some(inner.size),
                        _ => None,
                    })
                    .collect();
                let [req, rep] = sizes[..] else {
                    return Err(CreateError::Config {
                        name: name.to_owned(),
                        reason: format!("`{}` is not a service layout (request, reply)", l.name),
                    });
                };
                let shape = Shape {
                    queue: queue::Geometry {
                        capacity: opts.capacity,
                        max_payload: (REQ_HEADER as u32).saturating_add(req),
                    },
                    reply_max: rep.max(8),
                };
                (Payload::of_layout(l), shape)
            }
        };
        Ok(RawReplier {
            svc: Service::create(name, &payload, shape, layout)?,
            idle: AtomicBool::new(false),
            misses: AtomicU32::new(0),
        })
    }

    /// Arms `watch` (see [`crate::bells`]): its bell rings when a request
    /// is queued. Returns `true` if one is queued already (another replier
    /// may take it first: readiness is a hint).
    #[cfg(not(loom))]
    pub fn arm(&self, watch: &mut crate::bells::Watch) -> bool {
        self.svc.queue.arm_jobs(watch)
    }

    /// Takes the next request into `buf`, waiting until `deadline`.
    pub fn recv_into(
        &self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<(Call, Codec), RecvTimeoutError> {
        let mut repair = false;
        loop {
            match self.svc.queue.try_pop_vec(buf, repair) {
                Ok(tag) => {
                    if buf.len() < REQ_HEADER {
                        return Err(RecvTimeoutError::Corrupt(format!(
                            "request frame of {} bytes",
                            buf.len()
                        )));
                    }
                    let word =
                        |i: usize| u32::from_le_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
                    let call = Call {
                        mailbox: word(0),
                        call: word(4),
                    };
                    if call.mailbox >= MAX_PARTICIPANTS {
                        return Err(RecvTimeoutError::Corrupt(format!(
                            "request names mailbox {}",
                            call.mailbox
                        )));
                    }
                    buf.drain(..REQ_HEADER);
                    return Ok((call, Codec::from_tag(tag)));
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Corrupt(s)) => return Err(RecvTimeoutError::Corrupt(s)),
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                // A caller that only looks (an event loop's take, a zero
                // timeout) never waits out a slice: it looks for a dead
                // requester in the way every so many empty looks instead,
                // or a cell left "writing" would block it for ever.
                if !repair && crate::queue::repair_due(&self.misses) {
                    repair = true;
                    continue;
                }
                return Err(RecvTimeoutError::Timeout);
            }
            let slice = Instant::now() + SLICE;
            let until = deadline.map_or(slice, |d| d.min(slice));
            // Spin only while requests flow: after a wait that timed out, go
            // straight to the futex (an idle replier costs nothing).
            let got = self
                .svc
                .queue
                .wait_job(Some(until), !self.idle.load(Ordering::Relaxed));
            self.idle.store(!got, Ordering::Relaxed);
            // Look for a dead requester in the way only after a slice with
            // no request (a live one finishes its write long before that).
            repair = !got;
        }
    }

    /// Replies to `call`. Returns [`Delivery::Discarded`] if the requester
    /// no longer waits for it (it timed out, or sent a newer request). A
    /// reply to a requester that died is written into its mailbox and never
    /// read (the next owner of the mailbox ignores it).
    pub fn reply(&self, call: &Call, data: &[u8], codec: Codec) -> Result<Delivery, ReplyError> {
        let max = self.svc.reply_max as usize;
        let wrong = match self.svc.typed {
            Some((_, rep)) => data.len() != rep as usize,
            None => data.len() > max,
        };
        if wrong {
            return Err(ReplyError::TooLarge {
                len: data.len(),
                max,
            });
        }
        let delivered = self.svc.mailbox(call.mailbox).put(
            call.call,
            self.svc.queue.claimer(),
            data,
            codec.tag(),
        );
        Ok(if delivered {
            Delivery::Delivered
        } else {
            Delivery::Discarded
        })
    }

    /// Requests waiting in the queue (approximate).
    pub fn pending(&self) -> u64 {
        self.svc.queue.len()
    }

    /// Live requesters connected.
    pub fn requesters(&self) -> u32 {
        self.svc.seg.count_live(REQUESTER)
    }

    /// Largest reply in bytes.
    pub fn max_reply(&self) -> usize {
        self.svc.reply_max as usize
    }
}

fn typed_shape<Req: ShmMessage, Rep: ShmMessage>(
    capacity: u32,
) -> (Payload, Shape, LayoutDescriptor) {
    let layout = service_layout(Req::layout(), Rep::layout());
    let payload = Payload::of_layout(&layout);
    let shape = Shape {
        queue: queue::Geometry {
            capacity,
            max_payload: (REQ_HEADER + std::mem::size_of::<Req>()) as u32,
        },
        reply_max: std::mem::size_of::<Rep>().max(8) as u32,
    };
    (payload, shape, layout)
}

fn dyn_shape(opts: ServiceOptions) -> Shape {
    Shape {
        queue: queue::Geometry {
            capacity: opts.capacity,
            max_payload: opts.max_payload.saturating_add(REQ_HEADER as u32),
        },
        reply_max: opts.max_payload,
    }
}

/// Calls a typed service. `Send + Sync`; concurrent calls on one handle are
/// serialized (one mailbox).
#[derive(Debug)]
pub struct Requester<Req: ShmMessage, Rep: ShmMessage> {
    raw: RawRequester,
    _t: PhantomData<fn(&Req) -> Rep>,
}

impl<Req: ShmMessage, Rep: ShmMessage> Requester<Req, Rep> {
    /// Connects to service `name` with default options (waits up to 5 s
    /// for it).
    pub fn connect(name: &str) -> Result<Self, OpenError> {
        Self::connect_with(name, RequesterOptions::default())
    }

    /// Connects to service `name`, waiting up to `opts.timeout` for it;
    /// fails with [`OpenError::LayoutMismatch`] if it serves other types.
    pub fn connect_with(name: &str, opts: RequesterOptions) -> Result<Self, OpenError> {
        let layout = service_layout(Req::layout(), Rep::layout());
        Ok(Requester {
            raw: RawRequester::new(Service::join(name, opts.timeout, Some(&layout))?),
            _t: PhantomData,
        })
    }

    /// Calls the service and waits up to `timeout` for the reply.
    ///
    /// The reply comes by value: a reply type over
    /// [`MAX_BY_VALUE`](crate::message::MAX_BY_VALUE) does not compile here.
    pub fn request(&self, req: &Req, timeout: Duration) -> Result<Rep, RequestError> {
        let () = ByValue::<Rep>::CHECK;
        let mut out = Vec::new();
        self.raw.request_into(
            as_bytes(req),
            Codec::Typed,
            Instant::now().checked_add(timeout),
            &mut out,
        )?;
        read_from_bytes(&out)
            .ok_or_else(|| RequestError::Corrupt(format!("reply of {} bytes", out.len())))
    }

    /// Live repliers of the service.
    pub fn repliers(&self) -> u32 {
        self.raw.repliers()
    }

    /// The untyped requester.
    pub fn raw(&self) -> &RawRequester {
        &self.raw
    }
}

/// Serves a typed service. `Send + Sync`: several threads may receive and
/// reply on one handle.
#[derive(Debug)]
pub struct Replier<Req: ShmMessage, Rep: ShmMessage> {
    raw: RawReplier,
    _t: PhantomData<fn(&Rep) -> Req>,
}

impl<Req: ShmMessage, Rep: ShmMessage> Replier<Req, Rep> {
    /// Creates (or joins) service `name` with a queue of 16 requests.
    pub fn create(name: &str) -> Result<Self, CreateError> {
        Self::create_with(name, TypedServiceOptions::default())
    }

    /// Creates (or joins) service `name`; `opts.capacity` sizes the request
    /// queue (the payloads are the types' sizes).
    pub fn create_with(name: &str, opts: TypedServiceOptions) -> Result<Self, CreateError> {
        let (payload, shape, layout) = typed_shape::<Req, Rep>(opts.capacity);
        Ok(Replier {
            raw: RawReplier {
                svc: Service::create(name, &payload, shape, Some(&layout))?,
                idle: AtomicBool::new(false),
                misses: AtomicU32::new(0),
            },
            _t: PhantomData,
        })
    }

    /// Takes the next request, waiting up to `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<(Call, Req), RecvTimeoutError> {
        self.recv_deadline(Instant::now().checked_add(timeout))
    }

    /// Takes the next request, waiting until `deadline` (forever if `None`).
    pub fn recv_deadline(
        &self,
        deadline: Option<Instant>,
    ) -> Result<(Call, Req), RecvTimeoutError> {
        let () = ByValue::<Req>::CHECK;
        let mut buf = Vec::new();
        let (call, _) = self.raw.recv_into(&mut buf, deadline)?;
        let req = read_from_bytes(&buf)
            .ok_or_else(|| RecvTimeoutError::Corrupt(format!("request of {} bytes", buf.len())))?;
        Ok((call, req))
    }

    /// Replies to `call`; [`Delivery::Discarded`] if its requester stopped
    /// waiting.
    pub fn reply(&self, call: &Call, rep: &Rep) -> Result<Delivery, ReplyError> {
        self.raw.reply(call, as_bytes(rep), Codec::Typed)
    }

    /// The untyped replier.
    pub fn raw(&self) -> &RawReplier {
        &self.raw
    }
}

/// Calls a dynamic service (bytes, msgpack or pickle frames).
#[derive(Debug)]
pub struct DynRequester {
    raw: RawRequester,
}

impl DynRequester {
    /// Connects to dynamic service `name` with default options (waits up
    /// to 5 s for it).
    pub fn connect(name: &str) -> Result<Self, OpenError> {
        Self::connect_with(name, RequesterOptions::default())
    }

    /// Connects to dynamic service `name`, waiting up to `opts.timeout` for it.
    pub fn connect_with(name: &str, opts: RequesterOptions) -> Result<Self, OpenError> {
        Ok(DynRequester {
            raw: RawRequester::new(Service::join(name, opts.timeout, None)?),
        })
    }

    /// Calls the service with a frame and waits up to `timeout` for the reply.
    pub fn request(
        &self,
        data: &[u8],
        codec: Codec,
        timeout: Duration,
    ) -> Result<Frame, RequestError> {
        let mut out = Vec::new();
        let codec =
            self.raw
                .request_into(data, codec, Instant::now().checked_add(timeout), &mut out)?;
        Ok(Frame { codec, data: out })
    }

    /// The untyped requester.
    pub fn raw(&self) -> &RawRequester {
        &self.raw
    }
}

/// Serves a dynamic service.
#[derive(Debug)]
pub struct DynReplier {
    raw: RawReplier,
}

impl DynReplier {
    /// Creates (or joins) dynamic service `name` with the default options
    /// (16 requests of up to 8192 bytes).
    pub fn create(name: &str) -> Result<Self, CreateError> {
        Self::create_with(name, ServiceOptions::default())
    }

    /// Creates (or joins) dynamic service `name`.
    pub fn create_with(name: &str, opts: ServiceOptions) -> Result<Self, CreateError> {
        Ok(DynReplier {
            raw: RawReplier {
                svc: Service::create(name, &Payload::Dynamic, dyn_shape(opts), None)?,
                idle: AtomicBool::new(false),
                misses: AtomicU32::new(0),
            },
        })
    }

    /// Takes the next request, waiting up to `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<(Call, Frame), RecvTimeoutError> {
        let mut data = Vec::new();
        let (call, codec) = self
            .raw
            .recv_into(&mut data, Instant::now().checked_add(timeout))?;
        Ok((call, Frame { codec, data }))
    }

    /// Replies to `call`; [`Delivery::Discarded`] if its requester stopped
    /// waiting.
    pub fn reply(&self, call: &Call, data: &[u8], codec: Codec) -> Result<Delivery, ReplyError> {
        self.raw.reply(call, data, codec)
    }

    /// The untyped replier.
    pub fn raw(&self) -> &RawReplier {
        &self.raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Removes the channel's segments when dropped, even if the test fails.
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = crate::segment::force_unlink(&self.0);
        }
    }

    #[test]
    fn a_reply_mailbox_claimed_by_a_live_non_participant_does_not_wedge_its_requester() {
        let name = format!("test/rr-unit/{}-claim", std::process::id());
        let _cleanup = Cleanup(name.clone());
        let replier = DynReplier::create_with(&name, ServiceOptions::default()).unwrap();
        let requester = DynRequester::connect_with(
            &name,
            RequesterOptions::with_timeout(Duration::from_secs(5)),
        )
        .unwrap();
        let raw = requester.raw();
        // A replier was writing a reply into this requester's mailbox and
        // died; its pid now belongs to a live process that is no participant
        // (pid 1), or to this very process. WRITING has kind 2; the claimer
        // is in the low 30 bits, as recorded by a build that stored pids.
        for claimer in [1, crate::platform::pid()] {
            let mb = raw.svc.mailbox(raw.svc.seg.index());
            let call = raw.next_call.load(Ordering::Relaxed).wrapping_sub(1);
            mb.set_writing(call, claimer);
            let server = std::thread::scope(|s| {
                let server = s.spawn(|| {
                    let (call, frame) = replier.recv_timeout(Duration::from_secs(5)).unwrap();
                    replier.reply(&call, &frame.data, frame.codec).unwrap()
                });
                let r = requester.request(b"ping", Codec::Raw, Duration::from_secs(1));
                assert_eq!(
                    r.map(|f| f.data),
                    Ok(b"ping".to_vec()),
                    "claimed by {claimer}"
                );
                server.join().unwrap()
            });
            assert_eq!(server, Delivery::Delivered);
        }
    }

    #[test]
    fn empty_polls_for_a_reply_look_up_the_repliers_only_now_and_then() {
        let name = format!("test/rr-unit/{}-poll", std::process::id());
        let _cleanup = Cleanup(name.clone());
        let _replier = DynReplier::create_with(&name, ServiceOptions::default()).unwrap();
        let requester = DynRequester::connect_with(
            &name,
            RequesterOptions::with_timeout(Duration::from_secs(5)),
        )
        .unwrap();
        let raw = requester.raw();
        let pending = raw.send(b"ping", Codec::Raw, None).unwrap();
        let mut out = Vec::new();
        let polls = 10_000u32;
        let before = raw.liveness_checks();
        let t0 = Instant::now();
        for _ in 0..polls {
            // A poll with timeout 0, as Python's `recv(timeout=0)` makes.
            let r = raw.wait_reply(&pending, Some(Instant::now()), &mut out);
            assert_eq!(
                r,
                Err(RequestError::Timeout {
                    replier_alive: true
                })
            );
        }
        let took = t0.elapsed();
        let checks = raw.liveness_checks() - before;
        eprintln!(
            "{polls} empty polls: {:.0} ns each, {checks} liveness checks",
            took.as_nanos() as f64 / f64::from(polls)
        );
        // At most one check per LIVENESS_EVERY of polling, and a first one.
        let bound = took.as_nanos() / LIVENESS_EVERY.as_nanos() + 2;
        assert!(u128::from(checks) <= bound, "{checks} checks in {took:?}");
    }
}
