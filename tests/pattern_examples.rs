//! The REQ/REP and PUSH/PULL examples run in their one-terminal mode (each
//! starts its other side as child processes of itself), with a unique
//! channel name and a short count.
//!
//! The example binaries are the ones `cargo test` builds next to this test
//! (`target/<profile>/examples/`). A filtered run such as `cargo test --test
//! pattern_examples` does not build them: add `--examples`, or run `cargo
//! build --examples` first.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use suite::TestChannel;

/// How long an example may run (debug build, loaded machine).
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// The path of example `name`: `../examples/<name>` next to this test binary.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().join("../examples").join(name);
    assert!(
        path.exists(),
        "example binary {} not found: `cargo test` builds the examples, a filtered \
         `cargo test --test pattern_examples` needs `--examples` (or `cargo build --examples`)",
        path.display()
    );
    path
}

/// Kills the example if the test fails while it runs.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Runs example `name` with `args`; asserts that it exits with 0 within
/// [`RUN_TIMEOUT`] and returns its stdout (its child processes' included).
fn run(name: &str, args: &[&str]) -> String {
    let mut child = Running(
        Command::new(example(name))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let mut stdout = child.0.stdout.take().unwrap();
    // Read until every writer (the example and its children) is done.
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout.read_to_string(&mut out);
        out
    });
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "example {name} did not finish within {RUN_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = reader.join().unwrap();
    eprintln!("--- {name} {} ---\n{out}", args.join(" "));
    assert!(status.success(), "example {name} failed: {status}\n{out}");
    out
}

/// The line of `out` that starts with `prefix`.
fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?} in:\n{out}"))
}

fn segment_exists(name: &str) -> bool {
    shm_comm::segment::list().iter().any(|(n, _)| n == name)
}

#[test]
fn reqrep_example_serves_its_own_client() {
    let ch = TestChannel::new("ex-reqrep");
    let out = run("reqrep", &["--name", ch.name(), "--count", "2000"]);
    line(&out, "srv | serving");
    line(&out, "cli | connected");
    line(&out, "cli | 2 + 3 = 5");
    line(&out, "cli | -40 + 2 = -38");
    let timing = line(&out, "cli | 2000 calls in");
    assert!(
        timing.contains("calls/s") && timing.contains("p50") && timing.contains("p99"),
        "{timing}"
    );
    line(&out, "srv | served 2003 requests");
    line(&out, "demo | the server exited (exit status: 0)");
    assert!(!segment_exists(ch.name()), "the service was left behind");
}

#[test]
fn pipeline_example_feeds_its_own_workers() {
    let ch = TestChannel::new("ex-pipeline");
    let out = run(
        "pipeline",
        &["--name", ch.name(), "--count", "20000", "--workers", "3"],
    );
    assert_eq!(
        out.lines().filter(|l| l.contains("| connected to")).count(),
        3,
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.contains("| did ")).count(),
        3,
        "{out}"
    );
    let rate = line(&out, "pusher | 20000 jobs pushed");
    assert!(rate.contains("jobs/s with 3 workers"), "{rate}");
    line(&out, "pusher | all 20000 jobs were done, each exactly once");
    assert!(!segment_exists(ch.name()), "the queue was left behind");
}
