//! The only door to atomics on shared memory and to blocking waits: the
//! protocol floor (ring, queue, mailbox, participant table, segment header)
//! makes its atomics here and nowhere else, so swapping this module swaps
//! them all.
//!
//! - Normal builds: [`u32_at`]/[`u64_at`] are `AtomicU32::from_ptr` and
//!   `AtomicU64::from_ptr`, inlined: the door costs no instruction.
//! - `--cfg loom` (the models in `tests/loom_*.rs`): the atomics are loom's,
//!   one per word of a region made by [`model::Memory`]; waits and wake-ups
//!   are a loom mutex and condition variable (a lost wake-up is a deadlock
//!   that loom reports), and process identities and deaths are set by the
//!   model (see `model`).
//!
//! A shared-memory atomic made anywhere else is refused by clippy
//! (`disallowed-methods` in the crate's `clippy.toml`) and by the test
//! `tests/door.rs`.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

#[cfg(loom)]
pub(crate) use model::{fence, AtomicU32, AtomicU64};
#[cfg(loom)]
pub(crate) use std::sync::atomic::Ordering;

#[cfg(loom)]
pub mod model;

use std::time::{Duration, Instant};

/// The `u32` word at `p` in shared memory, as an atomic.
///
/// # Safety
/// `p` is 4-aligned and valid for reads and writes for `'a`, and every
/// process and thread accesses the word atomically only.
#[cfg(not(loom))]
#[inline(always)]
#[allow(clippy::disallowed_methods)] // the one place shared-memory atomics are made
pub(crate) unsafe fn u32_at<'a>(p: *mut u8) -> &'a AtomicU32 {
    // SAFETY: forwarded from the caller.
    unsafe { AtomicU32::from_ptr(p.cast()) }
}

/// The `u64` word at `p` in shared memory, as an atomic.
///
/// # Safety
/// As for [`u32_at`], 8-aligned.
#[cfg(not(loom))]
#[inline(always)]
#[allow(clippy::disallowed_methods)] // the one place shared-memory atomics are made
pub(crate) unsafe fn u64_at<'a>(p: *mut u8) -> &'a AtomicU64 {
    // SAFETY: forwarded from the caller.
    unsafe { AtomicU64::from_ptr(p.cast()) }
}

#[cfg(loom)]
pub(crate) use model::{u32_at, u64_at};

/// Pause inside a spin loop.
#[inline]
pub(crate) fn spin_hint() {
    std::hint::spin_loop();
}

/// Asks the CPU to fetch the cache line at `p` ahead of a write. A hint: it
/// never faults and changes no memory, so any address is fine. Used where
/// the next writes would otherwise each wait for the line to come back from
/// the core that touched it last. The instruction is PREFETCHW where the
/// build targets CPUs that have it (the `prfchw` target feature), PREFETCHT0
/// (a fetch for reading) otherwise, the default build.
#[inline]
pub(crate) fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it does not fault on any address and
    // does not change memory.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_ET0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Blocks while `word == expected`, at most until `deadline`; may return early.
#[cfg(not(loom))]
pub(crate) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Instant>) {
    let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    if timeout == Some(Duration::ZERO) {
        return;
    }
    crate::platform::futex_wait(word, expected, timeout);
}

/// Wakes every waiter on `word`.
#[cfg(not(loom))]
pub(crate) fn wake_all(word: &AtomicU32) {
    crate::platform::futex_wake_all(word);
}

/// Lets another runnable thread go first.
#[cfg(not(loom))]
pub(crate) fn yield_now() {
    crate::platform::yield_now();
}

#[cfg(loom)]
pub(crate) use model::{wait, wake_all, yield_now};

/// How long a waiter spins (checking after every pause) before sleeping:
/// long enough to catch a peer that answers within microseconds, short
/// enough not to matter when idle.
const SPIN_TIME: Duration = Duration::from_micros(20);
/// While spinning, the waiter yields the CPU this often: on a core of its
/// own a yield returns at once, but a peer sharing the core (two processes
/// `taskset` to one CPU) needs it to run at all. Rare yields, then a futex
/// sleep, also keep an unrelated process on our core from stealing whole
/// time slices from us (a futex wake-up is scheduled sooner than a yielder).
const YIELD_EVERY: Duration = Duration::from_micros(2);

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

/// Bit of `waiters` set by a futex sleeper.
const SLEEPER: u32 = 1;
/// Bit of `waiters` set by an armed doorbell (`crate::bells`).
const FD_WAITER: u32 = 2;

impl Event<'_> {
    /// Wakes every sleeper and rings every armed doorbell, if any. Call
    /// after the state change that they wait for has been stored.
    pub(crate) fn notify(&self) {
        // SeqCst fence between the caller's store of the new state and the
        // load of `waiters`; pairs with the SeqCst fence in `wait` (and in
        // `arm_fd`) between the store to `waiters` and the check of the
        // condition (store buffering: at least one side sees the other's
        // store).
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::Relaxed) != 0 {
            // Acquire: pairs with the Release `fetch_or` of `arm_fd`, so
            // that the armed slots it covers are visible to `ring_event`.
            let w = self.waiters.swap(0, Ordering::Acquire);
            if w & SLEEPER != 0 {
                // Release: pairs with the Acquire load of `notify` in `wait`.
                self.notify.fetch_add(1, Ordering::Release);
                wake_all(self.notify);
            }
            if w & FD_WAITER != 0 {
                ring_event(self.notify);
            }
        }
    }

    /// Wakes every sleeper unconditionally (closing, shutting down), and
    /// rings every armed doorbell.
    pub(crate) fn notify_all(&self) {
        // Release: pairs with the Acquire load of `notify` in `wait`.
        self.notify.fetch_add(1, Ordering::Release);
        wake_all(self.notify);
        // SeqCst: as the fence in `notify`.
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::Relaxed) & FD_WAITER != 0 {
            // Acquire: as in `notify`. Sleepers' bit goes too: they were
            // all woken above.
            self.waiters.swap(0, Ordering::Acquire);
            ring_event(self.notify);
        }
    }

    /// Marks a doorbell armed on this word (after storing its slot): the
    /// next `notify` rings it. The caller then checks the condition, which
    /// the SeqCst fence here orders after the mark (see `notify`).
    pub(crate) fn arm_fd(&self) {
        // Release: the armed slot stored before is visible to a notifier
        // whose Acquire swap sees this bit.
        self.waiters.fetch_or(FD_WAITER, Ordering::Release);
        fence(Ordering::SeqCst);
    }

    /// Waits until `ready()` holds or `deadline` passes: with `spin`, spins
    /// briefly, then yields (so a peer sharing this core can run); then
    /// sleeps on the futex. Returns the last value of `ready()`.
    ///
    /// Callers pass `spin = false` when they are idle (their last wait timed
    /// out), so a blocked waiter that wakes up periodically costs nothing.
    pub(crate) fn wait(
        &self,
        ready: impl FnMut() -> bool,
        deadline: Option<Instant>,
        spin: bool,
    ) -> bool {
        self.wait_slept(ready, deadline, spin).0
    }

    /// As [`wait`](Self::wait), also returning how long it slept on the
    /// futex before `ready()` held (`None`: it did not sleep, or under loom),
    /// for callers that decide from it whether spinning pays.
    pub(crate) fn wait_slept(
        &self,
        mut ready: impl FnMut() -> bool,
        deadline: Option<Instant>,
        spin: bool,
    ) -> (bool, Option<Duration>) {
        // Under loom the spin (timed by the clock) is left out: a model's
        // runs must not depend on time.
        if spin && !cfg!(loom) {
            let start = Instant::now();
            if deadline.is_some_and(|d| start >= d) {
                return (ready(), None);
            }
            let spin_until = start + SPIN_TIME;
            let until = deadline.map_or(spin_until, |d| d.min(spin_until));
            let mut next_yield = start + YIELD_EVERY;
            let mut i = 0u32;
            loop {
                if ready() {
                    return (true, None);
                }
                spin_hint();
                i = i.wrapping_add(1);
                if i % 32 == 0 {
                    let now = Instant::now();
                    if now >= until {
                        break;
                    }
                    if now >= next_yield {
                        yield_now();
                        next_yield = now + YIELD_EVERY;
                    }
                }
            }
        }
        // When the first futex wait began (read only on the way to sleep).
        let mut asleep: Option<Instant> = None;
        loop {
            // Acquire: pairs with the Release increment in `notify`.
            let seen = self.notify.load(Ordering::Acquire);
            // An RMW, not a store: an armed doorbell's bit must survive.
            self.waiters.fetch_or(SLEEPER, Ordering::Relaxed);
            // SeqCst fence: pairs with the one in `notify` (see there).
            fence(Ordering::SeqCst);
            if ready() {
                return (true, asleep.map(|t| t.elapsed()));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return (false, asleep.map(|t| t.elapsed()));
            }
            if asleep.is_none() && !cfg!(loom) {
                asleep = Some(Instant::now());
            }
            wait(self.notify, seen, deadline);
        }
    }
}

/// The address of a shared-memory word (to name it: `crate::bells` keys
/// its slots by the file position of a `notify` word).
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn addr_of(word: &AtomicU32) -> *const u8 {
    (word as *const AtomicU32).cast()
}

/// Rings the doorbells armed on `notify` (see `crate::bells`).
#[cfg(not(loom))]
fn ring_event(notify: &AtomicU32) {
    crate::bells::ring_event(notify);
}

/// Under loom the ring is recorded for the models (`loom_bells.rs`).
#[cfg(loom)]
fn ring_event(notify: &AtomicU32) {
    model::ring(notify);
}

/// `true` if process `pid` exists and is not a zombie.
#[cfg(not(loom))]
pub(crate) fn pid_alive(pid: u32) -> bool {
    crate::platform::pid_alive(pid)
}

/// This process's pid.
#[cfg(not(loom))]
pub(crate) fn pid() -> u32 {
    crate::platform::pid()
}

/// This process's identity as one nonzero word: `pid << 32 | start time`
/// (low 32 bits of the start time in clock ticks), which a later process
/// that reuses the pid does not share.
#[cfg(not(loom))]
pub(crate) fn process_token() -> u64 {
    crate::platform::process_token()
}

/// `true` if the process of a [`process_token`] is still alive.
#[cfg(not(loom))]
pub(crate) fn token_alive(token: u64) -> bool {
    crate::platform::token_alive(token)
}

#[cfg(loom)]
pub(crate) use model::{pid, pid_alive, process_token, token_alive};
