//! A broadcast ring region whose bytes another process wrote: `Ring::attach`
//! validates the geometry, then readers copy and pin messages. Every call
//! must return (an error is fine) without panicking, hanging or touching
//! memory outside the region.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shm_comm::ring::Ring;
use shm_comm_fuzz::{aligned_copy, read_ring};

fuzz_target!(|data: &[u8]| {
    // `_buf` holds the bytes of `region` to the end of this closure.
    let (_buf, region) = aligned_copy(data);
    if let Ok(ring) = Ring::attach(region) {
        read_ring(ring);
    }
});
