//! Loom models of the reply mailbox (`mailbox.rs`): the requester arms it
//! for a call, a replier writes only a mailbox still waiting for its very
//! call (compare-and-swap), the requester withdraws a call that timed out.
//!
//! Proves, over every interleaving loom explores (preemption bound 2),
//! with the atomics, orderings and wake-up the mailbox really uses:
//! - `a_reply_reaches_only_the_call_it_answers`: a late replier to call 1
//!   races the requester's withdrawal of call 1 and its next call 2,
//!   answered by another replier: the requester is woken (no lost
//!   wake-up), takes exactly call 2's reply, intact, never call 1's;
//! - `a_late_reply_to_a_cancelled_call_is_discarded`: a reply racing the
//!   withdrawal of its call either landed before it (then it is the
//!   mailbox's READY content for that call only) or is refused; after a
//!   refused one the mailbox holds nothing.
//!
//! Does not prove: the request queue in front (see `loom_queue.rs`),
//! repliers that die mid-write (`arm` waits for a live writer and takes
//! over a dead one's claim: only the live case is explored here), or
//! timed waits (the model's futex has no clock).
#![cfg(loom)]

use std::sync::Arc;

use shm_comm::loom_model::{set_identity, Memory};
use shm_comm::mailbox::{self, Mailbox, TakeError};
use shm_comm::region::Region;

fn model(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(bound);
    b.check(f);
}

fn mailbox() -> (Arc<Memory>, Mailbox) {
    let mem = Arc::new(Memory::new(mailbox::HEADER + 16));
    // SAFETY: a zeroed, 64-aligned region with 16 bytes of payload, kept
    // alive by the returned `Arc` for every use of the mailbox.
    let mb = Mailbox::at(unsafe { Region::new(mem.base(), mailbox::HEADER + 16) }, 16);
    (mem, mb)
}

/// Reply `v`: two words, both `v`.
fn reply(v: u64) -> [u8; 16] {
    let mut m = [0u8; 16];
    m[..8].copy_from_slice(&v.to_ne_bytes());
    m[8..].copy_from_slice(&v.to_ne_bytes());
    m
}

/// A replier process (claim token `claimer`) answering `call` with `v`.
fn replier(
    mem: &Arc<Memory>,
    mb: Mailbox,
    claimer: u32,
    call: u32,
    v: u64,
) -> loom::thread::JoinHandle<bool> {
    let mem = mem.clone();
    loom::thread::spawn(move || {
        let _mem = mem;
        set_identity(u64::from(claimer) << 32 | 1);
        mb.put(call, claimer, &reply(v), 0)
    })
}

fn alive(_claimer: u32) -> bool {
    true
}

#[test]
fn a_reply_reaches_only_the_call_it_answers() {
    model(2, || {
        let (mem, mb) = mailbox();
        mb.arm(1, None, alive).unwrap();
        let late = replier(&mem, mb, 21, 1, 1);
        // Call 1 times out: withdrawn, then call 2 is armed and sent.
        mb.cancel(1);
        mb.arm(2, None, alive).unwrap();
        let answer = replier(&mem, mb, 22, 2, 2);
        assert!(mb.wait(2, None, false), "woken for call 2");
        let mut out = Vec::new();
        assert_eq!(mb.take(2, &mut out), Ok(0));
        assert_eq!(out, reply(2), "call 2 gets its own reply");
        assert!(answer.join().unwrap(), "call 2's reply was delivered");
        let _ = late.join().unwrap();
        assert_eq!(mb.take(1, &mut out), Err(TakeError::NotReady));
        assert_eq!(mb.take(2, &mut out), Err(TakeError::NotReady));
    });
}

#[test]
fn a_late_reply_to_a_cancelled_call_is_discarded() {
    model(2, || {
        let (mem, mb) = mailbox();
        mb.arm(1, None, alive).unwrap();
        let late = replier(&mem, mb, 21, 1, 1);
        mb.cancel(1);
        let delivered = late.join().unwrap();
        let mut out = Vec::new();
        if delivered {
            // It won the race: the reply is there, for call 1 only.
            assert_eq!(mb.take(2, &mut out), Err(TakeError::NotReady));
            assert_eq!(mb.take(1, &mut out), Ok(0));
            assert_eq!(out, reply(1));
        } else {
            assert_eq!(mb.take(1, &mut out), Err(TakeError::NotReady));
        }
        assert_eq!(mb.last_call(), 1);
    });
}
