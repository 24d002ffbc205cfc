//! A reply mailbox whose bytes another process wrote (the replier writes
//! the reply, the requester the state): a requester takes the reply to the
//! call the state names, then arms and withdraws its next call; a replier
//! puts a reply. Every call must return without panicking, hanging or
//! touching memory outside the mailbox, and a reply taken fits its room.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use shm_comm::mailbox::{Mailbox, HEADER};
use shm_comm_fuzz::aligned_copy;

fuzz_target!(|data: &[u8]| {
    let Some(room) = data.len().checked_sub(HEADER) else {
        return;
    };
    let room = room / 8 * 8;
    // `_buf` holds the bytes of `region` to the end of this closure.
    let (_buf, region) = aligned_copy(data);
    let mb = Mailbox::at(region, room);
    let call = mb.last_call();
    let _ = mb.is_ready(call);
    let mut out = Vec::new();
    if mb.take(call, &mut out).is_ok() {
        assert!(
            out.len() <= room,
            "a {}-byte reply in {room} bytes",
            out.len()
        );
    }
    let next = call.wrapping_add(1);
    // No writer is alive: `arm` must not wait for one.
    let _ = mb.arm(next, Some(Instant::now()), |_| false);
    let _ = mb.take(next, &mut out);
    mb.cancel(next);
    let reply = [0x5au8; 24];
    let _ = mb.put(next, 1, &reply[..room.min(reply.len())], 1);
});
