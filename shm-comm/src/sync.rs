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
