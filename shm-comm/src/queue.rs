//! A bounded multi-producer multi-consumer queue in a byte region it is
//! handed: the work queue behind PUSH/PULL and the request queue of REQ/REP.
//! It knows nothing of files or message types.
//!
//! # Algorithm
//! Dmitry Vyukov's bounded MPMC queue (two position counters, one sequence
//! word per cell), made robust to processes that die mid-operation: instead
//! of claiming a *position* and then owning its cell invisibly, a process
//! claims the *cell* with one compare-and-swap that records who claimed it,
//! and only then advances the position counter (anyone may help advance
//! it). A cell stuck in "writing" or "reading" by a dead claimer is
//! repaired by the next process that finds it blocking its way, so the
//! queue never stalls.
//!
//! # Cell state (`u64`)
//! `lap << 32 | kind << 30 | claimer`, where `lap = position / capacity`
//! (wrapping, compared by wrapping difference) and `kind` is one of:
//! - `EMPTY`   (lap L): ready for the push at position `L * cap + i`;
//! - `WRITING` (lap L, claimer): a pusher is filling it;
//! - `FULL`    (lap L): holds the job of position `L * cap + i`;
//! - `READING` (lap L, claimer): a puller is copying it out; it then stores
//!   `EMPTY (L + 1)`.
//!
//! The claimer (30 bits) is the claim token of the participant (see
//! [`Peers`]: its participant-table index and start
//! time, so that a claim by a dead process is recognized even once its
//! pid belongs to another live process); a queue without peers (tests on
//! heap memory) records the pid. Any state more than a lap away from the
//! position it is read at is impossible: a [`PushError::Corrupt`] or
//! [`TryRecvError::Corrupt`], and the cell is reset.
//!
//! # What a crash can lose
//! - A pusher killed while filling a cell: that job was never sent (its
//!   `send` did not return); the cell is skipped.
//! - A puller killed while copying a job out (between claiming the cell and
//!   releasing it, a window of one copy): **that one job is lost**. Jobs
//!   already returned by `recv` belong to the application; nothing else is
//!   at risk. Each puller can therefore lose at most one job, the one it was
//!   receiving when killed.
//!
//! # Overwritten positions
//! The two positions are hints that never drift more than a queue (plus
//! one claim per participant) apart, the dequeue position never ahead;
//! pushers pass a position only after claiming its cell, pullers only
//! after claiming or skipping its job. A peer that writes garbage into a
//! position breaks that, and could leave pushers finding the queue full
//! and pullers finding it empty, forever. So a push that finds the queue
//! full, or a pop that finds it empty, on its repairing pass checks what
//! it found against the other position, and reports
//! [`PushError::Corrupt`] or [`TryRecvError::Corrupt`] after mending it:
//! - positions too far apart: the enqueue position moves back to the
//!   dequeue position;
//! - an empty cell at the dequeue position that the enqueue position has
//!   passed: the enqueue position moves back to it;
//! - the job a lap before the enqueue position, which the dequeue position
//!   has passed: it is dropped.
//!
//! Cells in impossible laps are then reset as above; jobs flow again.
//!
//! # Region layout
//! ```text
//! 0     geometry: capacity u32, max_payload u32
//! 64    enqueue position (u64)        128  dequeue position (u64)
//! 192   not-empty event (pullers sleep here)
//! 256   not-full event (pushers sleep here)
//! 320   cells: { state u64, len u32, tag u32 } + payload, `stride` bytes each
//! ```

use std::mem::MaybeUninit;
use std::time::Instant;

use crate::error::TryRecvError;
use crate::region::state::{dec, enc};
use crate::region::{align_up, Region};
use crate::segment::{Peers, MAX_PARTICIPANTS};
use crate::sync::{self, AtomicU32, AtomicU64, Ordering};

const OFF_CAPACITY: usize = 0;
const OFF_MAX_PAYLOAD: usize = 4;
const OFF_ENQ: usize = 64;
const OFF_DEQ: usize = 128;
const OFF_NOT_EMPTY: usize = 192;
const OFF_NOT_FULL: usize = 256;
const CELLS_OFF: usize = 320;
const CELL_HEADER: usize = 16;
/// How many cells ahead a pusher prefetches.
const PREFETCH_AHEAD: u64 = 4;

/// Largest number of cells.
pub const MAX_CAPACITY: u32 = 1 << 20;
/// Largest payload per cell.
pub const MAX_PAYLOAD: u32 = 1 << 30;

/// A caller that never waits (an event loop's take, a zero timeout)
/// looks for dead peers in its way once per this many empty looks.
const REPAIR_EVERY: u32 = 256;

/// Counts an empty look in `misses`: `true` once per [`REPAIR_EVERY`],
/// when the caller should look again with `repair`.
pub(crate) fn repair_due(misses: &std::sync::atomic::AtomicU32) -> bool {
    // Relaxed: a counter in this process's memory (of one handle); only
    // its count matters.
    misses.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % REPAIR_EVERY == REPAIR_EVERY - 1
}

const EMPTY: u64 = 0;
const WRITING: u64 = 1;
const FULL: u64 = 2;
const READING: u64 = 3;

/// A state's kind, for messages.
fn kind_name(kind: u64) -> &'static str {
    ["EMPTY", "WRITING", "FULL", "READING"][(kind & 3) as usize]
}

/// The shape of a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Number of cells (jobs the queue holds before `send` must wait).
    pub capacity: u32,
    /// Largest payload in bytes.
    pub max_payload: u32,
}

impl Geometry {
    /// Checks the limits.
    pub fn check(&self) -> Result<(), String> {
        if self.capacity == 0 || self.capacity > MAX_CAPACITY {
            return Err(format!(
                "capacity {} must be between 1 and {MAX_CAPACITY} slots",
                self.capacity
            ));
        }
        if self.max_payload == 0 || self.max_payload > MAX_PAYLOAD {
            return Err(format!(
                "slot size {} must be between 1 and {MAX_PAYLOAD} bytes",
                self.max_payload
            ));
        }
        self.region_len()
            .map(|_| ())
            .ok_or_else(|| "queue too large for the address space".to_owned())
    }

    /// Bytes from one cell to the next.
    pub fn stride(&self) -> usize {
        align_up(CELL_HEADER + align_up(self.max_payload as usize, 8), 64)
    }

    /// Bytes of region needed.
    pub fn region_len(&self) -> Option<usize> {
        (self.capacity as usize)
            .checked_mul(self.stride())?
            .checked_add(CELLS_OFF)
            .filter(|&n| n <= isize::MAX as usize / 2)
    }
}

/// A view of a queue in a region. Copyable; the region must outlive it
/// (see [`Region::new`]).
#[derive(Clone, Copy, Debug)]
pub struct Queue {
    region: Region,
    geo: Geometry,
    stride: usize,
    /// What our claims record: our claim token, or our pid without `peers`.
    me: u32,
    peers: Option<Peers>,
}

/// Why [`Queue::try_push`] did not queue a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushError {
    /// No room now (or, rarely, other processes kept changing the queue
    /// under this call): try again later.
    Full,
    /// The queue's shared state is impossible (a peer wrote garbage into
    /// it); says what was found. The cell in the way has been reset, so a
    /// later push may succeed.
    Corrupt(String),
}

impl Queue {
    /// Writes the geometry into a zeroed region, not yet visible to others
    /// (a segment publishes it after this).
    pub fn init(region: Region, geo: Geometry) -> Result<Queue, String> {
        geo.check()?;
        let need = geo.region_len().unwrap_or(usize::MAX);
        let len = region.len();
        if len < need {
            return Err(format!("region of {len} bytes, {need} needed"));
        }
        let q = Self::view(region, geo);
        // Relaxed: published by the Release store of the segment's `init`.
        q.u32_at(OFF_CAPACITY)
            .store(geo.capacity, Ordering::Relaxed);
        q.u32_at(OFF_MAX_PAYLOAD)
            .store(geo.max_payload, Ordering::Relaxed);
        Ok(q)
    }

    /// Reads and validates the geometry of an initialized region.
    pub fn attach(region: Region) -> Result<Queue, String> {
        let len = region.len();
        if len < CELLS_OFF {
            return Err(format!(
                "region of {len} bytes is smaller than a queue header"
            ));
        }
        let geo = Geometry {
            capacity: region.u32_at(OFF_CAPACITY).load(Ordering::Relaxed),
            max_payload: region.u32_at(OFF_MAX_PAYLOAD).load(Ordering::Relaxed),
        };
        geo.check()?;
        let need = geo.region_len().unwrap_or(usize::MAX);
        if need > len {
            return Err(format!(
                "geometry {} slots x {} bytes needs {need} bytes but the region has {len}",
                geo.capacity, geo.max_payload
            ));
        }
        Ok(Self::view(region, geo))
    }

    /// The view, for a geometry that fits the region.
    fn view(region: Region, geo: Geometry) -> Queue {
        Queue {
            region,
            geo,
            stride: geo.stride(),
            me: sync::pid(),
            peers: None,
        }
    }

    /// The queue, its claims naming participants of `peers` (the shared
    /// segment's table) instead of pids.
    pub fn with_peers(mut self, peers: Peers) -> Queue {
        self.me = peers.me();
        self.peers = Some(peers);
        self
    }

    /// `true` if the claimer recorded in a cell or mailbox is alive (reads
    /// `/proc`; `false` for a claimer that names no live participant).
    pub fn claimer_alive(&self, claimer: u32) -> bool {
        match &self.peers {
            Some(p) => p.alive(claimer),
            None => sync::pid_alive(claimer),
        }
    }

    /// The geometry.
    pub fn geometry(&self) -> Geometry {
        self.geo
    }

    /// Callers pass 4-aligned offsets inside the region (header fields and
    /// cell headers, which `attach`/`init` proved fit).
    #[inline(always)]
    fn u32_at(&self, off: usize) -> &AtomicU32 {
        self.region.u32_at(off)
    }

    /// As `u32_at`, 8-aligned.
    #[inline(always)]
    fn u64_at(&self, off: usize) -> &AtomicU64 {
        self.region.u64_at(off)
    }

    fn cell(&self, pos: u64) -> (usize, u32) {
        let cap = u64::from(self.geo.capacity);
        (
            CELLS_OFF + (pos % cap) as usize * self.stride,
            (pos / cap) as u32,
        )
    }

    /// Fetches the first two lines of the cell of position `pos` ahead of
    /// time, so that a pusher filling it a few jobs from now finds them in
    /// its cache (instead of waiting for them on the claim, and again on the
    /// fence of the wake-up check, which waits for every store before it).
    fn prefetch_cell(&self, pos: u64) {
        let (off, _) = self.cell(pos);
        self.region.prefetch(off);
        if self.stride > 64 {
            self.region.prefetch(off + 64);
        }
    }

    fn not_empty(&self) -> sync::Event<'_> {
        sync::Event {
            notify: self.u32_at(OFF_NOT_EMPTY),
            waiters: self.u32_at(OFF_NOT_EMPTY + 4),
        }
    }

    fn not_full(&self) -> sync::Event<'_> {
        sync::Event {
            notify: self.u32_at(OFF_NOT_FULL),
            waiters: self.u32_at(OFF_NOT_FULL + 4),
        }
    }

    /// Arms `watch` for the next job: `true` if a job is queued already
    /// (checked after arming, see `crate::bells`).
    #[cfg(not(loom))]
    pub fn arm_jobs(&self, watch: &mut crate::bells::Watch) -> bool {
        watch.arm(&self.not_empty());
        !self.is_empty()
    }

    /// Arms `watch` for room: `true` if there is room already.
    #[cfg(not(loom))]
    pub fn arm_room(&self, watch: &mut crate::bells::Watch) -> bool {
        watch.arm(&self.not_full());
        self.len() < u64::from(self.geo.capacity)
    }

    /// Jobs in the queue (approximate while others operate).
    pub fn len(&self) -> u64 {
        let enq = self.u64_at(OFF_ENQ).load(Ordering::Relaxed);
        let deq = self.u64_at(OFF_DEQ).load(Ordering::Relaxed);
        enq.saturating_sub(deq)
    }

    /// `true` if the queue in `region` holds jobs (or a hole left by a
    /// pusher that died while writing): a [`Linger`](crate::segment::Linger)
    /// for work queues. `false` for a region that is not a valid queue.
    pub fn holds_jobs(region: Region) -> bool {
        Self::attach(region).is_ok_and(|q| !q.is_empty())
    }

    /// `true` if no job is queued (approximate).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total jobs ever pushed.
    pub fn pushed(&self) -> u64 {
        self.u64_at(OFF_ENQ).load(Ordering::Relaxed)
    }

    /// Total jobs ever taken (or skipped past, for a dead pusher's hole).
    pub fn taken(&self) -> u64 {
        self.u64_at(OFF_DEQ).load(Ordering::Relaxed)
    }

    /// Repairs a cell held by a dead process: returns `true` if it did (or
    /// someone else changed the cell meanwhile).
    fn repair(&self, off: usize, seen: u64, claimer: u32, to: u64) -> bool {
        if claimer == self.me || self.claimer_alive(claimer) {
            return false;
        }
        // AcqRel: as for any claim of the cell (see `try_push`).
        let won = self
            .u64_at(off)
            .compare_exchange(seen, to, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok();
        if won {
            crate::events::emit(|| crate::events::Event::PeerDied {
                name: crate::events::channel(),
                pid: claimer,
                what: "a queue cell it held",
            });
        }
        true
    }

    /// Most steps (cells looked at) of one `try_push` or `try_pop`: a
    /// legitimate call helps the position past a few cells claimed by
    /// others at most (or past a lap of them after a repair); beyond this
    /// it gives up for this call (a spurious full or empty, which callers
    /// retry within their deadlines) instead of looping on shared state.
    fn max_steps(&self) -> u32 {
        self.geo.capacity.saturating_add(64)
    }

    /// When the cell at offset `off` still holds state `s`, which the
    /// position at offset `other` needed another process to move on before
    /// passing position `beyond` (pushers pass a position only after
    /// claiming its cell, pullers only after claiming or skipping its
    /// job): returns that position if it is past `beyond`. The cell will
    /// then never move on by itself; only a peer that overwrote a position
    /// can cause it.
    fn passed(&self, other: usize, beyond: u64, off: usize, s: u64) -> Option<u64> {
        // Acquire: pairs with the Release advances of the position: the
        // cell state that allowed the advance is visible to the load below.
        let o = self.u64_at(other).load(Ordering::Acquire);
        if o.wrapping_sub(beyond) as i64 <= 0 {
            return None;
        }
        // Acquire: as the callers' loads of the cell state.
        (self.u64_at(off).load(Ordering::Acquire) == s).then_some(o)
    }

    /// With `repair`, after a push found the queue full or a pop found it
    /// empty: if the enqueue and dequeue positions are further apart than
    /// any run of the protocol allows (a peer wrote one of them), moves
    /// the enqueue position back to the dequeue position and says what
    /// was found. Without this, a pusher could find the queue full and
    /// every puller find it empty, forever.
    ///
    /// The dequeue position is read before and after the enqueue position
    /// and must not have moved: then the enqueue position can be at most
    /// a queue plus the claims not yet reflected in the dequeue position
    /// (one per participant) ahead of it, and never behind it. The move is
    /// a compare-and-swap from the value read, so a push meanwhile makes
    /// it give up. Jobs between the positions are then found by pushers
    /// (a cell that still holds its job is stepped over) or, in cells of
    /// impossible laps, reset like any impossible cell.
    fn resync_positions(&self, repair: bool) -> Option<String> {
        if !repair {
            return None;
        }
        let (enq, deq) = (self.u64_at(OFF_ENQ), self.u64_at(OFF_DEQ));
        let d = deq.load(Ordering::Relaxed);
        let e = enq.load(Ordering::Relaxed);
        let slack = u64::from(self.geo.capacity) + u64::from(MAX_PARTICIPANTS);
        if e.wrapping_sub(d) <= slack || deq.load(Ordering::Relaxed) != d {
            return None;
        }
        // Relaxed: positions are hints; cell states order the data.
        enq.compare_exchange(e, d, Ordering::Relaxed, Ordering::Relaxed)
            .ok()?;
        Some(format!(
            "enqueue position {e} and dequeue position {d} cannot both be right; \
             enqueue position moved back to {d}"
        ))
    }

    /// Pushes `data` tagged `tag`, or returns [`PushError::Full`]. With
    /// `repair`, cells blocking the way that are held by dead processes are
    /// freed first (costs a `/proc` lookup, so callers pass it when they
    /// found the queue full once already). A cell in an impossible state
    /// for the enqueue position (see [`PushError::Corrupt`]) is reset.
    pub fn try_push(&self, data: &[u8], tag: u32, repair: bool) -> Result<(), PushError> {
        assert!(data.len() <= self.geo.max_payload as usize);
        let enq = self.u64_at(OFF_ENQ);
        for _ in 0..self.max_steps() {
            let pos = enq.load(Ordering::Relaxed);
            let (off, lap) = self.cell(pos);
            let state = self.u64_at(off);
            // Acquire: pairs with the Release stores of the cell state by
            // pullers (`EMPTY`) and with claims by other pushers.
            let s = state.load(Ordering::Acquire);
            let (slap, kind, pid) = dec(s);
            let d = slap.wrapping_sub(lap) as i32;
            if d == 0 && kind == EMPTY {
                // AcqRel: the claim orders after the puller's Release of the
                // cell (its reads of the old payload happen before our writes).
                if state
                    .compare_exchange(
                        s,
                        enc(lap, WRITING, self.me),
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    )
                    .is_err()
                {
                    continue;
                }
                // Advance (or find it already advanced by a helper).
                // Release: pairs with the Acquire load in `passed_by`; the
                // cell left this position's state before the position moved.
                let _ = enq.compare_exchange(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Release,
                    Ordering::Relaxed,
                );
                self.prefetch_cell(pos.wrapping_add(PREFETCH_AHEAD));
                // The payload of this cell holds max_payload (rounded up to
                // 8) bytes, we own the cell (WRITING with our pid), and
                // others access it only atomically.
                self.region.copy_in(off + CELL_HEADER, data);
                self.u32_at(off + 8)
                    .store(data.len() as u32, Ordering::Relaxed);
                self.u32_at(off + 12).store(tag, Ordering::Relaxed);
                // Release: pairs with the Acquire load of the state in
                // `try_pop`; publishes payload, len and tag.
                state.store(enc(lap, FULL, 0), Ordering::Release);
                self.not_empty().notify();
                return Ok(());
            }
            if d == 0 || (d == 1 && kind == EMPTY) {
                // Position already taken (and maybe already emptied again):
                // help it advance.
                // Release: pairs with the Acquire load in `passed_by`; the
                // cell left this position's state before the position moved.
                let _ = enq.compare_exchange(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Release,
                    Ordering::Relaxed,
                );
                continue;
            }
            if d == -1 && kind != EMPTY {
                // The cell still holds the previous lap: full, unless its
                // holder is dead.
                let stuck = match kind {
                    READING | WRITING => repair && self.repair(off, s, pid, enc(lap, EMPTY, 0)),
                    _ => false,
                };
                if !stuck && enq.load(Ordering::Relaxed) == pos {
                    let before = pos.wrapping_sub(u64::from(self.geo.capacity));
                    if repair && kind == FULL {
                        if let Some(d) = self.passed(OFF_DEQ, before, off, s) {
                            // No puller will take this job: they went on at
                            // `d`. Drop it for this position's job.
                            // AcqRel: as for any claim of the cell.
                            let _ = state.compare_exchange(
                                s,
                                enc(lap, EMPTY, 0),
                                Ordering::AcqRel,
                                Ordering::Relaxed,
                            );
                            return Err(PushError::Corrupt(format!(
                                "cell {} holds the job of position {before}, but the \
                                 dequeue position was at {d}; dropped",
                                pos % u64::from(self.geo.capacity)
                            )));
                        }
                    }
                    return Err(self.full(repair));
                }
                continue;
            }
            // Any other state is impossible for a position that has not
            // moved meanwhile: a cell is only claimed at the enqueue
            // position (the claimer then advances it), so it is at most one
            // lap ahead (emptied) or behind (not yet emptied).
            if enq.load(Ordering::Relaxed) != pos {
                continue;
            }
            // AcqRel: as for any claim of the cell. Reset for this position.
            let _ =
                state.compare_exchange(s, enc(lap, EMPTY, 0), Ordering::AcqRel, Ordering::Relaxed);
            return Err(PushError::Corrupt(format!(
                "cell {} was {} of lap {slap} (pid {pid}) at enqueue position {pos} (lap {lap}); reset",
                pos % u64::from(self.geo.capacity),
                kind_name(kind)
            )));
        }
        Err(self.full(repair))
    }

    /// What a push that found no room returns (see `resync_positions`).
    fn full(&self, repair: bool) -> PushError {
        match self.resync_positions(repair) {
            Some(why) => PushError::Corrupt(why),
            None => PushError::Full,
        }
    }

    /// What a pop that found no job returns (see `resync_positions`).
    fn empty(&self, repair: bool) -> TryRecvError {
        match self.resync_positions(repair) {
            Some(why) => TryRecvError::Corrupt(why),
            None => TryRecvError::Empty,
        }
    }

    /// Copies the next job into `dst` (room for `cap` bytes) and returns
    /// `(len, tag)`: see [`try_pop_uninit`](Self::try_pop_uninit).
    ///
    /// # Safety
    /// `dst` is valid for writes of `cap` bytes.
    pub unsafe fn try_pop(
        &self,
        dst: *mut u8,
        cap: usize,
        repair: bool,
    ) -> Result<(u32, u32), TryRecvError> {
        // SAFETY: forwarded from the caller (`MaybeUninit<u8>` is laid out
        // as `u8`; only initialized bytes are written).
        let dst = unsafe { std::slice::from_raw_parts_mut(dst.cast::<MaybeUninit<u8>>(), cap) };
        self.try_pop_uninit(dst, repair)
    }

    /// Copies the next job into `buf` (cleared, then filled; it grows to
    /// `max_payload` bytes of capacity) and returns its tag: see
    /// [`try_pop_uninit`](Self::try_pop_uninit).
    pub fn try_pop_vec(&self, buf: &mut Vec<u8>, repair: bool) -> Result<u32, TryRecvError> {
        let mut tag = 0;
        crate::region::fill_vec(buf, self.geo.max_payload as usize, |room| {
            let (len, t) = self.try_pop_uninit(room, repair)?;
            tag = t;
            Ok(len as usize)
        })?;
        Ok(tag)
    }

    /// Copies the next job into the start of `dst` and returns `(len,
    /// tag)`: the first `len` bytes of `dst` are then initialized. With
    /// `repair`, a cell whose pusher died mid-write is skipped (that job
    /// never existed). A cell in an impossible state for the dequeue
    /// position, or a job longer than the cell (or than `dst`), is skipped
    /// and reported as [`TryRecvError::Corrupt`].
    pub fn try_pop_uninit(
        &self,
        dst: &mut [MaybeUninit<u8>],
        repair: bool,
    ) -> Result<(u32, u32), TryRecvError> {
        let cap = dst.len();
        let deq = self.u64_at(OFF_DEQ);
        for _ in 0..self.max_steps() {
            let pos = deq.load(Ordering::Relaxed);
            let (off, lap) = self.cell(pos);
            let state = self.u64_at(off);
            // Acquire: pairs with the Release store of `FULL` in `try_push`.
            let s = state.load(Ordering::Acquire);
            let (slap, kind, pid) = dec(s);
            let d = slap.wrapping_sub(lap) as i32;
            if d == 0 && kind == FULL {
                // AcqRel: orders our reads after the pusher's Release.
                if state
                    .compare_exchange(
                        s,
                        enc(lap, READING, self.me),
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    )
                    .is_err()
                {
                    continue;
                }
                // Release: pairs with the Acquire load in `passed_by`; the
                // cell left this position's state before the position moved.
                let _ = deq.compare_exchange(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Release,
                    Ordering::Relaxed,
                );
                let len = self.u32_at(off + 8).load(Ordering::Relaxed);
                let tag = self.u32_at(off + 12).load(Ordering::Relaxed);
                let fits = len <= self.geo.max_payload && len as usize <= cap;
                if fits {
                    // `len <= max_payload` fits the cell's payload and `dst`
                    // has room for `len <= cap` bytes; we own the cell.
                    self.region
                        .copy_out(off + CELL_HEADER, &mut dst[..len as usize]);
                }
                // Release: pairs with the Acquire load in `try_push`; our
                // reads of the payload happen before the next lap's writes.
                state.store(enc(lap.wrapping_add(1), EMPTY, 0), Ordering::Release);
                self.not_full().notify();
                if !fits {
                    return Err(TryRecvError::Corrupt(format!(
                        "job at position {pos} claims {len} bytes; the limit is {}",
                        self.geo.max_payload.min(cap as u32)
                    )));
                }
                return Ok((len, tag));
            }
            if d == 1 || (d == 0 && kind == READING) {
                // Already taken: help the position advance.
                // Release: pairs with the Acquire load in `passed_by`; the
                // cell left this position's state before the position moved.
                let _ = deq.compare_exchange(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Release,
                    Ordering::Relaxed,
                );
                continue;
            }
            if d == 0 {
                // EMPTY: no job yet; WRITING: not written yet, or its
                // pusher died (then, with `repair`, skip the hole).
                if repair
                    && kind == WRITING
                    && self.repair(off, s, pid, enc(lap.wrapping_add(1), EMPTY, 0))
                {
                    continue;
                }
                if repair && kind == EMPTY {
                    if let Some(e) = self.passed(OFF_ENQ, pos, off, s) {
                        // No pusher will fill this cell: the pushers went on
                        // at `e`. Send them back here.
                        // Relaxed: positions are hints; cells order the data.
                        if self
                            .u64_at(OFF_ENQ)
                            .compare_exchange(e, pos, Ordering::Relaxed, Ordering::Relaxed)
                            .is_ok()
                        {
                            return Err(TryRecvError::Corrupt(format!(
                                "cell {} was EMPTY of lap {lap} at dequeue position {pos} \
                                 but the enqueue position was at {e}; moved back to {pos}",
                                pos % u64::from(self.geo.capacity)
                            )));
                        }
                    }
                }
                return Err(self.empty(repair));
            }
            if d == -1 && kind == READING {
                // The previous lap's job is still being copied out.
                if repair && self.repair(off, s, pid, enc(lap, EMPTY, 0)) {
                    continue;
                }
                return Err(self.empty(repair));
            }
            // Any other state is impossible for a position that has not
            // moved meanwhile: the dequeue position passes a cell only by
            // claiming it, or helping after someone did.
            if deq.load(Ordering::Relaxed) != pos {
                continue;
            }
            // AcqRel: as for any claim of the cell. Skip it, as if taken.
            let _ = state.compare_exchange(
                s,
                enc(lap.wrapping_add(1), EMPTY, 0),
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
            // Release: as for the other advances (see `passed_by`).
            let _ = deq.compare_exchange(
                pos,
                pos.wrapping_add(1),
                Ordering::Release,
                Ordering::Relaxed,
            );
            return Err(TryRecvError::Corrupt(format!(
                "cell {} was {} of lap {slap} (pid {pid}) at dequeue position {pos} (lap {lap}); skipped",
                pos % u64::from(self.geo.capacity),
                kind_name(kind)
            )));
        }
        Err(self.empty(repair))
    }

    /// `true` if a `try_pop` may find a job now: the cell at the dequeue
    /// position is full, or already taken (the position is stale). A cell
    /// still being written is not ready yet: waking for it would only make
    /// the puller look up whether its writer is alive.
    fn has_job(&self) -> bool {
        self.has_jobs(1)
    }

    /// `true` if the `n`th cell from the dequeue position is ready (see
    /// `has_job`): for one puller, that `n` jobs are queued.
    fn has_jobs(&self, n: u64) -> bool {
        let pos = self
            .u64_at(OFF_DEQ)
            .load(Ordering::Relaxed)
            .wrapping_add(n - 1);
        let (off, lap) = self.cell(pos);
        // Acquire: pairs with the Release store of `FULL` in `try_push` (a
        // hint only: `try_pop` claims the cell with its own CAS).
        let (slap, kind, _) = dec(self.u64_at(off).load(Ordering::Acquire));
        match slap.wrapping_sub(lap) as i32 {
            0 => kind == FULL || kind == READING,
            d => d > 0,
        }
    }

    /// What this participant's claims record (see the module docs).
    pub fn claimer(&self) -> u32 {
        self.me
    }

    /// `true` if the cell at the enqueue position is free.
    fn has_room(&self) -> bool {
        // Wait for a run of free cells, not just one: a pusher that resumed
        // on the very cell the puller just freed would then contend with it
        // for every cell's cache line (both spinning on the same lines).
        let pos = self
            .u64_at(OFF_ENQ)
            .load(Ordering::Relaxed)
            .wrapping_add(self.room_run() - 1);
        let (off, lap) = self.cell(pos);
        // Acquire: pairs with the Release store of `EMPTY` in `try_pop` (a
        // hint only: `try_push` claims the cell with its own CAS).
        let (slap, _, _) = dec(self.u64_at(off).load(Ordering::Acquire));
        slap.wrapping_sub(lap) as i32 >= 0
    }

    /// The run of cells a waiting pusher waits to see free (its low-water
    /// mark): an eighth of the queue, at most 32.
    fn room_run(&self) -> u64 {
        u64::from(self.geo.capacity / 8).clamp(1, 32)
    }

    /// The run of jobs a streaming puller waits for (an eighth of the
    /// queue, at most 128), and how many polls (a pause each, about 25 ns
    /// here) it waits for them before it takes a lone job: two per job, about
    /// the time a pusher takes to queue them (at most about 6 us).
    fn job_run(&self) -> (u64, u32) {
        let run = (self.geo.capacity / 8).clamp(1, 128);
        (u64::from(run), 2 * run)
    }

    /// Waits until a job may be there or `deadline` passes (spinning first
    /// if `spin`, see `sync::Event::wait`).
    pub fn wait_job(&self, deadline: Option<Instant>, spin: bool) -> bool {
        self.not_empty().wait(|| self.has_job(), deadline, spin)
    }

    /// As [`wait_job`](Self::wait_job), for a puller that may be
    /// `streaming`: then, if it may spin, it first spins a little (see
    /// `job_run`; the spin is bounded by its poll count, not by `deadline`)
    /// for a run of jobs, not just one. A puller that takes each job the
    /// moment it lands reads the very cell the pusher writes next, and the
    /// two trade its cache line job after job; a run apart, each works on
    /// its own lines. Returns `(ready, streaming)`: whether a job may be
    /// there, and whether a run was there or a lone job came while spinning
    /// within the patience (the next wait should look for a run again). A
    /// pusher that sends a steady trickle just slower than the puller takes
    /// it therefore has every other job wait out the patience.
    pub fn wait_jobs(
        &self,
        deadline: Option<Instant>,
        spin: bool,
        streaming: bool,
    ) -> (bool, bool) {
        if streaming && spin {
            let (run, patience) = self.job_run();
            for _ in 0..patience {
                // The first job too: a cell whose pusher died mid-write
                // blocks the way however many jobs follow it, and only the
                // plain wait below (which ends without a job) gets the
                // caller to repair it.
                if self.has_jobs(run) && self.has_job() {
                    return (true, true);
                }
                sync::spin_hint();
            }
            // No run: the pusher slowed down; take lone jobs again.
            return (self.wait_job(deadline, spin), false);
        }
        let (_, patience) = self.job_run();
        let mut polls = 0u32;
        let ready = self.not_empty().wait(
            || {
                polls = polls.saturating_add(1);
                self.has_job()
            },
            deadline,
            spin,
        );
        (ready, spin && ready && polls <= patience)
    }

    /// Waits until there may be room or `deadline` passes.
    pub fn wait_room(&self, deadline: Option<Instant>, spin: bool) -> bool {
        self.not_full().wait(|| self.has_room(), deadline, spin)
    }

    /// Wakes every sleeper (shutting down).
    pub fn wake_all(&self) {
        self.not_empty().notify_all();
        self.not_full().notify_all();
    }

    /// Test hook: pretends to be another process (for crash tests on one process).
    #[cfg(test)]
    fn with_pid(mut self, pid: u32) -> Queue {
        self.me = pid;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(geo: Geometry) -> (Vec<u64>, Queue) {
        let len = geo.region_len().unwrap();
        let mut buf = vec![0u64; len / 8 + 16];
        let base = ((buf.as_mut_ptr() as usize).div_ceil(64) * 64) as *mut u8;
        // SAFETY: `base` is 64-aligned inside `buf` with `len` zeroed bytes;
        // `buf` is returned alongside and outlives the queue in each test.
        let q = Queue::init(unsafe { Region::new(base, len) }, geo).unwrap();
        (buf, q)
    }

    fn pop(q: &Queue) -> Result<Vec<u8>, TryRecvError> {
        let mut v = vec![0u8; 64];
        // SAFETY: `v` has 64 bytes.
        let (len, _) = unsafe { q.try_pop(v.as_mut_ptr(), 64, true) }?;
        v.truncate(len as usize);
        Ok(v)
    }

    const GEO: Geometry = Geometry {
        capacity: 4,
        max_payload: 64,
    };

    #[test]
    fn a_streaming_puller_waits_briefly_for_a_run_then_takes_a_lone_job() {
        let (_b, q) = queue(Geometry {
            capacity: 64,
            max_payload: 8,
        });
        let far = Some(Instant::now() + std::time::Duration::from_secs(10));
        // Empty: the wait ends at the deadline, with no job.
        let soon = Some(Instant::now() + std::time::Duration::from_millis(5));
        assert_eq!(q.wait_jobs(soon, true, true), (false, false));
        // One job: a streaming puller waits out its patience, then takes
        // it (and stops looking for runs); one that is not streaming takes
        // it at once (and starts to).
        q.try_push(b"1", 0, false).unwrap();
        assert_eq!(q.wait_jobs(far, true, true), (true, false));
        assert_eq!(q.wait_jobs(far, true, false), (true, true));
        // A run (64 / 8 = 8 jobs): found at once.
        for _ in 1..8 {
            q.try_push(b"2", 0, false).unwrap();
        }
        assert_eq!(q.wait_jobs(far, true, true), (true, true));
        // Woken from the futex (no spin): never counts as streaming.
        assert_eq!(q.wait_jobs(far, false, true), (true, false));
        for _ in 0..8 {
            pop(&q).unwrap();
        }
        assert_eq!(pop(&q), Err(TryRecvError::Empty));
    }

    #[test]
    fn positions_overwritten_into_a_full_and_empty_stall_are_moved_back() {
        let (_b, q) = queue(GEO);
        let enq = q.u64_at(OFF_ENQ);
        for i in 0..8u8 {
            q.try_push(&[i], 0, false).unwrap();
            pop(&q).unwrap();
        }
        // A peer moves the enqueue position past 8 (nobody fills it), jobs
        // 9..12 are sent, and it moves the position past the cell of 12,
        // which holds a job a lap behind 8: the puller waits at 8 for a
        // job that never comes, and the pusher at 13 finds job 9, which the
        // puller never reaches, in its way.
        enq.store(9, Ordering::Relaxed);
        for i in 9..12u8 {
            q.try_push(&[i], 0, false).unwrap();
        }
        enq.store(13, Ordering::Relaxed);
        assert_eq!(q.try_push(b"x", 0, false), Err(PushError::Full));
        assert_eq!(pop_without_repair(&q), Err(TryRecvError::Empty));
        // The repairing pass of a pop sees the enqueue position past a
        // cell no pusher claimed, and moves it back.
        assert!(matches!(pop(&q), Err(TryRecvError::Corrupt(_))));
        q.try_push(&[8], 0, true).unwrap();
        for i in 8..12u8 {
            assert_eq!(pop(&q).unwrap(), [i]);
        }
        // A peer moves the dequeue position past job 12 (nobody takes it):
        // the pusher at 16 finds it in its way.
        for i in 12..16u8 {
            q.try_push(&[i], 0, false).unwrap();
        }
        q.u64_at(OFF_DEQ).store(13, Ordering::Relaxed);
        assert_eq!(q.try_push(b"x", 0, false), Err(PushError::Full));
        assert!(matches!(
            q.try_push(b"x", 0, true),
            Err(PushError::Corrupt(_))
        ));
        q.try_push(&[16], 0, true).unwrap();
        for i in 13..17u8 {
            assert_eq!(pop(&q).unwrap(), [i]);
        }
        assert_eq!(pop(&q), Err(TryRecvError::Empty));
    }

    fn pop_without_repair(q: &Queue) -> Result<Vec<u8>, TryRecvError> {
        let mut v = vec![0u8; 64];
        // SAFETY: `v` has 64 bytes.
        let (len, _) = unsafe { q.try_pop(v.as_mut_ptr(), 64, false) }?;
        v.truncate(len as usize);
        Ok(v)
    }

    #[test]
    fn fifo_full_and_empty() {
        let (_b, q) = queue(GEO);
        assert_eq!(pop(&q), Err(TryRecvError::Empty));
        for i in 0..4u8 {
            q.try_push(&[i; 3], 0, false).unwrap();
        }
        assert_eq!(q.try_push(b"x", 0, true), Err(PushError::Full));
        for round in 0..10u8 {
            assert_eq!(pop(&q).unwrap(), vec![round; 3]);
            q.try_push(&[round + 4; 3], 0, false).unwrap();
        }
        assert_eq!(q.len(), 4);
    }

    #[test]
    fn dead_puller_and_pusher_do_not_stall_the_queue() {
        let (_b, q) = queue(GEO);
        // A "process" that does not exist claims a job for reading and dies.
        let ghost = q.with_pid(0x3fff_fff0);
        for i in 0..4u8 {
            q.try_push(&[i], 0, false).unwrap();
        }
        // Simulate a puller dying after its claim: claim cell 0 by hand.
        let (off, lap) = q.cell(0);
        q.u64_at(off)
            .store(enc(lap, READING, ghost.me), Ordering::Release);
        // The queue is full; a push with repair frees the dead reader's
        // cell, and reports the dead peer under the channel's name.
        assert_eq!(q.try_push(b"a", 0, false), Err(PushError::Full));
        static SEEN: std::sync::Mutex<Vec<crate::events::Event>> =
            std::sync::Mutex::new(Vec::new());
        crate::events::set_hook(Some(|e| SEEN.lock().unwrap().push(e.clone())));
        crate::events::on_channel("unit/ghost-queue", || q.try_push(b"a", 0, true)).unwrap();
        let died = crate::events::Event::PeerDied {
            name: "unit/ghost-queue".into(),
            pid: ghost.me,
            what: "a queue cell it held",
        };
        assert!(SEEN.lock().unwrap().contains(&died), "{:?}", SEEN.lock());
        // Job 0 was lost (the one being read); 1..3 and the new one remain.
        for want in [vec![1u8], vec![2], vec![3], b"a".to_vec()] {
            assert_eq!(pop(&q).unwrap(), want);
        }
        // A pusher dying mid-write leaves a hole that pullers skip.
        let (off, lap) = q.cell(q.pushed());
        q.u64_at(off)
            .store(enc(lap, WRITING, ghost.me), Ordering::Release);
        q.u64_at(OFF_ENQ).fetch_add(1, Ordering::Relaxed);
        q.try_push(b"after", 0, false).unwrap();
        assert_eq!(pop(&q).unwrap(), b"after");
    }

    #[test]
    fn a_streaming_puller_does_not_spin_past_a_dead_pushers_cell() {
        let (_b, q) = queue(Geometry {
            capacity: 64,
            max_payload: 8,
        });
        let ghost = q.with_pid(0x3fff_fff0);
        // A pusher claims position 0 and dies; others queue 8 jobs after it.
        let (off, lap) = q.cell(0);
        q.u64_at(off)
            .store(enc(lap, WRITING, ghost.me), Ordering::Release);
        q.u64_at(OFF_ENQ).fetch_add(1, Ordering::Relaxed);
        for _ in 0..8 {
            q.try_push(b"j", 0, false).unwrap();
        }
        // A run is queued, but not at the head: the wait must end without a
        // job (at its deadline), so that the caller repairs the cell.
        let soon = Some(Instant::now() + std::time::Duration::from_millis(5));
        assert_eq!(q.wait_jobs(soon, true, true), (false, false));
        assert_eq!(pop(&q).unwrap(), b"j");
    }

    /// A queue in leaked heap memory (for threads that may outlive a test
    /// that gave up on them).
    fn leaked_queue(geo: Geometry) -> Queue {
        let (buf, q) = queue(geo);
        std::mem::forget(buf);
        q
    }

    /// Runs `f` on a thread and returns its result, or panics if it takes
    /// longer than `limit` (a spin on corrupt state).
    fn within<R: Send + 'static>(
        limit: std::time::Duration,
        what: &str,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> R {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(limit)
            .unwrap_or_else(|_| panic!("{what} did not return within {limit:?}"))
    }

    fn push_result(q: Queue, repair: bool) -> Result<(), PushError> {
        within(std::time::Duration::from_secs(2), "try_push", move || {
            q.try_push(b"job", 7, repair)
        })
    }

    fn pop_result(q: Queue) -> Result<Vec<u8>, TryRecvError> {
        within(std::time::Duration::from_secs(2), "try_pop", move || {
            pop(&q)
        })
    }

    #[test]
    fn impossible_cell_states_are_corrupt_errors_and_get_repaired() {
        let ms = std::time::Duration::from_millis;
        let geo = Geometry {
            capacity: 8,
            max_payload: 16,
        };
        // Every cell's lap far ahead of the positions (one pass of writes):
        // each push reports the cell in its way as corrupt and resets it,
        // then the queue works again.
        let q = leaked_queue(geo);
        for i in 0..8u64 {
            let (off, _) = q.cell(i);
            q.u64_at(off)
                .store(enc(0x4000_0000, EMPTY, 0), Ordering::Relaxed);
        }
        let mut corrupt = 0;
        for _ in 0..9 {
            match push_result(q, true) {
                Ok(()) => break,
                Err(PushError::Corrupt(why)) => {
                    corrupt += 1;
                    assert!(why.contains("lap"), "{why}");
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert!(corrupt >= 1, "no corruption reported");
        assert_eq!(pop_result(q).unwrap(), b"job");
        // Cells far ahead of pullers: the same on the other side.
        let q = leaked_queue(geo);
        for i in 0..8u64 {
            let (off, _) = q.cell(i);
            q.u64_at(off)
                .store(enc(0x7000_0000, FULL, 0), Ordering::Relaxed);
        }
        assert!(matches!(pop_result(q), Err(TryRecvError::Corrupt(_))));
        // A claim far ahead, held by a live process (this one): impossible.
        let q = leaked_queue(geo);
        let (off, _) = q.cell(0);
        q.u64_at(off)
            .store(enc(77, WRITING, q.me), Ordering::Relaxed);
        assert!(matches!(push_result(q, false), Err(PushError::Corrupt(_))));
        q.try_push(b"ok", 0, false).unwrap();
        assert_eq!(pop_result(q).unwrap(), b"ok");
        // Positions far from the cells: the enqueue position many laps
        // ahead, the dequeue position many laps behind.
        let q = leaked_queue(geo);
        q.u64_at(OFF_ENQ).store(8 * 1000, Ordering::Relaxed);
        assert!(matches!(push_result(q, true), Err(PushError::Corrupt(_))));
        let q = leaked_queue(geo);
        q.try_push(b"a", 0, false).unwrap();
        q.u64_at(OFF_DEQ).store(u64::MAX - 80, Ordering::Relaxed);
        assert!(matches!(pop_result(q), Err(TryRecvError::Corrupt(_))));
        // A length over max_payload: corrupt, and the job is dropped.
        let q = leaked_queue(geo);
        q.try_push(b"a", 0, false).unwrap();
        let (off, _) = q.cell(0);
        q.u32_at(off + 8).store(1 << 20, Ordering::Relaxed);
        assert!(matches!(pop_result(q), Err(TryRecvError::Corrupt(_))));
        assert_eq!(pop_result(q), Err(TryRecvError::Empty));
        // The waits on such a queue end by their deadlines.
        let q = leaked_queue(geo);
        for i in 0..8u64 {
            let (off, _) = q.cell(i);
            q.u64_at(off).store(enc(5, READING, 1), Ordering::Relaxed);
        }
        within(ms(2000), "wait_job", move || {
            q.wait_jobs(Some(Instant::now() + ms(20)), true, true);
            q.wait_job(Some(Instant::now() + ms(20)), true);
            q.wait_room(Some(Instant::now() + ms(20)), true);
        });
    }

    #[test]
    fn random_bytes_over_a_live_queue_never_hang_or_crash_its_peers() {
        let ms = std::time::Duration::from_millis;
        let geo = Geometry {
            capacity: 16,
            max_payload: 24,
        };
        let q = leaked_queue(geo);
        let words = geo.region_len().unwrap() / 8;
        let stop: &'static std::sync::atomic::AtomicBool =
            Box::leak(Box::new(std::sync::atomic::AtomicBool::new(false)));
        let (tx, rx) = std::sync::mpsc::channel::<(&str, std::time::Duration, u64)>();
        let worker = |name: &'static str, push: bool| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let (mut slowest, mut ops) = (std::time::Duration::ZERO, 0u64);
                let mut buf = [0u8; 24];
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let t0 = Instant::now();
                    let deadline = Some(t0 + ms(5));
                    if push {
                        if q.try_push(b"payload", 1, ops % 4 == 0).is_err() {
                            q.wait_room(deadline, true);
                        }
                    } else {
                        // SAFETY: `buf` has 24 bytes.
                        if unsafe { q.try_pop(buf.as_mut_ptr(), 24, ops % 4 == 0) }.is_err() {
                            q.wait_jobs(deadline, true, ops % 2 == 0);
                        }
                    }
                    slowest = slowest.max(t0.elapsed());
                    ops += 1;
                }
                let _ = tx.send((name, slowest, ops));
            });
        };
        worker("pusher 1", true);
        worker("pusher 2", true);
        worker("puller 1", false);
        worker("puller 2", false);
        // Scribble random words (atomically: this process reads them too)
        // over positions, events and cells while the peers run.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let end = Instant::now() + ms(400);
        let mut round = 0u32;
        let far_ahead = |round: u32| {
            for i in 0..u64::from(geo.capacity) {
                let (off, _) = q.cell(i);
                let s = enc(0x4000_0000 + round, u64::from(round) & 3, 0);
                q.u64_at(off).store(s, Ordering::Relaxed);
            }
        };
        while Instant::now() < end {
            round += 1;
            if round % 50 == 0 {
                // Now and then one pass over every cell, all far ahead.
                far_ahead(round);
            }
            for _ in 0..64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x & 1 == 0 {
                    let w = 8 + (x as usize >> 8) % (words - 8);
                    q.u64_at(w * 8).store(x, Ordering::Relaxed);
                } else {
                    // A plausible cell state, of any lap, kind and pid.
                    let (off, _) = q.cell(x >> 40);
                    let s = enc((x >> 32) as u32, (x >> 4) & 3, (x >> 8) as u32);
                    q.u64_at(off).store(s, Ordering::Relaxed);
                }
            }
            std::thread::sleep(ms(1));
        }
        far_ahead(0);
        // Then let them run on the damaged queue for a while.
        std::thread::sleep(ms(200));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for _ in 0..4 {
            let (name, slowest, ops) = rx
                .recv_timeout(std::time::Duration::from_secs(5))
                .expect("a peer hung on the scribbled queue");
            eprintln!("{name}: {ops} operations, slowest {slowest:?}");
            assert!(slowest < ms(1000), "{name} took {slowest:?}");
        }
    }

    #[test]
    fn claims_name_participants_so_a_reused_pid_does_not_keep_them_alive() {
        let (_b, q) = queue(GEO);
        let mut table = vec![0u64; crate::segment::TABLE_LEN / 8 + 8];
        let base = ((table.as_mut_ptr() as usize).div_ceil(64) * 64) as *mut u8;
        // SAFETY: 64-aligned, TABLE_LEN zeroed bytes inside `table`, which
        // outlives the peers.
        let region = unsafe { Region::new(base, crate::segment::TABLE_LEN) };
        let peers = Peers::register_in(region, 1);
        let q = q.with_peers(peers);
        // Entry 5: a participant that died, whose pid this process now has
        // (same pid, another start time).
        let me = crate::platform::pid();
        let start = crate::platform::process_start_time(me).unwrap();
        let ghost = peers.fake_entry(5, me, start + 1);
        assert!(q.claimer_alive(q.claimer()));
        assert!(!q.claimer_alive(ghost));
        // Pid 1 (alive) as a pid-recording build wrote it: entry 1, free.
        assert!(!q.claimer_alive(1));
        // An index beyond the table.
        assert!(!q.claimer_alive(255));
        for i in 0..4u8 {
            q.try_push(&[i], 0, false).unwrap();
        }
        for (pos, claimer) in [(0, ghost), (1, 1)] {
            let (off, lap) = q.cell(pos);
            q.u64_at(off)
                .store(enc(lap, READING, claimer), Ordering::Release);
        }
        assert_eq!(q.try_push(b"a", 0, false), Err(PushError::Full));
        q.try_push(b"a", 0, true).unwrap();
        q.try_push(b"b", 0, true).unwrap();
        for want in [vec![2u8], vec![3], b"a".to_vec(), b"b".to_vec()] {
            assert_eq!(pop(&q).unwrap(), want);
        }
        // A live participant's claim is never repaired.
        let (off, lap) = q.cell(q.pushed());
        q.u64_at(off).store(
            enc(lap.wrapping_sub(1), READING, q.claimer()),
            Ordering::Release,
        );
        for _ in 0..4 {
            assert_eq!(q.try_push(b"c", 0, true), Err(PushError::Full));
        }
    }

    #[test]
    fn threads_deliver_every_job_exactly_once() {
        let (_b, q) = queue(Geometry {
            capacity: 8,
            max_payload: 16,
        });
        let per = 20_000u64;
        let seen: Vec<std::sync::atomic::AtomicU8> = (0..per * 2)
            .map(|_| std::sync::atomic::AtomicU8::new(0))
            .collect();
        let done = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| {
            for p in 0..2u64 {
                s.spawn(move || {
                    for i in 0..per {
                        let id = p * per + i;
                        while q.try_push(&id.to_le_bytes(), 0, false).is_err() {
                            q.wait_room(None, true);
                        }
                    }
                });
            }
            for _ in 0..3 {
                s.spawn(|| {
                    let mut buf = [0u8; 16];
                    while done.load(std::sync::atomic::Ordering::Relaxed) < per * 2 {
                        // SAFETY: `buf` has 16 bytes.
                        match unsafe { q.try_pop(buf.as_mut_ptr(), 16, false) } {
                            Ok((8, _)) => {
                                let id = u64::from_le_bytes(buf[..8].try_into().unwrap());
                                seen[id as usize]
                                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                            Ok(other) => panic!("bad job {other:?}"),
                            Err(_) => {
                                q.wait_job(
                                    Some(Instant::now() + std::time::Duration::from_millis(10)),
                                    true,
                                );
                            }
                        }
                    }
                });
            }
        });
        assert!(seen
            .iter()
            .all(|c| c.load(std::sync::atomic::Ordering::Relaxed) == 1));
    }
}
