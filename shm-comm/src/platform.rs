//! The only module that makes system calls: segment files, `flock`,
//! `fallocate`, futex, `mprotect` of part of a mapping, and reading process
//! identities from `/proc`. Linux only. Mapping a segment is `memmap2`'s
//! job, called from here only ([`Mapping`]); what it cannot do (protect
//! part of a mapping) stays here, over `libc`.

// Under loom, `sync` models the futex and process identities instead.
#![cfg_attr(loom, allow(dead_code))]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;
use std::sync::OnceLock;
use std::time::Duration;

/// Where segments live unless `SHM_COMM_DIR` names another directory.
pub const DEFAULT_DIR: &str = "/dev/shm";

/// The directory of every segment: `SHM_COMM_DIR` if set (read once, at
/// first use), else [`DEFAULT_DIR`]. A tmpfs of its own serves containers
/// and tests that simulate several hosts or a full disk on one machine.
pub fn shm_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        std::env::var_os("SHM_COMM_DIR")
            .filter(|d| !d.is_empty())
            .map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from)
    })
}

fn cpath(name: &str) -> io::Result<CString> {
    if name.is_empty() || name.contains('/') {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    CString::new(shm_dir().join(name).into_os_string().into_vec())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn open_raw(name: &str, flags: libc::c_int, mode: u32) -> io::Result<OwnedFd> {
    let c = cpath(name)?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    // O_NOFOLLOW: a symbolic link planted at a segment's path is refused
    // (ELOOP), never followed to a file of someone else's choosing.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            flags | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            mode as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by `open` and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Creates `name` in [`shm_dir`] exclusively (`O_CREAT | O_EXCL`), read-write
/// with exactly `mode`: fails with `AlreadyExists` if present.
pub fn shm_create_excl(name: &str, mode: u32) -> io::Result<OwnedFd> {
    let fd = open_raw(name, libc::O_CREAT | libc::O_EXCL | libc::O_RDWR, mode)?;
    // open applies the umask; make the mode exactly what was asked.
    // SAFETY: `fd` is a valid open descriptor.
    if unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// Opens an existing segment file read-write.
pub fn shm_open_existing(name: &str) -> io::Result<OwnedFd> {
    open_raw(name, libc::O_RDWR, 0)
}

/// Removes `name` from [`shm_dir`].
pub fn shm_unlink(name: &str) -> io::Result<()> {
    let c = cpath(name)?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    if unsafe { libc::unlink(c.as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What `fstat` says of an open file.
#[derive(Clone, Copy, Debug)]
pub struct FileStat {
    /// Size in bytes.
    pub len: u64,
    /// Inode number.
    pub inode: u64,
    /// Owner's user id.
    pub uid: u32,
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// `true` for a regular file.
    pub regular: bool,
}

/// `fstat` of an open file.
pub fn fstat(fd: &OwnedFd) -> io::Result<FileStat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `fd` is valid and `st` points to writable memory of the right size.
    if unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fstat succeeded, so it initialized `st`.
    let st = unsafe { st.assume_init() };
    Ok(FileStat {
        len: st.st_size as u64,
        inode: st.st_ino,
        uid: st.st_uid,
        mode: st.st_mode & 0o7777,
        regular: st.st_mode & libc::S_IFMT == libc::S_IFREG,
    })
}

/// `lstat` of the segment file `name` (a link is not followed): for saying
/// who owns a file that could not be opened.
pub fn stat_path(name: &str) -> io::Result<FileStat> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(shm_dir().join(name))?;
    Ok(FileStat {
        len: m.len(),
        inode: m.ino(),
        uid: m.uid(),
        mode: m.mode() & 0o7777,
        regular: m.file_type().is_file(),
    })
}

/// The inode that the segment file `name` refers to now, if any (a link
/// is not followed).
pub fn shm_inode(name: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(shm_dir().join(name))
        .ok()
        .map(|m| m.ino())
}

/// Gives an empty file `len` bytes of storage that are really there
/// (`fallocate`), so that writing them later cannot fail: on a sparse file
/// a full tmpfs would answer a write with SIGBUS. A size over the process's
/// `RLIMIT_FSIZE` is refused with `EFBIG` before asking (the kernel would
/// answer with SIGXFSZ, which kills). A file system without `fallocate`
/// gets a plain `ftruncate`.
pub fn reserve(fd: &OwnedFd, len: u64) -> io::Result<()> {
    let mut lim = std::mem::MaybeUninit::<libc::rlimit>::uninit();
    // SAFETY: `lim` points to writable memory of the right size.
    if unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, lim.as_mut_ptr()) } == 0 {
        // SAFETY: getrlimit succeeded, so it initialized `lim`.
        let cur = unsafe { lim.assume_init() }.rlim_cur;
        if cur != libc::RLIM_INFINITY && len > cur {
            return Err(io::Error::from_raw_os_error(libc::EFBIG));
        }
    }
    let off = libc::off_t::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
    loop {
        // SAFETY: `fd` is a valid open descriptor.
        if unsafe { libc::fallocate(fd.as_raw_fd(), 0, 0, off) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::EOPNOTSUPP) => break,
            _ => return Err(e),
        }
    }
    // SAFETY: `fd` is a valid open descriptor.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), off) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `flock(LOCK_EX)`, waiting at most `timeout`; `Ok(false)` on timeout.
///
/// The lock belongs to the open file description, which a mapping of the
/// file also references: release it with [`unlock`], not by closing.
pub fn lock_exclusive(fd: &OwnedFd, timeout: Duration) -> io::Result<bool> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        // SAFETY: `fd` is a valid open descriptor.
        if unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => {}
            _ => return Err(e),
        }
        if std::time::Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `flock(LOCK_UN)`.
pub fn unlock(fd: &OwnedFd) {
    // SAFETY: `fd` is a valid open descriptor.
    unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_UN) };
}

/// A shared, read-write mapping of a whole file, made by `memmap2`.
/// Unmapped on drop.
///
/// `MmapRaw` hands out raw pointers only, never a `&[u8]`: other
/// processes write this memory, so no Rust reference to it is made here.
#[derive(Debug)]
pub struct Mapping {
    map: memmap2::MmapRaw,
}

impl Mapping {
    /// Maps `len` bytes of `fd` shared and read-write. Callers pass a
    /// descriptor they created or checked (`fstat`: owner and mode) and a
    /// `len` no larger than the size they reserved or saw, so that no
    /// access inside the mapping falls past the file's end.
    pub fn map(fd: &OwnedFd, len: usize) -> io::Result<Mapping> {
        // memmap2 would make a one-byte mapping of a zero length; a
        // segment never has one, so it is refused as before.
        if len == 0 {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        // `map_raw` is `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
        // fd, 0)`: offset 0, so the mapping starts on a page boundary; with
        // the length given, memmap2 makes no `fstat` of its own.
        let map = memmap2::MmapOptions::new().len(len).map_raw(fd)?;
        let inode = fstat(fd)?.inode;
        let mapping = Mapping { map };
        maps().write().unwrap_or_else(|p| p.into_inner()).push((
            mapping.as_ptr() as usize,
            len,
            inode,
        ));
        bump_maps_generation();
        Ok(mapping)
    }

    /// Start of the mapping (page aligned).
    pub fn as_ptr(&self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Makes `len` bytes from `off` read-only in this mapping (this
    /// process's view only; other mappings of the file keep their rights).
    /// The range is shrunk inwards to whole pages (but for the mapping's
    /// last page, which a range to the end includes); out-of-range parts
    /// are ignored. Done here with `mprotect`: memmap2 changes the rights
    /// of a whole mapping only.
    pub fn protect_read_only(&self, off: usize, len: usize) -> io::Result<()> {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .ok()
            .filter(|&p| p.is_power_of_two())
            .unwrap_or(4096);
        let map_len = self.len();
        let start = off.div_ceil(page) * page;
        let end = off.saturating_add(len);
        // The mapping is made of whole pages: a range that reaches its end
        // takes the last (partly past the file's end) page too.
        let end = if end >= map_len {
            map_len.div_ceil(page) * page
        } else {
            end / page * page
        };
        if start >= end {
            return Ok(());
        }
        // SAFETY: `start..end` lies inside this live mapping (page aligned,
        // since the mapping itself is, and within its last page); removing
        // write access changes no memory. memmap2 only unmaps it on drop,
        // which works whatever the rights. Every write this process makes
        // there afterwards would fault: callers only protect what their
        // role never writes.
        if unsafe {
            libc::mprotect(
                self.as_ptr().add(start).cast(),
                end - start,
                libc::PROT_READ,
            )
        } != 0
        {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Never true (a mapping has at least one byte); for clippy's sake.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        let base = self.as_ptr() as usize;
        let mut m = maps().write().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = m.iter().position(|&(b, ..)| b == base) {
            m.swap_remove(i);
        }
        bump_maps_generation();
    }
}

/// Bumped whenever a [`Mapping`] is made or dropped: a cached
/// [`file_position`] of an address is still right while this is unchanged.
static MAPS_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The current generation of this process's mappings (see
/// [`file_position`]).
pub fn maps_generation() -> u64 {
    // Acquire: pairs with the Release increments below, made after the
    // registry changed.
    MAPS_GENERATION.load(std::sync::atomic::Ordering::Acquire)
}

fn bump_maps_generation() {
    // Release: pairs with the Acquire load in `maps_generation`.
    MAPS_GENERATION.fetch_add(1, std::sync::atomic::Ordering::Release);
}

/// Every live [`Mapping`] of this process: `(base, len, inode)`.
fn maps() -> &'static std::sync::RwLock<Vec<(usize, usize, u64)>> {
    static MAPS: std::sync::RwLock<Vec<(usize, usize, u64)>> = std::sync::RwLock::new(Vec::new());
    &MAPS
}

/// Where the byte at `p` is, in terms every process agrees on: the inode
/// of the segment file mapped there and the offset in it. `None` if `p` is
/// in no live [`Mapping`] (heap memory in tests).
pub fn file_position(p: *const u8) -> Option<(u64, u64)> {
    let p = p as usize;
    let m = maps().read().unwrap_or_else(|p| p.into_inner());
    m.iter()
        .find(|&&(base, len, _)| p >= base && p - base < len)
        .map(|&(base, _, inode)| (inode, (p - base) as u64))
}

/// A bound, non-blocking Unix datagram socket at `path`, readable only by
/// this user (mode 0600): a doorbell that other processes ring with
/// [`ring_doorbell`]. Fails with `AlreadyExists` if `path` exists.
pub fn bind_doorbell(path: &Path) -> io::Result<OwnedFd> {
    let addr = unix_addr(path)?;
    // SAFETY: socket has no memory preconditions.
    let fd = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: `addr` is a valid sockaddr_un of the given size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        let e = io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::EADDRINUSE) {
            io::Error::from(io::ErrorKind::AlreadyExists)
        } else {
            e
        });
    }
    use std::os::unix::fs::PermissionsExt;
    if let Err(e) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)) {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(fd)
}

fn unix_addr(path: &Path) -> io::Result<libc::sockaddr_un> {
    // SAFETY: all-zero is a valid sockaddr_un.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_encoded_bytes();
    if bytes.len() >= addr.sun_path.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "doorbell path too long for a Unix socket: {}",
                path.display()
            ),
        ));
    }
    for (d, &b) in addr.sun_path.iter_mut().zip(bytes) {
        *d = b as libc::c_char;
    }
    Ok(addr)
}

/// Rings the doorbell at `path` (one empty datagram, never blocking and
/// never raising SIGPIPE). A doorbell that is gone or full is not an
/// error: gone, nobody waits there; full, it is readable already.
pub fn ring_doorbell(path: &Path) {
    static SENDER: OnceLock<Option<OwnedFd>> = OnceLock::new();
    let sender = SENDER.get_or_init(|| {
        // SAFETY: socket has no memory preconditions.
        let fd = unsafe {
            libc::socket(
                libc::AF_UNIX,
                libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        // SAFETY: a new descriptor that nothing else owns.
        (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
    });
    let (Some(sender), Ok(addr)) = (sender, unix_addr(path)) else {
        return;
    };
    // SAFETY: an empty buffer; `addr` is a valid sockaddr_un of that size.
    unsafe {
        libc::sendto(
            sender.as_raw_fd(),
            std::ptr::null(),
            0,
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            (&addr as *const libc::sockaddr_un).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        )
    };
}

/// Takes every datagram waiting on doorbell `fd` (it is then no longer
/// readable until rung again); returns how many there were.
pub fn drain_doorbell(fd: &OwnedFd) -> usize {
    let mut n = 0;
    let mut buf = [0u8; 1];
    loop {
        // SAFETY: `buf` is valid for writes of its length.
        let r = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if r < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return n;
        }
        n += 1;
    }
}

/// `poll(2)` for readability on `fds`, at most `timeout` (forever if
/// `None`): which of them are readable (or hung up, or in error). An
/// interrupted wait (a signal) returns no fd.
pub fn poll_readable(
    fds: &[std::os::fd::RawFd],
    timeout: Option<Duration>,
) -> io::Result<Vec<bool>> {
    let mut pfd: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = timeout.map_or(-1, |t| {
        // Round up, so a short timeout does not become a busy poll of 0.
        i32::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX)
    });
    // SAFETY: `pfd` is a valid array of `pfd.len()` pollfds.
    let r = unsafe { libc::poll(pfd.as_mut_ptr(), pfd.len() as libc::nfds_t, ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(e);
    }
    Ok(pfd.iter().map(|p| p.revents != 0).collect())
}

/// Blocks while `*word == expected`, at most `timeout` (forever if `None`).
///
/// Returns on a wake-up, a value change, a timeout, a signal or spuriously:
/// callers re-check their condition. Works across processes (shared futex).
pub fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is a valid, aligned u32 for the duration of the call; the
    // kernel only reads it. `ts_ptr` is null or points to a live timespec.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            ts_ptr,
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// Wakes every process blocked in [`futex_wait`] on `word`.
pub fn futex_wake_all(word: &AtomicU32) {
    // SAFETY: `word` is a valid, aligned u32; FUTEX_WAKE does not access
    // memory other than looking up the futex by address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// `sched_yield`: lets another runnable thread on this core go first.
pub fn yield_now() {
    std::thread::yield_now();
}

/// This process's id.
pub fn pid() -> u32 {
    std::process::id()
}

/// The effective user id: the owner of the files this process creates, so
/// the one that must own every segment it trusts, and the one that names
/// this user's segment namespace.
pub fn uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// A process's start time in clock ticks since boot (`/proc/PID/stat` field 22),
/// which together with the pid identifies a process even after pid reuse.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces or ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // rest starts with field 3 (state); starttime is field 22.
    rest.split_ascii_whitespace().nth(19)?.parse().ok()
}

/// `true` if process `pid` is alive (not a zombie) and started at `start_time`.
pub fn process_alive(pid: u32, start_time: u64) -> bool {
    if pid == 0 {
        return false;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(close) = stat.rfind(')') else {
        return false;
    };
    let mut fields = stat[close + 1..].split_ascii_whitespace();
    let state = fields.next();
    if matches!(state, Some("Z") | Some("X") | Some("x")) {
        return false;
    }
    fields.nth(18).and_then(|s| s.parse::<u64>().ok()) == Some(start_time)
}

/// This process's identity as one nonzero word: `pid << 32 | start time`
/// (low 32 bits of the start time in clock ticks since boot). Computed once
/// per process (again after a fork, whose child has another pid).
pub fn process_token() -> u64 {
    // 0 until computed, and again in a forked child (which has another
    // pid): a borrow reads it with one load instead of a getpid system
    // call and a lock.
    static TOKEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    static AT_FORK: std::sync::Once = std::sync::Once::new();
    extern "C" fn forget_in_child() {
        TOKEN.store(0, std::sync::atomic::Ordering::Relaxed);
    }
    let t = TOKEN.load(std::sync::atomic::Ordering::Relaxed);
    if t != 0 {
        return t;
    }
    AT_FORK.call_once(|| {
        // SAFETY: registers a handler that only stores to a static atomic,
        // which is async-signal-safe as a fork child handler must be.
        unsafe { libc::pthread_atfork(None, None, Some(forget_in_child)) };
    });
    let pid = pid();
    let start = process_start_time(pid).unwrap_or(0);
    let t = u64::from(pid) << 32 | (start & 0xffff_ffff);
    TOKEN.store(t, std::sync::atomic::Ordering::Relaxed);
    t
}

/// `true` if the process of a [`process_token`] is alive: its pid exists,
/// is not a zombie, and started at the recorded time (low 32 bits).
pub fn token_alive(token: u64) -> bool {
    let pid = (token >> 32) as u32;
    process_start_time_alive(pid).is_some_and(|st| st & 0xffff_ffff == token & 0xffff_ffff)
}

/// The start time of `pid` if it is alive and not a zombie.
fn process_start_time_alive(pid: u32) -> Option<u64> {
    if pid == 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_ascii_whitespace();
    if matches!(fields.next(), Some("Z") | Some("X") | Some("x") | None) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

/// `true` if process `pid` exists and is not a zombie (start time not checked).
pub fn pid_alive(pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|c| stat[c + 1..].split_ascii_whitespace().next());
    !matches!(state, None | Some("Z") | Some("X") | Some("x"))
}

/// Names of the entries of [`shm_dir`] that start with `prefix`.
pub fn list_shm(prefix: &str) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(shm_dir()) else {
        return Vec::new();
    };
    let mut v: Vec<String> = rd
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(prefix))
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_a_wrong_start_time_is_not() {
        let st = process_start_time(pid()).unwrap();
        assert!(process_alive(pid(), st));
        assert!(!process_alive(pid(), st + 1));
        assert!(!process_alive(0, 0));
    }
}
