//! Loom model of the wait/wake protocol (`sync::Event`): `notify`/`waiters`
//! words, a SeqCst fence on each side, and the futex (modelled by the
//! `sync` door as a check-and-sleep under a loom mutex, so a sleeper that
//! is never woken deadlocks the model and loom reports it).
//!
//! Proves, over every interleaving loom explores (preemption bound 3):
//! - `no_lost_wake_up`: a waiter that checks its condition, sets `waiters`,
//!   fences and sleeps is always woken by a notifier that stores the
//!   condition and calls `notify` (which fences, then reads `waiters`);
//! - `two_waiters_one_notify`: one notify wakes every sleeper;
//! - `notify_all_wakes_without_a_flag`: `notify_all` (close) wakes a sleeper;
//! - `a_sleeper_never_notified_is_reported` (the control): without a
//!   notify the model does deadlock, so the others are not vacuous.
//!
//! Does not prove: anything about timed waits (a timed wait returns at
//! once in the model) or the spin phase (left out under loom); the kernel's
//! futex itself is assumed to behave as documented.
#![cfg(loom)]

use shm_comm::loom_model::{event_notify, event_notify_all, event_wait, u32_at, Memory};
use std::sync::atomic::Ordering;
use std::sync::Arc;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

/// Three words in shared memory: the condition, `notify`, `waiters`.
struct Words {
    mem: Memory,
}

impl Words {
    fn new() -> Arc<Words> {
        Arc::new(Words {
            mem: Memory::new(128),
        })
    }
    fn word(&self, off: usize) -> &shm_comm::loom_model::AtomicU32 {
        // SAFETY: a 4-aligned word of the region, which `self` keeps alive.
        unsafe { u32_at(self.mem.base().add(off)) }
    }
    fn cond(&self) -> &shm_comm::loom_model::AtomicU32 {
        self.word(0)
    }
    fn notify(&self) -> &shm_comm::loom_model::AtomicU32 {
        self.word(64)
    }
    fn waiters(&self) -> &shm_comm::loom_model::AtomicU32 {
        self.word(68)
    }
    fn wait(&self) -> bool {
        // Acquire: pairs with the Release store of the condition.
        event_wait(self.notify(), self.waiters(), || {
            self.cond().load(Ordering::Acquire) == 1
        })
    }
    fn set_and_notify(&self) {
        // Release: pairs with the Acquire load in `wait`.
        self.cond().store(1, Ordering::Release);
        event_notify(self.notify(), self.waiters());
    }
}

#[test]
fn no_lost_wake_up() {
    model(|| {
        let w = Words::new();
        let waiter = {
            let w = w.clone();
            loom::thread::spawn(move || assert!(w.wait()))
        };
        w.set_and_notify();
        waiter.join().unwrap();
    });
}

#[test]
fn two_waiters_one_notify() {
    model(|| {
        let w = Words::new();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let w = w.clone();
                loom::thread::spawn(move || assert!(w.wait()))
            })
            .collect();
        w.set_and_notify();
        for h in waiters {
            h.join().unwrap();
        }
    });
}

#[test]
fn notify_all_wakes_without_a_flag() {
    model(|| {
        let w = Words::new();
        let waiter = {
            let w = w.clone();
            loom::thread::spawn(move || assert!(w.wait()))
        };
        // Release: pairs with the Acquire load in `wait`.
        w.cond().store(1, Ordering::Release);
        event_notify_all(w.notify(), w.waiters());
        waiter.join().unwrap();
    });
}

#[test]
#[should_panic(expected = "deadlock")]
fn a_sleeper_never_notified_is_reported() {
    model(|| {
        let w = Words::new();
        let waiter = {
            let w = w.clone();
            loom::thread::spawn(move || assert!(w.wait()))
        };
        // The condition is stored but nobody is notified.
        w.cond().store(1, Ordering::Release);
        waiter.join().unwrap();
    });
}
