//! Loom model of arming a doorbell (`sync::Event::arm_fd`, used by
//! `crate::bells`): the armer marks `waiters` (bit 1), fences and checks
//! the condition; the notifier stores the condition, fences and, finding
//! the bit, rings (recorded by the model instead of a datagram).
//!
//! Proves, over every interleaving loom explores (preemption bound 3):
//! - `an_armed_doorbell_is_rung_or_sees_the_message`: never both "the
//!   armer saw nothing" and "nothing was rung" (a lost wake-up for a
//!   process waiting in `poll`);
//! - `a_sleeper_and_a_doorbell_on_one_word`: a futex sleeper and an armed
//!   doorbell on the same word are both served by one notify (neither
//!   bit is lost to the other's RMW);
//! - `a_notify_with_no_doorbell_rings_nothing` (the control): rings are
//!   recorded only when a doorbell was armed, so the first model is not
//!   vacuous.
#![cfg(loom)]

use shm_comm::loom_model::{
    event_arm_fd, event_notify, event_wait, take_rings, u32_at, AtomicU32, Memory,
};
use std::sync::atomic::Ordering;
use std::sync::Arc;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(3);
    b.check(f);
}

struct Words {
    mem: Memory,
}

impl Words {
    fn new() -> Arc<Words> {
        Arc::new(Words {
            mem: Memory::new(128),
        })
    }
    fn word(&self, off: usize) -> &AtomicU32 {
        // SAFETY: a 4-aligned word of the region, which `self` keeps alive.
        unsafe { u32_at(self.mem.base().add(off)) }
    }
    fn cond(&self) -> &AtomicU32 {
        self.word(0)
    }
    fn notify(&self) -> &AtomicU32 {
        self.word(64)
    }
    fn waiters(&self) -> &AtomicU32 {
        self.word(68)
    }
    fn rung(&self) -> bool {
        let me = self.notify() as *const AtomicU32 as usize;
        take_rings().contains(&me)
    }
    /// Arms a doorbell, then looks (what `Watch::arm` and the handles do).
    fn arm_and_look(&self) -> bool {
        event_arm_fd(self.notify(), self.waiters());
        // Acquire: pairs with the Release store of the condition.
        self.cond().load(Ordering::Acquire) == 1
    }
    fn set_and_notify(&self) {
        // Release: pairs with the Acquire loads of the condition.
        self.cond().store(1, Ordering::Release);
        event_notify(self.notify(), self.waiters());
    }
}

#[test]
fn an_armed_doorbell_is_rung_or_sees_the_message() {
    model(|| {
        take_rings();
        let w = Words::new();
        let armer = {
            let w = w.clone();
            loom::thread::spawn(move || w.arm_and_look())
        };
        w.set_and_notify();
        let saw = armer.join().unwrap();
        assert!(saw || w.rung(), "the armer saw nothing and was not rung");
    });
}

#[test]
fn a_sleeper_and_a_doorbell_on_one_word() {
    model(|| {
        take_rings();
        let w = Words::new();
        let sleeper = {
            let w = w.clone();
            // Acquire: pairs with the Release store of the condition.
            loom::thread::spawn(move || {
                assert!(event_wait(w.notify(), w.waiters(), || {
                    w.cond().load(Ordering::Acquire) == 1
                }))
            })
        };
        let armer = {
            let w = w.clone();
            loom::thread::spawn(move || w.arm_and_look())
        };
        w.set_and_notify();
        sleeper.join().unwrap();
        let saw = armer.join().unwrap();
        assert!(saw || w.rung(), "the armer saw nothing and was not rung");
    });
}

#[test]
fn a_notify_with_no_doorbell_rings_nothing() {
    model(|| {
        take_rings();
        let w = Words::new();
        w.set_and_notify();
        assert!(!w.rung());
    });
}
