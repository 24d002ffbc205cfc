//! `shmc doctor`: what on this machine breaks shared memory.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use crate::rate::human_bytes;
use crate::{print_json, Fail, Res};

#[derive(Args, Debug)]
pub(crate) struct DoctorArgs {
    /// One JSON object per check.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Status {
    Ok,
    Warn,
    Fail,
}

/// The segment directory, as the library chooses it.
fn shm_dir() -> PathBuf {
    std::env::var_os("SHM_COMM_DIR").map_or_else(|| PathBuf::from("/dev/shm"), PathBuf::from)
}

/// `(total, free)` bytes of the file system holding `dir`.
fn space(dir: &std::path::Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a NUL-terminated path and `st` points to writable
    // memory for one `statvfs`, which the call fills when it returns 0.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `statvfs` returned 0, so it initialized `st`.
    let st = unsafe { st.assume_init() };
    // u64 on 64-bit Linux, the only target of shm-comm with 64-bit
    // pointers; `try_from` keeps it honest elsewhere.
    #[allow(clippy::useless_conversion)]
    let n = |v| u64::try_from(v).unwrap_or(u64::MAX);
    let (frag, blocks, avail) = (n(st.f_frsize), n(st.f_blocks), n(st.f_bavail));
    Ok((blocks.saturating_mul(frag), avail.saturating_mul(frag)))
}

/// The file system type of the mount that holds `dir` (longest prefix in
/// `/proc/self/mounts`).
fn fs_type(dir: &std::path::Path) -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    let dir = dir.canonicalize().ok()?;
    mounts
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let (_, at, ty) = (it.next()?, it.next()?, it.next()?);
            dir.starts_with(at).then(|| (at.len(), ty.to_owned()))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, t)| t)
}

/// A container's default `/dev/shm` is 64 MiB; a camera topic alone
/// (64 Full HD frames) needs hundreds.
const SMALL_SHM: u64 = 256 << 20;

pub(crate) fn doctor(a: &DoctorArgs) -> Res {
    let mut checks: Vec<(&str, Status, String)> = Vec::new();
    let dir = shm_dir();
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => {
            use std::os::unix::fs::PermissionsExt;
            let mode = m.permissions().mode() & 0o7777;
            let st = if mode & 0o1777 == 0o1777 || dir.as_path() != std::path::Path::new("/dev/shm")
            {
                Status::Ok
            } else {
                Status::Warn
            };
            checks.push((
                "directory",
                st,
                format!("{} mode {mode:04o}", dir.display()),
            ));
        }
        _ => checks.push((
            "directory",
            Status::Fail,
            format!("{} is missing or not a directory", dir.display()),
        )),
    }
    match fs_type(&dir) {
        Some(t) if t == "tmpfs" => checks.push(("filesystem", Status::Ok, "tmpfs".into())),
        Some(t) => checks.push((
            "filesystem",
            Status::Warn,
            format!("{t}, not tmpfs: segments may be written back to a disk"),
        )),
        None => checks.push(("filesystem", Status::Warn, "mount not found".into())),
    }
    match space(&dir) {
        Ok((total, free)) => {
            let st = if total < SMALL_SHM {
                Status::Warn
            } else {
                Status::Ok
            };
            let mut d = format!(
                "{} total, {} free",
                human_bytes(total as f64),
                human_bytes(free as f64)
            );
            if st == Status::Warn {
                d.push_str(
                    " (small: a container's default; `docker run --shm-size=1g` or `--ipc=host`)",
                );
            }
            checks.push(("space", st, d));
        }
        Err(e) => checks.push(("space", Status::Fail, format!("statvfs: {e}"))),
    }
    // Creating a channel exercises O_EXCL, mode 0600, fallocate, mmap,
    // flock and the futex wake of a publisher.
    let name = format!("shmc-doctor/{}", std::process::id());
    match shm_comm::pubsub::DynPublisher::create(&name) {
        Ok(mut p) => {
            let sent = p.send_bytes(b"doctor");
            let st = if sent.is_ok() {
                Status::Ok
            } else {
                Status::Fail
            };
            checks.push(("create", st, "made, wrote and removed a test topic".into()));
        }
        Err(e) => checks.push(("create", Status::Fail, e.to_string())),
    }
    let stale: Vec<String> = shm_comm::segment::list()
        .into_iter()
        .filter(|(n, r)| crate::clean::stale(n, r).is_some())
        .map(|(n, r)| format!("{n} ({r})"))
        .collect();
    checks.push(if stale.is_empty() {
        ("stale", Status::Ok, "no stale segments".into())
    } else {
        (
            "stale",
            Status::Warn,
            format!(
                "{} stale, e.g. {} (`shmc clean` removes them)",
                stale.len(),
                stale[..stale.len().min(3)].join(", ")
            ),
        )
    });
    let proc_ok = std::fs::read_to_string("/proc/self/stat").is_ok();
    checks.push((
        "proc",
        if proc_ok { Status::Ok } else { Status::Fail },
        "/proc tells live owners from dead ones (pid and start time)".into(),
    ));
    let nofile = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_owned))
        });
    match nofile.as_deref().map(str::parse::<u64>) {
        Some(Ok(n)) if n < 1024 => checks.push((
            "open files",
            Status::Warn,
            format!("soft limit {n}: each channel handle keeps a descriptor"),
        )),
        Some(Ok(n)) => checks.push(("open files", Status::Ok, format!("soft limit {n}"))),
        _ => checks.push(("open files", Status::Ok, "unlimited or unknown".into())),
    }
    let mut failed = false;
    for (name, st, detail) in &checks {
        failed |= *st == Status::Fail;
        let word = match st {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        if a.json {
            print_json(&json!({ "check": name, "status": word, "detail": detail }));
        } else {
            println!("{word:>4}  {name:<11} {detail}");
        }
    }
    if failed {
        return Err(Fail::new("some checks failed"));
    }
    Ok(())
}
