//! Multi-publisher topics: any number of publishers on one topic, every
//! subscriber receiving the messages of all of them.
//!
//! ```
//! use shm_comm::multipub::{MultiPublisher, MultiSubscriber};
//! use shm_comm::ShmMessage;
//!
//! #[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
//! #[repr(C)]
//! struct Diag { level: u32, code: u32 }
//!
//! let mut subscriber = MultiSubscriber::<Diag>::connect("doc/diagnostics")?;
//! let mut motor = MultiPublisher::<Diag>::create("doc/diagnostics")?;
//! let mut lidar = MultiPublisher::<Diag>::create("doc/diagnostics")?;
//! motor.send(&Diag { level: 1, code: 7 })?;
//! lidar.send(&Diag { level: 2, code: 9 })?;
//! let (from, first) = subscriber.try_recv()?;
//! let (_, second) = subscriber.try_recv()?;
//! assert_ne!(first, second);
//! assert!(from == motor.id() || from == lidar.id());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Opting in
//! A multi-publisher topic is a different kind of topic from the
//! single-publisher one of [`crate::pubsub`] (whose second publisher still
//! gets [`CreateError::InUse`]): its publishers and subscribers are the
//! types of this module, and a [`pubsub`](crate::pubsub) handle does not
//! see it. All publishers of a topic carry the same layout (typed) or are
//! all dynamic; a publisher that disagrees with the topic fails to join.
//!
//! # Shape
//! The topic has a small *directory* segment (role `mpub`): a participant
//! table where each publisher and subscriber is registered with its pid,
//! and a change counter with a wake-up word. Each publisher owns an
//! ordinary single-writer ring segment of its own (role `mp<slot>`, where
//! `slot` is its entry in the table), so a publisher killed mid-write
//! can neither tear nor block the others: its half-written slot is never
//! committed. A subscriber keeps one ring subscriber per publisher; one
//! load of the change counter per receive tells it whether publishers came
//! or went.
//!
//! # Merge order
//! Each publisher's messages arrive in the order it sent them. Across
//! publishers the rule is **round robin**: each receive starts with the
//! publisher after the one that gave the last message, and takes the
//! first that has one. A busy publisher thus cannot starve a quiet one,
//! but there is no global time order between publishers (the ring carries
//! no publish time: adding one would change its layout). The receive says
//! which publisher a message came from ([`PublisherId`]).
//!
//! # Lagging
//! Each publisher's ring keeps its last `capacity` messages; a subscriber
//! that falls further behind one publisher skips that publisher's oldest
//! messages, and [`missed_from`](RawMultiSubscriber::missed_from) counts
//! exactly how many it skipped of each publisher, [`missed`](MultiSubscriber::missed)
//! of all of them (including publishers that left).
//!
//! # Publishers coming and going
//! A subscriber starts with the publishers present when it connects (at
//! their newest message with [`ConnectOptions::last_value`], else after
//! it). A publisher found later is read from the first message its ring
//! still keeps, so nothing it sent after joining is lost unless lapped.
//! A publisher that leaves (dropped, or killed and then noticed: its
//! entry is freed by the next join or leave) is read to the end of its
//! ring and then forgotten. A publisher that joins and leaves again
//! before a subscriber's next receive (or wake-up) is never seen by it,
//! nor counted missed: as for messages sent before a subscriber connected.
//! A blocked subscriber sleeps on a doorbell
//! ([`crate::poll::Poller`]) armed on every publisher's ring and on the
//! directory's change counter: it wakes for a message of any publisher or
//! for a publisher joining or leaving, and spends no CPU while idle.

use std::marker::PhantomData;
use std::time::{Duration, Instant};

use crate::bells::Watch;
use crate::codec::{Codec, Frame};
use crate::error::{
    forever, BorrowError, CreateError, RecvError, RecvTimeoutError, SendError, TryRecvError,
};
use crate::message::{as_bytes, read_with, ByValue, ShmMessage};
use crate::poll::{Poller, Waitable};
use crate::pubsub::{
    ConnectOptions, Expect, Loan, PubOptions, RawPublisher, RawSample, RawSubscriber, Sample,
    TypedPubOptions,
};
use crate::segment::{ChannelKind, CreateSpec, CreatedOrJoined, Payload, SharedSegment};

/// The segment role of a topic's directory.
const DIR_ROLE: &str = "mpub";
/// Bytes of the directory after its participant table (unused for now).
const DIR_BODY: usize = 64;
/// Participant role of a publisher in the directory.
pub const PUBLISHER: u32 = 1;
/// Participant role of a subscriber in the directory (it keeps the
/// directory, hence the change counter it waits on, alive while no
/// publisher is there).
pub const SUBSCRIBER: u32 = 2;
/// A wait that slept (in the poller) less than this would have been caught
/// by spinning: the next wait spins first (as in [`crate::pubsub`]).
const SPIN_PAYS: Duration = Duration::from_micros(50);
/// How long a waiter that is not idle spins before it sleeps.
const SPIN: Duration = Duration::from_micros(20);

/// The segment role of the ring of the publisher in directory entry `slot`.
fn ring_role(slot: u32) -> String {
    format!("mp{slot}")
}

/// Joins (or makes) the directory of topic `name`.
fn join_directory(name: &str, payload: &Payload, role: u32) -> Result<SharedSegment, CreateError> {
    let spec = CreateSpec {
        name,
        role: DIR_ROLE,
        kind: ChannelKind::Directory,
        payload,
        region_len: DIR_BODY,
    };
    Ok(match SharedSegment::create_or_join(&spec, role, None)? {
        // The body is not used: nothing to write before publishing.
        CreatedOrJoined::Created(new) => new.publish(),
        CreatedOrJoined::Joined(seg) => seg,
    })
}

/// Which publisher a message came from: its entry in the topic's directory
/// and its pid. A publisher that replaces a dead one may get its slot, never
/// its pid (while the dead one's messages are still read).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PublisherId {
    /// The publisher's entry in the directory (also names its ring).
    pub slot: u32,
    /// The publisher's process.
    pub pid: u32,
}

/// The untyped publisher of a multi-publisher topic: its own ring, and its
/// entry in the topic's directory.
#[derive(Debug)]
pub struct RawMultiPublisher {
    // Dropped first: closes and removes the ring (waking its readers)
    // before the entry leaves the directory (waking the subscribers, who
    // then read the ring to its end and forget it).
    ring: RawPublisher,
    dir: SharedSegment,
}

impl RawMultiPublisher {
    /// Joins (or makes) multi-publisher topic `name` carrying `payload`,
    /// with a ring of its own made with `opts`.
    pub fn create(
        name: &str,
        payload: &Payload,
        opts: PubOptions,
    ) -> Result<RawMultiPublisher, CreateError> {
        let dir = join_directory(name, payload, PUBLISHER)?;
        let ring = RawPublisher::create_in(name, &ring_role(dir.index()), payload, opts)?;
        // Subscribers that looked for our ring before it existed look again.
        dir.touch();
        Ok(RawMultiPublisher { ring, dir })
    }

    /// Who this publisher is, as its subscribers see it.
    pub fn id(&self) -> PublisherId {
        PublisherId {
            slot: self.dir.index(),
            pid: std::process::id(),
        }
    }

    /// This publisher's ring.
    pub fn ring(&mut self) -> &mut RawPublisher {
        &mut self.ring
    }

    /// Live publishers on the topic now, this one included (reads `/proc`).
    pub fn publishers(&self) -> u32 {
        self.dir.count_live(PUBLISHER)
    }
}

/// One publisher's ring, as a subscriber reads it.
#[derive(Debug)]
struct Source {
    id: PublisherId,
    sub: RawSubscriber,
}

/// The untyped subscriber of a multi-publisher topic that the typed and
/// dynamic ones wrap (see the [module docs](self)).
#[derive(Debug)]
pub struct RawMultiSubscriber {
    name: String,
    expect: Expect,
    opts: ConnectOptions,
    dir: SharedSegment,
    /// The directory's change counter when it was last scanned.
    seen: u64,
    /// The rings of the publishers listed in the directory.
    sources: Vec<Source>,
    /// Rings of publishers that left: read to their end, then dropped.
    draining: Vec<Source>,
    /// Messages missed of publishers forgotten since.
    missed_gone: u64,
    /// Where the next round-robin turn starts in `sources`.
    next: usize,
    /// Made at the first blocking wait.
    poller: Option<Poller>,
    /// Do not spin on the next wait (see [`SPIN_PAYS`]).
    idle: bool,
}

impl RawMultiSubscriber {
    /// Joins (or makes) multi-publisher topic `name`, expecting `payload`,
    /// and attaches to the rings of the publishers there now.
    pub fn connect(
        name: &str,
        payload: &Payload,
        expect: Expect,
        opts: ConnectOptions,
    ) -> Result<RawMultiSubscriber, CreateError> {
        let dir = join_directory(name, payload, SUBSCRIBER)?;
        let mut sub = RawMultiSubscriber {
            name: name.to_owned(),
            expect,
            opts,
            seen: dir.changes().wrapping_sub(1),
            dir,
            sources: Vec::new(),
            draining: Vec::new(),
            missed_gone: 0,
            next: 0,
            poller: None,
            idle: false,
        };
        sub.rescan(false);
        Ok(sub)
    }

    /// The publishers this subscriber reads now.
    pub fn publishers(&self) -> Vec<PublisherId> {
        self.sources.iter().map(|s| s.id).collect()
    }

    /// Messages skipped of all publishers, including those that left.
    pub fn missed(&self) -> u64 {
        self.missed_gone
            + self
                .sources
                .iter()
                .chain(&self.draining)
                .map(|s| s.sub.missed())
                .sum::<u64>()
    }

    /// Messages skipped of publisher `id`, if this subscriber reads it now.
    pub fn missed_from(&self, id: PublisherId) -> Option<u64> {
        self.sources
            .iter()
            .chain(&self.draining)
            .find(|s| s.id == id)
            .map(|s| s.sub.missed())
    }

    /// Follows the directory if its change counter moved: publishers that
    /// left go to `draining`, new ones are attached (from the start of
    /// their ring if `from_start`).
    fn rescan(&mut self, from_start: bool) {
        let now = self.dir.changes();
        if now == self.seen {
            return;
        }
        self.seen = now;
        let members = self.dir.members(PUBLISHER);
        let mut i = 0;
        while i < self.sources.len() {
            let id = self.sources[i].id;
            if members.contains(&(id.slot, id.pid)) {
                i += 1;
            } else {
                let gone = self.sources.remove(i);
                self.draining.push(gone);
            }
        }
        for (slot, pid) in members {
            let id = PublisherId { slot, pid };
            if self.sources.iter().any(|s| s.id == id) {
                continue;
            }
            let opts = ConnectOptions {
                timeout: Duration::ZERO,
                ..self.opts
            };
            let role = ring_role(slot);
            match RawSubscriber::connect_in(
                &self.name,
                &role,
                self.expect.clone(),
                opts,
                from_start,
            ) {
                Ok(sub) if sub.publisher_pid() == pid => self.sources.push(Source { id, sub }),
                // Its ring is not made yet (the publisher touches the
                // directory once it is, which brings us back), or the
                // name still holds the ring of the entry's dead previous
                // owner (replaced next, then touched), or the ring does
                // not carry what we expect (left out: it is not ours).
                _ => {}
            }
        }
    }

    /// Takes the next message with `read` (see [Merge order](self#merge-order)).
    pub fn try_take<R>(
        &mut self,
        read: impl FnMut(&mut RawSubscriber) -> Result<R, TryRecvError>,
    ) -> Result<(PublisherId, R), TryRecvError> {
        self.take_with(|e| *e == TryRecvError::Empty, read)?
            .ok_or(TryRecvError::Empty)
    }

    /// Borrows the next message in place (see [Merge order](self#merge-order)
    /// and [`RawSubscriber::try_borrow`]; the borrow limit counts per publisher).
    pub fn try_borrow(&mut self) -> Result<(PublisherId, RawSample), BorrowError> {
        self.take_with(|e| *e == BorrowError::Empty, RawSubscriber::try_borrow)?
            .ok_or(BorrowError::Empty)
    }

    /// The merge: `read` on each ring in turn until one gives something
    /// other than what `is_empty` says is nothing (`Ok(None)`: all empty).
    fn take_with<R, E>(
        &mut self,
        is_empty: impl Fn(&E) -> bool,
        mut read: impl FnMut(&mut RawSubscriber) -> Result<R, E>,
    ) -> Result<Option<(PublisherId, R)>, E> {
        self.rescan(true);
        while let Some(src) = self.draining.first_mut() {
            let id = src.id;
            match read(&mut src.sub) {
                Err(e) if is_empty(&e) => {
                    let gone = self.draining.remove(0);
                    self.missed_gone += gone.sub.missed();
                }
                r => return r.map(|m| Some((id, m))),
            }
        }
        let n = self.sources.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            let src = &mut self.sources[i];
            match read(&mut src.sub) {
                Err(e) if is_empty(&e) => {}
                r => {
                    self.next = i + 1;
                    let id = src.id;
                    return r.map(|m| Some((id, m)));
                }
            }
        }
        Ok(None)
    }

    /// Receives into `buf` (cleared, then filled), returning the sender and
    /// the codec. Never blocks.
    pub fn try_recv_into(
        &mut self,
        buf: &mut Vec<u8>,
    ) -> Result<(PublisherId, Codec), TryRecvError> {
        self.try_take(|sub| sub.try_recv_into(buf))
    }

    /// `true` if a receive would not return `Empty` now.
    fn ready(&self) -> bool {
        self.dir.changes() != self.seen
            || !self.draining.is_empty()
            || self.sources.iter().any(|s| s.sub.ready())
    }

    /// Waits until a message may be ready or `deadline` passes (forever if
    /// `None`); `false` on timeout.
    pub fn wait(&mut self, deadline: Option<Instant>) -> bool {
        let start = Instant::now();
        if !self.idle {
            let until = deadline.map_or(start + SPIN, |d| d.min(start + SPIN));
            while Instant::now() < until {
                if self.ready() {
                    return true;
                }
                std::hint::spin_loop();
            }
        }
        if self.poller.is_none() {
            match Poller::new() {
                Ok(p) => self.poller = Some(p),
                Err(_) => {
                    // No doorbell to be had (all slots of this user taken):
                    // look again in a millisecond instead.
                    let now = Instant::now();
                    let slice = Duration::from_millis(1);
                    let left = deadline.map_or(slice, |d| d.saturating_duration_since(now));
                    std::thread::sleep(left.min(slice));
                    return self.ready() || deadline.is_none_or(|d| Instant::now() < d);
                }
            }
        }
        let Some(mut poller) = self.poller.take() else {
            return false;
        };
        let slept = Instant::now();
        let timeout = deadline.map(|d| d.saturating_duration_since(slept));
        let ready = match poller.poll(&mut [&mut *self as &mut dyn Waitable], timeout) {
            Ok(r) => !r.is_empty(),
            Err(_) => {
                // The poll itself failed (a signal, say): let the caller
                // look, after a pause so that an error that persists
                // cannot turn the caller's loop into a spin.
                std::thread::sleep(Duration::from_millis(1));
                true
            }
        };
        self.poller = Some(poller);
        self.idle = !ready || slept.elapsed() > SPIN_PAYS;
        ready
    }

    /// Arms `watch` (see [`crate::bells`]) on the directory's change word
    /// and, with extra slots of the same bell, on the ring of every
    /// publisher: its bell rings when a publisher comes or goes or any of
    /// them sends. Returns `true` if a receive may find something now:
    /// take it instead of waiting. Also `true` (a spurious readiness:
    /// look, then arm again) when the user's doorbell board has no free
    /// slot for another publisher.
    #[cfg(not(loom))]
    pub fn arm(&mut self, watch: &mut Watch) -> bool {
        self.rescan(true);
        self.dir.arm(watch);
        let Ok(extra) = watch.extra(self.sources.len()) else {
            return true;
        };
        let mut ready = self.dir.changes() != self.seen || !self.draining.is_empty();
        for (src, w) in self.sources.iter_mut().zip(extra) {
            ready |= src.sub.arm(w);
        }
        ready
    }

    /// Receives into `buf`, waiting until `deadline` (forever if `None`).
    pub fn recv_into_deadline(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<(PublisherId, Codec), RecvTimeoutError> {
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
}

/// A typed publisher of a multi-publisher topic.
#[derive(Debug)]
pub struct MultiPublisher<T: ShmMessage> {
    raw: RawMultiPublisher,
    _t: PhantomData<fn(&T)>,
}

impl<T: ShmMessage> MultiPublisher<T> {
    /// Joins (or makes) multi-publisher topic `name` with the default ring
    /// options for `T`'s size ([`PubOptions::for_size`]).
    pub fn create(name: &str) -> Result<Self, CreateError> {
        Self::create_with(name, TypedPubOptions::for_size(std::mem::size_of::<T>()))
    }

    /// Joins (or makes) multi-publisher topic `name`; fails if it carries
    /// another type.
    pub fn create_with(name: &str, opts: TypedPubOptions) -> Result<Self, CreateError> {
        let opts = PubOptions {
            capacity: opts.capacity,
            max_payload: u32::try_from(std::mem::size_of::<T>()).unwrap_or(u32::MAX),
            borrow_budget: opts.borrow_budget,
        };
        Ok(MultiPublisher {
            raw: RawMultiPublisher::create(name, &Payload::typed::<T>(), opts)?,
            _t: PhantomData,
        })
    }

    /// Publishes a copy of `msg`. Never blocks.
    pub fn send(&mut self, msg: &T) -> Result<(), SendError> {
        self.raw.ring.send(as_bytes(msg), Codec::Typed)
    }

    /// Claims a slot of this publisher's ring to build the next message in
    /// place (zero-copy for large messages); publish it with [`Loan::send`].
    pub fn loan(&mut self) -> Result<Loan<'_, T>, SendError> {
        Ok(Loan::of_raw(self.raw.ring.loan()?))
    }

    /// Who this publisher is, as its subscribers see it.
    pub fn id(&self) -> PublisherId {
        self.raw.id()
    }

    /// Messages published so far by this publisher.
    pub fn published(&self) -> u64 {
        self.raw.ring.published()
    }

    /// The untyped publisher.
    pub fn raw_mut(&mut self) -> &mut RawMultiPublisher {
        &mut self.raw
    }
}

/// A typed subscriber of a multi-publisher topic.
#[derive(Debug)]
pub struct MultiSubscriber<T: ShmMessage> {
    raw: RawMultiSubscriber,
    _t: PhantomData<fn() -> T>,
}

impl<T: ShmMessage> MultiSubscriber<T> {
    /// Joins (or makes) multi-publisher topic `name` with default options.
    /// It needs no publisher: those that come later are followed.
    pub fn connect(name: &str) -> Result<Self, CreateError> {
        Self::connect_with(name, ConnectOptions::default())
    }

    /// Joins (or makes) multi-publisher topic `name`; fails if it carries
    /// another type. `opts.timeout` is not used (no publisher is waited for).
    pub fn connect_with(name: &str, opts: ConnectOptions) -> Result<Self, CreateError> {
        Ok(MultiSubscriber {
            raw: RawMultiSubscriber::connect(
                name,
                &Payload::typed::<T>(),
                Expect::Typed(T::layout()),
                opts,
            )?,
            _t: PhantomData,
        })
    }

    /// The next message and who sent it, if one is there. Never blocks.
    pub fn try_recv(&mut self) -> Result<(PublisherId, T), TryRecvError> {
        let () = ByValue::<T>::CHECK;
        let mut from = None;
        let msg = read_with(
            |dst| {
                let (id, (len, _)) = self.raw.try_take(|sub| sub.try_recv_uninit(dst))?;
                from = Some(id);
                Ok(len)
            },
            |len| {
                TryRecvError::Corrupt(format!(
                    "message of {len} bytes on a topic of {}-byte messages",
                    std::mem::size_of::<T>()
                ))
            },
        )?;
        let from = from.ok_or_else(|| TryRecvError::Corrupt("no sender".into()))?;
        Ok((from, msg))
    }

    /// Borrows the next message in place, with no copy, and says who sent
    /// it (see [`crate::pubsub`]'s Borrowing: the limit of samples held at
    /// once counts per publisher). Never blocks.
    pub fn try_borrow(&mut self) -> Result<(PublisherId, Sample<T>), BorrowError> {
        let (from, raw) = self.raw.try_borrow()?;
        Ok((from, Sample::of_raw(raw)?))
    }

    /// Borrows the next message, waiting up to `timeout` (`BorrowError::Empty`
    /// on timeout).
    pub fn borrow_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<(PublisherId, Sample<T>), BorrowError> {
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

    /// The next message, waiting up to `timeout`.
    pub fn recv_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<(PublisherId, T), RecvTimeoutError> {
        match self.try_recv() {
            Err(TryRecvError::Empty) => self.recv_deadline(Instant::now().checked_add(timeout)),
            r => r.map_err(Into::into),
        }
    }

    /// The next message, waiting until `deadline` (forever if `None`).
    pub fn recv_deadline(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<(PublisherId, T), RecvTimeoutError> {
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
    pub fn recv(&mut self) -> Result<(PublisherId, T), RecvError> {
        self.recv_deadline(None).map_err(forever)
    }

    /// Messages skipped of all publishers, including those that left.
    pub fn missed(&self) -> u64 {
        self.raw.missed()
    }

    /// The untyped subscriber.
    pub fn raw(&self) -> &RawMultiSubscriber {
        &self.raw
    }

    /// The untyped subscriber, mutably.
    pub fn raw_mut(&mut self) -> &mut RawMultiSubscriber {
        &mut self.raw
    }
}

/// A publisher of dynamic frames on a multi-publisher topic.
#[derive(Debug)]
pub struct DynMultiPublisher {
    raw: RawMultiPublisher,
}

impl DynMultiPublisher {
    /// Joins (or makes) dynamic multi-publisher topic `name` with the
    /// default options (64 frames of up to 4096 bytes).
    pub fn create(name: &str) -> Result<Self, CreateError> {
        Self::create_with(name, PubOptions::default())
    }

    /// Joins (or makes) dynamic multi-publisher topic `name`; its ring has
    /// slots of `opts.max_payload` bytes (each publisher chooses its own).
    pub fn create_with(name: &str, opts: PubOptions) -> Result<Self, CreateError> {
        Ok(DynMultiPublisher {
            raw: RawMultiPublisher::create(name, &Payload::Dynamic, opts)?,
        })
    }

    /// Publishes raw bytes; a frame larger than the slot is an error.
    pub fn send_bytes(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.raw.ring.send(data, Codec::Raw)
    }

    /// Publishes a frame tagged with `codec`.
    pub fn send_frame(&mut self, data: &[u8], codec: Codec) -> Result<(), SendError> {
        self.raw.ring.send(data, codec)
    }

    /// Who this publisher is, as its subscribers see it.
    pub fn id(&self) -> PublisherId {
        self.raw.id()
    }

    /// The untyped publisher.
    pub fn raw_mut(&mut self) -> &mut RawMultiPublisher {
        &mut self.raw
    }
}

/// A subscriber of dynamic frames on a multi-publisher topic.
#[derive(Debug)]
pub struct DynMultiSubscriber {
    raw: RawMultiSubscriber,
}

impl DynMultiSubscriber {
    /// Joins (or makes) dynamic multi-publisher topic `name` with default options.
    pub fn connect(name: &str) -> Result<Self, CreateError> {
        Self::connect_with(name, ConnectOptions::default())
    }

    /// Joins (or makes) dynamic multi-publisher topic `name`; fails if it
    /// is a typed topic.
    pub fn connect_with(name: &str, opts: ConnectOptions) -> Result<Self, CreateError> {
        Ok(DynMultiSubscriber {
            raw: RawMultiSubscriber::connect(name, &Payload::Dynamic, Expect::Dynamic, opts)?,
        })
    }

    /// The next frame and who sent it, if one is there. Never blocks.
    pub fn try_recv(&mut self) -> Result<(PublisherId, Frame), TryRecvError> {
        let mut data = Vec::new();
        let (from, codec) = self.raw.try_recv_into(&mut data)?;
        Ok((from, Frame { codec, data }))
    }

    /// The next frame, waiting up to `timeout`.
    pub fn recv_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<(PublisherId, Frame), RecvTimeoutError> {
        let mut data = Vec::new();
        let deadline = Instant::now().checked_add(timeout);
        let (from, codec) = self.raw.recv_into_deadline(&mut data, deadline)?;
        Ok((from, Frame { codec, data }))
    }

    /// Messages skipped of all publishers, including those that left.
    pub fn missed(&self) -> u64 {
        self.raw.missed()
    }

    /// The untyped subscriber.
    pub fn raw_mut(&mut self) -> &mut RawMultiSubscriber {
        &mut self.raw
    }
}
