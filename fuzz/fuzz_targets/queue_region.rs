//! A work-queue region whose bytes another process wrote: `Queue::attach`
//! validates the geometry (as does `Queue::holds_jobs`, which decides whether
//! a queue outlives its participants), then pops and pushes run on it. Every
//! call must return (`Empty`, `Full` or an error is fine) without panicking,
//! hanging or touching memory outside the region.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shm_comm::queue::Queue;
use shm_comm_fuzz::{aligned_copy, use_queue};

fuzz_target!(|data: &[u8]| {
    // `_buf` holds the bytes of `region` to the end of this closure.
    let (_buf, region) = aligned_copy(data);
    let _ = Queue::holds_jobs(region);
    if let Ok(q) = Queue::attach(region) {
        use_queue(&q);
    }
});
