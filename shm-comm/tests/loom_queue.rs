//! Loom models of the work queue (`queue.rs`): Vyukov's bounded MPMC queue
//! with per-cell claims (compare-and-swap of the cell state naming the
//! claimer) and the repair of cells whose claimer died.
//!
//! Proves, over every interleaving loom explores (preemption bound 2),
//! with the atomics and orderings the queue really uses:
//! - `every_job_is_delivered_exactly_once`: two pushers (distinct
//!   processes) each push a job while a puller pops: the puller gets both
//!   jobs, intact, each once, and the queue is then empty;
//! - `a_cell_claimed_by_a_dead_pusher_is_repaired`: a pusher killed after
//!   claiming a cell (state WRITING with its pid, enqueue position past
//!   it) and a live pusher's job behind it: a puller with `repair` skips
//!   the dead claim once the claimer is dead, gets the live job, and the
//!   queue keeps going (a lap further, FIFO).
//!
//! Does not prove: queues larger than two cells or more than a few jobs,
//! the wait/wake calls around the queue (see `loom_wake.rs`), the
//! corruption paths, or claims naming participants (`segment::Peers`):
//! here claims record pids, as for a queue on heap memory.
#![cfg(loom)]

use std::sync::Arc;

use shm_comm::loom_model::{kill, set_identity, u64_at, Memory};
use shm_comm::queue::{Geometry, Queue};
use shm_comm::region::Region;
use shm_comm::TryRecvError;

fn model(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(bound);
    b.check(f);
}

const GEO: Geometry = Geometry {
    capacity: 2,
    max_payload: 8,
};

fn region() -> (Arc<Memory>, usize) {
    let len = GEO.region_len().unwrap();
    let mem = Arc::new(Memory::new(len));
    // SAFETY: a zeroed, 64-aligned region of `len` bytes that no one else
    // sees yet; it outlives every queue view (the `Arc` is kept by each user).
    Queue::init(unsafe { Region::new(mem.base(), len) }, GEO).unwrap();
    (mem, len)
}

/// This thread's view of the queue (its claims record this thread's pid).
fn attach(mem: &Memory, len: usize) -> Queue {
    // SAFETY: an initialized queue region, alive while `mem` is.
    Queue::attach(unsafe { Region::new(mem.base(), len) }).unwrap()
}

fn push(q: &Queue, v: u64, repair: bool) {
    while q.try_push(&v.to_ne_bytes(), 0, repair).is_err() {
        loom::thread::yield_now();
    }
}

fn pop(q: &Queue, repair: bool) -> Result<u64, TryRecvError> {
    let mut buf = [0u8; 8];
    // SAFETY: `buf` has 8 bytes.
    let (len, _) = unsafe { q.try_pop(buf.as_mut_ptr(), 8, repair) }?;
    assert_eq!(len, 8);
    Ok(u64::from_ne_bytes(buf))
}

fn pop_wait(q: &Queue, repair: bool) -> u64 {
    loop {
        match pop(q, repair) {
            Ok(v) => return v,
            Err(TryRecvError::Empty) => loom::thread::yield_now(),
            Err(e) => panic!("{e:?}"),
        }
    }
}

#[test]
fn every_job_is_delivered_exactly_once() {
    model(2, || {
        let (mem, len) = region();
        let pushers: Vec<_> = (1..=2u64)
            .map(|v| {
                let mem = mem.clone();
                loom::thread::spawn(move || {
                    set_identity((10 + v) << 32 | 1);
                    push(&attach(&mem, len), v, false);
                })
            })
            .collect();
        set_identity(20 << 32 | 1);
        let q = attach(&mem, len);
        let mut got = [pop_wait(&q, false), pop_wait(&q, false)];
        got.sort();
        assert_eq!(got, [1, 2], "each job once");
        for p in pushers {
            p.join().unwrap();
        }
        assert_eq!(pop(&q, false), Err(TryRecvError::Empty));
    });
}

#[test]
fn a_cell_claimed_by_a_dead_pusher_is_repaired() {
    const DEAD_PID: u64 = 5;
    model(2, || {
        let (mem, len) = region();
        // A pusher (pid 5) claimed cell 0 for position 0 and advanced the
        // enqueue position, then was killed before filling it. Layout and
        // state encoding as in the queue's module docs: the enqueue
        // position at 64, cell 0's state at 320, `lap << 32 | kind << 30 |
        // claimer` with WRITING = 1.
        // SAFETY: 8-aligned words of the live region.
        unsafe {
            u64_at(mem.base().add(320))
                .store(1 << 30 | DEAD_PID, std::sync::atomic::Ordering::Relaxed);
            u64_at(mem.base().add(64)).store(1, std::sync::atomic::Ordering::Relaxed);
        }
        let death = loom::thread::spawn(|| kill(DEAD_PID << 32 | 1));
        let pusher = {
            let mem = mem.clone();
            loom::thread::spawn(move || {
                set_identity(11 << 32 | 1);
                push(&attach(&mem, len), 7, true);
            })
        };
        set_identity(20 << 32 | 1);
        let q = attach(&mem, len);
        assert_eq!(pop_wait(&q, true), 7, "the live job, past the hole");
        death.join().unwrap();
        pusher.join().unwrap();
        // The queue keeps going: a lap further, both cells.
        push(&q, 8, true);
        push(&q, 9, true);
        assert_eq!(pop(&q, true), Ok(8));
        assert_eq!(pop(&q, true), Ok(9));
        assert_eq!(pop(&q, true), Err(TryRecvError::Empty));
    });
}
