//! `QuickLock`: the lock of the per-message objects (publisher, subscriber,
//! sample, loan).
//!
//! Every section it guards is short and never blocks, waits or runs Python
//! code, so it needs no futex: taking it is one compare-and-swap and leaving
//! it one plain store, where `std::sync::Mutex` leaves with a swap (it must
//! learn whether to wake a waiter). On this class of machine an atomic
//! read-modify-write costs about 5 ns, and a loan or borrow from Python takes
//! several of these locks. A thread that finds it taken waits with the GIL
//! released, yielding its CPU, until the holder leaves.

use std::cell::UnsafeCell;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::Python;

pub(crate) struct QuickLock<T> {
    held: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through a guard, and at most one guard
// exists at a time (`held`), so sharing the lock shares `T` between threads
// one at a time: `T: Send` is enough, as for `std::sync::Mutex`.
unsafe impl<T: Send> Sync for QuickLock<T> {}

pub(crate) struct QuickGuard<'a, T> {
    lock: &'a QuickLock<T>,
    /// Makes the guard `Send`/`Sync` only as a `&mut T` would be (a shared
    /// guard hands out `&T`).
    _t: PhantomData<&'a mut T>,
}

impl<T> QuickLock<T> {
    pub(crate) const fn new(value: T) -> Self {
        QuickLock {
            held: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    pub(crate) fn try_lock(&self) -> Option<QuickGuard<'_, T>> {
        // Acquire pairs with the Release store in `QuickGuard::drop`: the
        // previous holder's writes to the value are visible to us.
        self.held
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|_| QuickGuard {
                lock: self,
                _t: PhantomData,
            })
    }

    /// Takes the lock; called with the GIL held, it waits (rarely) with the
    /// GIL released, so the holder can go on even if it needs the GIL.
    pub(crate) fn lock(&self, py: Python<'_>) -> QuickGuard<'_, T> {
        if let Some(g) = self.try_lock() {
            return g;
        }
        let held = &self.held;
        loop {
            // Relaxed: only a hint; the compare-and-swap in `try_lock` orders.
            py.detach(|| {
                while held.load(Ordering::Relaxed) {
                    std::thread::yield_now();
                }
            });
            if let Some(g) = self.try_lock() {
                return g;
            }
        }
    }

    /// Takes the lock from a thread that does not hold the GIL.
    pub(crate) fn lock_detached(&self) -> QuickGuard<'_, T> {
        loop {
            if let Some(g) = self.try_lock() {
                return g;
            }
            std::thread::yield_now();
        }
    }

    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }
}

impl<T> Deref for QuickGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard is the only one (`held` was false -> true), so
        // no `&mut T` exists elsewhere.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for QuickGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this borrow unique.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for QuickGuard<'_, T> {
    fn drop(&mut self) {
        // Release pairs with the Acquire compare-and-swap in `try_lock`: our
        // writes to the value happen before the next holder's reads.
        self.lock.held.store(false, Ordering::Release);
    }
}
