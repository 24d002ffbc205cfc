//! Thin wrappers over the system calls the harness needs: CPU affinity, the
//! monotonic clock (comparable across processes) and a raw POSIX shared-memory
//! file for the hardware-floor scenarios.

use std::ffi::CString;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// The CPUs this process may run on, in increasing order.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: `cpu_set_t` is a plain bit array; all-zero is a valid (empty) set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable `cpu_set_t` of the size we pass.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu < CPU_SETSIZE`, the number of bits in `set`.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Pins the calling thread (and the threads it spawns later) to `cpu`.
pub fn pin_to(cpu: usize) -> io::Result<()> {
    pin_to_set(&[cpu])
}

/// Lets the calling thread (and the threads it spawns later) run on any of
/// `cpus`, and on no other.
pub fn pin_to_set(cpus: &[usize]) -> io::Result<()> {
    if cpus.is_empty() || cpus.iter().any(|&c| c >= libc::CPU_SETSIZE as usize) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cpu out of range",
        ));
    }
    // SAFETY: all-zero is a valid, empty `cpu_set_t`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        // SAFETY: `cpu < CPU_SETSIZE` (checked above), so the bit is inside `set`.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: `set` is a valid `cpu_set_t` of the size we pass; pid 0 is the
    // calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// CPU time used so far by this process, by its reaped children and by the
/// other processes of the machine.
#[derive(Clone, Debug)]
pub struct Usage {
    /// This process (all threads), user + system.
    pub own: Duration,
    /// Children that have been waited for, user + system.
    pub children: Duration,
    /// Every other process of the machine, if `/proc` is readable.
    pub others: Option<Others>,
}

fn rusage(who: libc::c_int) -> Duration {
    // SAFETY: all-zero is a valid `rusage`.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable rusage; `who` is RUSAGE_SELF or
    // RUSAGE_CHILDREN.
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// CPU time used so far by every other process of the machine (kernel
/// threads included): all of `/proc` but this process and its children, in
/// clock ticks, keyed by pid and start time.
fn others_ticks() -> Option<std::collections::HashMap<(u32, u64), u64>> {
    let me = std::process::id();
    let mut ticks = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        // Gone already, or not readable: skip it.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`: comm may hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
        // Fields 4 (ppid), 14 (utime), 15 (stime) and 22 (starttime) of
        // proc(5); `f[0]` is field 3.
        let (Some(ppid), Some(utime), Some(stime), Some(start)) =
            (num(1), num(11), num(12), num(19))
        else {
            continue;
        };
        if ppid != u64::from(me) {
            ticks.insert((pid, start), utime + stime);
        }
    }
    Some(ticks)
}

/// A snapshot of the CPU time of the other processes of the machine (see
/// [`Usage::others_since`]).
#[derive(Clone, Debug)]
pub struct Others(std::collections::HashMap<(u32, u64), u64>);

/// CPU time used so far (see [`Usage`]).
pub fn usage() -> Usage {
    Usage {
        own: rusage(libc::RUSAGE_SELF),
        children: rusage(libc::RUSAGE_CHILDREN),
        others: others_ticks().map(Others),
    }
}

impl Usage {
    /// CPU time that the other processes of the machine (not this one nor
    /// its children) used between `self` and `later`, if known. Clock-tick
    /// resolution (10 ms here); a process that ended in between is missed.
    pub fn others_since(&self, later: &Usage) -> Option<Duration> {
        let (Some(Others(before)), Some(Others(after))) = (&self.others, &later.others) else {
            return None;
        };
        let ticks: u64 = after
            .iter()
            .map(|(k, &t)| t.saturating_sub(before.get(k).copied().unwrap_or(0)))
            .sum();
        // SAFETY: sysconf only reads a configuration value.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        (hz > 0).then(|| Duration::from_secs_f64(ticks as f64 / hz as f64))
    }
}

/// Set by SIGINT or SIGTERM once [`catch_interrupts`] is installed.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_signal: libc::c_int) {
    // Relaxed: a lone flag (and all an async signal handler may do); pairs
    // with the Relaxed load in `interrupted`.
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// In the parent: turns SIGINT and SIGTERM into [`interrupted`], so that a
/// run stopped with Ctrl-C still tears its scenario down (and its segments).
pub fn catch_interrupts() {
    let handler: extern "C" fn(libc::c_int) = on_interrupt;
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe.
        unsafe { libc::signal(sig, handler as libc::sighandler_t) };
    }
}

/// In the peer: ignores SIGINT (Ctrl-C reaches the whole process group); the
/// peer stops when its parent closes its stdin, after removing its segments.
pub fn ignore_interrupts() {
    // SAFETY: SIG_IGN is always a valid disposition for SIGINT.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
}

/// `true` once SIGINT or SIGTERM arrived (see [`catch_interrupts`]).
pub fn interrupted() -> bool {
    // Relaxed: pairs with the Relaxed store in `on_interrupt`.
    INTERRUPTED.load(Ordering::Relaxed)
}

/// `CLOCK_MONOTONIC` in nanoseconds: the same clock in every process, so a
/// timestamp taken in one process can be compared with one taken in another.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A POSIX shared-memory file mapped read-write, accessed only through
/// `AtomicU64` words. The creator unlinks the file when dropped (or earlier,
/// with [`RawShm::unlink`], once the peer has mapped it).
#[derive(Debug)]
pub struct RawShm {
    name: CString,
    ptr: *mut u8,
    len: usize,
    /// `true` while this handle is responsible for unlinking the file.
    owns_name: bool,
}

impl RawShm {
    /// Creates (exclusively) and maps a zero-filled file of `len` bytes.
    /// `name` must look like `/something` without further slashes.
    pub fn create(name: &str, len: usize) -> io::Result<RawShm> {
        let cname =
            CString::new(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: `cname` is a valid NUL-terminated string; the flags and
        // mode are plain integers.
        let fd = unsafe {
            libc::shm_open(
                cname.as_ptr(),
                libc::O_CREAT | libc::O_EXCL | libc::O_RDWR | libc::O_CLOEXEC,
                0o600 as libc::mode_t,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // From here on the guard unlinks the file whatever happens.
        let mut shm = RawShm {
            name: cname,
            ptr: std::ptr::null_mut(),
            len: 0,
            owns_name: true,
        };
        // SAFETY: `fd` is the descriptor we just opened.
        let rc = unsafe { libc::ftruncate(fd, len as libc::off_t) };
        let result = if rc != 0 {
            Err(io::Error::last_os_error())
        } else {
            map(fd, len)
        };
        // SAFETY: `fd` is ours and no longer needed (the mapping keeps the
        // memory alive).
        unsafe { libc::close(fd) };
        shm.ptr = result?;
        shm.len = len;
        Ok(shm)
    }

    /// Opens and maps the file another process created, checking that it has
    /// `len` bytes.
    pub fn open(name: &str, len: usize) -> io::Result<RawShm> {
        let cname =
            CString::new(name).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: `cname` is a valid NUL-terminated string.
        let fd = unsafe { libc::shm_open(cname.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: all-zero is a valid `stat`, and `fd` is open.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `fd` is open and `st` is writable.
        let result = if unsafe { libc::fstat(fd, &mut st) } != 0 {
            Err(io::Error::last_os_error())
        } else if st.st_size as u64 != len as u64 {
            Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{name} has {} bytes, {len} expected", st.st_size),
            ))
        } else {
            map(fd, len)
        };
        // SAFETY: `fd` is ours; the mapping (if any) outlives it.
        unsafe { libc::close(fd) };
        Ok(RawShm {
            name: cname,
            ptr: result?,
            len,
            owns_name: false,
        })
    }

    /// Removes the file's name (the mappings stay valid). Idempotent.
    pub fn unlink(&mut self) {
        if self.owns_name {
            self.owns_name = false;
            // SAFETY: `name` is a valid NUL-terminated string.
            unsafe { libc::shm_unlink(self.name.as_ptr()) };
        }
    }

    /// The 8-byte word at byte offset `off`.
    ///
    /// # Panics
    /// If `off` is not 8-aligned or the word lies outside the mapping.
    pub fn base(&self) -> *mut u8 {
        self.ptr
    }

    /// The `u64` at byte `off`, as an atomic.
    pub fn u64_at(&self, off: usize) -> &AtomicU64 {
        assert!(off % 8 == 0 && off + 8 <= self.len, "bad offset {off}");
        // SAFETY: the word is inside the mapping (checked above), 8-aligned
        // (the mapping is page-aligned and `off % 8 == 0`), lives as long as
        // `self`, and every process accesses it only atomically.
        unsafe { AtomicU64::from_ptr(self.ptr.add(off).cast()) }
    }
}

fn map(fd: libc::c_int, len: usize) -> io::Result<*mut u8> {
    // SAFETY: a fresh shared mapping of an open descriptor; the kernel picks
    // the address, so nothing existing is overwritten.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        Err(io::Error::last_os_error())
    } else {
        Ok(p.cast())
    }
}

impl Drop for RawShm {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            // SAFETY: `ptr`/`len` is our mapping; every `&AtomicU64` handed
            // out borrows `self`, so none outlives it.
            unsafe { libc::munmap(self.ptr.cast(), self.len) };
        }
        self.unlink();
    }
}
