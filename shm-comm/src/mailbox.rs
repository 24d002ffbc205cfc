//! The reply mailbox of REQ/REP, in a byte region it is handed: one slot
//! per requester, through which a replier hands back the reply to one call.
//! It knows nothing of segments or message types.
//!
//! # Layout (`HEADER` bytes, then the payload)
//! ```text
//! 0   state u64    call << 32 | kind << 30 | claimer
//! 8   len u32      12  tag u32
//! 16  notify u32   20  waiters u32   (the requester sleeps here)
//! 64  payload      `room` bytes, rounded up to 8
//! ```
//!
//! # States
//! - `IDLE(call)`: no call in flight (`call` was the last one).
//! - `WAITING(call)`: the requester waits for the reply to `call`
//!   ([`arm`](Mailbox::arm)).
//! - `WRITING(call, claimer)`: a replier writes the reply to `call`
//!   ([`put`](Mailbox::put) won the compare-and-swap from `WAITING(call)`);
//!   the claimer is its claim token (see `segment::Peers`), so that a
//!   replier that died mid-write is recognized even once its pid is reused.
//! - `READY(call)`: the reply is there, until the requester takes it
//!   ([`take`](Mailbox::take), back to `IDLE(call)`).
//!
//! A replier writes only a mailbox still `WAITING` for its very call, so a
//! reply reaches only the call it answers; a call withdrawn
//! ([`cancel`](Mailbox::cancel): `WAITING` to `IDLE`) makes a late reply
//! fail its compare-and-swap and be discarded.

use std::time::Instant;

use crate::region::state::{dec, enc};
use crate::region::Region;
use crate::sync::{self, AtomicU32, AtomicU64, Ordering};

/// Bytes of a mailbox header; the payload follows.
pub const HEADER: usize = 64;

const IDLE: u64 = 0;
const WAITING: u64 = 1;
const WRITING: u64 = 2;
const READY: u64 = 3;

/// Why [`Mailbox::arm`] gave up at its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArmError {
    /// A live replier is still writing a late reply to an earlier call.
    Busy,
    /// The state kept changing under us (a peer writing garbage).
    Contended,
}

/// Why [`Mailbox::take`] returned no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeError {
    /// The mailbox does not hold the reply to this call (yet).
    NotReady,
    /// The reply claims this many bytes, more than the payload holds; it
    /// has been dropped.
    TooLong(usize),
}

/// A view of one mailbox. Copyable; the region must outlive it (see
/// [`Region::new`]).
#[derive(Clone, Copy, Debug)]
pub struct Mailbox {
    region: Region,
    room: usize,
}

impl Mailbox {
    /// The mailbox at the start of `region`, with `room` bytes of payload.
    ///
    /// # Panics
    /// If the region is shorter than `HEADER + room` (rounded up to 8).
    pub fn at(region: Region, room: usize) -> Mailbox {
        let need = room
            .div_ceil(8)
            .checked_mul(8)
            .and_then(|r| r.checked_add(HEADER));
        assert!(
            need.is_some_and(|n| n <= region.len()),
            "a mailbox of {room} bytes in a region of {}",
            region.len()
        );
        Mailbox { region, room }
    }

    /// Bytes of payload.
    pub fn room(&self) -> usize {
        self.room
    }

    /// The state word: offset 0 of the mailbox.
    fn state(&self) -> &AtomicU64 {
        self.region.u64_at(0)
    }

    /// A 4-aligned word of the header.
    fn u32_at(&self, off: usize) -> &AtomicU32 {
        debug_assert!(off % 4 == 0 && off < HEADER);
        self.region.u32_at(off)
    }

    fn event(&self) -> sync::Event<'_> {
        sync::Event {
            notify: self.u32_at(16),
            waiters: self.u32_at(20),
        }
    }

    /// The call the mailbox last served (its next owner numbers its calls
    /// after it, so that stale requests of a dead owner never match).
    pub fn last_call(&self) -> u32 {
        // Acquire: pairs with the Release stores of the state (READY in
        // `put`, IDLE in `take`) of whoever used the mailbox last.
        dec(self.state().load(Ordering::Acquire)).0
    }

    /// Puts the mailbox in `WAITING(call)`, first letting a replier that is
    /// still writing a late reply to an earlier call finish (or die:
    /// `writer_alive` says whether a claimer lives).
    pub fn arm(
        &self,
        call: u32,
        deadline: Option<Instant>,
        writer_alive: impl Fn(u32) -> bool,
    ) -> Result<(), ArmError> {
        loop {
            // Acquire: pairs with the replier's AcqRel CAS to WRITING and its
            // Release store of READY in `put`.
            let s = self.state().load(Ordering::Acquire);
            let (_, kind, claimer) = dec(s);
            if kind == WRITING && writer_alive(claimer) {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(ArmError::Busy);
                }
                sync::yield_now();
                continue;
            }
            // AcqRel: pairs with the replier's CAS on the state in `put`.
            if self
                .state()
                .compare_exchange(
                    s,
                    enc(call, WAITING, 0),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                return Ok(());
            }
            // Changed under us: by a replier, or by a peer writing garbage.
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(ArmError::Contended);
            }
        }
    }

    /// Withdraws `call`: a reply that arrives later is discarded.
    pub fn cancel(&self, call: u32) {
        // AcqRel: pairs with the replier's CAS in `put`: either it wrote
        // first (we leave its READY, the next `arm` clears it) or it fails.
        let _ = self.state().compare_exchange(
            enc(call, WAITING, 0),
            enc(call, IDLE, 0),
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
    }

    /// `true` if the reply to `call` is there.
    pub fn is_ready(&self, call: u32) -> bool {
        // Acquire: pairs with the Release store of READY in `put`: the
        // reply's bytes, length and tag are visible once this sees READY.
        self.state().load(Ordering::Acquire) == enc(call, READY, 0)
    }

    /// Arms `watch` for the reply to `call`: `true` if it is there
    /// already (checked after arming, see `crate::bells`).
    #[cfg(not(loom))]
    pub fn arm_reply(&self, call: u32, watch: &mut crate::bells::Watch) -> bool {
        watch.arm(&self.event());
        self.is_ready(call)
    }

    /// Waits until the reply to `call` is there or `deadline` passes
    /// (spinning first if `spin`, see `sync::Event::wait`).
    pub fn wait(&self, call: u32, deadline: Option<Instant>, spin: bool) -> bool {
        self.event().wait(|| self.is_ready(call), deadline, spin)
    }

    /// Takes the reply to `call` into `out` (cleared first) and returns its
    /// tag; the mailbox is then `IDLE(call)`.
    pub fn take(&self, call: u32, out: &mut Vec<u8>) -> Result<u32, TakeError> {
        if !self.is_ready(call) {
            return Err(TakeError::NotReady);
        }
        // Acquire (in `is_ready`): pairs with the Release store of READY in `put`.
        let len = self.u32_at(8).load(Ordering::Relaxed) as usize;
        let tag = self.u32_at(12).load(Ordering::Relaxed);
        // Release: our reads of the reply happen before a replier can write
        // the mailbox again; pairs with its AcqRel CAS in `put` (which
        // only follows a new `arm`).
        let done = || self.state().store(enc(call, IDLE, 0), Ordering::Release);
        if len > self.room {
            done();
            return Err(TakeError::TooLong(len));
        }
        // The payload holds `room >= len` bytes (rounded to 8) and is ours:
        // state READY(call) is only changed by us (no replier writes a
        // mailbox that is not WAITING).
        let _ = crate::region::fill_vec(out, len, |room| {
            self.region.copy_out(HEADER, room);
            Ok::<_, std::convert::Infallible>(len)
        });
        done();
        Ok(tag)
    }

    /// Writes the reply `data` tagged `tag` to `call`, as the replier whose
    /// claim token is `claimer`, and wakes the requester. Returns `false`
    /// (discarding the reply) if the mailbox no longer waits for `call`.
    ///
    /// # Panics
    /// If `data` is longer than the payload.
    pub fn put(&self, call: u32, claimer: u32, data: &[u8], tag: u32) -> bool {
        assert!(data.len() <= self.room, "reply longer than the mailbox");
        // AcqRel: pairs with the requester's CAS in `arm` (and its
        // withdrawal in `cancel`): only a mailbox still waiting for this
        // call is written.
        if self
            .state()
            .compare_exchange(
                enc(call, WAITING, 0),
                enc(call, WRITING, claimer),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return false;
        }
        // The payload holds `room >= data.len()` bytes (rounded to 8) and
        // is ours while the state says WRITING with our claim.
        self.region.copy_in(HEADER, data);
        self.u32_at(8).store(data.len() as u32, Ordering::Relaxed);
        self.u32_at(12).store(tag, Ordering::Relaxed);
        // Release: pairs with the Acquire load of READY in `is_ready`.
        self.state().store(enc(call, READY, 0), Ordering::Release);
        self.event().notify();
        true
    }

    /// Test hook: leaves the mailbox as a replier with claim `claimer`
    /// that died while writing the reply to `call` would.
    #[cfg(test)]
    pub(crate) fn set_writing(&self, call: u32, claimer: u32) {
        // Release: as the CAS to WRITING in `put`.
        self.state()
            .store(enc(call, WRITING, claimer), Ordering::Release);
    }
}
