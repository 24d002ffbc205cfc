//! What several fuzz targets do with a region once it is attached: the
//! reads a subscriber or puller would make, bounded in number, each checked
//! to return without panicking and within the limits the geometry sets.

use shm_comm::queue::Queue;
use shm_comm::region::Region;
use shm_comm::ring::{Reader, Ring};

/// Most operations tried per reader or queue: each returns a message,
/// reports an error or finds nothing, so this bounds the work of one input.
pub const OPS: usize = 64;

/// A copy of `data` in a 64-byte aligned heap buffer, as a mapping would be
/// aligned: the buffer (keep it alive while the region is used) and the
/// region of the copy, `data.len()` bytes.
pub fn aligned_copy(data: &[u8]) -> (Vec<u64>, Region) {
    let mut buf = vec![0u64; data.len().div_ceil(8) + 8];
    let skip = buf.as_ptr().cast::<u8>().align_offset(64);
    let base = buf.as_mut_ptr().cast::<u8>().wrapping_add(skip);
    // SAFETY: `skip < 64` and `buf` has `data.len()` + 64 bytes, so the
    // copy fits after `base`.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), base, data.len()) };
    // SAFETY: `base` is 64-aligned and valid for `data.len()` bytes while
    // `buf` lives, which the caller keeps alive while the region is used;
    // only the floor's views (atomically) touch it.
    (buf, unsafe { Region::new(base, data.len()) })
}

/// Reads a ring as subscribers do: copying into a fixed buffer, into a
/// buffer made to the message's length, and pinning in place, from the
/// three positions a reader can start at.
pub fn read_ring(ring: Ring) {
    let _ = (ring.published(), ring.is_closed(), ring.borrow_tokens());
    let max = ring.geometry().max_payload as usize;
    let mut out = vec![0u8; max];
    let readers = [
        Reader::new(ring, false),
        Reader::new(ring, true),
        Reader::at_start(ring),
    ];
    for (i, mut r) in readers.into_iter().enumerate() {
        for _ in 0..OPS {
            let _ = (r.ready(), r.lag(), r.missed(), r.position());
            let got = match i {
                // SAFETY: `out` has room for `out.len()` bytes.
                0 => unsafe { r.try_read(out.as_mut_ptr(), out.len()) }
                    .map(|(len, _)| len as usize)
                    .map_err(drop),
                1 => r
                    .try_read_with(|len, copy| {
                        let mut v = vec![0u8; len];
                        copy(&mut v);
                        Ok::<_, ()>(v)
                    })
                    .map(|read| read.map_or(0, |(v, _)| v.len()))
                    .map_err(drop),
                _ => r
                    .try_pin()
                    .map(|p| {
                        // SAFETY: a pinned payload is `p.len` bytes inside
                        // the region (checked against max_payload below).
                        let bytes = unsafe { std::slice::from_raw_parts(p.ptr, p.len as usize) };
                        let n = bytes.len().min(out.len());
                        out[..n].copy_from_slice(&bytes[..n]);
                        Reader::unpin(&ring, p.slot);
                        p.len as usize
                    })
                    .map_err(drop),
            };
            match got {
                Ok(len) => assert!(len <= max, "a {len}-byte message in {max}-byte slots"),
                Err(()) => break,
            }
        }
    }
}

/// Pops from a queue as pullers do (without, then with repair of cells
/// held by dead processes), then pushes a job as a pusher would.
pub fn use_queue(q: &Queue) {
    let _ = (q.len(), q.is_empty(), q.pushed());
    let max = q.geometry().max_payload as usize;
    let mut out = vec![0u8; max];
    for i in 0..OPS {
        let repair = i % 2 == 1;
        // SAFETY: `out` has room for `out.len()` bytes.
        match unsafe { q.try_pop(out.as_mut_ptr(), out.len(), repair) } {
            Ok((len, _)) => assert!(len as usize <= max, "a {len}-byte job in {max}-byte slots"),
            Err(_) if repair => break,
            Err(_) => {}
        }
    }
    let job = [0xa5u8; 8];
    let job = &job[..max.min(job.len())];
    let _ = q.try_push(job, 1, false);
    let _ = q.try_push(job, 1, true);
}
