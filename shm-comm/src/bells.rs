//! Readiness through file descriptors: a [`Bell`] is a file descriptor
//! that becomes readable when a channel it [watches](Watch) may have
//! something to take, so that `poll`, `epoll`, asyncio and tokio can wait
//! on shm-comm channels next to sockets and timers.
//!
//! # How a wake-up reaches a descriptor
//! - A bell is a Unix datagram socket bound to a path in the shared-memory
//!   directory (`shmcbell-<uid>-<process token>-<n>`, mode 0600). Ringing it
//!   is sending it an empty datagram, which makes it readable; draining it
//!   reads them all. Sockets work across processes and containers that
//!   share the directory, never block the ringer and never raise SIGPIPE.
//! - Who waits on what is written in one board per user, a shared segment
//!   (`shm-comm/doorbells`, role `bells`) of 4,096 slots: a slot says "the
//!   bell `n` of process `token` waits on the wake-up word at offset `o` of
//!   the segment file with inode `i`, and is armed".
//! - Every wake-up word of the protocol floor (`sync::Event`) has a
//!   `waiters` word; a sleeper on the futex sets its bit 0, an armed slot
//!   sets bit 1. A notifier that finds `waiters` zero makes no system call
//!   (the send path of every pattern, when nobody waits); one that finds
//!   bit 1 clears it and rings the bell of every armed slot of that word,
//!   disarming them.
//!
//! # The re-check rule (edge-triggered, one shot)
//! A bell rings once per [arming](crate::pubsub::RawSubscriber::arm): after
//! it is readable, [`drain`](Bell::drain) it, take what the channel has
//! until it is empty, then arm again. Arming returns `true` when the
//! channel already has something (it may have arrived before the slot was
//! armed): then take it instead of waiting. Readiness may be spurious (a
//! message taken by another puller, a slot reused): a receive that finds
//! nothing after a ring is normal. This is the contract of ZeroMQ's
//! `ZMQ_FD`. Never miss a wake-up: the arm stores the slot, sets bit 1 and
//! then (after a SeqCst fence) looks at the channel; the notifier stores
//! the message and then (after a SeqCst fence) looks at `waiters`; one of
//! the two sees the other.
//!
//! A process whose slots stay armed when it dies costs the notifier one
//! scan of the board; its slots are taken over by the next bell that needs
//! one. At most 4,096 armed watches exist at once for a user.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::atomic::AtomicU32 as LocalU32;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::error::{CreateError, OpenError};
use crate::platform;
use crate::region::Region;
use crate::segment::{
    ChannelKind, CreateSpec, CreatedOrJoined, OpenSpec, Payload, Segment, SharedSegment,
};
use crate::sync::{self, AtomicU32, Ordering};

/// The channel name of the board.
pub(crate) const BOARD_NAME: &str = "shm-comm/doorbells";
/// The segment role of the board (`segment::list` leaves it out).
pub(crate) const BOARD_ROLE: &str = "bells";
/// The participant role of a process with bells on the board.
const RINGER: u32 = 1;
/// Slots on the board.
pub const SLOTS: usize = 4096;
const HEADER: usize = 64;
const SLOT: usize = 32;
const REGION_LEN: usize = HEADER + SLOTS * SLOT;
/// Header: the number of slots ever used (a notifier scans no further).
const OFF_HIGH: usize = 0;
// A slot: owner token (0: free), inode, offset, bell number, armed.
const S_OWNER: usize = 0;
const S_INODE: usize = 8;
const S_OFFSET: usize = 16;
const S_BELL: usize = 24;
const S_ARMED: usize = 28;

/// The board, joined (this process has bells on it).
#[derive(Debug)]
struct Board {
    seg: SharedSegment,
}

impl Board {
    fn region(&self) -> Region {
        self.seg.body()
    }

    /// Joins the board of this user (creating it if needed); one per
    /// process while any of its bells lives.
    fn joined() -> Result<Arc<Board>, CreateError> {
        static JOINED: Mutex<Weak<Board>> = Mutex::new(Weak::new());
        let mut j = JOINED.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = j.upgrade() {
            return Ok(b);
        }
        let spec = CreateSpec {
            name: BOARD_NAME,
            role: BOARD_ROLE,
            kind: ChannelKind::Bells,
            payload: &Payload::Dynamic,
            region_len: REGION_LEN,
        };
        let seg = match SharedSegment::create_or_join(&spec, RINGER, None)? {
            // A new board's region is zeroed: no slot used, none armed.
            CreatedOrJoined::Created(new) => new.publish(),
            CreatedOrJoined::Joined(seg) => seg,
        };
        if seg.body().len() < REGION_LEN {
            return Err(CreateError::Existing(Box::new(OpenError::Corrupt {
                name: BOARD_NAME.to_owned(),
                reason: format!("doorbell board of {} bytes", seg.body().len()),
            })));
        }
        let b = Arc::new(Board { seg });
        *j = Arc::downgrade(&b);
        Ok(b)
    }
}

fn slot_off(i: usize) -> usize {
    HEADER + i * SLOT
}

/// A file descriptor that becomes readable when a channel it watches may
/// have something to take (see the [module docs](self)).
#[derive(Debug)]
pub struct Bell {
    sock: OwnedFd,
    path: PathBuf,
    number: u32,
    board: Arc<Board>,
}

/// The path of bell `number` of the process with `token`.
fn bell_path(token: u64, number: u32) -> PathBuf {
    platform::shm_dir().join(format!(
        "shmcbell-{}-{token:016x}-{number}",
        platform::uid()
    ))
}

impl Bell {
    /// A new bell of this process.
    pub fn new() -> io::Result<Bell> {
        static NEXT: LocalU32 = LocalU32::new(1);
        let board = Board::joined().map_err(io::Error::other)?;
        let token = sync::process_token();
        loop {
            // Relaxed: a counter private to this process, unique per bell.
            let number = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let path = bell_path(token, number);
            match platform::bind_doorbell(&path) {
                Ok(sock) => {
                    return Ok(Bell {
                        sock,
                        path,
                        number,
                        board,
                    })
                }
                // Left by a process that had our pid and start tick (or
                // by someone else): take the next number.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes every ring waiting on the bell: it is not readable until rung
    /// again. Returns how many rings there were.
    pub fn drain(&self) -> usize {
        platform::drain_doorbell(&self.sock)
    }

    /// Waits until the bell is readable, at most `timeout` (forever if
    /// `None`); `true` if it is. Does not drain it.
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<bool> {
        Ok(platform::poll_readable(&[self.sock.as_raw_fd()], timeout)?[0])
    }

    /// A new slot on the board for this bell, to arm on a channel with
    /// the channel's `arm` (one per channel and bell).
    pub fn watch(&self) -> io::Result<Watch> {
        claim(&self.board, self.number)
    }
}

/// A free slot of `board` for bell `number` of this process: a free one
/// first (no system call); only if there is none, one of a process that
/// died (each of those looked up in /proc).
fn claim(board: &Arc<Board>, number: u32) -> io::Result<Watch> {
    let r = board.region();
    let token = sync::process_token();
    for dead_ones in [false, true] {
        for i in 0..SLOTS {
            let owner = r.u64_at(slot_off(i) + S_OWNER);
            let seen = owner.load(Ordering::Acquire);
            let takeable = if dead_ones {
                seen != 0 && seen != token && !sync::token_alive(seen)
            } else {
                seen == 0
            };
            // AcqRel: claims the slot; pairs with the Release stores
            // that free it (`Watch::drop`) and the Acquire loads of
            // notifiers.
            if takeable
                && owner
                    .compare_exchange(seen, token, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                return Ok(claimed(board, number, i, token));
            }
        }
    }
    Err(io::Error::other(format!(
        "all {SLOTS} doorbell slots of this user are in use"
    )))
}

/// Slot `i` of `board`, just claimed by this process (`token`), for its
/// bell `number`.
fn claimed(board: &Arc<Board>, number: u32, i: usize, token: u64) -> Watch {
    let r = board.region();
    // A dead owner's slot may still be armed: until the bell number
    // below is ours, a notifier may ring a bell of ours that does not
    // exist (a datagram to nowhere), never another process's.
    // Relaxed (both): published to notifiers by the Release store of
    // `armed` in `Watch::arm`, which their Acquire swap pairs with.
    r.u32_at(slot_off(i) + S_ARMED).store(0, Ordering::Relaxed);
    r.u32_at(slot_off(i) + S_BELL)
        .store(number, Ordering::Relaxed);
    // The high-water mark only grows. A notifier reads it after its
    // Acquire swap of `waiters` saw our Release `fetch_or` (in
    // `arm_fd`, after this store), so it scans this slot.
    let high = r.u32_at(OFF_HIGH);
    let mut h = high.load(Ordering::Relaxed);
    while (h as usize) <= i {
        // Relaxed: ordered for notifiers by the `arm_fd` that follows.
        match high.compare_exchange(h, i as u32 + 1, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break,
            Err(now) => h = now,
        }
    }
    Watch {
        board: board.clone(),
        number,
        slot: i,
        token,
        key: None,
        looked_up: None,
        more: Vec::new(),
    }
}

impl AsFd for Bell {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

impl AsRawFd for Bell {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

impl Drop for Bell {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One slot of the board: a bell waiting on one wake-up word of a
/// channel. Made by a receiving handle's `watch`, armed by its `arm`;
/// freed when dropped. A handle that waits on several words (a
/// multi-publisher subscriber: its directory and each publisher's ring)
/// arms extra slots of the same bell, kept here.
#[derive(Debug)]
pub struct Watch {
    board: Arc<Board>,
    /// The bell's number.
    number: u32,
    slot: usize,
    token: u64,
    /// The word last written to the slot (it changes when a subscriber
    /// moves to a new publisher's segment).
    key: Option<(u64, u64)>,
    /// The address and mappings generation `key` was looked up for: while
    /// both are unchanged, the key is (arming many handles in a poll then
    /// costs no lookup in the list of mappings).
    looked_up: Option<(usize, u64)>,
    /// Extra slots of the same bell (see [`Watch::extra`]).
    more: Vec<Watch>,
}

impl Watch {
    /// `n` extra slots of this watch's bell, claimed on first use; slots
    /// past `n` are freed. For a handle that arms several wake-up words
    /// at once; fails only when the user's board is full.
    pub(crate) fn extra(&mut self, n: usize) -> io::Result<&mut [Watch]> {
        self.more.truncate(n);
        while self.more.len() < n {
            let w = claim(&self.board, self.number)?;
            self.more.push(w);
        }
        Ok(&mut self.more)
    }

    /// Arms the slot on the `waiters` word of `event` (whose `notify` word
    /// names the slot's key). The caller then checks its channel (after
    /// the SeqCst fence made here) and does not wait if it has something.
    pub(crate) fn arm(&mut self, event: &sync::Event<'_>) {
        let r = self.board.region();
        let off = slot_off(self.slot);
        let at = (
            sync::addr_of(event.notify) as usize,
            platform::maps_generation(),
        );
        if self.looked_up != Some(at) {
            let key = platform::file_position(sync::addr_of(event.notify));
            self.looked_up = key.map(|_| at);
            self.rekey(key);
        }
        // Release: the key stored by `rekey` is visible to a notifier whose
        // Acquire swap of `armed` sees the 1.
        r.u32_at(off + S_ARMED).store(1, Ordering::Release);
        event.arm_fd();
    }

    /// Writes `key` to the slot if it changed.
    fn rekey(&mut self, key: Option<(u64, u64)>) {
        let r = self.board.region();
        let off = slot_off(self.slot);
        if key != self.key {
            if let Some((inode, offset)) = key {
                // Relaxed: published by the Release store of `armed` that
                // follows in `arm` (paired with the notifier's Acquire swap).
                r.u64_at(off + S_INODE).store(inode, Ordering::Relaxed);
                r.u64_at(off + S_OFFSET).store(offset, Ordering::Relaxed);
            }
            self.key = key;
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let r = self.board.region();
        let off = slot_off(self.slot);
        // Relaxed: ordered before the owner's Release store below, which
        // the next owner's AcqRel claim pairs with.
        r.u32_at(off + S_ARMED).store(0, Ordering::Relaxed);
        // Release: pairs with the AcqRel claim of the next owner.
        let _ = r.u64_at(off + S_OWNER).compare_exchange(
            self.token,
            0,
            Ordering::Release,
            Ordering::Relaxed,
        );
    }
}

/// The board as a notifier sees it: mapped, not joined (a publisher need
/// not be a participant), reopened when the file was replaced.
struct Seen {
    seg: Segment,
    inode: u64,
}

/// Rings the bells armed on the wake-up word `notify` (called by
/// `sync::Event::notify` when it finds bit 1 of `waiters`).
pub(crate) fn ring_event(notify: &AtomicU32) {
    let Some(key) = platform::file_position(sync::addr_of(notify)) else {
        return;
    };
    static SEEN: Mutex<Option<Seen>> = Mutex::new(None);
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if seen.as_ref().is_some_and(|s| ring_armed(s, key) > 0) {
        return;
    }
    // Nothing armed on the board we know (or none known): it may have been
    // replaced (all its users left, and a new one made). Only then is the
    // name looked up, so the usual ring costs no `stat`.
    let file = crate::segment::file_name(BOARD_NAME, BOARD_ROLE).ok();
    let now = file.as_deref().and_then(platform::shm_inode);
    if now.is_some() && seen.as_ref().map(|s| s.inode) != now {
        *seen = Segment::open(&OpenSpec {
            name: BOARD_NAME,
            role: BOARD_ROLE,
            kind: ChannelKind::Bells,
            timeout: Duration::ZERO,
        })
        .ok()
        .map(|seg| Seen {
            inode: seg.inode(),
            seg,
        });
        if let Some(s) = seen.as_ref() {
            ring_armed(s, key);
        }
    }
}

/// Rings (and disarms) the slots of `board` armed on the word at `(inode,
/// offset)`; returns how many.
fn ring_armed(board: &Seen, (inode, offset): (u64, u64)) -> usize {
    let r = crate::segment::body_of(&board.seg);
    if r.len() < REGION_LEN {
        return 0;
    }
    let mut rung = 0;
    // Relaxed: our caller's Acquire swap of `waiters` pairs with the
    // armer's Release `fetch_or`, made after it raised the mark. Bounded:
    // another process may have written anything here.
    let high = (r.u32_at(OFF_HIGH).load(Ordering::Relaxed) as usize).min(SLOTS);
    for i in 0..high {
        let off = slot_off(i);
        let armed = r.u32_at(off + S_ARMED);
        // Relaxed: a filter only; the swap below is what decides, and its
        // Acquire makes the key and bell the armer's.
        if armed.load(Ordering::Relaxed) == 0
            || r.u64_at(off + S_INODE).load(Ordering::Relaxed) != inode
            || r.u64_at(off + S_OFFSET).load(Ordering::Relaxed) != offset
        {
            continue;
        }
        // Acquire: pairs with the Release store of `armed` in `Watch::arm`
        // (the key and bell number read below are the armer's).
        if armed.swap(0, Ordering::Acquire) == 1 {
            // Relaxed: after the Acquire swap above (see there).
            let owner = r.u64_at(off + S_OWNER).load(Ordering::Relaxed);
            let bell = r.u32_at(off + S_BELL).load(Ordering::Relaxed);
            if owner != 0 {
                platform::ring_doorbell(&bell_path(owner, bell));
                rung += 1;
            }
        }
    }
    rung
}
