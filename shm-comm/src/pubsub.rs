//! PUB/SUB: one publisher broadcasts to any number of subscribers, with
//! latest-data semantics.
//!
//! ```
//! use shm_comm::{ShmMessage, TopicExt};
//!
//! #[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
//! #[repr(C)]
//! struct Pose { stamp_ns: u64, x: f64, y: f64, heading: f64 }
//!
//! let mut publisher = Pose::publisher("doc/pose")?;
//! let mut subscriber = Pose::subscriber("doc/pose")?;
//! let pose = Pose { stamp_ns: 1, x: 1.0, y: 2.0, heading: 0.5 };
//! publisher.send(&pose)?;
//! assert_eq!(subscriber.try_recv()?, pose);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Joining
//! A subscriber sees the messages published after it connected
//! ([`ConnectOptions::last_value`] also gives it the newest one already
//! published). Connecting to a topic that has no publisher waits up to
//! [`ConnectOptions::timeout`], then fails with [`OpenError::NotFound`].
//!
//! # Lagging
//! The publisher never blocks. The ring keeps the last `capacity` messages; a
//! subscriber that falls further behind skips to the oldest message still
//! kept, and [`missed`](Subscriber::missed) counts exactly how many it skipped:
//!
//! ```
//! # use shm_comm::{pubsub::{Publisher, Subscriber, TypedPubOptions}, ShmMessage};
//! # #[derive(ShmMessage, Clone, Copy, Debug, PartialEq)] #[repr(C)] struct Tick { n: u64 }
//! let mut publisher = Publisher::<Tick>::create_with("doc/ticks", TypedPubOptions { capacity: 4, ..Default::default() })?;
//! let mut subscriber = Subscriber::<Tick>::connect("doc/ticks")?;
//! for n in 0..10 { publisher.send(&Tick { n })?; }
//! assert_eq!(subscriber.try_recv()?.n, 6); // 0..=5 were overwritten
//! assert_eq!(subscriber.missed(), 6);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A message overwritten while a subscriber copies it is detected (per-slot
//! sequence numbers) and never returned: it counts as missed.
//!
//! # Borrowing
//! [`Subscriber::try_borrow`] returns a [`Sample`] that derefs to `&T` in the
//! shared slot, with no copy. While a sample lives, the publisher writes
//! around its slot, so the data never changes under it. Each subscriber may
//! hold [`ConnectOptions::max_borrows`] samples at once and the whole topic
//! [`PubOptions::borrow_budget`]; past either, borrowing fails with
//! [`BorrowError::Limit`] (copying receives keep working).
//!
//! # One publisher per topic
//! The publisher creates and owns the topic's segment: a second publisher on
//! a topic whose publisher is alive fails with [`CreateError::InUse`] naming
//! the live pid. Use one topic per source (or PUSH/PULL, which accepts many
//! producers) where several processes must feed one consumer. A publisher
//! that died (even by SIGKILL) is replaced by the next one.
//!
//! # Closing
//! Dropping the publisher removes the topic's segment and wakes blocked
//! subscribers. Subscribers keep waiting (a robot's publisher may restart):
//! when a new publisher appears under the same name, they attach to it by
//! themselves and receive its messages; [`RawSubscriber::publisher_alive`] says
//! whether one is there now.
//!
//! A blocked subscriber sleeps until a message comes or its publisher
//! closes the topic: it does not poll while idle. A publisher killed before
//! it could close is noticed by the one that replaces it, which closes the
//! old ring (waking its subscribers) before it removes the old segment.

use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::codec::{Codec, Frame};
use crate::error::{
    forever, BorrowError, CreateError, OpenError, RecvError, RecvTimeoutError, SendError,
    TryRecvError,
};
use crate::layout::LayoutDescriptor;
use crate::message::{
    as_bytes, mut_from_bytes, read_into, read_with, ref_from_bytes, zeroed_box, ByValue, ShmMessage,
};
use crate::ring::{self, Geometry, Reader, Ring, Writer};
use crate::segment::{ChannelKind, CreateSpec, Mapping, OpenSpec, OwnedSegment, Payload, Segment};

/// The role of a topic's publisher segment (`<name>.pub`).
pub(crate) const ROLE: &str = "pub";

/// Publisher settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PubOptions {
    /// Messages kept in the ring (how far a subscriber may fall behind).
    /// Default 64 ([`Publisher::create`] keeps fewer of large messages: see
    /// [`PubOptions::for_size`]).
    pub capacity: u32,
    /// Largest payload in bytes for dynamic topics (typed topics use the
    /// type's size). Default 4096.
    pub max_payload: u32,
    /// Samples that subscribers may borrow at once, over all subscribers. Default 8.
    pub borrow_budget: u32,
}

impl Default for PubOptions {
    fn default() -> Self {
        PubOptions {
            capacity: 64,
            max_payload: 4096,
            borrow_budget: 8,
        }
    }
}

/// The shared memory that the chunk pool of a typed topic created with
/// [`Publisher::create`] aims at: 4 MiB. A topic's working set is
/// `capacity + 1` chunks (the writer reuses the chunk freed last); kept
/// small, it stays in the CPU's caches and a copy of a large message runs
/// at memcpy speed (a 1 MiB topic of 64 messages cycles through 65 MiB,
/// more than a 32 MiB L3, and copies at a third of that speed). It also
/// keeps a topic of large messages well inside a container's default
/// 64 MiB `/dev/shm`, up to 16 MiB messages (see [`PubOptions::for_size`]).
pub const DEFAULT_POOL_BYTES: usize = 4 << 20;

/// The fewest messages [`PubOptions::for_size`] keeps.
const MIN_DEFAULT_CAPACITY: u32 = 2;

impl PubOptions {
    /// The options [`Publisher::create`] uses for messages of `size` bytes:
    /// the [defaults](PubOptions::default) if their pool of
    /// `capacity + 1 + borrow_budget` chunks (each `size` plus a 32-byte
    /// header, rounded up to 64 bytes) fits in [`DEFAULT_POOL_BYTES`];
    /// otherwise as many chunks as fit, an eighth of them (at least 1) for
    /// borrowing and the rest for the ring, but never fewer than 2 messages
    /// kept (so at least 4 chunks). So messages up to about 56 KiB keep 64;
    /// 64 KiB ones keep 55 (borrow budget 7), 256 KiB ones 13 (budget 1),
    /// and from about 820 KiB on 2 (budget 1): a 1 MiB topic takes 4 MiB,
    /// a 16 MiB one 64 MiB. [`Publisher::create_with`] takes options as
    /// given.
    pub fn for_size(size: usize) -> PubOptions {
        let d = PubOptions {
            max_payload: u32::try_from(size).unwrap_or(u32::MAX),
            ..PubOptions::default()
        };
        let stride = Geometry {
            capacity: d.capacity,
            max_payload: d.max_payload,
            borrow_budget: d.borrow_budget,
        }
        .stride();
        let fit = u32::try_from(DEFAULT_POOL_BYTES / stride).unwrap_or(u32::MAX);
        if fit >= d.capacity + 1 + d.borrow_budget {
            return d;
        }
        let borrow_budget = (fit / 8).clamp(1, d.borrow_budget);
        PubOptions {
            capacity: fit
                .saturating_sub(1 + borrow_budget)
                .max(MIN_DEFAULT_CAPACITY),
            borrow_budget,
            ..d
        }
    }
}

/// Settings of a typed topic: those of [`PubOptions`] but the payload
/// size, which is the message type's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypedPubOptions {
    /// Messages kept in the ring. Default 64, fewer of large messages
    /// (see [`TypedPubOptions::for_size`]).
    pub capacity: u32,
    /// Samples that subscribers may borrow at once, over all subscribers.
    /// Default 8.
    pub borrow_budget: u32,
}

impl Default for TypedPubOptions {
    fn default() -> Self {
        let d = PubOptions::default();
        TypedPubOptions {
            capacity: d.capacity,
            borrow_budget: d.borrow_budget,
        }
    }
}

impl TypedPubOptions {
    /// What [`Publisher::create`] uses for messages of `size` bytes (see
    /// [`PubOptions::for_size`]).
    pub fn for_size(size: usize) -> TypedPubOptions {
        let o = PubOptions::for_size(size);
        TypedPubOptions {
            capacity: o.capacity,
            borrow_budget: o.borrow_budget,
        }
    }
}

/// Subscriber settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectOptions {
    /// How long to wait for the topic's publisher. Default 5 s.
    pub timeout: Duration,
    /// Also receive the newest message published before connecting. Default false.
    pub last_value: bool,
    /// Samples this subscriber may borrow at once. Default 4.
    pub max_borrows: u32,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout: Duration::from_secs(5),
            last_value: false,
            max_borrows: 4,
        }
    }
}

impl ConnectOptions {
    /// The defaults, waiting up to `timeout` for the publisher.
    pub fn with_timeout(timeout: Duration) -> Self {
        ConnectOptions {
            timeout,
            ..ConnectOptions::default()
        }
    }
}

/// The untyped publisher that the typed and dynamic ones wrap: frames of
/// bytes tagged with a codec, on a typed or dynamic segment.
#[derive(Debug)]
pub struct RawPublisher {
    writer: Writer,
    seg: OwnedSegment,
    typed: Option<TypedLen>,
    /// A claim from `claim` is open.
    claimed: bool,
}

impl RawPublisher {
    /// Creates topic `name` carrying `payload`.
    pub fn create(
        name: &str,
        payload: &Payload,
        opts: PubOptions,
    ) -> Result<RawPublisher, CreateError> {
        Self::create_in(name, ROLE, payload, opts)
    }

    /// Creates the ring segment `role` of topic `name` (`pub` for a
    /// single-publisher topic; one role per publisher of a multi-publisher
    /// topic, see [`crate::multipub`]).
    pub(crate) fn create_in(
        name: &str,
        role: &str,
        payload: &Payload,
        opts: PubOptions,
    ) -> Result<RawPublisher, CreateError> {
        let typed = match payload {
            Payload::Dynamic => None,
            Payload::Typed { descriptor, .. } => Some(TypedLen::of(
                &LayoutDescriptor::decode(descriptor).map_err(|e| CreateError::Config {
                    name: name.to_owned(),
                    reason: e.to_string(),
                })?,
            )),
        };
        let geo = Geometry {
            capacity: opts.capacity,
            max_payload: typed.map_or(opts.max_payload, |t| t.max_len()),
            borrow_budget: opts.borrow_budget,
        };
        let config = |reason: String| CreateError::Config {
            name: name.to_owned(),
            reason,
        };
        geo.check().map_err(config)?;
        let region_len = geo.region_len().ok_or_else(|| config("too large".into()))?;
        close_stale_ring(name, role);
        let new = OwnedSegment::create(&CreateSpec {
            name,
            role,
            kind: ChannelKind::PubSub,
            payload,
            region_len,
        })?;
        // The fresh, zeroed region, kept alive by `seg`, stored next to the
        // ring; published to subscribers once the ring is written.
        let ring = Ring::init(new.region(), geo).map_err(config)?;
        let seg = new.publish();
        Ok(RawPublisher {
            writer: Writer::new(ring),
            seg,
            typed,
            claimed: false,
        })
    }

    /// The topic name.
    pub fn name(&self) -> &str {
        self.seg.name()
    }

    /// Largest payload in bytes.
    pub fn max_payload(&self) -> usize {
        self.writer.ring().geometry().max_payload as usize
    }

    /// The ring geometry.
    pub fn geometry(&self) -> Geometry {
        self.writer.ring().geometry()
    }

    /// Messages published so far.
    pub fn published(&self) -> u64 {
        self.writer.published()
    }

    /// A handle that keeps the topic's memory mapped (not the topic itself)
    /// for as long as it lives: for language bindings whose buffers may
    /// outlive the publisher.
    pub fn keep_alive(&self) -> Arc<dyn std::any::Any + Send + Sync> {
        self.seg.mapping()
    }

    /// Whether a claim from [`claim`](Self::claim) is open (neither
    /// committed nor abandoned).
    pub fn claim_open(&self) -> bool {
        self.claimed
    }

    /// The layout of a typed topic.
    pub fn layout(&self) -> Option<LayoutDescriptor> {
        self.typed?;
        LayoutDescriptor::decode(&self.seg.layout_bytes()).ok()
    }

    /// Publishes `data` tagged with `codec`. On a typed topic, `data` must be
    /// exactly one message.
    pub fn send(&mut self, data: &[u8], codec: Codec) -> Result<(), SendError> {
        if self.claimed {
            return Err(SendError::LoanOpen);
        }
        self.check_len(data.len())?;
        let claim = self.writer.claim()?;
        // `check_len`: `data.len() <= max_payload`.
        self.writer.write(&claim, data);
        self.writer.commit(claim, data.len() as u32, codec.tag());
        Ok(())
    }

    fn check_len(&self, len: usize) -> Result<(), SendError> {
        let max = self.max_payload();
        match self.typed {
            Some(t) => t.check(len),
            None if len > max => Err(SendError::TooLarge { len, max }),
            None => Ok(()),
        }
    }

    /// Unlinks the topic's name if it still refers to this publisher's
    /// segment, so that a larger generation of the topic can be created
    /// under it (see [`crate::varsize`]); subscribers keep their mapping
    /// and read the messages still in this ring.
    pub(crate) fn unlink_name(&self) {
        self.seg.unlink_name();
    }

    /// Claims a slot without borrowing the publisher, for callers that
    /// cannot hold a borrow (language bindings): write up to `max_payload`
    /// bytes at the returned pointer, then [`commit`](Self::commit) or
    /// [`abandon`](Self::abandon) the claim before sending anything else
    /// (claims are numbered in order: a send while a claim is open would
    /// reuse its number and is refused).
    pub fn claim(&mut self) -> Result<(ring::Claim, *mut u8), SendError> {
        if self.claimed {
            return Err(SendError::LoanOpen);
        }
        let claim = self.writer.claim()?;
        let ptr = self.writer.payload(&claim);
        self.claimed = true;
        Ok((claim, ptr))
    }

    /// Publishes a claim from [`claim`](Self::claim) holding `len` bytes.
    /// On a length error the claim is given back unpublished.
    pub fn commit(
        &mut self,
        claim: ring::Claim,
        len: usize,
        codec: Codec,
    ) -> Result<(), SendError> {
        self.claimed = false;
        if let Err(e) = self.check_len(len) {
            self.writer.abandon(claim);
            return Err(e);
        }
        self.writer.commit(claim, len as u32, codec.tag());
        Ok(())
    }

    /// Gives a claim from [`claim`](Self::claim) back unpublished.
    pub fn abandon(&mut self, claim: ring::Claim) {
        self.claimed = false;
        self.writer.abandon(claim);
    }

    /// Claims a slot to write a message of up to `max_payload` bytes in place.
    pub fn loan(&mut self) -> Result<RawLoan<'_>, SendError> {
        if self.claimed {
            return Err(SendError::LoanOpen);
        }
        let claim = self.writer.claim()?;
        Ok(RawLoan {
            ptr: self.writer.payload(&claim),
            claim: Some(claim),
            publisher: self,
        })
    }
}

/// The message lengths a typed topic accepts: exactly `fixed` bytes, or
/// for a variable-size message `fixed` (its tail's offset) plus a whole
/// number of `elem`-byte elements, at most `max` of them.
#[derive(Clone, Copy, Debug)]
struct TypedLen {
    fixed: u32,
    /// 0 for a fixed-size message.
    elem: u32,
    max: u32,
}

impl TypedLen {
    fn of(layout: &LayoutDescriptor) -> TypedLen {
        match &layout.tail {
            None => TypedLen {
                fixed: layout.size,
                elem: 0,
                max: 0,
            },
            Some(t) => TypedLen {
                fixed: t.offset,
                elem: t.elem.size,
                max: t.max_len,
            },
        }
    }

    /// The slot size: the longest message.
    fn max_len(&self) -> u32 {
        // `with_tail` (which every tail passed through) checked that this
        // fits; saturate rather than wrap all the same.
        self.fixed
            .saturating_add(self.elem.saturating_mul(self.max))
    }

    fn check(&self, len: usize) -> Result<(), SendError> {
        let fixed = self.fixed as usize;
        let wrong = || SendError::WrongSize {
            len,
            expected: fixed,
        };
        if self.elem == 0 {
            return if len == fixed { Ok(()) } else { Err(wrong()) };
        }
        let rest = len.checked_sub(fixed).ok_or_else(wrong)?;
        if rest % self.elem as usize != 0 {
            return Err(wrong());
        }
        let n = rest / self.elem as usize;
        if n > self.max as usize {
            return Err(SendError::TooLong {
                len: n,
                max: self.max as usize,
            });
        }
        Ok(())
    }
}

impl Drop for RawPublisher {
    fn drop(&mut self) {
        self.writer.close();
        // `seg` drops next: marks the segment closed and unlinks it.
    }
}

/// A slot claimed by [`RawPublisher::loan`]: write into
/// [`as_mut_ptr`](Self::as_mut_ptr), then [`send`](Self::send). Dropped
/// unsent, the slot goes back unpublished.
#[derive(Debug)]
pub struct RawLoan<'a> {
    publisher: &'a mut RawPublisher,
    claim: Option<ring::Claim>,
    ptr: *mut u8,
}

impl RawLoan<'_> {
    /// The slot: 8-aligned, `max_payload` bytes (rounded up to 8). No reader
    /// returns data from it before `send`: one that races with the writing
    /// sees the slot's sequence number change and discards its copy.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.publisher.max_payload()
    }

    /// The slot's `capacity()` bytes (stale bytes of its last message at
    /// first).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        let claim = self.claim.as_ref().expect("claimed until sent");
        self.publisher.writer.payload_bytes(claim)
    }

    /// The slot's `capacity()` bytes, to write the message in place.
    #[inline]
    pub fn as_mut_bytes(&mut self) -> &mut [u8] {
        let claim = self.claim.as_ref().expect("claimed until sent");
        self.publisher.writer.payload_bytes_mut(claim)
    }

    /// Publishes the first `len` bytes of the slot.
    pub fn send(mut self, len: usize, codec: Codec) -> Result<(), SendError> {
        self.publisher.check_len(len)?;
        if let Some(c) = self.claim.take() {
            self.publisher.writer.commit(c, len as u32, codec.tag());
        }
        Ok(())
    }
}

impl Drop for RawLoan<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.claim.take() {
            self.publisher.writer.abandon(c);
        }
    }
}

/// What kind of topic a subscriber expects.
#[derive(Clone, Debug)]
pub enum Expect {
    /// Anything: dynamic or typed of any layout.
    Any,
    /// A dynamic topic.
    Dynamic,
    /// A typed topic of exactly this layout.
    Typed(&'static LayoutDescriptor),
}

/// The untyped subscriber that the typed and dynamic ones wrap.
#[derive(Debug)]
pub struct RawSubscriber {
    seg: Segment,
    reader: Reader,
    expect: Expect,
    opts: ConnectOptions,
    /// Shared by this subscriber's live samples: keeps the mapping alive, and
    /// its strong count (minus this handle) is the number of samples out.
    lease: Arc<Lease>,
    /// Leases of the segments of replaced publishers that samples still
    /// hold (they count against `max_borrows` until dropped).
    retired: Vec<Arc<Lease>>,
    missed_before: u64,
    /// Attach by itself to the segment of a publisher that replaces this
    /// one (single-publisher topics); a multi-publisher subscriber replaces
    /// its ring subscribers itself, so that each counts one publisher.
    follow: bool,
    /// Do not spin on the next wait: the last one timed out, or slept
    /// longer than [`SPIN_PAYS`] (messages come too far apart for a spin
    /// to catch them).
    idle: bool,
    /// When a wait last looked for a replaced publisher.
    last_health: Instant,
    /// Times this subscriber attached to a replacing segment.
    switches: u64,
    /// Messages the ring it left at its last switch had published.
    left_published: u64,
}

/// A wait that slept (on the futex) less than this would have been
/// caught by spinning (which lasts 20 us; a wake-up itself takes some
/// microseconds): the next wait spins first.
const SPIN_PAYS: Duration = Duration::from_micros(50);

/// How often a subscriber whose waits keep timing out (a caller polling
/// with short timeouts, or the Python binding's Ctrl-C slices) looks for a
/// replaced segment: one `stat` of the name, and `/proc` only if the name
/// now refers to another segment.
const POLL_HEALTH: Duration = Duration::from_millis(100);

impl RawSubscriber {
    /// Connects to topic `name`, checking that it carries what `expect` says.
    pub fn connect(
        name: &str,
        expect: Expect,
        opts: ConnectOptions,
    ) -> Result<RawSubscriber, OpenError> {
        let (seg, ring) = open(name, ROLE, &expect, opts.timeout)?;
        Ok(Self::attached(
            seg,
            ring,
            expect,
            opts,
            true,
            opts.last_value,
        ))
    }

    /// Connects to the ring segment `role` of topic `name` for a
    /// multi-publisher subscriber: it never follows a replacing publisher
    /// by itself, and starts at the ring's first message kept if
    /// `from_start` (a publisher found after connecting), else as
    /// `opts.last_value` says.
    // Used by modules the loom build leaves out (multi-publisher, bells).
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn connect_in(
        name: &str,
        role: &str,
        expect: Expect,
        opts: ConnectOptions,
        from_start: bool,
    ) -> Result<RawSubscriber, OpenError> {
        let (seg, ring) = open(name, role, &expect, opts.timeout)?;
        let mut sub = Self::attached(seg, ring, expect, opts, false, opts.last_value);
        if from_start {
            sub.reader = Reader::at_start(ring);
        }
        Ok(sub)
    }

    fn attached(
        seg: Segment,
        ring: Ring,
        expect: Expect,
        opts: ConnectOptions,
        follow: bool,
        last_value: bool,
    ) -> RawSubscriber {
        RawSubscriber {
            reader: Reader::new(ring, last_value),
            expect,
            lease: Arc::new(Lease {
                _map: seg.mapping(),
            }),
            retired: Vec::new(),
            seg,
            opts,
            missed_before: 0,
            follow,
            idle: false,
            last_health: Instant::now(),
            switches: 0,
            left_published: 0,
        }
    }

    /// Times this subscriber attached to a segment that replaced its own,
    /// and how many messages the ring it left last had published (a
    /// variable-size topic's reader rereads the layout when the first
    /// changes: the topic grew).
    pub fn switches(&self) -> (u64, u64) {
        (self.switches, self.left_published)
    }

    /// Sequence number (in the current ring) of the next message.
    pub(crate) fn position(&self) -> u64 {
        self.reader.position()
    }

    /// If the publisher closed this ring and every message it holds was
    /// read, attaches to the segment that replaced it now (instead of at
    /// the next wait, which naps on a closed ring first). `true` if it
    /// attached to a new segment. A variable-size topic's reader calls it
    /// when a receive finds nothing, to follow a growth at once.
    pub fn follow_closed(&mut self) -> bool {
        // Closed first, ready second: `close` comes after the last commit,
        // so a closed ring that is not ready was drained.
        if self.reader.ring().is_closed() && !self.reader.ready() {
            let before = self.switches;
            self.reattach_if_replaced();
            return self.switches != before;
        }
        false
    }

    /// The topic name.
    pub fn name(&self) -> &str {
        self.seg.name()
    }

    /// The layout stored in a typed topic's segment (validated), or `None`
    /// for a dynamic topic.
    pub fn layout(&self) -> Option<LayoutDescriptor> {
        if !self.seg.is_typed() {
            return None;
        }
        LayoutDescriptor::decode(&self.seg.layout_bytes()).ok()
    }

    /// Largest payload in bytes.
    pub fn max_payload(&self) -> usize {
        self.reader.ring().geometry().max_payload as usize
    }

    /// The ring geometry.
    pub fn geometry(&self) -> Geometry {
        self.reader.ring().geometry()
    }

    /// Messages this subscriber skipped because it fell behind.
    pub fn missed(&self) -> u64 {
        self.missed_before + self.reader.missed()
    }

    /// `true` if a receive would not return `Empty` now (one load).
    // Used by modules the loom build leaves out (multi-publisher, bells).
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn ready(&self) -> bool {
        self.reader.ready()
    }

    /// Messages published but not yet received.
    pub fn lag(&self) -> u64 {
        self.reader.lag()
    }

    /// Messages the current publisher has published.
    pub fn published(&self) -> u64 {
        self.reader.ring().published()
    }

    /// `true` if a live publisher owns the topic now.
    pub fn publisher_alive(&self) -> bool {
        !self.reader.ring().is_closed() && !self.seg.is_closed() && self.seg.creator_alive()
    }

    /// The pid of the publisher (current or last).
    pub fn publisher_pid(&self) -> u32 {
        self.seg.creator_pid()
    }

    /// Receives into `buf` (cleared, then filled), returning the codec.
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<Codec, TryRecvError> {
        let tag = self.reader.try_read_vec(buf)?;
        Ok(Codec::from_tag(tag))
    }

    /// Receives into memory made once the length is known (see
    /// [`Reader::try_read_with`](ring::Reader::try_read_with)): for callers
    /// that build the final container directly, with no intermediate copy.
    /// If `fill` fails (`Ok(Err(e))`), the message stays unread: the next
    /// call gets it again.
    pub fn try_recv_with<B, E>(
        &mut self,
        fill: impl FnMut(usize, &mut dyn FnMut(&mut [u8])) -> Result<B, E>,
    ) -> Result<Result<(B, Codec), E>, TryRecvError> {
        let read = self.reader.try_read_with(fill)?;
        Ok(read.map(|(built, tag)| (built, Codec::from_tag(tag))))
    }

    /// Receives into `buf`, waiting up to `deadline` (forever if `None`).
    pub fn recv_into_deadline(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<Codec, RecvTimeoutError> {
        loop {
            match self.try_recv_into(buf) {
                Err(TryRecvError::Empty) => {}
                r => return r.map_err(Into::into),
            }
            if !self.wait(deadline) {
                return Err(RecvTimeoutError::Timeout);
            }
        }
    }

    /// Copies the next message into the start of `dst` (a message longer
    /// than `dst` is reported corrupt); returns `(len, codec)`: the first
    /// `len` bytes of `dst` are then initialized.
    pub fn try_recv_uninit(
        &mut self,
        dst: &mut [MaybeUninit<u8>],
    ) -> Result<(usize, Codec), TryRecvError> {
        let (len, tag) = self.reader.try_read_uninit(dst)?;
        Ok((len as usize, Codec::from_tag(tag)))
    }

    /// Waits until a message may be ready or `deadline` passes (forever if
    /// `None`); `false` on timeout. Reattaches to a new publisher if the old
    /// one went away.
    ///
    /// With no deadline the futex sleep has no timeout either, which saves
    /// the kernel a timer per sleep (measured: a 1 kHz subscriber's CPU
    /// per message went from 1.30-1.34x to 1.11-1.17x a bare futex
    /// wait's, `shm-comm-benches --wake-cpu`). Nothing is polled: the old
    /// ring is closed, which wakes this wait, by whoever replaces a dead
    /// publisher's segment or removes it (`close_stale_ring`), and by a
    /// publisher dropped.
    pub fn wait(&mut self, deadline: Option<Instant>) -> bool {
        loop {
            // Spin only where it pays: after a wait that ended while
            // spinning, or that slept less than `SPIN_PAYS` (a peer that
            // answers at once). A subscriber fed at 1 kHz sleeps about
            // 1 ms per message and so goes straight to the futex, instead
            // of spinning 20 us for nothing before every sleep.
            let (ready, slept) = self.reader.wait_slept(deadline, !self.idle);
            self.idle = !ready || slept.is_some_and(|d| d > SPIN_PAYS);
            if ready {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                // A caller that polls with timeouts shorter than the health
                // check must still find a new publisher: at once if the old
                // ring was closed (by its publisher, or by the one that
                // replaced a dead one), else at most once per POLL_HEALTH.
                if self.reader.ring().is_closed() || self.last_health.elapsed() >= POLL_HEALTH {
                    self.reattach_if_replaced();
                }
                return false;
            }
            self.reattach_if_replaced();
        }
    }

    /// A waiter for this subscriber's next message that needs no borrow of
    /// the subscriber: for callers that must not hold a lock on it while
    /// waiting (several threads sharing one subscriber). After each wait,
    /// call [`after_wait`](Self::after_wait) with its result.
    pub fn waiter(&self) -> Waiter {
        Waiter {
            reader: Reader::resume(*self.reader.ring(), self.reader.position()),
            _map: self.seg.mapping(),
            spin: !self.idle,
        }
    }

    /// Housekeeping after a [`Waiter::wait`] that returned `ready`: records
    /// whether to spin next time, and after a timeout reattaches to a new
    /// publisher if the old one went away.
    pub fn after_wait(&mut self, ready: bool) {
        self.idle = !ready;
        if !ready {
            self.reattach_if_replaced();
        }
    }

    /// If the publisher is gone and a new one created the topic again,
    /// switches to the new segment (from its first message).
    fn reattach_if_replaced(&mut self) {
        self.last_health = Instant::now();
        if !self.follow {
            return;
        }
        // The cheap question first: a `stat` of the name; `/proc` only if
        // it now refers to another segment.
        if !self.seg.is_replaced() || self.publisher_alive() {
            return;
        }
        if let Ok((seg, ring)) = open(self.seg.name(), ROLE, &self.expect, Duration::ZERO) {
            self.missed_before += self.reader.missed();
            self.switches += 1;
            self.left_published = self.reader.ring().published();
            self.reader = Reader::at_start(ring);
            // Samples of the old segment keep their lease (and its mapping),
            // and still count against this subscriber's limit.
            let old = std::mem::replace(
                &mut self.lease,
                Arc::new(Lease {
                    _map: seg.mapping(),
                }),
            );
            if Arc::strong_count(&old) > 1 {
                self.retired.push(old);
            }
            self.seg = seg;
            crate::events::emit(|| crate::events::Event::Reattached {
                name: self.seg.name().to_owned(),
                pid: self.seg.creator_pid(),
            });
        }
    }

    /// Arms `watch` (see [`crate::bells`]): its bell rings at the next
    /// message or when the publisher closes the topic. Returns `true` if a
    /// message is there already: take it instead of waiting. A topic whose
    /// publisher went away is first checked for a new publisher.
    #[cfg(not(loom))]
    pub fn arm(&mut self, watch: &mut crate::bells::Watch) -> bool {
        if self.reader.ring().is_closed() {
            self.reattach_if_replaced();
        }
        self.reader.ring().arm(watch);
        self.reader.ready()
    }

    /// Borrows the next message in place (see [the module docs](self#borrowing)).
    pub fn try_borrow(&mut self) -> Result<RawSample, BorrowError> {
        // Only `&mut self` adds samples, so the count cannot grow between
        // this check and the clone below (drops elsewhere only lower it).
        if self.samples_out() >= self.opts.max_borrows as usize {
            return Err(BorrowError::Limit {
                limit: self.opts.max_borrows,
            });
        }
        // `try_pin` answers `Empty` with one load, before touching the
        // topic's counters (busy-polling callers spend most calls there).
        let pin = self.reader.try_borrow()?;
        Ok(RawSample {
            codec: Codec::from_tag(pin.tag()),
            pin,
            _lease: self.lease.clone(),
        })
    }

    /// Samples of this subscriber alive now: each lease's strong count,
    /// minus the handle this subscriber keeps of its current one.
    fn samples_out(&mut self) -> usize {
        let mut out = Arc::strong_count(&self.lease) - 1;
        if !self.retired.is_empty() {
            self.retired.retain(|l| Arc::strong_count(l) > 1);
            out += self
                .retired
                .iter()
                .map(|l| Arc::strong_count(l) - 1)
                .sum::<usize>();
        }
        out
    }

    /// Borrows the next message, waiting up to `deadline` (forever if `None`).
    pub fn borrow_deadline(&mut self, deadline: Option<Instant>) -> Result<RawSample, BorrowError> {
        loop {
            match self.try_borrow() {
                Err(BorrowError::Empty) => {}
                r => return r,
            }
            if !self.wait(deadline) {
                return Err(BorrowError::Empty);
            }
        }
    }
}

/// If topic `name` has the segment of a dead publisher (killed before its
/// drop could close it), closes its ring, which wakes the subscribers
/// blocked on it: they then attach to the segment that replaces it (made
/// next by the caller, or later by a new publisher once the caller removed
/// the file) without polling for it.
pub(crate) fn close_stale_ring(name: &str, role: &str) {
    if let Ok((seg, ring)) = open(name, role, &Expect::Any, Duration::ZERO) {
        if !seg.is_closed() && !ring.is_closed() && !seg.creator_alive() {
            ring.close();
        }
    }
}

fn open(
    name: &str,
    role: &str,
    expect: &Expect,
    timeout: Duration,
) -> Result<(Segment, Ring), OpenError> {
    let seg = Segment::open(&OpenSpec {
        name,
        role,
        kind: ChannelKind::PubSub,
        timeout,
    })?;
    match expect {
        Expect::Any => {}
        Expect::Dynamic => seg.check_payload(None, "topic")?,
        Expect::Typed(ours) => seg.check_payload(Some(ours), "topic")?,
    }
    // The region lives as long as `seg`, which every holder of this ring
    // keeps next to it (samples and waiters keep its mapping).
    let ring = Ring::attach(seg.region()).map_err(|reason| OpenError::Corrupt {
        name: name.to_owned(),
        reason,
    })?;
    // A subscriber never writes the entries and chunks: map them read-only,
    // so that a stray write faults here instead of breaking the topic.
    let (off, len) = ring.reader_read_only();
    seg.protect_read_only(off, len)
        .map_err(|source| OpenError::Io {
            name: name.to_owned(),
            op: "mprotect",
            source,
        })?;
    if let Expect::Typed(ours) = expect {
        // A variable-size topic's slots hold its own maximum, which its
        // descriptor records (the hash, already checked, leaves it out).
        let slot = match ours.tail {
            None => ours.size,
            Some(_) => LayoutDescriptor::decode(&seg.layout_bytes())
                .map_err(|e| OpenError::Corrupt {
                    name: name.to_owned(),
                    reason: e.to_string(),
                })?
                .max_message_len(),
        };
        if ring.geometry().max_payload != slot {
            return Err(OpenError::Corrupt {
                name: name.to_owned(),
                reason: format!(
                    "slots of {} bytes for a {slot}-byte message",
                    ring.geometry().max_payload,
                ),
            });
        }
    }
    Ok((seg, ring))
}

/// Waits for a subscriber's next message without borrowing the subscriber
/// (see [`RawSubscriber::waiter`]). Keeps the topic's memory mapped.
#[derive(Debug)]
pub struct Waiter {
    reader: Reader,
    _map: Arc<Mapping>,
    spin: bool,
}

impl Waiter {
    /// Waits until a message may be ready or `deadline` passes; `false` on
    /// timeout. Spins first only if the subscriber's last wait did not time out.
    pub fn wait(&self, deadline: Option<Instant>) -> bool {
        self.reader.wait(deadline, self.spin)
    }
}

/// What a subscriber's samples share: the mapping they point into.
#[derive(Debug)]
struct Lease {
    _map: Arc<Mapping>,
}

/// A message borrowed in place from a topic's slot. The slot is not
/// rewritten while this lives; dropping it releases the slot.
#[derive(Debug)]
pub struct RawSample {
    /// The pinned chunk; unpinned on drop, before the lease goes (fields
    /// drop in order).
    pin: ring::Borrowed,
    /// Keeps the mapping (and counts against the subscriber's limit).
    _lease: Arc<Lease>,
    codec: Codec,
}

impl RawSample {
    /// The payload bytes, in shared memory; they do not change while
    /// `self` lives.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        self.pin.as_bytes()
    }

    /// Start of the payload (8-aligned).
    #[inline]
    pub fn as_ptr(&self) -> *const u8 {
        self.pin.as_ptr()
    }

    /// Payload length.
    #[inline]
    pub fn len(&self) -> usize {
        self.pin.len()
    }

    /// `true` for an empty payload.
    pub fn is_empty(&self) -> bool {
        self.pin.is_empty()
    }

    /// The frame's codec.
    pub fn codec(&self) -> Codec {
        self.codec
    }
}

/// `Pose::publisher("robot/pose")` and `Pose::subscriber("robot/pose")`
/// for every message type: PUB/SUB's constructors, named from the type.
/// Implemented for every [`ShmMessage`]; in scope with
/// `use shm_comm::TopicExt` (or `shm_comm::prelude::*`).
///
/// PUSH/PULL has the same pair in [`QueueExt`](crate::pipeline::QueueExt)
/// (`Job::pusher`, `Job::puller`). REQ/REP has none: a service carries two
/// types, and `Requester::<Add, Sum>::connect` names both where a helper on
/// one of them could not.
pub trait TopicExt: ShmMessage {
    /// Creates the topic `name` for this type (see [`Publisher::create`]).
    fn publisher(name: &str) -> Result<Publisher<Self>, CreateError> {
        Publisher::create(name)
    }

    /// Connects to the topic `name` of this type (waits up to 5 s for its
    /// publisher; see [`Subscriber::connect`]).
    fn subscriber(name: &str) -> Result<Subscriber<Self>, OpenError> {
        Subscriber::connect(name)
    }
}

impl<T: ShmMessage> TopicExt for T {}

/// A typed publisher: see the [module docs](self).
#[derive(Debug)]
pub struct Publisher<T: ShmMessage> {
    raw: RawPublisher,
    _t: PhantomData<fn(&T)>,
}

impl<T: ShmMessage> Publisher<T> {
    /// Creates topic `name` with the default options for `T`'s size
    /// ([`PubOptions::for_size`]: 64 messages, unless `T` is so large that
    /// they would take more than [`DEFAULT_POOL_BYTES`]).
    pub fn create(name: &str) -> Result<Self, CreateError> {
        Self::create_with(name, TypedPubOptions::for_size(std::mem::size_of::<T>()))
    }

    /// Creates topic `name`.
    pub fn create_with(name: &str, opts: TypedPubOptions) -> Result<Self, CreateError> {
        let opts = PubOptions {
            capacity: opts.capacity,
            max_payload: u32::try_from(std::mem::size_of::<T>()).unwrap_or(u32::MAX),
            borrow_budget: opts.borrow_budget,
        };
        Ok(Publisher {
            raw: RawPublisher::create(name, &Payload::typed::<T>(), opts)?,
            _t: PhantomData,
        })
    }

    /// Publishes a copy of `msg`. Never blocks.
    pub fn send(&mut self, msg: &T) -> Result<(), SendError> {
        self.raw.send(as_bytes(msg), Codec::Typed)
    }

    /// Claims a slot to build the next message in place (zero-copy for large
    /// messages); publish it with [`Loan::send`].
    pub fn loan(&mut self) -> Result<Loan<'_, T>, SendError> {
        Ok(Loan::of_raw(self.raw.loan()?))
    }

    /// Messages published so far.
    pub fn published(&self) -> u64 {
        self.raw.published()
    }

    /// The untyped publisher.
    pub fn raw(&self) -> &RawPublisher {
        &self.raw
    }
}

/// A slot claimed for a typed message; derefs to `T` holding stale data from
/// the slot's previous use (every bit pattern is a valid `T`). Write the
/// fields, then [`send`](Self::send).
#[derive(Debug)]
pub struct Loan<'a, T: ShmMessage> {
    raw: RawLoan<'a>,
    _t: PhantomData<&'a mut T>,
}

impl<'a, T: ShmMessage> Loan<'a, T> {
    /// The typed view of a slot claimed on a ring of `T`-sized slots.
    pub(crate) fn of_raw(raw: RawLoan<'a>) -> Loan<'a, T> {
        Loan {
            raw,
            _t: PhantomData,
        }
    }

    /// Publishes the message.
    pub fn send(self) -> Result<(), SendError> {
        self.raw.send(std::mem::size_of::<T>(), Codec::Typed)
    }
}

impl<T: ShmMessage> std::ops::Deref for Loan<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // The slot is 8-aligned (T's alignment is at most 8) and holds
        // `size_of::<T>()` bytes (the topic's slot size); nothing else
        // writes it while the loan lives (see `Writer::payload_bytes_mut`).
        ref_from_bytes(self.raw.as_bytes())
    }
}

impl<T: ShmMessage> std::ops::DerefMut for Loan<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // As in `deref`; `&mut self` makes this program's access unique.
        mut_from_bytes(self.raw.as_mut_bytes())
    }
}

/// A typed subscriber: see the [module docs](self).
#[derive(Debug)]
pub struct Subscriber<T: ShmMessage> {
    raw: RawSubscriber,
    _t: PhantomData<fn() -> T>,
}

impl<T: ShmMessage> Subscriber<T> {
    /// Connects to topic `name` with default options (waits up to 5 s for it).
    pub fn connect(name: &str) -> Result<Self, OpenError> {
        Self::connect_with(name, ConnectOptions::default())
    }

    /// Connects to topic `name`; fails with [`OpenError::LayoutMismatch`] if
    /// it carries another type.
    pub fn connect_with(name: &str, opts: ConnectOptions) -> Result<Self, OpenError> {
        Ok(Subscriber {
            raw: RawSubscriber::connect(name, Expect::Typed(T::layout()), opts)?,
            _t: PhantomData,
        })
    }

    /// The next message, if one is there. Never blocks.
    ///
    /// By value: a type over [`MAX_BY_VALUE`](crate::message::MAX_BY_VALUE)
    /// does not compile here; receive it with [`try_recv_into`](Self::try_recv_into)
    /// or [`recv_boxed`](Self::recv_boxed).
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let () = ByValue::<T>::CHECK;
        read_with(
            |dst| self.raw.try_recv_uninit(dst).map(|(len, _)| len),
            |len| {
                TryRecvError::Corrupt(format!(
                    "message of {len} bytes on a topic of {}-byte messages",
                    std::mem::size_of::<T>()
                ))
            },
        )
    }

    /// The next message, waiting up to `timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        // A message already there needs no clock reading (about 20 ns).
        match self.try_recv() {
            Err(TryRecvError::Empty) => self.recv_deadline(Instant::now().checked_add(timeout)),
            r => r.map_err(Into::into),
        }
    }

    /// The next message, waiting until `deadline` (forever if `None`).
    pub fn recv_deadline(&mut self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        loop {
            match self.try_recv() {
                Err(TryRecvError::Empty) => {}
                r => return r.map_err(Into::into),
            }
            if !self.raw.wait(deadline) {
                return Err(RecvTimeoutError::Timeout);
            }
        }
    }

    /// The next message, waiting as long as it takes.
    pub fn recv(&mut self) -> Result<T, RecvError> {
        self.recv_deadline(None).map_err(forever)
    }

    fn wrong_size<E>(len: usize, make: impl FnOnce(String) -> E) -> E {
        make(format!(
            "message of {len} bytes on a topic of {}-byte messages",
            std::mem::size_of::<T>()
        ))
    }

    /// Copies the next message, if one is there, into `out` (any size of
    /// message, no stack used). Never blocks. On an error `out` is left
    /// valid but unspecified.
    pub fn try_recv_into(&mut self, out: &mut T) -> Result<(), TryRecvError> {
        read_into(
            out,
            |dst| self.raw.try_recv_uninit(dst).map(|(len, _)| len),
            |len| Self::wrong_size(len, TryRecvError::Corrupt),
        )
    }

    /// Copies the next message into `out`, waiting until `deadline`
    /// (forever if `None`).
    pub fn recv_into_deadline(
        &mut self,
        out: &mut T,
        deadline: Option<Instant>,
    ) -> Result<(), RecvTimeoutError> {
        loop {
            match self.try_recv_into(out) {
                Err(TryRecvError::Empty) => {}
                r => return r.map_err(Into::into),
            }
            if !self.raw.wait(deadline) {
                return Err(RecvTimeoutError::Timeout);
            }
        }
    }

    /// Copies the next message into `out`, waiting up to `timeout`.
    pub fn recv_into_timeout(
        &mut self,
        out: &mut T,
        timeout: Duration,
    ) -> Result<(), RecvTimeoutError> {
        match self.try_recv_into(out) {
            Err(TryRecvError::Empty) => {
                self.recv_into_deadline(out, Instant::now().checked_add(timeout))
            }
            r => r.map_err(Into::into),
        }
    }

    /// Copies the next message into `out`, waiting as long as it takes.
    ///
    /// ```no_run
    /// # use shm_comm::{msgs::Image4K, pubsub::Subscriber};
    /// let mut sub = Subscriber::<Image4K>::connect("camera/4k")?;
    /// let mut frame: Box<Image4K> = shm_comm::zeroed_box(); // 24 MB, made once
    /// loop {
    ///     sub.recv_into(&mut frame)?;
    ///     println!("{}x{}", frame.width, frame.height);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_into(&mut self, out: &mut T) -> Result<(), RecvError> {
        self.recv_into_deadline(out, None).map_err(forever)
    }

    /// The next message in a new box, waiting up to `timeout`: for types
    /// too large for the stack. [`recv_into`](Self::recv_into) reuses one
    /// box instead of allocating each time.
    pub fn recv_boxed_timeout(&mut self, timeout: Duration) -> Result<Box<T>, RecvTimeoutError> {
        let mut out = zeroed_box::<T>();
        self.recv_into_timeout(&mut out, timeout)?;
        Ok(out)
    }

    /// The next message in a new box, waiting as long as it takes.
    pub fn recv_boxed(&mut self) -> Result<Box<T>, RecvError> {
        let mut out = zeroed_box::<T>();
        self.recv_into(&mut out)?;
        Ok(out)
    }

    /// Borrows the next message in place, without copying.
    pub fn try_borrow(&mut self) -> Result<Sample<T>, BorrowError> {
        Sample::of_raw(self.raw.try_borrow()?)
    }

    /// Borrows the next message, waiting up to `timeout` (`BorrowError::Empty` on timeout).
    pub fn borrow_timeout(&mut self, timeout: Duration) -> Result<Sample<T>, BorrowError> {
        match self.try_borrow() {
            Err(BorrowError::Empty) => {}
            r => return r,
        }
        let deadline = Instant::now().checked_add(timeout);
        loop {
            match self.try_borrow() {
                Err(BorrowError::Empty) => {}
                r => return r,
            }
            if !self.raw.wait(deadline) {
                return Err(BorrowError::Empty);
            }
        }
    }

    /// Messages skipped because this subscriber fell behind.
    pub fn missed(&self) -> u64 {
        self.raw.missed()
    }

    /// The untyped subscriber.
    pub fn raw(&self) -> &RawSubscriber {
        &self.raw
    }

    /// The untyped subscriber, mutably.
    pub fn raw_mut(&mut self) -> &mut RawSubscriber {
        &mut self.raw
    }
}

/// A typed message borrowed in place; derefs to `&T`.
#[derive(Debug)]
pub struct Sample<T> {
    raw: RawSample,
    _t: PhantomData<T>,
}

impl<T: ShmMessage> Sample<T> {
    /// The typed view of `raw`, which must hold exactly one `T`.
    pub(crate) fn of_raw(raw: RawSample) -> Result<Sample<T>, BorrowError> {
        if raw.len() != std::mem::size_of::<T>() {
            return Err(BorrowError::Corrupt(format!(
                "message of {} bytes on a topic of {}-byte messages",
                raw.len(),
                std::mem::size_of::<T>()
            )));
        }
        Ok(Sample {
            raw,
            _t: PhantomData,
        })
    }
}

impl<T: ShmMessage> std::ops::Deref for Sample<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // The pinned slot is 8-aligned (>= align_of::<T>()), holds exactly
        // size_of::<T>() bytes (checked in `try_borrow`), and does not
        // change while pinned.
        ref_from_bytes(self.raw.as_bytes())
    }
}

/// A publisher of dynamic frames: bytes, msgpack or pickle.
#[derive(Debug)]
pub struct DynPublisher {
    raw: RawPublisher,
}

impl DynPublisher {
    /// Creates dynamic topic `name` with the default options (64 frames of
    /// up to 4096 bytes).
    pub fn create(name: &str) -> Result<Self, CreateError> {
        Self::create_with(name, PubOptions::default())
    }

    /// Creates dynamic topic `name` with slots of `opts.max_payload` bytes.
    pub fn create_with(name: &str, opts: PubOptions) -> Result<Self, CreateError> {
        Ok(DynPublisher {
            raw: RawPublisher::create(name, &Payload::Dynamic, opts)?,
        })
    }

    /// Publishes raw bytes. A frame larger than the slot is an error, never
    /// truncated.
    pub fn send_bytes(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.raw.send(data, Codec::Raw)
    }

    /// Publishes a frame tagged with `codec`.
    pub fn send_frame(&mut self, data: &[u8], codec: Codec) -> Result<(), SendError> {
        self.raw.send(data, codec)
    }

    /// Publishes `value` encoded as msgpack (structs as maps).
    pub fn send_msgpack<V: serde::Serialize + ?Sized>(
        &mut self,
        value: &V,
    ) -> Result<(), SendError> {
        let data = crate::codec::to_msgpack(value).map_err(SendError::Encode)?;
        self.raw.send(&data, Codec::MsgPack)
    }

    /// The untyped publisher.
    pub fn raw_mut(&mut self) -> &mut RawPublisher {
        &mut self.raw
    }
}

/// A subscriber of dynamic frames.
#[derive(Debug)]
pub struct DynSubscriber {
    raw: RawSubscriber,
}

impl DynSubscriber {
    /// Connects to dynamic topic `name` with default options (waits up to
    /// 5 s for it).
    pub fn connect(name: &str) -> Result<Self, OpenError> {
        Self::connect_with(name, ConnectOptions::default())
    }

    /// Connects to dynamic topic `name`; fails with
    /// [`OpenError::Incompatible`] if it is a typed topic.
    pub fn connect_with(name: &str, opts: ConnectOptions) -> Result<Self, OpenError> {
        Ok(DynSubscriber {
            raw: RawSubscriber::connect(name, Expect::Dynamic, opts)?,
        })
    }

    /// The next frame, if one is there. Its buffer is made once the
    /// length is known (an empty poll allocates nothing).
    pub fn try_recv(&mut self) -> Result<Frame, TryRecvError> {
        let read = self.raw.try_recv_with(|len, copy| {
            let mut data = vec![0; len];
            copy(&mut data);
            Ok::<_, std::convert::Infallible>(data)
        })?;
        let Ok((data, codec)) = read;
        Ok(Frame { codec, data })
    }

    /// The next frame, waiting up to `timeout`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Frame, RecvTimeoutError> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            match self.try_recv() {
                Err(TryRecvError::Empty) => {}
                r => return r.map_err(Into::into),
            }
            if !self.raw.wait(deadline) {
                return Err(RecvTimeoutError::Timeout);
            }
        }
    }

    /// The next frame into a reused buffer, waiting until `deadline` (forever if `None`).
    pub fn recv_into(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<Codec, RecvTimeoutError> {
        self.raw.recv_into_deadline(buf, deadline)
    }

    /// Messages skipped because this subscriber fell behind.
    pub fn missed(&self) -> u64 {
        self.raw.missed()
    }

    /// The untyped subscriber.
    pub fn raw_mut(&mut self) -> &mut RawSubscriber {
        &mut self.raw
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pool_is_sized_by_bytes() {
        let geo = |o: PubOptions| (o.capacity, o.borrow_budget);
        assert_eq!(
            PubOptions::for_size(64),
            PubOptions {
                max_payload: 64,
                ..Default::default()
            }
        );
        assert_eq!(geo(PubOptions::for_size(4096)), (64, 8));
        assert_eq!(geo(PubOptions::for_size(64 << 10)), (55, 7));
        assert_eq!(geo(PubOptions::for_size(256 << 10)), (13, 1));
        assert_eq!(geo(PubOptions::for_size(1 << 20)), (2, 1));
        assert_eq!(geo(PubOptions::for_size(16 << 20)), (2, 1));
        for size in [1usize, 4096, 60_000, 100_000, 1 << 20, 16 << 20] {
            let o = PubOptions::for_size(size);
            let g = Geometry {
                capacity: o.capacity,
                max_payload: o.max_payload,
                borrow_budget: o.borrow_budget,
            };
            assert!(g.check().is_ok());
            assert!(
                g.chunks() as usize * g.stride() <= DEFAULT_POOL_BYTES || g.chunks() == 4,
                "{size}"
            );
        }
    }
}
