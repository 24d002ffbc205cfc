//! The trust boundary: what another local user, a full shared-memory
//! directory or an oversized name can do to a channel.
//!
//! - A segment file is used only if it is ours: owned by our effective uid
//!   and closed to group and others. Another user's file (or a link, or a
//!   file others may write) at a channel's path is an error that names its
//!   owner and mode, and is left in place.
//! - A file at a channel's path that is not a shm-comm segment is never
//!   deleted by a creator; only a blank file (a creator that died before
//!   writing its header) is stale.
//! - Space is reserved at creation: a full directory or `RLIMIT_FSIZE` is a
//!   [`CreateError::NoSpace`], never a SIGBUS or SIGXFSZ later.
//! - Every valid name works, however long its escaped file name.
//!
//! Cases that need another uid or a tmpfs of their own run only as root
//! (they say so and pass otherwise). Cases that change process-wide state
//! (a resource limit, the segment directory) run in a child: this test
//! binary started again with `SHM_COMM_TRUST_CHILD` naming the case.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use shm_comm::pipeline::{DynPuller, DynPusher, PullerOptions, QueueOptions};
use shm_comm::pubsub::{ConnectOptions, DynPublisher, DynSubscriber, PubOptions};
use shm_comm::reqrep::{DynReplier, DynRequester, RequesterOptions, ServiceOptions};
use shm_comm::segment;
use shm_comm::{CreateError, OpenError};
use suite::TestChannel;

const SHM_DIR: &str = "/dev/shm";
const NOBODY: u32 = 65534;
const SHORT: Duration = Duration::from_millis(200);
const T: Duration = Duration::from_secs(20);

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn path_of(name: &str, role: &str) -> PathBuf {
    Path::new(SHM_DIR).join(segment::file_name(name, role).unwrap())
}

fn short() -> ConnectOptions {
    ConnectOptions {
        timeout: SHORT,
        ..Default::default()
    }
}

const GEO: PubOptions = PubOptions {
    capacity: 4,
    max_payload: 64,
    borrow_budget: 2,
};

/// The bytes of a real dynamic topic `name`, removed again.
fn real_image(name: &str) -> Vec<u8> {
    let _p = DynPublisher::create_with(name, GEO).unwrap();
    fs::read(path_of(name, "pub")).unwrap()
}

fn write_file(path: &Path, bytes: &[u8], mode: u32) {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(path: &Path, uid: u32) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::chown(c.as_ptr(), uid, uid) }, 0, "chown");
}

fn expect_not_owned(err: &OpenError, owner: u32, mode: u32) {
    match err {
        OpenError::NotOwned {
            owner: o, mode: m, ..
        } => {
            assert_eq!(*o, owner, "{err}");
            assert_eq!(*m & 0o7777, mode, "{err}");
            let text = err.to_string();
            assert!(text.contains(&format!("uid {owner}")), "{text}");
            assert!(text.contains(&format!("{mode:04o}")), "{text}");
        }
        other => panic!("expected NotOwned, got {other:?}"),
    }
}

fn expect_create_not_owned(r: Result<impl std::fmt::Debug, CreateError>, owner: u32, mode: u32) {
    match r {
        Err(CreateError::Existing(e)) => expect_not_owned(&e, owner, mode),
        other => panic!("expected Existing(NotOwned), got {other:?}"),
    }
}

#[test]
fn a_topic_others_may_read_or_write_is_refused_and_left_in_place() {
    for mode in [0o644, 0o660, 0o606, 0o640] {
        let ch = TestChannel::new("trust-mode");
        let img = real_image(ch.name());
        let path = path_of(ch.name(), "pub");
        write_file(&path, &img, mode);
        let err = DynSubscriber::connect_with(ch.name(), short()).unwrap_err();
        expect_not_owned(&err, unsafe_euid(), mode);
        expect_create_not_owned(
            DynPublisher::create_with(ch.name(), GEO),
            unsafe_euid(),
            mode,
        );
        assert_eq!(fs::read(&path).unwrap(), img, "left in place, unchanged");
    }
}

fn unsafe_euid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

#[test]
fn another_users_topic_is_refused_naming_its_owner_and_left_in_place() {
    if !is_root() {
        eprintln!("skipped: needs root to make a file of another uid");
        return;
    }
    let ch = TestChannel::new("trust-owner");
    let img = real_image(ch.name());
    let path = path_of(ch.name(), "pub");
    write_file(&path, &img, 0o600);
    chown(&path, NOBODY);
    // A subscriber reads nothing from it (a pickle frame in it would be the
    // attacker's), and a publisher neither uses nor deletes the squatted name.
    let err = DynSubscriber::connect_with(ch.name(), short()).unwrap_err();
    expect_not_owned(&err, NOBODY, 0o600);
    expect_create_not_owned(DynPublisher::create_with(ch.name(), GEO), NOBODY, 0o600);
    assert!(path.exists());
}

#[test]
fn another_users_queue_and_service_are_refused_and_left_in_place() {
    if !is_root() {
        eprintln!("skipped: needs root to make a file of another uid");
        return;
    }
    // The attacker made the files first (as `nobody` would, with mode 0666
    // so that we could open them).
    let ch = TestChannel::new("trust-queue");
    let q = path_of(ch.name(), "queue");
    {
        let _p = DynPusher::create_with(ch.name(), QueueOptions::default()).unwrap();
        let img = fs::read(&q).unwrap();
        drop(_p);
        write_file(&q, &img, 0o666);
        chown(&q, NOBODY);
    }
    expect_create_not_owned(
        DynPusher::create_with(ch.name(), QueueOptions::default()),
        NOBODY,
        0o666,
    );
    let err = DynPuller::connect_with(ch.name(), PullerOptions::with_timeout(SHORT)).unwrap_err();
    expect_not_owned(&err, NOBODY, 0o666);
    assert!(q.exists());

    let ch = TestChannel::new("trust-svc");
    let s = path_of(ch.name(), "svc");
    {
        let _r = DynReplier::create_with(ch.name(), ServiceOptions::default()).unwrap();
        let img = fs::read(&s).unwrap();
        drop(_r);
        write_file(&s, &img, 0o666);
        chown(&s, NOBODY);
    }
    expect_create_not_owned(
        DynReplier::create_with(ch.name(), ServiceOptions::default()),
        NOBODY,
        0o666,
    );
    let err =
        DynRequester::connect_with(ch.name(), RequesterOptions::with_timeout(SHORT)).unwrap_err();
    expect_not_owned(&err, NOBODY, 0o666);
    assert!(s.exists());
}

#[test]
fn a_link_at_a_channel_path_is_refused_and_not_followed() {
    let ch = TestChannel::new("trust-link");
    let target = std::env::temp_dir().join(format!("shmc-link-target-{}", std::process::id()));
    fs::write(&target, b"not yours").unwrap();
    let path = path_of(ch.name(), "pub");
    std::os::unix::fs::symlink(&target, &path).unwrap();
    let err = DynSubscriber::connect_with(ch.name(), short()).unwrap_err();
    assert!(matches!(err, OpenError::NotOwned { .. }), "{err:?}");
    assert!(matches!(
        DynPublisher::create_with(ch.name(), GEO),
        Err(CreateError::Existing(_))
    ));
    assert_eq!(fs::read(&target).unwrap(), b"not yours");
    let _ = fs::remove_file(&path);
    let _ = fs::remove_file(&target);
}

#[test]
fn a_foreign_file_at_a_channel_path_is_an_error_and_left_in_place() {
    // Ours by owner and mode, but not a segment: a creator must not delete it.
    for (role, len) in [("pub", 10), ("pub", 4096), ("queue", 300), ("svc", 8192)] {
        let ch = TestChannel::new("trust-foreign");
        let path = path_of(ch.name(), role);
        let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8 + 1).collect();
        write_file(&path, &bytes, 0o600);
        let r = match role {
            "pub" => DynPublisher::create_with(ch.name(), GEO).map(|_| ()),
            "queue" => DynPusher::create_with(ch.name(), QueueOptions::default()).map(|_| ()),
            _ => DynReplier::create_with(ch.name(), ServiceOptions::default()).map(|_| ()),
        };
        match r {
            Err(CreateError::Existing(e)) => {
                assert!(matches!(*e, OpenError::Corrupt { .. }), "{role}: {e:?}");
                assert!(e.to_string().contains("left in place"), "{e}");
            }
            other => panic!("{role}: expected an error, got {other:?}"),
        }
        assert_eq!(fs::read(&path).unwrap(), bytes, "{role}: left in place");
    }
}

#[test]
fn a_blank_file_left_by_a_creator_that_died_is_replaced() {
    for len in [0usize, 10, 4096] {
        let ch = TestChannel::new("trust-blank");
        write_file(&path_of(ch.name(), "pub"), &vec![0u8; len], 0o600);
        let mut p = DynPublisher::create_with(ch.name(), GEO).unwrap();
        let mut s = DynSubscriber::connect_with(ch.name(), short()).unwrap();
        p.send_bytes(b"ok").unwrap();
        assert_eq!(s.recv_timeout(T).unwrap().data, b"ok", "{len}-byte file");
    }
}

#[test]
fn every_valid_name_works_however_long_its_file_name() {
    // 100 bytes, half of them separators that escape to three bytes each.
    let base = TestChannel::new("n");
    let mut name = base.name().to_owned();
    while name.len() < 100 {
        name.push_str("/a");
    }
    name.truncate(100);
    if name.ends_with('/') {
        name.pop();
        name.push('b');
    }
    assert_eq!(name.len(), 100);
    for role in ["pub", "queue", "svc"] {
        let file = segment::file_name(&name, role).unwrap();
        assert!(file.len() <= 255, "{} bytes: {file}", file.len());
    }
    let guard = NameGuard(name.clone());
    let mut p = DynPublisher::create_with(&name, GEO).unwrap();
    let mut s = DynSubscriber::connect_with(&name, short()).unwrap();
    p.send_bytes(b"long").unwrap();
    assert_eq!(s.recv_timeout(T).unwrap().data, b"long");
    let push = DynPusher::create_with(&name, QueueOptions::default()).unwrap();
    let pull = DynPuller::connect_with(&name, PullerOptions::with_timeout(SHORT)).unwrap();
    push.try_send(b"job", shm_comm::Codec::Raw).unwrap();
    assert_eq!(pull.recv_timeout(T).unwrap().data, b"job");
    let _rep = DynReplier::create_with(&name, ServiceOptions::default()).unwrap();
    let _req = DynRequester::connect_with(&name, RequesterOptions::with_timeout(SHORT)).unwrap();
    // Listed under its whole name, and removable by it.
    let listed = segment::list();
    for role in ["pub", "queue", "svc"] {
        assert!(
            listed.contains(&(name.clone(), role.to_owned())),
            "{role} not in {listed:?}"
        );
    }
    // Two long names that share the first 200 bytes of their file names
    // still get two files.
    let other = format!("{}c", &name[..99]);
    assert_ne!(
        segment::file_name(&name, "pub").unwrap(),
        segment::file_name(&other, "pub").unwrap()
    );
    drop((p, s, push, pull));
    drop(guard);
}

struct NameGuard(String);
impl Drop for NameGuard {
    fn drop(&mut self) {
        let _ = segment::force_unlink(&self.0);
    }
}

// ---------------------------------------------------------------------------
// Space: cases run in a child process.
// ---------------------------------------------------------------------------

const CHILD_ENV: &str = "SHM_COMM_TRUST_CHILD";

/// Runs `case` in a fresh copy of this test binary; returns its exit status
/// and output.
fn run_child(case: &str, env: &[(&str, &str)]) -> (std::process::ExitStatus, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child_case", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, case);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status, text)
}

fn assert_child_ok(case: &str, env: &[(&str, &str)]) {
    use std::os::unix::process::ExitStatusExt;
    let (status, text) = run_child(case, env);
    assert!(
        status.success() && text.contains(&format!("CHILD-OK {case}")),
        "child {case} ended with {status:?} (signal {:?}):\n{text}",
        status.signal()
    );
}

/// The child's side: does `case` and prints `CHILD-OK case`, or panics.
#[test]
fn child_case() {
    let Ok(case) = std::env::var(CHILD_ENV) else {
        return; // not a child: nothing to do
    };
    let name = format!("test/trust-child/{}", std::process::id());
    let _guard = NameGuard(name.clone());
    match case.as_str() {
        "fsize" => {
            let lim = libc::rlimit {
                rlim_cur: 1 << 20,
                rlim_max: 1 << 20,
            };
            // SAFETY: `lim` is a valid rlimit.
            assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &lim) }, 0);
            let big = PubOptions {
                capacity: 16,
                max_payload: 1 << 20,
                borrow_budget: 2,
            };
            match DynPublisher::create_with(&name, big) {
                Err(e @ CreateError::NoSpace { .. }) => {
                    assert!(e.to_string().contains("bytes"), "{e}");
                    // It says what to do, in a container too.
                    assert!(e.to_string().contains("--shm-size"), "{e}");
                }
                other => panic!("expected NoSpace, got {other:?}"),
            }
            // A queue and a service too.
            let q = QueueOptions {
                capacity: 16,
                max_payload: 1 << 20,
            };
            assert!(matches!(
                DynPusher::create_with(&name, q),
                Err(CreateError::NoSpace { .. })
            ));
            let s = ServiceOptions {
                capacity: 16,
                max_payload: 1 << 20,
            };
            assert!(matches!(
                DynReplier::create_with(&name, s),
                Err(CreateError::NoSpace { .. })
            ));
            // What fits still works.
            let mut p = DynPublisher::create_with(&name, GEO).unwrap();
            p.send_bytes(b"small").unwrap();
        }
        "full" => {
            // The directory is a 4 MiB tmpfs: a 1 MiB x 16 topic does not
            // fit. Before, creation succeeded (sparse) and a send died with SIGBUS.
            let big = PubOptions {
                capacity: 16,
                max_payload: 1 << 20,
                borrow_budget: 2,
            };
            match DynPublisher::create_with(&name, big) {
                Err(CreateError::NoSpace { source, .. }) => {
                    assert_eq!(source.raw_os_error(), Some(libc::ENOSPC));
                }
                Ok(mut p) => {
                    for i in 0..64u32 {
                        p.send_bytes(&vec![i as u8; 1 << 20]).unwrap();
                    }
                    panic!("created a topic larger than the directory (and survived)");
                }
                Err(other) => panic!("expected NoSpace, got {other:?}"),
            }
            // Nothing is left behind, and a topic that fits works.
            assert!(segment::list().is_empty(), "{:?}", segment::list());
            let mut p = DynPublisher::create_with(&name, GEO).unwrap();
            let mut s = DynSubscriber::connect_with(&name, short()).unwrap();
            p.send_bytes(b"fits").unwrap();
            assert_eq!(s.recv_timeout(T).unwrap().data, b"fits");
        }
        other => panic!("unknown child case {other}"),
    }
    println!("CHILD-OK {case}");
}

#[test]
fn creation_beyond_the_file_size_limit_is_a_typed_error_not_sigxfsz() {
    assert_child_ok("fsize", &[]);
}

#[test]
fn a_full_shared_memory_directory_is_a_typed_error_not_sigbus() {
    if !is_root() {
        eprintln!("skipped: needs root to mount a small tmpfs");
        return;
    }
    let dir = std::env::temp_dir().join(format!("shmc-full-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m,mode=1777", "tmpfs", d])
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: could not mount a tmpfs");
        let _ = fs::remove_dir(&dir);
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
            let _ = fs::remove_dir(&self.0);
        }
    }
    let _u = Unmount(dir.clone());
    assert_child_ok("full", &[("SHM_COMM_DIR", d)]);
}

/// The permissions of this process's mappings of `path`, from /proc/self/maps.
fn mapping_perms(path: &Path) -> Vec<String> {
    let p = path.to_str().unwrap();
    fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|l| l.ends_with(p))
        .map(|l| l.split_whitespace().nth(1).unwrap().to_owned())
        .collect()
}

#[test]
fn a_subscriber_maps_the_entries_and_chunks_read_only() {
    use shm_comm::pubsub::{Publisher, Subscriber};
    use suite::Check;
    let ch = TestChannel::new("trust-ro");
    let geo = shm_comm::pubsub::TypedPubOptions {
        capacity: GEO.capacity,
        borrow_budget: GEO.borrow_budget,
    };
    let mut p = Publisher::<Check>::create_with(ch.name(), geo).unwrap();
    let path = path_of(ch.name(), "pub");
    let before = mapping_perms(&path);
    assert!(before.iter().all(|m| m == "rw-s"), "{before:?}");
    let mut s = Subscriber::<Check>::connect_with(ch.name(), short()).unwrap();
    let after = mapping_perms(&path);
    assert!(
        after.iter().any(|m| m == "r--s"),
        "the subscriber's view of the payload is writable: {after:?}"
    );
    // It still receives and borrows (the pin table stays writable).
    p.send(&Check::new(1)).unwrap();
    assert_eq!(s.recv_timeout(T).unwrap().seq, 1);
    p.send(&Check::new(2)).unwrap();
    assert!(s.borrow_timeout(T).unwrap().verify());
}
