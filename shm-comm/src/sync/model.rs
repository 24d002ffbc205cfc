//! The door under `--cfg loom`: what the models in `tests/loom_*.rs` run on.
//!
//! - **Memory.** A model makes its region with [`Memory::new`], wraps
//!   [`Memory::base`] in a `Region` and hands it to `Ring::init`,
//!   `Queue::init`, `Mailbox::at` as it would a mapping. The bytes behind `base` are never touched: each word
//!   the protocol reaches through [`u32_at`]/[`u64_at`] (found by address)
//!   is a loom atomic holding 0 at first (the region is zero-filled). They
//!   are all made by `Memory::new`, one per 4 bytes and one per 8 (loom
//!   reports an atomic made in one thread and read in another without
//!   ordering), so keep model regions small. A word keeps the width it was
//!   first used with; using it with the other width panics (the protocols
//!   never mix widths).
//! - **SeqCst.** Loom treats SeqCst loads and stores as AcqRel (its README,
//!   "Unsupported features"), which would report every Dekker handshake
//!   (store one word, load another, both SeqCst) as broken. Here a SeqCst
//!   store (and a SeqCst read-modify-write) is followed by a SeqCst fence,
//!   which loom models: what x86 executes (the store is an `xchg`, a full
//!   barrier; the SeqCst load a plain load). A SeqCst store then SeqCst
//!   load is thus never reordered, as in C++. Limits: weakening a SeqCst
//!   *load* after a SeqCst store to Acquire is not caught (the store's
//!   fence still orders it), and the fence also orders the thread's
//!   relaxed accesses after the store, which C++ does not promise.
//! - **Futex.** [`wait`] checks the word and sleeps under one loom mutex and
//!   condition variable per model run, [`wake_all`] wakes under the same
//!   mutex: the futex's "check and sleep" is atomic with respect to
//!   wake-ups, as in the kernel. A waiter that is never woken deadlocks the
//!   model, which loom reports. A timed wait returns at once (a futex wait
//!   may return early): models pass no deadline, or accept early returns.
//! - **Processes.** Each model thread is a process: [`set_identity`] gives
//!   it a token (`pid << 32 | start`), [`kill`] marks a token dead (call it
//!   as the dying thread's last act). `process_token`, `pid`, `token_alive`
//!   and `pid_alive` answer from these.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::time::Instant;

/// SeqCst read-modify-writes made visible to loom: see the module docs.
fn before(order: Ordering) {
    if order == Ordering::SeqCst {
        loom::sync::atomic::fence(Ordering::SeqCst);
    }
}

fn after(order: Ordering) {
    if order == Ordering::SeqCst {
        loom::sync::atomic::fence(Ordering::SeqCst);
    }
}

/// A fence, as `std::sync::atomic::fence`.
pub fn fence(order: Ordering) {
    loom::sync::atomic::fence(order);
}

macro_rules! atomic {
    ($name:ident, $t:ty) => {
        /// The loom atomic behind one word (see the module docs for SeqCst).
        #[derive(Debug)]
        pub struct $name(loom::sync::atomic::$name);

        impl $name {
            /// A new atomic.
            pub fn new(v: $t) -> Self {
                Self(loom::sync::atomic::$name::new(v))
            }
            /// As the std method.
            pub fn load(&self, order: Ordering) -> $t {
                self.0.load(order)
            }
            /// As the std method.
            pub fn store(&self, v: $t, order: Ordering) {
                self.0.store(v, order);
                after(order);
            }
            /// As the std method.
            pub fn swap(&self, v: $t, order: Ordering) -> $t {
                before(order);
                let r = self.0.swap(v, order);
                after(order);
                r
            }
            /// As the std method.
            pub fn fetch_add(&self, v: $t, order: Ordering) -> $t {
                before(order);
                let r = self.0.fetch_add(v, order);
                after(order);
                r
            }
            /// As the std method.
            pub fn fetch_or(&self, v: $t, order: Ordering) -> $t {
                before(order);
                let r = self.0.fetch_or(v, order);
                after(order);
                r
            }
            /// As the std method.
            pub fn fetch_sub(&self, v: $t, order: Ordering) -> $t {
                before(order);
                let r = self.0.fetch_sub(v, order);
                after(order);
                r
            }
            /// As the std method.
            pub fn compare_exchange(
                &self,
                current: $t,
                new: $t,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$t, $t> {
                before(success);
                let r = self.0.compare_exchange(current, new, success, failure);
                after(success);
                r
            }
        }
    };
}

atomic!(AtomicU32, u32);
atomic!(AtomicU64, u64);

/// The width a word of a model region was first used with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Width {
    U32,
    U64,
}

#[derive(Debug)]
struct Inner {
    /// Addresses only: never read or written.
    bytes: Box<[u64]>,
    /// Offset of `base` in `bytes`, in bytes.
    skew: usize,
    /// Bytes from `base` on.
    len: usize,
    u32s: Box<[AtomicU32]>,
    u64s: Box<[AtomicU64]>,
    widths: std::sync::Mutex<HashMap<usize, Width>>,
}

/// Model regions alive now, by start address: `start -> (len, inner)`.
static REGIONS: std::sync::Mutex<BTreeMap<usize, (usize, usize)>> =
    std::sync::Mutex::new(BTreeMap::new());

/// A region of shared memory in a model: give [`base`](Self::base) to the
/// code under test as it would get a mapping. Make it inside the model
/// closure (its words are loom objects of that run); it must outlive every
/// use of the ring, queue or mailbox in it.
#[derive(Debug)]
pub struct Memory {
    inner: Box<Inner>,
}

impl Memory {
    /// A zero-filled region of `len` bytes, 64-aligned.
    pub fn new(len: usize) -> Memory {
        let len = len.div_ceil(8) * 8;
        let bytes = vec![0u64; len / 8 + 8].into_boxed_slice();
        let p = bytes.as_ptr() as usize;
        let skew = p.div_ceil(64) * 64 - p;
        let inner = Box::new(Inner {
            bytes,
            skew,
            len,
            u32s: (0..len / 4).map(|_| AtomicU32::new(0)).collect(),
            u64s: (0..len / 8).map(|_| AtomicU64::new(0)).collect(),
            widths: std::sync::Mutex::new(HashMap::new()),
        });
        REGIONS
            .lock()
            .unwrap()
            .insert(p + skew, (len, &*inner as *const Inner as usize));
        Memory { inner }
    }

    /// The region's first byte (64-aligned).
    pub fn base(&self) -> *mut u8 {
        (self.inner.bytes.as_ptr() as usize + self.inner.skew) as *mut u8
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        REGIONS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(self.base() as usize));
    }
}

/// The region holding `p` and the offset of `p` in it, after checking
/// that the word at `p` is used with one width only.
fn word<'a>(p: *mut u8, width: Width) -> (&'a Inner, usize) {
    let addr = p as usize;
    let (start, inner) = {
        let regions = REGIONS.lock().unwrap_or_else(|e| e.into_inner());
        let (&start, &(_, inner)) = regions
            .range(..=addr)
            .next_back()
            .filter(|(&start, &(len, _))| addr < start + len)
            .unwrap_or_else(|| panic!("{p:?} is in no model region (`Memory`)"));
        (start, inner)
    };
    // SAFETY: `inner` is the `Inner` of a live `Memory` (it unregisters on
    // drop, and the caller's contract says the region outlives this use).
    let inner = unsafe { &*(inner as *const Inner) };
    let off = addr - start;
    let first = *inner
        .widths
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(off)
        .or_insert(width);
    assert!(
        first == width,
        "word at offset {off} used as {first:?} and as {width:?}"
    );
    (inner, off)
}

/// The `u32` word at `p` (in a [`Memory`]).
///
/// # Safety
/// `p` is 4-aligned and inside a live [`Memory`] that outlives `'a`.
pub unsafe fn u32_at<'a>(p: *mut u8) -> &'a AtomicU32 {
    assert!(p as usize % 4 == 0, "unaligned u32 word {p:?}");
    let (inner, off) = word(p, Width::U32);
    assert!(off + 4 <= inner.len);
    &inner.u32s[off / 4]
}

/// The `u64` word at `p` (in a [`Memory`]).
///
/// # Safety
/// `p` is 8-aligned and inside a live [`Memory`] that outlives `'a`.
pub unsafe fn u64_at<'a>(p: *mut u8) -> &'a AtomicU64 {
    assert!(p as usize % 8 == 0, "unaligned u64 word {p:?}");
    let (inner, off) = word(p, Width::U64);
    assert!(off + 8 <= inner.len);
    &inner.u64s[off / 8]
}

struct Futex {
    lock: loom::sync::Mutex<()>,
    woken: loom::sync::Condvar,
}

loom::lazy_static! {
    static ref FUTEX: Futex = Futex {
        lock: loom::sync::Mutex::new(()),
        woken: loom::sync::Condvar::new(),
    };
    static ref DEAD: std::sync::Mutex<Vec<u64>> = std::sync::Mutex::new(Vec::new());
}

loom::thread_local! {
    static ME: std::cell::Cell<u64> = std::cell::Cell::new(1 << 32 | 1);
}

/// Futex wait: sleeps while `word == expected`. A timed wait returns at
/// once (see the module docs).
pub fn wait(word: &AtomicU32, expected: u32, deadline: Option<Instant>) {
    if deadline.is_some() {
        loom::thread::yield_now();
        return;
    }
    let f = &*FUTEX;
    let guard = f.lock.lock().unwrap_or_else(|e| e.into_inner());
    // Relaxed: the kernel reads the word after a full barrier, under the
    // lock that `wake_all` takes too; the mutex gives the same order here.
    if word.0.load(Ordering::Relaxed) == expected {
        drop(f.woken.wait(guard).unwrap());
    }
}

/// Futex wake of every waiter (of any word: a futex wait may end early).
pub fn wake_all(_word: &AtomicU32) {
    let f = &*FUTEX;
    let guard = f.lock.lock().unwrap_or_else(|e| e.into_inner());
    f.woken.notify_all();
    drop(guard);
}

/// Lets another thread run.
pub fn yield_now() {
    loom::thread::yield_now();
}

/// Makes the calling model thread the process `token` (`pid << 32 | start`).
pub fn set_identity(token: u64) {
    assert!(token >> 32 != 0, "a token names a nonzero pid");
    ME.with(|me| me.set(token));
}

/// Marks process `token` dead (as if killed): call it as the last act of
/// the thread that plays it.
pub fn kill(token: u64) {
    DEAD.lock().unwrap_or_else(|e| e.into_inner()).push(token);
}

/// The calling thread's token (see [`set_identity`]).
pub fn process_token() -> u64 {
    ME.with(|me| me.get())
}

/// The calling thread's pid.
pub fn pid() -> u32 {
    (process_token() >> 32) as u32
}

/// `false` once [`kill`] named `token`.
pub fn token_alive(token: u64) -> bool {
    !DEAD
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(&token)
}

/// `false` once [`kill`] named a token of `pid`.
pub fn pid_alive(pid: u32) -> bool {
    !DEAD
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|t| (t >> 32) as u32 == pid)
}

std::thread_local! {
    /// The doorbells rung under the model: the address of each `notify` word
    /// that `sync::Event` rang armed doorbells on. Recording is outside the
    /// protocol: loom runs a model's threads on the OS thread of the test
    /// that runs the model, so a thread-local list is the model's own (a
    /// static one was shared by the tests that cargo runs in parallel, and
    /// one test's [`take_rings`] could empty another's list mid-run).
    /// [`take_rings`] empties it at the start of each run.
    static RINGS: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Records a ring of the doorbells armed on `notify` (`sync::ring_event`
/// under loom).
pub(crate) fn ring(notify: &AtomicU32) {
    RINGS.with(|r| r.borrow_mut().push(notify as *const AtomicU32 as usize));
}

/// The rings recorded since the last call (on this thread: in this
/// model), by `notify` word address.
pub fn take_rings() -> Vec<usize> {
    RINGS.with(|r| std::mem::take(&mut *r.borrow_mut()))
}

/// `sync::Event::arm_fd` on the pair `notify`/`waiters`: marks a doorbell
/// armed (the caller then checks its condition).
pub fn event_arm_fd(notify: &AtomicU32, waiters: &AtomicU32) {
    super::Event { notify, waiters }.arm_fd();
}

/// `sync::Event::notify` on the pair `notify`/`waiters` (for the models).
pub fn event_notify(notify: &AtomicU32, waiters: &AtomicU32) {
    super::Event { notify, waiters }.notify();
}

/// `sync::Event::notify_all` on the pair `notify`/`waiters`.
pub fn event_notify_all(notify: &AtomicU32, waiters: &AtomicU32) {
    super::Event { notify, waiters }.notify_all();
}

/// `sync::Event::wait` with no deadline and no spin: returns once `ready()`
/// holds (or deadlocks the model if never woken).
pub fn event_wait(notify: &AtomicU32, waiters: &AtomicU32, ready: impl FnMut() -> bool) -> bool {
    super::Event { notify, waiters }.wait(ready, None, false)
}

/// The ring's payload copy into shared memory (word by word under loom).
///
/// # Safety
/// As `region::copy_in`: `dst` is 8-aligned in a [`Memory`], with room for
/// `src.len()` rounded up to 8.
pub unsafe fn copy_in(src: &[u8], dst: *mut u8) {
    // SAFETY: forwarded from the caller.
    unsafe { crate::region::copy_in(src, dst) }
}

/// The ring's payload copy out of shared memory (word by word under loom).
///
/// # Safety
/// As `region::copy_out`: `src` is 8-aligned in a [`Memory`], valid for `len`
/// rounded up to 8; `dst` is valid for `len` writes.
pub unsafe fn copy_out(src: *const u8, dst: *mut u8, len: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { crate::region::copy_out(src, dst, len) }
}
