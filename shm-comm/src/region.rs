//! The region view of the protocol floor: the one type through which the
//! ring, the queue, the reply mailboxes and the participant table reach
//! their bytes of shared memory (a mapping, or heap memory in tests, or a
//! model region under loom).
//!
//! A [`Region`] is a base pointer and a length. Its `unsafe` constructor is
//! the one place where the argument "this is a valid mapping that outlives
//! every use of the view" is made; everything built on a region (its
//! atomics, its sub-regions, its payload copies) is then safe to use. The
//! atomics are made through the `sync` door, so under `--cfg loom` they are
//! the model's.
//!
//! Offsets are checked against the region (alignment and bounds) in debug
//! builds; release builds trust the floor's geometry checks, which bound
//! every offset when a view is made (`Ring::attach`, `Queue::attach`, ...).

use std::mem::MaybeUninit;
use std::ptr::NonNull;

use crate::sync::{self, AtomicU32, AtomicU64, Ordering};

/// A byte region of shared memory, seen by the protocol floor. Copyable;
/// see [`Region::new`] for what it promises.
#[derive(Clone, Copy, Debug)]
pub struct Region {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: a region is only read and written through atomics and the
// floor's protocols, which are made for concurrent use by many threads and
// processes; the memory itself is valid wherever the view goes (see `new`).
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Region {
    /// The region of `len` bytes at `base`.
    ///
    /// # Safety
    /// `base` is non-null, 64-byte aligned and valid for reads and writes
    /// of `len` bytes for as long as this region, or any copy or
    /// sub-region of it, is used; every thread and process accesses those
    /// bytes only atomically (through the floor), or with the payload
    /// copies whose readers check a sequence number (the ring's seqlock).
    pub unsafe fn new(base: *mut u8, len: usize) -> Region {
        let base = NonNull::new(base).expect("null region");
        debug_assert!(base.as_ptr() as usize % 64 == 0, "unaligned region");
        Region { base, len }
    }

    /// Bytes in the region.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` for an empty region.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `len` bytes at `off`, if they are inside this region. The
    /// sub-region is 64-byte aligned when `off` is a multiple of 64.
    pub fn sub(&self, off: usize, len: usize) -> Option<Region> {
        if off.checked_add(len)? > self.len {
            return None;
        }
        Some(Region {
            // SAFETY: `off + len <= self.len`: inside the region.
            base: unsafe { self.base.add(off) },
            len,
        })
    }

    /// The bytes from `off` to the end (empty if `off` is past it).
    pub fn tail(&self, off: usize) -> Region {
        let off = off.min(self.len);
        self.sub(off, self.len - off).expect("inside")
    }

    /// The `u32` word at `off` (4-aligned, inside the region), as an atomic.
    #[inline(always)]
    pub(crate) fn u32_at(&self, off: usize) -> &AtomicU32 {
        debug_assert!(
            off % 4 == 0 && off + 4 <= self.len,
            "u32 at {off} of {}",
            self.len
        );
        // SAFETY: the word is inside the region (callers pass offsets that
        // the view's geometry checks bounded; checked in debug builds) and
        // 4-aligned (the base is 64-aligned); the region is valid for as
        // long as the view is used and only accessed atomically (see `new`).
        unsafe { sync::u32_at(self.base.as_ptr().add(off)) }
    }

    /// The `u64` word at `off` (8-aligned, inside the region), as an atomic.
    #[inline(always)]
    pub(crate) fn u64_at(&self, off: usize) -> &AtomicU64 {
        debug_assert!(
            off % 8 == 0 && off + 8 <= self.len,
            "u64 at {off} of {}",
            self.len
        );
        // SAFETY: as in `u32_at`, with 8-aligned offsets.
        unsafe { sync::u64_at(self.base.as_ptr().add(off)) }
    }

    /// The address of byte `off` (for prefetches and for handing a payload
    /// to a caller that writes it in place). Never dereferenced here.
    #[inline(always)]
    pub(crate) fn ptr(&self, off: usize) -> *mut u8 {
        self.base.as_ptr().wrapping_add(off)
    }

    /// Asks the CPU to fetch the cache line of byte `off` ahead of a write
    /// (a hint: any offset is fine).
    #[inline(always)]
    pub(crate) fn prefetch(&self, off: usize) {
        sync::prefetch(self.ptr(off));
    }

    /// Copies `src` into the region at `off` (8-aligned, with room for
    /// `src.len()` rounded up to 8), with atomic 8-byte stores (or one bulk
    /// copy, see `copy_in`); the last word is zero-padded. Readers of these
    /// bytes read them atomically and check a sequence number.
    #[inline(always)]
    pub(crate) fn copy_in(&self, off: usize, src: &[u8]) {
        assert!(
            off % 8 == 0 && off + src.len().div_ceil(8) * 8 <= self.len,
            "copy of {} bytes to {off} of {}",
            src.len(),
            self.len
        );
        // SAFETY: checked above: 8-aligned, inside the region; others only
        // read these bytes atomically (see `new`).
        unsafe { copy_in(src, self.base.as_ptr().add(off)) }
    }

    /// Copies `dst.len()` bytes of the region at `off` (8-aligned, inside
    /// the region when rounded up to 8) into `dst`, with atomic 8-byte loads
    /// (or one bulk copy, see `copy_out`). Another process may be writing
    /// those bytes: the caller's seqlock check (or its ownership of them)
    /// decides whether the copy is used. Initializes all of `dst`.
    #[inline(always)]
    pub(crate) fn copy_out(&self, off: usize, dst: &mut [MaybeUninit<u8>]) {
        self.copy_out_raw(off, dst.as_mut_ptr().cast(), dst.len());
    }

    /// As [`copy_out`](Self::copy_out), into initialized bytes.
    #[inline(always)]
    pub(crate) fn copy_out_init(&self, off: usize, dst: &mut [u8]) {
        self.copy_out_raw(off, dst.as_mut_ptr(), dst.len());
    }

    /// `copy_out` into `len` bytes at `dst`, which a slice of the caller
    /// makes valid for `len` writes (of initialized bytes only).
    #[inline(always)]
    fn copy_out_raw(&self, off: usize, dst: *mut u8, len: usize) {
        assert!(
            off % 8 == 0 && off + len.div_ceil(8) * 8 <= self.len,
            "copy of {len} bytes from {off} of {}",
            self.len
        );
        // SAFETY: checked above; `dst` is valid for `len` writes (it comes
        // from a slice of `len` bytes, `MaybeUninit<u8>` being laid out as
        // `u8`), and only initialized bytes are written to it.
        unsafe { copy_out(self.base.as_ptr().add(off), dst, len) }
    }

    /// The `len` bytes at `off` as a slice, for a chunk no one writes while
    /// the slice lives (a pinned chunk of the ring).
    ///
    /// # Safety
    /// The bytes are inside the region, and nothing writes them for `'a`.
    #[inline(always)]
    pub(crate) unsafe fn bytes<'a>(&self, off: usize, len: usize) -> &'a [u8] {
        debug_assert!(off + len <= self.len);
        // SAFETY: forwarded from the caller; the region is valid (see `new`)
        // and its bytes are always initialized (zero-filled when made).
        unsafe { std::slice::from_raw_parts(self.base.as_ptr().add(off), len) }
    }

    /// The `len` bytes at `off` as a mutable slice, for a chunk that only
    /// its claimer writes (the ring writer's claimed chunk).
    ///
    /// # Safety
    /// The bytes are inside the region, nothing else in this process reads
    /// or writes them for `'a`, and other processes only read them
    /// atomically, through mappings of their own, checking a sequence
    /// number that the claim made odd.
    #[allow(clippy::mut_from_ref)] // the region is shared memory, not `self`
    #[inline(always)]
    pub(crate) unsafe fn bytes_mut<'a>(&self, off: usize, len: usize) -> &'a mut [u8] {
        debug_assert!(off + len <= self.len);
        // SAFETY: forwarded from the caller.
        unsafe { std::slice::from_raw_parts_mut(self.base.as_ptr().add(off), len) }
    }
}

/// The state words of queue cells and reply mailboxes (`u64`): `seq << 32 |
/// kind << 30 | claimer`, where `seq` is the cell's lap (queue) or the call
/// (mailbox), `kind` one of the protocol's four states, and `claimer` the
/// 30-bit claim token of the participant holding the word (see
/// `segment::Peers`), or 0.
pub(crate) mod state {
    /// The claimer's bits.
    const CLAIMER_MASK: u64 = (1 << 30) - 1;

    /// Packs `(seq, kind, claimer)` (`kind < 4`; the claimer is cut to 30 bits).
    #[inline(always)]
    pub(crate) fn enc(seq: u32, kind: u64, claimer: u32) -> u64 {
        (u64::from(seq) << 32) | (kind << 30) | (u64::from(claimer) & CLAIMER_MASK)
    }

    /// Unpacks a state word into `(seq, kind, claimer)`.
    #[inline(always)]
    pub(crate) fn dec(s: u64) -> (u32, u64, u32) {
        ((s >> 32) as u32, (s >> 30) & 3, (s & CLAIMER_MASK) as u32)
    }
}

/// `v` rounded up to a multiple of `a`: the floor's geometry arithmetic.
pub(crate) const fn align_up(v: usize, a: usize) -> usize {
    v.div_ceil(a) * a
}

/// Fills `buf` (cleared first) with at most `cap` bytes written by `fill`,
/// which gets `cap` bytes of uninitialized room and returns how many it
/// initialized (from the start). For reads into a reused `Vec` that need
/// not zero it first.
pub(crate) fn fill_vec<E>(
    buf: &mut Vec<u8>,
    cap: usize,
    fill: impl FnOnce(&mut [MaybeUninit<u8>]) -> Result<usize, E>,
) -> Result<usize, E> {
    buf.clear();
    buf.reserve(cap);
    let room = &mut buf.spare_capacity_mut()[..cap];
    let n = fill(room)?;
    assert!(n <= cap, "filled {n} of {cap} bytes");
    // SAFETY: `fill` initialized the first `n <= cap <= capacity` bytes.
    unsafe { buf.set_len(n) };
    Ok(n)
}

/// From this many bytes on, `copy_out` and `copy_in` copy with one string
/// instruction instead of a loop of 8-byte atomics: a 1 MiB message crosses
/// in about 15 us instead of 21 us in one process, and a Python 1 MiB
/// `send_bytes`/`recv_bytes` ping-pong drops from 66 to 44 us per hop.
#[cfg_attr(loom, allow(dead_code))]
const BULK: usize = 1024;

/// Copies `n` bytes from `src` to `dst` with `rep movsb` (x86-64; not
/// under loom, whose models copy word by word through the `sync` door).
///
/// Another process may write `src` (or read `dst`) meanwhile: the ring's
/// seqlock then discards what was read. An inline-assembly block is opaque
/// to the compiler (it assumes any memory may be read and written, and
/// keeps it where it is among our atomics); what the instruction does is
/// what relaxed atomic byte loads and stores would do, in some order, with
/// no data race in the language's sense. The direction flag is clear on
/// entry to any `asm!` block, so the copy runs forwards.
///
/// # Safety
/// `src` is valid for reads and `dst` for writes of `n` bytes.
#[cfg(all(target_arch = "x86_64", not(loom)))]
unsafe fn copy_bulk(src: *const u8, dst: *mut u8, n: usize) {
    // SAFETY: forwarded from the caller; `rep movsb` reads exactly
    // `src..src + n` and writes exactly `dst..dst + n`.
    unsafe {
        std::arch::asm!(
            "rep movsb",
            inout("rcx") n => _,
            inout("rsi") src => _,
            inout("rdi") dst => _,
            options(nostack, preserves_flags)
        )
    };
}

/// Copies `len` bytes from `src` (in shared memory) to `dst` with atomic
/// 8-byte loads (or, from `BULK` bytes on, see `copy_bulk`).
///
/// # Safety
/// `src` is 8-aligned and valid for reads of `len` rounded up to 8 bytes,
/// and written by others either atomically or, in a chunk claimed for a
/// newer message (a loan), while the caller's seqlock check will discard
/// what was read; `dst` is valid for `len` writes.
pub(crate) unsafe fn copy_out(src: *const u8, dst: *mut u8, len: usize) {
    #[cfg(all(target_arch = "x86_64", not(loom)))]
    if len >= BULK {
        // SAFETY: forwarded from the caller (`len` is within both).
        return unsafe { copy_bulk(src, dst, len) };
    }
    let words = len / 8;
    for i in 0..words {
        // SAFETY: word `i` lies inside `src`'s rounded length and is aligned.
        let w = unsafe { sync::u64_at(src.add(i * 8).cast_mut()) }.load(Ordering::Relaxed);
        // SAFETY: `dst` has room for `len >= (i + 1) * 8` bytes.
        unsafe { dst.add(i * 8).cast::<u64>().write_unaligned(w) };
    }
    let rest = len % 8;
    if rest != 0 {
        // SAFETY: the last partial word is inside the rounded length.
        let w = unsafe { sync::u64_at(src.add(words * 8).cast_mut()) }
            .load(Ordering::Relaxed)
            .to_ne_bytes();
        // SAFETY: `rest` bytes remain in `dst`.
        unsafe { std::ptr::copy_nonoverlapping(w.as_ptr(), dst.add(words * 8), rest) };
    }
}

/// Copies `src` into shared memory at `dst` with atomic 8-byte stores (or,
/// from `BULK` bytes on, see `copy_bulk`); the last word is zero-padded.
///
/// # Safety
/// `dst` is 8-aligned and valid for writes of `src.len()` rounded up to 8
/// bytes, and only ever read atomically by others.
pub(crate) unsafe fn copy_in(src: &[u8], dst: *mut u8) {
    #[cfg(all(target_arch = "x86_64", not(loom)))]
    if src.len() >= BULK {
        let whole = src.len() / 8 * 8;
        // SAFETY: `dst` has room for `src.len()` (so `whole`) bytes.
        unsafe { copy_bulk(src.as_ptr(), dst, whole) };
        // SAFETY: the rest (under 8 bytes, zero-padded) as below.
        return unsafe { copy_in(&src[whole..], dst.add(whole)) };
    }
    let mut chunks = src.chunks_exact(8);
    let mut i = 0;
    for c in &mut chunks {
        let w = u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]));
        // SAFETY: word `i` is inside `dst`'s rounded length and aligned.
        unsafe { sync::u64_at(dst.add(i * 8)) }.store(w, Ordering::Relaxed);
        i += 1;
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        b[..rest.len()].copy_from_slice(rest);
        // SAFETY: the last partial word is inside the rounded length.
        unsafe { sync::u64_at(dst.add(i * 8)) }.store(u64::from_ne_bytes(b), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_in_and_out_every_length_around_the_word_and_bulk_sizes() {
        for len in [
            0usize, 1, 7, 8, 9, 63, 64, 1016, 1023, 1024, 1025, 1031, 4096, 65_541,
        ] {
            let src: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            // 8-aligned room for `len` rounded up, pre-filled with garbage.
            let mut shm = vec![u64::MAX; len.div_ceil(8) + 1];
            let base = shm.as_mut_ptr().cast::<u8>();
            // SAFETY: `base` is 8-aligned with room for `len` rounded up.
            unsafe { copy_in(&src, base) };
            let mut out = vec![0u8; len];
            // SAFETY: as above; `out` has `len` bytes.
            unsafe { copy_out(base, out.as_mut_ptr(), len) };
            assert_eq!(out, src, "len {len}");
            // SAFETY: the rounded length lies inside `shm`.
            let padded = unsafe { std::slice::from_raw_parts(base, len.div_ceil(8) * 8) };
            assert!(padded[len..].iter().all(|&b| b == 0), "len {len}: padding");
            assert_eq!(
                shm[len.div_ceil(8)],
                u64::MAX,
                "len {len}: wrote past the end"
            );
        }
    }

    #[test]
    fn sub_regions_stay_inside() {
        let mut buf = vec![0u64; 64];
        let base = ((buf.as_mut_ptr() as usize).div_ceil(64) * 64) as *mut u8;
        // SAFETY: 256 bytes inside `buf` (512 bytes), which outlives the region.
        let r = unsafe { Region::new(base, 256) };
        assert_eq!(r.sub(64, 192).map(|s| s.len()), Some(192));
        assert!(r.sub(64, 193).is_none());
        assert!(r.sub(usize::MAX, 2).is_none());
        assert_eq!(r.tail(300).len(), 0);
        let s = r.sub(64, 64).unwrap();
        s.u64_at(0).store(7, Ordering::Relaxed);
        assert_eq!(r.u64_at(64).load(Ordering::Relaxed), 7);
        let mut out = vec![0u8; 3];
        fill_vec(&mut out, 8, |room| {
            r.copy_out(64, &mut room[..8]);
            Ok::<_, ()>(8)
        })
        .unwrap();
        assert_eq!(out, 7u64.to_ne_bytes());
    }
}
