//! The broadcast ring behind PUB/SUB: one writer, any number of readers, in a
//! byte region it is handed (shared memory or, in tests, the heap). It knows
//! nothing of files or message types.
//!
//! # Layout of the region
//! ```text
//! 0     Control     geometry (immutable), then one cache line each for
//!                   `write_seq` and the wake-up words
//! 256   pin table   `borrow_budget` owners (u64), then as many pin words (u32)
//! 4096n entries     `capacity` × 64 B: { stamp: u64, chunk: u64 }, from the
//!                   first 4096-byte boundary after the pin table
//! ...   chunks      `chunks` × `stride` B: { stamp: u64, next: u32,
//!                   len: u32, tag: u32, 12 B reserved } then the payload
//!                   (8-aligned)
//! ```
//! Readers write only the first part (the wake-up words and the pin
//! table); entries and chunks, from a page boundary on, are the writer's
//! alone, so a subscriber maps them read-only ([`Ring::reader_read_only`]):
//! a reader's stray write there faults in the reader instead of breaking
//! the topic for everyone.
//!
//! Message `n` (0-based) is announced in entry `n % capacity`, which names the
//! chunk holding it. Chunks are a pool larger than the ring (`capacity + 1 +
//! borrow_budget`): the writer always fills a chunk that is in no entry and
//! not pinned, so a reader that *pins* a chunk can hand out `&T` into it, and
//! the writer never blocks on readers.
//!
//! # Stamps (per-message sequence numbers)
//! - `chunk.stamp`: `2n + 1` while message `n` is being written into it,
//!   `2n + 2` once it holds message `n` completely; 0 before first use.
//! - `entry.stamp`: `2n + 2` once the entry announces message `n`.
//!
//! A copy-reader checks the chunk stamp before and after copying (a seqlock):
//! a chunk rewritten during the copy changes stamp and the copy is discarded,
//! so a torn message is never returned. Copies use atomic word loads and
//! stores only, never a plain `memcpy` over memory a peer may be writing.
//!
//! # The next chunk
//! Each chunk header also names the chunk the writer expects to fill with
//! the following message (`next`). A reader that has read message `n`
//! looks there first for message `n + 1`: if that chunk's stamp says it
//! holds `n + 1` whole, it is read without touching the entry, one cache
//! line fewer per message, and not one that must be fetched before the
//! chunk's own. The guess is only a hint: the stamp decides, and a wrong or
//! garbled hint sends the reader to the entry as before.
//!
//! # Lagging
//! A reader that finds its next entry (or chunk) already holding a newer
//! message was lapped: it skips to the oldest message still announced
//! (`write_seq - capacity`) and adds the number skipped to `missed`. The count
//! is exact: it counts exactly the messages never returned. (Through the
//! hint, a lapped reader may still get its next message if a borrower's pin
//! kept it whole in its chunk after the entry moved on: a whole message, in
//! order, and the count stays exact.)
//!
//! # Pins
//! The borrow budget is a table of `borrow_budget` pin slots. To borrow, a
//! reader first owns a slot: one compare-and-swap of the slot's `owner`
//! word from 0 to its process identity (`pid << 32 | start time`, low 32
//! bits). It then stores `chunk + 1` into the slot's pin word and re-checks
//! the chunk stamp; the writer, to claim a chunk, stores an odd stamp and
//! then reads every pin word (both SeqCst: a Dekker handshake). At least
//! one side sees the other: either the reader sees the stamp change and
//! lets go, or the writer sees the pin and picks another chunk. At most
//! `borrow_budget` chunks are pinned, so the pool always has a free one.
//!
//! A borrower killed while holding samples leaves its slots owned. A reader
//! that finds no free slot checks the owners: the slot of a process that is
//! gone (or whose pid now belongs to a process started at another time) is
//! taken over with a compare-and-swap of its owner word, and its pin
//! dropped. Since only a slot's owner writes its pin word, nothing races
//! with that repair, and a kill -9 never shrinks the budget for good.
//!
//! # Waking
//! Readers that go to sleep use the control block's `notify`/`waiters` pair
//! (see `sync::Event`): the writer only makes a system call when a reader
//! sleeps, and a reader killed while asleep costs at most one needless wake-up.

use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use crate::error::{BorrowError, SendError, TryRecvError};
use crate::region::{align_up, Region};
use crate::sync::{self, fence, AtomicU32, AtomicU64, Ordering};

/// Bytes of the control block.
const CONTROL_LEN: usize = 256;
/// The part of the region that readers only read starts on a multiple of
/// this (a page on x86-64; larger pages protect from the next boundary).
const READ_ONLY_ALIGN: usize = 4096;
/// Bytes per entry (one cache line, so the writer and readers of neighbouring
/// entries do not share a line).
const ENTRY_LEN: usize = 64;
/// Bytes of a chunk header; the payload follows.
pub const CHUNK_HEADER_LEN: usize = 32;
/// Largest payload a ring accepts (the stamp and lengths are 32-bit).
pub const MAX_PAYLOAD: u32 = 1 << 30;
/// Largest number of entries.
pub const MAX_CAPACITY: u32 = 1 << 20;
/// Largest borrow budget.
pub const MAX_BORROWS: u32 = 1 << 10;

const NO_CHUNK: u32 = u32::MAX;

/// Offsets inside the control block.
const OFF_CAPACITY: usize = 0;
const OFF_MAX_PAYLOAD: usize = 4;
const OFF_BUDGET: usize = 8;
const OFF_CLOSED: usize = 12;
const OFF_WRITE_SEQ: usize = 64;
const OFF_NOTIFY: usize = 128;
const OFF_WAITERS: usize = 132;

/// Chunk header offsets.
const CH_STAMP: usize = 0;
const CH_NEXT: usize = 8;
const CH_LEN: usize = 12;
const CH_TAG: usize = 16;

/// The shape of a ring, chosen by its creator and validated by openers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Number of entries: how many messages a reader can fall behind before
    /// it is lapped.
    pub capacity: u32,
    /// Largest payload in bytes.
    pub max_payload: u32,
    /// How many chunks readers may hold pinned at once, over all readers.
    pub borrow_budget: u32,
}

impl Geometry {
    /// Checks the limits; the message says what is wrong.
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
        if self.borrow_budget > MAX_BORROWS {
            return Err(format!(
                "borrow budget {} exceeds {MAX_BORROWS}",
                self.borrow_budget
            ));
        }
        self.region_len()
            .map(|_| ())
            .ok_or_else(|| "ring too large for the address space".to_owned())
    }

    /// Number of chunks in the pool.
    pub fn chunks(&self) -> u32 {
        self.capacity + 1 + self.borrow_budget
    }

    /// Bytes from one chunk to the next.
    pub fn stride(&self) -> usize {
        align_up(
            CHUNK_HEADER_LEN + align_up(self.max_payload as usize, 8),
            64,
        )
    }

    fn pins_off(&self) -> usize {
        CONTROL_LEN
    }

    /// Where the entries start: the first page boundary after the pin table.
    fn entries_off(&self) -> usize {
        align_up(
            CONTROL_LEN + self.borrow_budget as usize * 12,
            READ_ONLY_ALIGN,
        )
    }

    fn chunks_off(&self) -> usize {
        self.entries_off() + self.capacity as usize * ENTRY_LEN
    }

    /// Bytes of region this geometry needs.
    pub fn region_len(&self) -> Option<usize> {
        (self.chunks() as usize)
            .checked_mul(self.stride())?
            .checked_add(self.chunks_off())
            .filter(|&n| n <= isize::MAX as usize / 2)
    }
}

/// A view of a ring in a region. Copyable; the region must outlive every
/// copy (owners keep the mapping alive next to it: see [`Region::new`]).
#[derive(Clone, Copy, Debug)]
pub struct Ring {
    region: Region,
    geo: Geometry,
    /// `geo.stride()`, `geo.entries_off()`, `geo.chunks_off()`: derived
    /// once, read on every message.
    stride: usize,
    entries: usize,
    chunks: usize,
}

impl Ring {
    /// Writes the geometry into a zeroed region and returns the ring. The
    /// region must not be visible to any other thread or process yet (a
    /// segment publishes it after this, see `segment`).
    pub fn init(region: Region, geo: Geometry) -> Result<Ring, String> {
        geo.check()?;
        let need = geo.region_len().unwrap_or(usize::MAX);
        let len = region.len();
        if len < need {
            return Err(format!("region of {len} bytes, {need} needed"));
        }
        let ring = Ring::with(region, geo);
        // Plain (Relaxed) stores: the region is published to others by the
        // Release store of the segment's `init` word.
        ring.u32_at(OFF_CAPACITY)
            .store(geo.capacity, Ordering::Relaxed);
        ring.u32_at(OFF_MAX_PAYLOAD)
            .store(geo.max_payload, Ordering::Relaxed);
        ring.u32_at(OFF_BUDGET)
            .store(geo.borrow_budget, Ordering::Relaxed);
        Ok(ring)
    }

    /// Reads and validates the geometry of an initialized region.
    pub fn attach(region: Region) -> Result<Ring, String> {
        let len = region.len();
        if len < CONTROL_LEN {
            return Err(format!(
                "region of {len} bytes is smaller than a ring header"
            ));
        }
        let geo = Geometry {
            capacity: region.u32_at(OFF_CAPACITY).load(Ordering::Relaxed),
            max_payload: region.u32_at(OFF_MAX_PAYLOAD).load(Ordering::Relaxed),
            borrow_budget: region.u32_at(OFF_BUDGET).load(Ordering::Relaxed),
        };
        geo.check()?;
        let need = geo.region_len().unwrap_or(usize::MAX);
        if need > len {
            return Err(format!(
                "geometry {} slots x {} bytes (+{} spare) needs {need} bytes but the region has {len}",
                geo.capacity, geo.max_payload, geo.borrow_budget
            ));
        }
        Ok(Ring::with(region, geo))
    }

    fn with(region: Region, geo: Geometry) -> Ring {
        Ring {
            region,
            geo,
            stride: geo.stride(),
            entries: geo.entries_off(),
            chunks: geo.chunks_off(),
        }
    }

    /// The geometry.
    pub fn geometry(&self) -> Geometry {
        self.geo
    }

    /// The part of the region a reader never writes, as `(offset, len)`
    /// from the region's start: the entries and chunks. Its offset is a
    /// multiple of 4096, so a subscriber can map it read-only.
    pub fn reader_read_only(&self) -> (usize, usize) {
        let end = self.geo.region_len().unwrap_or(self.entries);
        (self.entries, end - self.entries)
    }

    /// Every offset passed here is inside the region (control block, entry
    /// or chunk header: `init`/`attach` checked that the geometry fits it)
    /// and 4-aligned.
    #[inline(always)]
    fn u32_at(&self, off: usize) -> &AtomicU32 {
        self.region.u32_at(off)
    }

    /// As `u32_at`, 8-aligned.
    #[inline(always)]
    fn u64_at(&self, off: usize) -> &AtomicU64 {
        self.region.u64_at(off)
    }

    fn write_seq(&self) -> &AtomicU64 {
        self.u64_at(OFF_WRITE_SEQ)
    }

    fn entry_off(&self, n: u64) -> usize {
        self.entries + (n % u64::from(self.geo.capacity)) as usize * ENTRY_LEN
    }

    fn chunk_off(&self, c: u32) -> usize {
        debug_assert!(c < self.geo.chunks());
        self.chunks + c as usize * self.stride
    }

    /// Offset of chunk `c`'s payload (`c < chunks`, checked by callers):
    /// `max_payload` bytes rounded up to 8, inside the region.
    fn payload_off(&self, c: u32) -> usize {
        self.chunk_off(c) + CHUNK_HEADER_LEN
    }

    /// Number of messages published so far.
    pub fn published(&self) -> u64 {
        // Acquire: pairs with the Release store in `Writer::commit`.
        self.write_seq().load(Ordering::Acquire)
    }

    /// `true` once the writer has closed the ring.
    pub fn is_closed(&self) -> bool {
        // Acquire: pairs with the Release store in `Writer::close`.
        self.u32_at(OFF_CLOSED).load(Ordering::Acquire) != 0
    }

    /// Marks the ring closed and wakes every reader: by its writer, or by
    /// the writer that replaces a dead one (whose readers then look for
    /// the new ring at once).
    pub fn close(&self) {
        // Release: pairs with the Acquire load in `Ring::is_closed`.
        self.u32_at(OFF_CLOSED).store(1, Ordering::Release);
        self.event().notify_all();
    }

    fn event(&self) -> sync::Event<'_> {
        sync::Event {
            notify: self.u32_at(OFF_NOTIFY),
            waiters: self.u32_at(OFF_WAITERS),
        }
    }

    /// Arms `watch` on this ring's wake-up word: its bell rings at the next
    /// message or at the ring's closing. The caller checks the ring after.
    #[cfg(not(loom))]
    pub fn arm(&self, watch: &mut crate::bells::Watch) {
        watch.arm(&self.event());
    }

    /// Pin slots of the borrow budget that no process owns now (slots of
    /// dead borrowers count as owned until a borrower takes them over).
    pub fn borrow_tokens(&self) -> u32 {
        (0..self.geo.borrow_budget)
            .filter(|&i| self.pin_owner(i).load(Ordering::Relaxed) == 0)
            .count() as u32
    }

    /// The owner word of pin slot `i` (`i < borrow_budget`).
    fn pin_owner(&self, i: u32) -> &AtomicU64 {
        debug_assert!(i < self.geo.borrow_budget);
        self.u64_at(self.geo.pins_off() + i as usize * 8)
    }

    /// The pin word of slot `i`: `chunk + 1`, or 0 for none.
    fn pin_word(&self, i: u32) -> &AtomicU32 {
        debug_assert!(i < self.geo.borrow_budget);
        self.u32_at(self.geo.pins_off() + self.geo.borrow_budget as usize * 8 + i as usize * 4)
    }

    /// `true` if some pin slot pins chunk `c`.
    fn pinned(&self, c: u32) -> bool {
        // SeqCst: the writer's side of the Dekker handshake with
        // `Reader::pin_next` (SeqCst pin store, then SeqCst stamp load),
        // after the writer's SeqCst odd-stamp store in `Writer::claim_now`.
        (0..self.geo.borrow_budget).any(|i| self.pin_word(i).load(Ordering::SeqCst) == c + 1)
    }

    /// Owns a free pin slot for this process, or takes over one of a dead
    /// process (dropping its pin). `None` if every slot is owned by a live one.
    fn own_pin_slot(&self) -> Option<u32> {
        let me = sync::process_token();
        let budget = self.geo.borrow_budget;
        for i in 0..budget {
            // Acquire on success: pairs with the Release store of 0 in
            // `release_pin_slot` (its last owner is done with the slot).
            if self
                .pin_owner(i)
                .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return Some(i);
            }
        }
        for i in 0..budget {
            let owner = self.pin_owner(i).load(Ordering::Relaxed);
            if owner == 0 || owner == me || sync::token_alive(owner) {
                continue;
            }
            // The owner is gone: take its slot over. Only the winner of this
            // exchange may write the pin word (no one else owns the slot).
            if self
                .pin_owner(i)
                .compare_exchange(owner, me, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                // Release: as in `release_pin_slot`.
                self.pin_word(i).store(0, Ordering::Release);
                return Some(i);
            }
        }
        None
    }

    /// Gives pin slot `i` back: unpins its chunk, then frees the slot.
    fn release_pin_slot(&self, i: u32) {
        // Release: the owner's reads of the pinned payload happen before the
        // writer reuses the chunk; pairs with the SeqCst load in `pinned`.
        self.pin_word(i).store(0, Ordering::Release);
        // Release: pairs with the Acquire exchange in `own_pin_slot`.
        self.pin_owner(i).store(0, Ordering::Release);
    }
}

/// Longest a wait on a closed ring sleeps (its caller then looks for a new
/// publisher of the topic).
const CLOSED_NAP: Duration = Duration::from_millis(100);

/// The single writer of a ring. Keeps, in process memory, which chunk each
/// entry names and which chunks are free.
#[derive(Debug)]
pub struct Writer {
    ring: Ring,
    /// Sequence number of the next message.
    next: u64,
    /// Chunk named by each entry (NO_CHUNK before first use).
    in_ring: Vec<u32>,
    /// Chunks in no entry, most recently freed at the back (handed out
    /// first); some may be pinned by readers.
    free: VecDeque<u32>,
    /// The chunk for message `next`, claimed ahead of time by `commit` (off
    /// the sender's critical path: claiming may have to pull the chunk's
    /// header line from a reader's cache, where its last pin left it).
    ahead: Option<Claim>,
}

/// A chunk claimed by the writer for message `seq`; its stamp is odd.
#[derive(Debug)]
pub struct Claim {
    chunk: u32,
    seq: u64,
}

impl Writer {
    /// Becomes the writer of a freshly initialized ring.
    pub fn new(ring: Ring) -> Writer {
        Writer {
            ring,
            next: 0,
            in_ring: vec![NO_CHUNK; ring.geo.capacity as usize],
            free: (0..ring.geo.chunks()).collect(),
            ahead: None,
        }
    }

    /// The ring.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// Number of messages published.
    pub fn published(&self) -> u64 {
        self.next
    }

    /// Claims a free, unpinned chunk for the next message.
    pub fn claim(&mut self) -> Result<Claim, SendError> {
        match self.ahead.take() {
            Some(c) => Ok(c),
            None => self.claim_now(),
        }
    }

    fn claim_now(&mut self) -> Result<Claim, SendError> {
        let seq = self.next;
        // Most recently freed first (the back): a chunk that was just in
        // use is still in the caches, so a large copy into it runs at
        // memcpy speed; the working set stays `capacity + 1` chunks.
        // Pinned chunks go to the front, to be tried last.
        for _ in 0..self.free.len() {
            let Some(c) = self.free.pop_back() else {
                break;
            };
            let off = self.ring.chunk_off(c);
            let stamp = self.ring.u64_at(off + CH_STAMP);
            let old = stamp.load(Ordering::Relaxed);
            // SeqCst store then SeqCst loads of the pin words: the Dekker
            // handshake with `Reader::pin_next` (SeqCst pin store, then
            // SeqCst stamp load).
            stamp.store(2 * seq + 1, Ordering::SeqCst);
            if !self.ring.pinned(c) {
                // Release fence: orders the odd stamp before the payload stores
                // that follow; pairs with the Acquire fence in `Reader::try_read`
                // (a reader that sees any new payload word also sees the stamp change).
                fence(Ordering::Release);
                return Ok(Claim { chunk: c, seq });
            }
            // Pinned by a reader: put the old stamp back (no payload byte was
            // touched, so readers that saw only `old` read intact data).
            // SeqCst: as the odd store above; readers' stamp loads
            // (`read_next`, `pin_next`) see the message intact again.
            stamp.store(old, Ordering::SeqCst);
            self.free.push_front(c);
        }
        Err(SendError::NoFreeSlot)
    }

    /// The payload area of a claimed chunk (8-aligned, `max_payload` bytes,
    /// rounded up to 8).
    pub fn payload(&self, claim: &Claim) -> *mut u8 {
        self.ring.region.ptr(self.ring.payload_off(claim.chunk))
    }

    /// Copies `data` (at most `max_payload` bytes) into a claimed chunk.
    #[inline]
    pub fn write(&mut self, claim: &Claim, data: &[u8]) {
        assert!(data.len() <= self.ring.geo.max_payload as usize);
        // The claimed payload holds `max_payload >= data.len()` bytes
        // (rounded up to 8), is 8-aligned, and readers access it atomically.
        self.ring
            .region
            .copy_in(self.ring.payload_off(claim.chunk), data);
    }

    /// The payload of a claimed chunk, `max_payload` bytes, to read what
    /// was written in place (stale bytes of the chunk's last message at
    /// first).
    #[inline]
    pub fn payload_bytes(&self, claim: &Claim) -> &[u8] {
        let len = self.ring.geo.max_payload as usize;
        // SAFETY: as in `payload_bytes_mut`; `&self` keeps the writer from
        // handing out a mutable view meanwhile.
        unsafe {
            self.ring
                .region
                .bytes(self.ring.payload_off(claim.chunk), len)
        }
    }

    /// The payload of a claimed chunk, `max_payload` bytes, to build the
    /// message in place.
    #[inline]
    pub fn payload_bytes_mut(&mut self, claim: &Claim) -> &mut [u8] {
        let len = self.ring.geo.max_payload as usize;
        // SAFETY: the payload (`max_payload` bytes) is inside the region.
        // What a reference needs is that nothing else *writes* these bytes
        // while it lives (and, for `&mut`, that nothing in this program
        // reads them), and nothing does:
        // - the claim is the writer's and exclusive (odd stamp, no pin; one
        //   writer per ring), and `&mut self` makes this view unique;
        // - readers never write payloads: a subscriber's mapping of the
        //   entries and chunks is read-only (`Ring::reader_read_only`), so
        //   the MMU enforces it for every subscriber process;
        // - no reader in this process shares the writer's mapping: every
        //   publisher and subscriber maps the segment on its own, so to
        //   this program the other mappings are memory outside any of its
        //   allocations.
        // A lapped reader may still *read* the chunk's previous message
        // while we write: it reads with atomic loads (or one opaque copy
        // instruction), as memory that others modify, and its seqlock check
        // sees the claim's odd stamp and discards what it read.
        unsafe {
            self.ring
                .region
                .bytes_mut(self.ring.payload_off(claim.chunk), len)
        }
    }

    /// Publishes a claimed chunk holding `len` bytes tagged `tag`.
    pub fn commit(&mut self, claim: Claim, len: u32, tag: u32) {
        debug_assert!(len <= self.ring.geo.max_payload);
        let off = self.ring.chunk_off(claim.chunk);
        let slot = (claim.seq % u64::from(self.ring.geo.capacity)) as usize;
        // The next message's chunk, as `claim_now` will pick it unless a
        // reader pins it: the one this message evicts from the ring (freed
        // last, so handed out first), or in the first lap the top of the
        // free list. Readers try it first (see "The next chunk" above).
        let evicted = self.in_ring[slot];
        let next = match evicted {
            NO_CHUNK => self.free.back().copied().unwrap_or(NO_CHUNK),
            c => c,
        };
        self.ring
            .u32_at(off + CH_NEXT)
            .store(next, Ordering::Relaxed);
        self.ring.u32_at(off + CH_LEN).store(len, Ordering::Relaxed);
        self.ring.u32_at(off + CH_TAG).store(tag, Ordering::Relaxed);
        // Release: the payload, len and tag are complete; pairs with the
        // Acquire loads of the chunk stamp in `Reader::try_read`/`try_pin`.
        self.ring
            .u64_at(off + CH_STAMP)
            .store(2 * claim.seq + 2, Ordering::Release);
        let e = self.ring.entry_off(claim.seq);
        self.ring
            .u64_at(e + 8)
            .store(u64::from(claim.chunk), Ordering::Relaxed);
        // Release: pairs with the Acquire load of the entry stamp in
        // `Reader::locate`; makes the chunk index above visible with it.
        self.ring
            .u64_at(e)
            .store(2 * claim.seq + 2, Ordering::Release);
        // Release: pairs with the Acquire load in `Ring::published`.
        self.ring
            .write_seq()
            .store(claim.seq + 1, Ordering::Release);
        self.in_ring[slot] = claim.chunk;
        if evicted != NO_CHUNK {
            self.free.push_back(evicted);
        }
        self.next = claim.seq + 1;
        self.wake();
        // Claim the next message's chunk now, while readers fetch this one.
        // Cannot fail while readers respect the borrow budget (of the
        // `1 + borrow_budget` free chunks at most `borrow_budget` are pinned);
        // if it does, the next `claim` tries again and reports it.
        self.ahead = self.claim_now().ok();
    }

    /// Gives a claimed chunk back unpublished: it stays claimed (odd stamp,
    /// so no reader returns its bytes) for the next message.
    pub fn abandon(&mut self, claim: Claim) {
        debug_assert_eq!(claim.seq, self.next);
        self.ahead = Some(claim);
    }

    /// Wakes sleeping readers, if any.
    fn wake(&self) {
        self.ring.event().notify();
    }

    /// Marks the ring closed and wakes every reader.
    pub fn close(&self) {
        self.ring.close();
    }
}

/// Where a reader's next message is.
enum Located {
    Empty,
    Lapped,
    At { chunk: u32, want: u64 },
}

/// A pinned chunk: its payload cannot change until [`Reader::unpin`].
#[derive(Debug)]
pub struct Pinned {
    /// The pin slot holding it (pass back to `unpin`).
    pub slot: u32,
    /// Chunk index.
    pub chunk: u32,
    /// Payload start (8-aligned, in the region).
    pub ptr: *const u8,
    /// Payload length.
    pub len: u32,
    /// Codec tag.
    pub tag: u32,
}

/// A message borrowed in place: the chunk stays pinned (the writer does not
/// rewrite it) until this is dropped. Made by [`Reader::try_borrow`].
#[derive(Debug)]
pub struct Borrowed {
    ring: Ring,
    slot: u32,
    off: usize,
    len: u32,
    tag: u32,
}

impl Borrowed {
    /// The payload bytes, in shared memory.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: `off` is the payload of a chunk whose `len <= max_payload`
        // bytes are inside the region, which outlives the ring's views (its
        // holders keep the mapping alive: see `Region::new`). The chunk is
        // pinned: the writer does not write pinned chunks (see the Pins
        // section above), so the bytes do not change while `self` lives.
        unsafe { self.ring.region.bytes(self.off, self.len as usize) }
    }

    /// Start of the payload (8-aligned).
    #[inline]
    pub fn as_ptr(&self) -> *const u8 {
        self.ring.region.ptr(self.off)
    }

    /// Payload length.
    #[inline]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// `true` for an empty payload.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The message's tag.
    pub fn tag(&self) -> u32 {
        self.tag
    }
}

impl Drop for Borrowed {
    fn drop(&mut self) {
        self.ring.release_pin_slot(self.slot);
    }
}

/// One reader's position in a ring.
#[derive(Debug)]
pub struct Reader {
    ring: Ring,
    next: u64,
    missed: u64,
    /// Where message `next` probably is: the `next` field of the chunk
    /// that held the message read last (`NO_CHUNK` if none).
    hint: u32,
}

impl Reader {
    /// A reader that will see messages published from now on; with
    /// `last_value`, also the newest one already published (if any).
    pub fn new(ring: Ring, last_value: bool) -> Reader {
        let head = ring.published();
        Reader {
            ring,
            next: if last_value {
                head.saturating_sub(1)
            } else {
                head
            },
            missed: 0,
            hint: NO_CHUNK,
        }
    }

    /// A reader positioned at message `next` (a copy of another reader's
    /// position, for waiting on it elsewhere).
    pub fn resume(ring: Ring, next: u64) -> Reader {
        Reader {
            ring,
            next,
            missed: 0,
            hint: NO_CHUNK,
        }
    }

    /// A reader positioned at the ring's first message ever published (for a
    /// subscriber that was waiting before the ring's writer appeared).
    pub fn at_start(ring: Ring) -> Reader {
        Reader {
            ring,
            next: 0,
            missed: 0,
            hint: NO_CHUNK,
        }
    }

    /// The ring.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// Messages skipped because this reader was lapped.
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// Sequence number of the next message this reader will return.
    pub fn position(&self) -> u64 {
        self.next
    }

    /// Messages published but not yet read (may exceed the capacity: the
    /// excess is what will be reported missed).
    pub fn lag(&self) -> u64 {
        self.ring.published().saturating_sub(self.next)
    }

    fn locate(&mut self) -> Result<Located, TryRecvError> {
        let want = stamp_of(self.next).ok_or_else(|| {
            TryRecvError::Corrupt(format!("sequence number {} out of range", self.next))
        })?;
        let e = self.ring.entry_off(self.next);
        // Acquire: pairs with the Release store of the entry stamp in `Writer::commit`.
        let s = self.ring.u64_at(e).load(Ordering::Acquire);
        if s < want {
            // A reader that caught up finds the message one lap before
            // its own in the entry (or none yet, in the first lap). Any
            // other older stamp can also mean that this reader is ahead of
            // the writer (a forged write sequence made it skip there): it
            // would wait forever for messages the writer will not reach.
            let lap_before = want.saturating_sub(2 * u64::from(self.ring.geo.capacity));
            if s != lap_before {
                let head = self.ring.published();
                if self.next > head {
                    let was = std::mem::replace(&mut self.next, head);
                    return Err(TryRecvError::Corrupt(format!(
                        "reader at message {was} is ahead of the {head} published; \
                         resumed at {head}"
                    )));
                }
            }
            return Ok(Located::Empty);
        }
        if s > want {
            return Ok(Located::Lapped);
        }
        let chunk = self.ring.u64_at(e + 8).load(Ordering::Relaxed);
        if chunk >= u64::from(self.ring.geo.chunks()) {
            // A newer message may have replaced the entry meanwhile: only
            // call it corruption if the entry still claims our message.
            // Acquire: as the first load of the entry stamp above.
            if self.ring.u64_at(e).load(Ordering::Acquire) == want {
                return Err(TryRecvError::Corrupt(format!(
                    "entry of message {} names chunk {chunk} of {}",
                    self.next,
                    self.ring.geo.chunks()
                )));
            }
            return Ok(Located::Lapped);
        }
        Ok(Located::At {
            chunk: chunk as u32,
            want,
        })
    }

    /// Skips to the oldest message still in the ring, counting the skipped
    /// ones. Called when message `next` is known to be gone, which implies
    /// the writer has published past it; if `write_seq` says otherwise, the
    /// ring was written by something that does not follow the protocol.
    fn resync(&mut self) -> Result<(), TryRecvError> {
        let head = self.ring.published();
        if head <= self.next {
            return Err(TryRecvError::Corrupt(format!(
                "message {} was overwritten but only {head} were published",
                self.next
            )));
        }
        let oldest = head.saturating_sub(u64::from(self.ring.geo.capacity));
        let to = oldest.max(self.next + 1);
        self.missed += to - self.next;
        self.next = to;
        self.hint = NO_CHUNK;
        Ok(())
    }

    /// Message `next`'s chunk and stamp if the hint names it, found without
    /// reading the entry (see "The next chunk" above).
    fn hinted(&self) -> Option<(u32, u64)> {
        if self.hint >= self.ring.geo.chunks() {
            return None;
        }
        let want = stamp_of(self.next)?;
        let stamp = self.ring.u64_at(self.ring.chunk_off(self.hint) + CH_STAMP);
        // Acquire: pairs with the Release store of the chunk stamp in
        // `Writer::commit`. A chunk stamped `want` holds message `next`
        // whole, whatever the entry says; the read checks it again.
        (stamp.load(Ordering::Acquire) == want).then_some((self.hint, want))
    }

    /// `true` if `try_read` would not return `Empty` right now (a message,
    /// a lapped position or corruption to report).
    pub fn ready(&self) -> bool {
        let e = self.ring.entry_off(self.next);
        // Acquire: pairs with the Release store of the entry stamp in
        // `Writer::commit` (a hint: the read that follows loads it again).
        stamp_of(self.next).is_none_or(|want| self.ring.u64_at(e).load(Ordering::Acquire) >= want)
    }

    /// Copies the next message into `dst` (room for `cap` bytes) and returns
    /// `(len, tag)`. Never returns a torn message.
    ///
    /// # Safety
    /// `dst` is valid for writes of `cap` bytes.
    pub unsafe fn try_read(
        &mut self,
        dst: *mut u8,
        cap: usize,
    ) -> Result<(u32, u32), TryRecvError> {
        // SAFETY: forwarded from the caller (`MaybeUninit<u8>` is laid out
        // as `u8`; only initialized bytes are written).
        let dst = unsafe { std::slice::from_raw_parts_mut(dst.cast::<MaybeUninit<u8>>(), cap) };
        self.try_read_uninit(dst)
    }

    /// Copies the next message into the start of `dst` and returns `(len,
    /// tag)`: the first `len` bytes of `dst` are then initialized. Never
    /// returns a torn message; a message longer than `dst` is reported
    /// corrupt.
    #[inline]
    pub fn try_read_uninit(
        &mut self,
        dst: &mut [MaybeUninit<u8>],
    ) -> Result<(u32, u32), TryRecvError> {
        let cap = dst.len();
        let read = self.read_next(cap, |region, off, len| {
            let dst = dst.get_mut(..len)?;
            region.copy_out(off, dst);
            Some(Ok::<_, std::convert::Infallible>(()))
        })?;
        match read {
            Ok(((), len, tag)) => Ok((len, tag)),
            Err(never) => match never {},
        }
    }

    /// Copies the next message into `buf` (cleared, then filled; it grows
    /// to `max_payload` bytes of capacity) and returns its tag.
    pub fn try_read_vec(&mut self, buf: &mut Vec<u8>) -> Result<u32, TryRecvError> {
        let cap = self.ring.geo.max_payload as usize;
        let mut tag = 0;
        crate::region::fill_vec(buf, cap, |room| {
            let (len, t) = self.try_read_uninit(room)?;
            tag = t;
            Ok(len as usize)
        })?;
        Ok(tag)
    }

    /// Copies the next message into memory made once its length is known:
    /// `fill(len, copy)` builds a destination of `len` bytes, calls
    /// `copy(dst)` to fill it and returns what it built. If the message was
    /// overwritten during the copy, that is dropped and the next message is
    /// tried. Returns it with the message's tag. Never returns a torn message.
    /// If `fill` fails (it could not make the destination, say), the message
    /// stays unread and its error is returned: `Ok(Err(e))`.
    pub fn try_read_with<B, E>(
        &mut self,
        mut fill: impl FnMut(usize, &mut dyn FnMut(&mut [u8])) -> Result<B, E>,
    ) -> Result<Result<(B, u32), E>, TryRecvError> {
        let read = self.read_next(usize::MAX, |region, off, len| {
            Some(fill(len, &mut |dst: &mut [u8]| {
                let n = dst.len().min(len);
                region.copy_out_init(off, &mut dst[..n]);
            }))
        })?;
        Ok(read.map(|(built, _, tag)| (built, tag)))
    }

    /// The seqlock read both copies share: locates the next message and
    /// calls `take(region, off, len)` (the payload at `off` in `region`,
    /// with `len <= max_payload`, so `len` rounded up to 8 bytes are inside
    /// the region); `take` returns `None` if the message is too long for it
    /// (reported as corrupt, `cap` naming its
    /// limit), `Some(Err(e))` if it failed (returned as `Ok(Err(e))`, the
    /// message left unread). What `take` built from a message overwritten
    /// meanwhile is dropped and the next message is tried.
    fn read_next<B, E>(
        &mut self,
        cap: usize,
        mut take: impl FnMut(&Region, usize, usize) -> Option<Result<B, E>>,
    ) -> Result<Result<(B, u32, u32), E>, TryRecvError> {
        loop {
            // Written out here and in `pin_next`: a function shared by the
            // two measured slower on the 64 B path (`--check`, 1.71-2.00x
            // the raw floor against 1.36-1.58x).
            let (chunk, want) = match self.hinted() {
                Some(found) => found,
                None => match self.locate()? {
                    Located::Empty => return Err(TryRecvError::Empty),
                    Located::Lapped => {
                        self.resync()?;
                        continue;
                    }
                    Located::At { chunk, want } => (chunk, want),
                },
            };
            let off = self.ring.chunk_off(chunk);
            let stamp = self.ring.u64_at(off + CH_STAMP);
            // Acquire: pairs with the Release store of the chunk stamp in `Writer::commit`.
            if stamp.load(Ordering::Acquire) != want {
                self.resync()?;
                continue;
            }
            // Read inside the seqlock, so it belongs to message `next`; the
            // chunk it names is checked before use (`hinted`).
            let hint = self.ring.u32_at(off + CH_NEXT).load(Ordering::Relaxed);
            let len = self.ring.u32_at(off + CH_LEN).load(Ordering::Relaxed);
            let tag = self.ring.u32_at(off + CH_TAG).load(Ordering::Relaxed);
            let built = if len <= self.ring.geo.max_payload {
                take(
                    &self.ring.region,
                    self.ring.payload_off(chunk),
                    len as usize,
                )
            } else {
                None
            };
            // Acquire fence: pairs with the Release fence in `Writer::claim`;
            // if the copy saw any byte of a newer message, the stamp load
            // below sees that message's odd (or later) stamp.
            fence(Ordering::Acquire);
            if stamp.load(Ordering::Relaxed) != want {
                self.resync()?;
                continue;
            }
            let built = match built {
                Some(Ok(b)) => b,
                Some(Err(e)) => return Ok(Err(e)),
                None => {
                    return Err(TryRecvError::Corrupt(format!(
                        "message {} claims {len} bytes; the limit is {}",
                        self.next,
                        (self.ring.geo.max_payload as usize).min(cap)
                    )))
                }
            };
            self.next += 1;
            self.hint = hint;
            return Ok(Ok((built, len, tag)));
        }
    }

    /// Pins the chunk of the next message so it can be read in place,
    /// owning one pin slot of the channel's borrow budget. Call
    /// [`unpin`](Self::unpin) with the result when done.
    pub fn try_pin(&mut self) -> Result<Pinned, BorrowError> {
        if !self.ready() {
            return Err(BorrowError::Empty);
        }
        let ring = self.ring;
        // Own a slot first so that the pool always keeps a free chunk.
        let slot = ring.own_pin_slot().ok_or(BorrowError::Limit {
            limit: ring.geo.borrow_budget,
        })?;
        let result = self.pin_next(slot);
        if result.is_err() {
            ring.release_pin_slot(slot);
        }
        result
    }

    /// [`try_pin`](Self::try_pin), as a guard that unpins when dropped.
    #[inline]
    pub fn try_borrow(&mut self) -> Result<Borrowed, BorrowError> {
        let p = self.try_pin()?;
        Ok(Borrowed {
            ring: self.ring,
            slot: p.slot,
            off: self.ring.payload_off(p.chunk),
            len: p.len,
            tag: p.tag,
        })
    }

    fn pin_next(&mut self, slot: u32) -> Result<Pinned, BorrowError> {
        let ring = self.ring; // a copy: `pin` must not borrow `self`
        let pin = ring.pin_word(slot);
        loop {
            let (chunk, want) = match self.hinted() {
                Some(found) => found,
                None => match self.locate()? {
                    Located::Empty => return Err(BorrowError::Empty),
                    Located::Lapped => {
                        self.resync()?;
                        continue;
                    }
                    Located::At { chunk, want } => (chunk, want),
                },
            };
            let off = self.ring.chunk_off(chunk);
            // SeqCst pin store then SeqCst stamp load: the Dekker handshake
            // with `Writer::claim_now` (SeqCst odd-stamp store, then SeqCst
            // loads of the pin words in `Ring::pinned`).
            pin.store(chunk + 1, Ordering::SeqCst);
            if self.ring.u64_at(off + CH_STAMP).load(Ordering::SeqCst) != want {
                // Release (and below): as in `Ring::release_pin_slot`.
                pin.store(0, Ordering::Release);
                self.resync()?;
                continue;
            }
            let len = self.ring.u32_at(off + CH_LEN).load(Ordering::Relaxed);
            let tag = self.ring.u32_at(off + CH_TAG).load(Ordering::Relaxed);
            if len > self.ring.geo.max_payload {
                pin.store(0, Ordering::Release);
                return Err(BorrowError::Corrupt(format!(
                    "message {} claims {len} bytes; the limit is {}",
                    self.next, self.ring.geo.max_payload
                )));
            }
            self.next += 1;
            // The chunk is pinned: its header stays message `want`'s.
            self.hint = self.ring.u32_at(off + CH_NEXT).load(Ordering::Relaxed);
            return Ok(Pinned {
                slot,
                chunk,
                ptr: self.ring.region.ptr(self.ring.payload_off(chunk)),
                len,
                tag,
            });
        }
    }

    /// Blocks until a message may be ready, the ring is closed, or `deadline`
    /// passes: with `spin`, spins briefly, then yields (so a writer sharing
    /// this core can run); then sleeps on the futex. Returns `ready()`.
    pub fn wait(&self, deadline: Option<Instant>, spin: bool) -> bool {
        self.wait_slept(deadline, spin).0
    }

    /// As [`wait`](Self::wait), also returning how long it slept on the
    /// futex (`None` if it did not), see `sync::Event::wait_slept`.
    pub fn wait_slept(&self, deadline: Option<Instant>, spin: bool) -> (bool, Option<Duration>) {
        if self.ring.is_closed() {
            // No message comes after the closure (a wait that began before
            // it was woken by it): sleep out the wait, at most `CLOSED_NAP`,
            // instead of returning at once to a caller that would loop.
            if !self.ready() {
                let now = Instant::now();
                let until = deadline.map_or(now + CLOSED_NAP, |d| d.min(now + CLOSED_NAP));
                std::thread::sleep(until.saturating_duration_since(now));
            }
            return (self.ready(), None);
        }
        let (_, slept) =
            self.ring
                .event()
                .wait_slept(|| self.ready() || self.ring.is_closed(), deadline, spin);
        (self.ready(), slept)
    }

    /// Releases pin slot `slot` of [`try_pin`](Self::try_pin) (by this
    /// reader or a clone of its ring): the chunk is free for the writer and
    /// the slot for the next borrower.
    pub fn unpin(ring: &Ring, slot: u32) {
        ring.release_pin_slot(slot);
    }
}

/// The entry/chunk stamp of message `seq` (`2 seq + 2`), if representable.
fn stamp_of(seq: u64) -> Option<u64> {
    seq.checked_mul(2)?.checked_add(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Heap {
        buf: Vec<u64>,
    }

    fn ring(geo: Geometry) -> (Heap, Ring) {
        let len = geo.region_len().unwrap();
        // Over-allocate to align to 64.
        let mut heap = Heap {
            buf: vec![0u64; len / 8 + 16],
        };
        let p = heap.buf.as_mut_ptr() as usize;
        let base = align_up(p, 64) as *mut u8;
        // SAFETY: `base` is 64-aligned with `len` zeroed bytes inside `heap`,
        // which outlives the ring in each test.
        let r = Ring::init(unsafe { Region::new(base, len) }, geo).unwrap();
        (heap, r)
    }

    fn send(w: &mut Writer, data: &[u8]) {
        let c = w.claim().unwrap();
        w.write(&c, data);
        w.commit(c, data.len() as u32, 0);
    }

    fn recv(r: &mut Reader) -> Result<Vec<u8>, TryRecvError> {
        let mut v = vec![0u8; 64];
        // SAFETY: `v` has 64 bytes.
        let (len, _) = unsafe { r.try_read(v.as_mut_ptr(), 64) }?;
        v.truncate(len as usize);
        Ok(v)
    }

    const GEO: Geometry = Geometry {
        capacity: 4,
        max_payload: 64,
        borrow_budget: 2,
    };

    #[test]
    fn a_failed_fill_leaves_the_message_unread() {
        let (_h, ring) = ring(GEO);
        let mut w = Writer::new(ring);
        let mut r = Reader::new(ring, false);
        send(&mut w, b"kept");
        let failed = r.try_read_with(|len, _copy| Err::<Vec<u8>, _>(len));
        assert_eq!(failed, Ok(Err(4)));
        let got = r.try_read_with(|len, copy| {
            let mut v = vec![0; len];
            copy(&mut v);
            Ok::<_, ()>(v)
        });
        assert_eq!(got, Ok(Ok((b"kept".to_vec(), 0))));
        assert_eq!(recv(&mut r), Err(TryRecvError::Empty));
    }

    #[test]
    fn late_joiner_and_order() {
        let (_h, ring) = ring(GEO);
        let mut w = Writer::new(ring);
        send(&mut w, b"before");
        let mut r = Reader::new(ring, false);
        let mut last = Reader::new(ring, true);
        assert_eq!(recv(&mut r), Err(TryRecvError::Empty));
        assert_eq!(recv(&mut last).unwrap(), b"before");
        for i in 0..3u8 {
            send(&mut w, &[i; 9]);
        }
        for i in 0..3u8 {
            assert_eq!(recv(&mut r).unwrap(), vec![i; 9]);
        }
        assert_eq!(recv(&mut r), Err(TryRecvError::Empty));
        assert_eq!(r.missed(), 0);
    }

    #[test]
    fn lapped_reader_counts_exactly() {
        let (_h, ring) = ring(GEO);
        let mut w = Writer::new(ring);
        let mut r = Reader::new(ring, false);
        for i in 0..11u8 {
            send(&mut w, &[i]);
        }
        // 11 published, capacity 4: messages 7..=10 remain, 7 were missed.
        for i in 7..11u8 {
            assert_eq!(recv(&mut r).unwrap(), vec![i]);
        }
        assert_eq!(r.missed(), 7);
        assert_eq!(recv(&mut r), Err(TryRecvError::Empty));
    }

    #[test]
    fn writer_reuses_the_chunk_freed_last() {
        let (_h, ring) = ring(GEO);
        let mut w = Writer::new(ring);
        let mut used = std::collections::BTreeSet::new();
        for i in 0..100u8 {
            let c = w.claim().unwrap();
            used.insert(c.chunk);
            w.commit(c, 1, u32::from(i));
        }
        // The ring's chunks and the one being filled: the pool's other
        // (borrow budget) chunks stay cold.
        assert_eq!(used.len(), GEO.capacity as usize + 1);
        // A pinned chunk is skipped, and the next free one used instead.
        let mut r = Reader::new(ring, false);
        send(&mut w, b"pin me");
        let p = r.try_pin().unwrap();
        for i in 0..20u8 {
            let c = w.claim().unwrap();
            assert_ne!(c.chunk, p.chunk);
            w.commit(c, 1, u32::from(i));
        }
        Reader::unpin(&ring, p.slot);
    }

    /// The chunk that holds message `n` (read from its entry).
    fn chunk_of(ring: &Ring, n: u64) -> u32 {
        ring.u64_at(ring.entry_off(n) + 8).load(Ordering::Relaxed) as u32
    }

    #[test]
    fn the_writer_names_the_next_chunk_and_readers_use_it() {
        let (_h, ring) = ring(GEO);
        let mut w = Writer::new(ring);
        let mut r = Reader::new(ring, false);
        // Several laps of the ring: its first lap and the steady state.
        for n in (0..40u64).step_by(2) {
            send(&mut w, &[n as u8]);
            let named = ring.u32_at(ring.chunk_off(chunk_of(&ring, n)) + CH_NEXT);
            assert_eq!(recv(&mut r).unwrap(), [n as u8]);
            send(&mut w, &[n as u8 + 1]);
            // The guess was right: message `n + 1` went where it said.
            assert_eq!(named.load(Ordering::Relaxed), chunk_of(&ring, n + 1));
            // A reader that was told finds the message without the entry:
            // with the entry's chunk index broken, it still reads it.
            let e = ring.entry_off(n + 1);
            let kept = ring.u64_at(e + 8).swap(u64::MAX, Ordering::Relaxed);
            assert_eq!(recv(&mut r).unwrap(), [n as u8 + 1]);
            ring.u64_at(e + 8).store(kept, Ordering::Relaxed);
        }
        assert_eq!(r.missed(), 0);
    }

    #[test]
    fn a_wrong_or_garbled_hint_falls_back_to_the_entry() {
        let (_h, ring) = ring(GEO);
        let mut w = Writer::new(ring);
        let mut r = Reader::new(ring, false);
        let chunks = GEO.chunks();
        // Indices out of range, the chunk being read itself (`None`), and
        // chunks that hold another message or none.
        for (i, bad) in [
            Some(u32::MAX - 1),
            Some(chunks),
            None,
            Some(1),
            Some(2),
            Some(chunks - 1),
        ]
        .into_iter()
        .enumerate()
        {
            let n = 2 * i as u64;
            send(&mut w, &[n as u8]);
            let bad = bad.unwrap_or_else(|| chunk_of(&ring, n));
            ring.u32_at(ring.chunk_off(chunk_of(&ring, n)) + CH_NEXT)
                .store(bad, Ordering::Relaxed);
            assert_eq!(recv(&mut r).unwrap(), [n as u8]);
            send(&mut w, &[n as u8 + 1]);
            assert_eq!(recv(&mut r).unwrap(), [n as u8 + 1], "hint {bad}");
            assert_eq!(recv(&mut r), Err(TryRecvError::Empty));
        }
        assert_eq!(r.missed(), 0);
    }

    #[test]
    fn pinned_chunk_is_never_rewritten() {
        let (_h, ring) = ring(GEO);
        let mut w = Writer::new(ring);
        let mut r = Reader::new(ring, false);
        send(&mut w, b"keep me");
        let p = r.try_pin().unwrap();
        let p2 = {
            send(&mut w, b"second");
            r.try_pin().unwrap()
        };
        // Budget of 2 exhausted.
        send(&mut w, b"third");
        assert_eq!(r.try_pin().unwrap_err(), BorrowError::Limit { limit: 2 });
        for i in 0..100u8 {
            send(&mut w, &[i; 7]);
        }
        let mut got = vec![0u8; p.len as usize];
        ring.region
            .copy_out_init(ring.payload_off(p.chunk), &mut got);
        assert_eq!(got, b"keep me");
        Reader::unpin(&ring, p.slot);
        Reader::unpin(&ring, p2.slot);
        assert_eq!(ring.borrow_tokens(), 2);
    }

    #[test]
    fn threads_never_see_torn_messages() {
        let geo = Geometry {
            capacity: 4,
            max_payload: 256,
            borrow_budget: 1,
        };
        let (_h, ring) = ring(geo);
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            // Reader 0 copies into a fixed buffer (`try_read`), reader 1 into
            // a buffer made to the message's length (`try_read_with`).
            let readers: Vec<_> = (0..2)
                .map(|i| {
                    let stop = &stop;
                    s.spawn(move || {
                        let mut r = Reader::new(ring, false);
                        let start = r.position();
                        let mut buf = vec![0u8; 256];
                        let (mut ok, mut last) = (0u64, None::<u64>);
                        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                            let got = if i == 0 {
                                // SAFETY: `buf` has 256 bytes.
                                unsafe { r.try_read(buf.as_mut_ptr(), 256) }
                            } else {
                                r.try_read_with(|len, copy| {
                                    let mut v = vec![0xEE; len];
                                    copy(&mut v);
                                    Ok::<_, ()>(v)
                                })
                                .map(|read| read.unwrap())
                                .map(|(v, tag)| {
                                    buf[..v.len()].copy_from_slice(&v);
                                    (v.len() as u32, tag)
                                })
                            };
                            if let Ok((len, _)) = got {
                                let v = u64::from_le_bytes(buf[..8].try_into().unwrap());
                                assert_eq!(len as u64, 8 + v % 200);
                                assert!(buf[8..len as usize].iter().all(|&b| b == v as u8));
                                assert!(last.is_none_or(|l| v > l));
                                last = Some(v);
                                ok += 1;
                            }
                        }
                        (ok, r.missed(), r.position() - start)
                    })
                })
                .collect();
            let mut w = Writer::new(ring);
            for v in 0..200_000u64 {
                let n = 8 + (v % 200) as usize;
                let mut msg = vec![v as u8; n];
                msg[..8].copy_from_slice(&v.to_le_bytes());
                send(&mut w, &msg);
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            for h in readers {
                let (ok, missed, pos) = h.join().unwrap();
                assert!(ok > 0);
                assert_eq!(ok + missed, pos, "every position is read or counted missed");
            }
        });
    }
}
