//! The only door to atomics and blocking waits for the ring: the ring imports
//! nothing else that synchronizes, so swapping this module (for loom's atomics,
//! say) swaps them all.

pub(crate) use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

use std::time::{Duration, Instant};

/// Pause inside a spin loop.
#[inline]
pub(crate) fn spin_hint() {
    std::hint::spin_loop();
}

/// Blocks while `word == expected`, at most until `deadline`; may return early.
pub(crate) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Instant>) {
    let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    if timeout == Some(Duration::ZERO) {
        return;
    }
    crate::platform::futex_wait(word, expected, timeout);
}

/// Wakes every waiter on `word`.
pub(crate) fn wake_all(word: &AtomicU32) {
    crate::platform::futex_wake_all(word);
}

/// Lets another runnable thread go first.
pub(crate) fn yield_now() {
    crate::platform::yield_now();
}

/// Spin rounds (of 16 pause instructions) before yielding.
const SPIN_ROUNDS: u32 = 256;
/// `sched_yield` rounds before sleeping on the futex.
const YIELD_ROUNDS: u32 = 256;

/// A wake-up channel in shared memory: two words, `notify` (the futex word,
/// bumped on every wake-up) and `waiters` (set by a sleeper before it
/// sleeps, cleared by the waker). A waker only makes a system call when
/// someone sleeps; a sleeper killed while asleep costs at most one needless
/// wake-up, since the waker clears the flag.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Event<'a> {
    pub(crate) notify: &'a AtomicU32,
    pub(crate) waiters: &'a AtomicU32,
}

impl Event<'_> {
    /// Wakes every sleeper, if any. Call after the state change that
    /// sleepers wait for has been stored.
    pub(crate) fn notify(&self) {
        // SeqCst fence between the caller's store of the new state and the
        // load of `waiters`; pairs with the SeqCst fence in `wait` between the
        // store to `waiters` and the check of the condition (store
        // buffering: at least one side sees the other's store).
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::Relaxed) != 0 {
            self.waiters.store(0, Ordering::Relaxed);
            // Release: pairs with the Acquire load of `notify` in `wait`.
            self.notify.fetch_add(1, Ordering::Release);
            wake_all(self.notify);
        }
    }

    /// Wakes every sleeper unconditionally (closing, shutting down).
    pub(crate) fn notify_all(&self) {
        // Release: pairs with the Acquire load of `notify` in `wait`.
        self.notify.fetch_add(1, Ordering::Release);
        wake_all(self.notify);
    }

    /// Waits until `ready()` holds or `deadline` passes: with `spin`, spins
    /// briefly, then yields (so a peer sharing this core can run); then
    /// sleeps on the futex. Returns the last value of `ready()`.
    ///
    /// Callers pass `spin = false` when they are idle (their last wait timed
    /// out), so a blocked waiter that wakes up periodically costs nothing.
    pub(crate) fn wait(
        &self,
        mut ready: impl FnMut() -> bool,
        deadline: Option<Instant>,
        spin: bool,
    ) -> bool {
        let rounds = if spin { SPIN_ROUNDS + YIELD_ROUNDS } else { 0 };
        for i in 0..rounds {
            if ready() {
                return true;
            }
            if i < SPIN_ROUNDS {
                for _ in 0..16 {
                    spin_hint();
                }
            } else {
                yield_now();
            }
            if i % 64 == 63 && deadline.is_some_and(|d| Instant::now() >= d) {
                return ready();
            }
        }
        loop {
            // Acquire: pairs with the Release increment in `notify`.
            let seen = self.notify.load(Ordering::Acquire);
            self.waiters.store(1, Ordering::Relaxed);
            // SeqCst fence: pairs with the one in `notify` (see there).
            fence(Ordering::SeqCst);
            if ready() {
                return true;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return false;
            }
            wait(self.notify, seen, deadline);
        }
    }
}

/// `true` if process `pid` exists and is not a zombie.
pub(crate) fn pid_alive(pid: u32) -> bool {
    crate::platform::pid_alive(pid)
}
