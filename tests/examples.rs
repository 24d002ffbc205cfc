//! The Rust examples run as real processes: the demo mode of each (which
//! starts its own subscriber process), and the two-terminal mode of the typed
//! one. Each run uses its own topic and a short message count.
//!
//! The example binaries are built on demand (`cargo build --example`, a no-op
//! when they are fresh), so this also works as `cargo test --test examples`,
//! which does not build examples by itself.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use suite::TestChannel;

/// How long an example may take, building included, on a loaded machine.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// The directory of the build profile this test was built in
/// (`target/debug` for `target/debug/deps/examples-<hash>`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    assert_eq!(
        deps.file_name().and_then(|n| n.to_str()),
        Some("deps"),
        "unexpected test binary location {}",
        exe.display()
    );
    deps.parent().unwrap().to_owned()
}

/// Waits for `child` at most `timeout`, killing it if it is still running.
fn wait_or_kill(child: &mut Child, timeout: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The path of example `name`, built first in this test's profile and target
/// directory. One build at a time: they would only wait for each other's lock.
fn example(name: &str) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let _one = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let profile = profile_dir();
    let target_dir = profile.parent().unwrap();
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args([
        "build",
        "--quiet",
        "-p",
        "shm-comm-suite",
        "--example",
        name,
    ])
    .arg("--manifest-path")
    .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
    .arg("--target-dir")
    .arg(target_dir);
    match profile.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.args(["--profile", other]);
        }
        None => panic!("no profile in {}", profile.display()),
    }
    let mut child = cmd.spawn().expect("cannot run cargo");
    let status = wait_or_kill(
        &mut child,
        BUILD_TIMEOUT,
        &format!("building example {name}"),
    );
    assert!(status.success(), "building example {name} failed: {status}");
    let bin = profile.join("examples").join(name);
    assert!(bin.exists(), "{} was not built", bin.display());
    bin
}

/// What a finished example printed.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The first stdout line containing `needle`.
    fn line(&self, needle: &str) -> &str {
        self.stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{}", self.stdout))
    }
}

/// A running example, killed if the test fails before [`finish`] reaps it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts `bin` with `args`, stdout and stderr captured.
fn start(bin: &Path, args: &[&str]) -> Running {
    let child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    Running(child)
}

/// Waits for a started example and collects its output.
fn finish(mut running: Running, what: &str) -> Run {
    let child = &mut running.0;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = wait_or_kill(child, RUN_TIMEOUT, what);
    let run = Run {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    // Shown when the test fails.
    println!("--- {what}: {status}\n{}{}", run.stdout, run.stderr);
    run
}

/// The number after `key` in `line` (`"p50 12.3 µs"` -> 12.3).
fn number_after(line: &str, key: &str) -> f64 {
    let rest = line
        .split_once(key)
        .unwrap_or_else(|| panic!("no {key:?} in {line:?}"))
        .1;
    let n: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    n.parse()
        .unwrap_or_else(|_| panic!("no number after {key:?} in {line:?}"))
}

/// Checks a latency line: three numbers in order p50 <= p99 <= max.
fn check_latency_line(line: &str) {
    let (p50, p99, max) = (
        number_after(line, "p50"),
        number_after(line, "p99"),
        number_after(line, "max"),
    );
    assert!(p50 > 0.0 && p50 <= p99 && p99 <= max, "{line}");
    assert!(line.contains("µs"), "{line}");
}

#[test]
fn typed_pubsub_demo_runs_publisher_and_subscriber_processes() {
    let ch = TestChannel::new("example-pose");
    let bin = example("typed_pubsub");
    let run = finish(
        start(&bin, &["--count", "50", "--topic", ch.name()]),
        "typed_pubsub demo",
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert!(run.stdout.contains("pub | sent 50 poses"), "{}", run.stdout);
    // Every pose arrives: the subscriber connects before the first is sent.
    assert!(
        run.stdout
            .contains("sub | received 50 of 50 poses, missed 0"),
        "{}",
        run.stdout
    );
    // A few decoded poses, the first one in full.
    let first = run.line("sub | #0 ");
    assert!(
        first.contains("pos (+2.000, +0.000, +0.000) m")
            && first.contains("yaw  +90.00°")
            && first.contains("frame \"map\"")
            && first.contains("valid yes"),
        "{first}"
    );
    assert!(run.stdout.contains("sub | #49 "), "the last pose is shown");
    check_latency_line(run.line("one-way latency"));
    assert!(
        run.stdout.contains("futex"),
        "the latency caveat is printed"
    );
    // The demo cleans up after itself.
    assert!(!shm_comm::segment::list()
        .iter()
        .any(|(n, _)| n == ch.name()));
}

#[test]
fn typed_pubsub_runs_as_two_separate_programs() {
    let ch = TestChannel::new("example-pose2");
    let bin = example("typed_pubsub");
    // The subscriber first: it waits for the topic.
    let mut sub = start(
        &bin,
        &["subscriber", "--count", "300", "--topic", ch.name()],
    );
    let mut first = [0u8; 4];
    sub.0
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .expect("the subscriber started");
    assert_eq!(&first, b"sub ");
    let publisher = finish(
        start(&bin, &["publisher", "--count", "300", "--topic", ch.name()]),
        "typed_pubsub publisher",
    );
    let sub = finish(sub, "typed_pubsub subscriber");
    assert!(publisher.status.success(), "{}", publisher.stderr);
    assert!(sub.status.success(), "{}", sub.stderr);
    assert!(publisher.stdout.contains("sent 300 poses"));
    // It joined while the publisher ran: at least the newest pose arrived.
    let line = sub.line("received");
    assert!(number_after(line, "received") >= 1.0, "{line}");
    assert!(line.contains("of 300 poses, missed 0"), "{line}");
    check_latency_line(sub.line("one-way latency"));
}

#[test]
fn dynamic_pubsub_demo_runs_publisher_and_subscriber_processes() {
    let ch = TestChannel::new("example-events");
    let bin = example("dynamic_pubsub");
    let run = finish(
        start(
            &bin,
            &["--count", "40", "--rate", "1000", "--topic", ch.name()],
        ),
        "dynamic_pubsub demo",
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert!(
        run.stdout.contains("pub | sent 40 frames"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("sub | received 40 of 40 frames (20 msgpack, 20 raw, 0 other), missed 0"),
        "{}",
        run.stdout
    );
    // The first event decoded from msgpack, and an image from raw bytes.
    let event = run.line("sub | msgpack #0 ");
    assert!(
        event.contains("seq: 0") && event.contains("source: \"battery\""),
        "{event}"
    );
    let image = run.line("sub | raw     #1 ");
    assert!(image.contains("272 bytes -> 16x16 image"), "{image}");
    check_latency_line(run.line("one-way latency"));
    assert!(!shm_comm::segment::list()
        .iter()
        .any(|(n, _)| n == ch.name()));
}

#[test]
fn pod_field_demo_publishes_glam_vectors_and_reads_them_back() {
    let ch = TestChannel::new("example-target");
    let bin = example("pod_field");
    let run = finish(
        start(&bin, &["--count", "5", "--topic", ch.name()]),
        "pod_field demo",
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert!(
        run.stdout.contains("position: opaque(12 bytes, align 4)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("published 5 targets"), "{}", run.stdout);
}
