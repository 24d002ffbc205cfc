//! Loom models of the broadcast ring (`ring.rs`): the seqlock copy, pins
//! (the Dekker handshake between `Writer::claim_now` and
//! `Reader::pin_next`) and the repair of a dead borrower's pin slot.
//!
//! Proves, over every interleaving loom explores (preemption bound 2 or 3),
//! with the atomics and fences the ring really uses (SeqCst accesses as
//! described in `sync/model.rs`):
//! - `a_copy_reader_never_returns_a_torn_message`: a writer publishes three
//!   two-word messages through a pool of two chunks (so chunks are
//!   rewritten under the reader) while a reader copies: every message
//!   returned has both words equal (not torn), in order, and every
//!   position is read or counted missed;
//! - `a_pinned_chunk_is_never_rewritten`: a reader pins a message while
//!   the writer publishes three more through a pool of three chunks (it
//!   must skip the pinned one, which the third claim reaches): the pinned
//!   payload stays the message pinned until unpinned, and the budget is
//!   whole again afterwards. (Weakening the reader's SeqCst pin store to
//!   Release makes this model fail.)
//! - `a_dead_borrowers_pin_slot_is_reclaimed`: a borrower that dies while
//!   holding the only pin slot does not shrink the budget for good: a
//!   live reader waiting for a slot takes it over once the borrower is
//!   dead (while the writer goes on), reads intact data, and after its
//!   unpin the budget is whole.
//!
//! Does not prove: rings larger than a few chunks or longer runs (loom
//! explores small instances only), the bulk copy (`rep movsb`, left out
//! under loom: copies go word by word), or anything about the pointer
//! arithmetic and geometry checks (unit tests cover those).
#![cfg(loom)]

use std::sync::Arc;

use shm_comm::loom_model::{copy_in, copy_out, kill, set_identity, Memory};
use shm_comm::region::Region;
use shm_comm::ring::{Geometry, Reader, Ring, Writer};

fn model(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    model_with(bound, bound, f)
}

/// A model whose bound the test command lowers to `quick` (`loom.sh
/// --quick` sets `SHM_COMM_LOOM_QUICK`): at bound 2 it is the slowest model
/// by far, and bound 1 still has a reader preempted mid-copy while the
/// writer laps it.
fn model_with(full: usize, quick: usize, f: impl Fn() + Sync + Send + 'static) {
    let bound = if std::env::var_os("SHM_COMM_LOOM_QUICK").is_some() {
        quick
    } else {
        full
    };
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(bound);
    b.check(f);
}

/// A ring in a fresh model region, and the region (keep it alive).
fn ring(geo: Geometry) -> (Arc<Memory>, Ring) {
    let len = geo.region_len().unwrap();
    let mem = Arc::new(Memory::new(len));
    // SAFETY: a zeroed, 64-aligned region of `len` bytes that no one else
    // sees yet, kept alive by the returned `Arc` for every use of the ring.
    let ring = Ring::init(unsafe { Region::new(mem.base(), len) }, geo).unwrap();
    (mem, ring)
}

/// Message `v`: two words, both `v`.
fn message(v: u64) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[..8].copy_from_slice(&v.to_ne_bytes());
    m[8..].copy_from_slice(&v.to_ne_bytes());
    m
}

fn words(m: &[u8]) -> (u64, u64) {
    (
        u64::from_ne_bytes(m[..8].try_into().unwrap()),
        u64::from_ne_bytes(m[8..16].try_into().unwrap()),
    )
}

fn send(w: &mut Writer, v: u64) {
    let c = w.claim().expect("the pool always has a free chunk");
    // SAFETY: the payload of a claimed chunk has room for max_payload (16) bytes.
    unsafe { copy_in(&message(v), w.payload(&c)) };
    w.commit(c, 16, 0);
}

#[test]
fn a_copy_reader_never_returns_a_torn_message() {
    model_with(2, 1, || {
        let geo = Geometry {
            capacity: 1,
            max_payload: 16,
            borrow_budget: 0,
        };
        let (mem, ring) = ring(geo);
        let keep = mem.clone();
        let reader = loom::thread::spawn(move || {
            let _mem = keep;
            let mut r = Reader::at_start(ring);
            let mut last = 0;
            for _ in 0..2 {
                let mut buf = [0u8; 16];
                // SAFETY: `buf` has 16 bytes.
                if let Ok((len, _)) = unsafe { r.try_read(buf.as_mut_ptr(), 16) } {
                    assert_eq!(len, 16);
                    let (a, b) = words(&buf);
                    assert_eq!(a, b, "torn message");
                    assert!(a > last, "message {a} after {last}");
                    last = a;
                }
            }
            // Every position passed was returned or counted missed.
            assert!(r.position() >= r.missed());
            assert!(last == 0 || r.position() >= last);
        });
        let mut w = Writer::new(ring);
        for v in 1..=3 {
            send(&mut w, v);
        }
        reader.join().unwrap();
        drop(mem);
    });
}

#[test]
fn a_pinned_chunk_is_never_rewritten() {
    model(2, || {
        let geo = Geometry {
            capacity: 1,
            max_payload: 16,
            borrow_budget: 1,
        };
        let (mem, ring) = ring(geo);
        let mut w = Writer::new(ring);
        send(&mut w, 1);
        let keep = mem.clone();
        let reader = loom::thread::spawn(move || {
            let _mem = keep;
            let mut r = Reader::at_start(ring);
            let Ok(p) = r.try_pin() else {
                // Lapped before the pin: nothing pinned, nothing to check.
                return;
            };
            let mut first = [0u8; 16];
            let mut again = [0u8; 16];
            // SAFETY: a pinned payload of `p.len` (16) bytes.
            unsafe { copy_out(p.ptr, first.as_mut_ptr(), 16) };
            loom::thread::yield_now();
            // SAFETY: as above; still pinned.
            unsafe { copy_out(p.ptr, again.as_mut_ptr(), 16) };
            let (a, b) = words(&first);
            assert_eq!(a, b, "pinned message torn");
            assert_eq!(first, again, "pinned chunk rewritten");
            Reader::unpin(&ring, p.slot);
        });
        for v in 2..=4 {
            send(&mut w, v);
        }
        reader.join().unwrap();
        assert_eq!(ring.borrow_tokens(), 1, "the budget is whole again");
        drop(mem);
    });
}

#[test]
fn a_dead_borrowers_pin_slot_is_reclaimed() {
    const DEAD: u64 = 7 << 32 | 1;
    const LIVE: u64 = 8 << 32 | 1;
    const WRITER: u64 = 9 << 32 | 1;
    model(2, || {
        let geo = Geometry {
            capacity: 1,
            max_payload: 16,
            borrow_budget: 1,
        };
        let (mem, ring) = ring(geo);
        let mut w = Writer::new(ring);
        send(&mut w, 1);
        // A borrower (this thread, for now) pins message 1; it is killed
        // holding it while the live reader below already waits for a slot.
        set_identity(DEAD);
        let pinned = Reader::at_start(ring).try_pin().expect("the slot is free");
        assert_eq!(ring.borrow_tokens(), 0);
        let _never_unpinned = pinned;
        set_identity(WRITER);
        let dead = loom::thread::spawn(move || kill(DEAD));
        let keep = mem.clone();
        let live = loom::thread::spawn(move || {
            let _mem = keep;
            set_identity(LIVE);
            let mut r = Reader::resume(ring, ring.published() - 1);
            // The slot is owned until its owner is dead: retry until then.
            let p = loop {
                match r.try_pin() {
                    Ok(p) => break p,
                    Err(shm_comm::BorrowError::Limit { .. }) => loom::thread::yield_now(),
                    Err(e) => panic!("{e:?}"),
                }
            };
            let mut got = [0u8; 16];
            // SAFETY: a pinned payload of 16 bytes.
            unsafe { copy_out(p.ptr, got.as_mut_ptr(), 16) };
            let (a, b) = words(&got);
            assert_eq!(a, b, "pinned message torn");
            Reader::unpin(&ring, p.slot);
        });
        send(&mut w, 2);
        dead.join().unwrap();
        live.join().unwrap();
        assert_eq!(ring.borrow_tokens(), 1, "the budget is whole again");
        drop(mem);
    });
}
