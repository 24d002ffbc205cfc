//! `shmc` against real publisher processes.
//!
//! Every test runs in a segment directory of its own (`SHM_COMM_DIR`, a
//! fresh directory on the same tmpfs), removed with everything in it when
//! the test ends, failed or not: `shmc clean` here can never touch the
//! segments of other programs, and nothing a test makes outlives it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::{json, Value};

const SHMC: &str = env!("CARGO_BIN_EXE_shmc");
const PUBLISHER: &str = env!("CARGO_BIN_EXE_shmc-test-publisher");

/// A segment directory of this test's own, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        static N: AtomicU32 = AtomicU32::new(0);
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let n = N.fetch_add(1, Ordering::Relaxed);
        let d = base.join(format!("shmc-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn shmc(&self, args: &[&str]) -> Output {
        Command::new(SHMC)
            .args(args)
            .env("SHM_COMM_DIR", &self.0)
            .output()
            .unwrap()
    }

    /// Runs `shmc`, expecting success; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.shmc(args);
        assert!(
            out.status.success(),
            "shmc {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Starts a publisher and waits until its topic exists.
    fn publisher(&self, name: &str, mode: &str, rate: u32) -> Peer {
        let mut child = Command::new(PUBLISHER)
            .args([name, mode, &rate.to_string(), "0"])
            .env("SHM_COMM_DIR", &self.0)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("ready"), "publisher said {line:?}");
        Peer(child)
    }

    /// Starts a subscriber or replier peer (`mode` `sub-typed`,
    /// `sub-dyn`, `replier-dyn`, `replier-typed`) for `count` messages or
    /// calls, once it is ready; its stdout, one JSON line per message.
    fn peer(&self, name: &str, mode: &str, count: u32) -> (Peer, BufReader<ChildStdout>) {
        let mut child = Command::new(PUBLISHER)
            .args([name, mode, "0", &count.to_string()])
            .env("SHM_COMM_DIR", &self.0)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert!(line.starts_with("ready"), "peer said {line:?}");
        (Peer(child), out)
    }
}

/// The next JSON line a peer printed (it exits, closing its stdout, if
/// it fails: then this fails instead of hanging).
fn next_json(out: &mut BufReader<ChildStdout>) -> Value {
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("peer said {line:?}: {e}"))
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process, killed and reaped on drop.
struct Peer(Child);

impl Peer {
    fn pid(&self) -> u32 {
        self.0.id()
    }
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn json_lines(s: &str) -> Vec<Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// What the test publisher sends as message `seq`, written out by hand
/// from its source: the CLI must find all of it through the layout alone.
fn expected_probe(seq: u64) -> Value {
    let s = seq as f64;
    let n = seq % 9;
    let samples: Vec<u64> = (0..n.min(8)).map(|i| i * 10 + n).collect();
    json!({
        "stamp_ns": seq * 1_000_000,
        "seq": seq,
        "flags": [1, 2, 3, seq % 256],
        "pose": {
            "position": { "x": s * 0.5, "y": -s },
            "heading": 0.25,
            "quality": -(seq as i64),
        },
        "joints": [0.0, 0.5, 1.0, 1.5, 2.0, s],
        "grid": [[-3, -2, -1], [0, 1, 2]],
        "label": format!("probe-{seq}"),
        "samples": samples,
        "ok": seq % 2 == 0,
        "_pad": [0, 0, 0, 0, 0, 0, 0],
        "big": (0..100).map(|i| i + seq % 7).collect::<Vec<u64>>(),
    })
}

#[test]
fn list_info_and_echo_decode_a_type_the_cli_never_saw() {
    let dir = Dir::new();
    let publisher = dir.publisher("robot/probe", "typed", 200);

    let list = json_lines(&dir.ok(&["list", "--json", "--sample", "0.5"]));
    assert_eq!(list.len(), 1, "{list:?}");
    let t = &list[0];
    assert_eq!(t["name"], "robot/probe");
    assert_eq!(t["kind"], "topic");
    assert_eq!(t["type"], "Probe");
    assert_eq!(t["creator_pid"], publisher.pid());
    assert_eq!(t["creator_alive"], true);
    assert_eq!(t["geometry"]["max_payload"], 328);
    let rate = t["rate_hz"].as_f64().unwrap();
    assert!((150.0..250.0).contains(&rate), "rate {rate}");
    let human = dir.ok(&["list"]);
    assert!(
        human.contains("robot/probe") && human.contains("Probe"),
        "{human}"
    );

    let info = json_lines(&dir.ok(&["info", "robot/probe", "--json", "--sample", "0"]));
    let layout = &info[0]["layout"];
    assert_eq!(layout["size"], 328);
    assert_eq!(layout["hash"], t["hash"]);
    let field = |name: &str| {
        layout["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(field("pose")["offset"], 16);
    assert_eq!(field("pose")["layout"]["fields"][0]["name"], "position");
    assert_eq!(field("grid")["type"], "[[i16; 3]; 2]");
    assert_eq!(field("samples")["type"], "FixedVec<u16, 8>");
    assert_eq!(field("big")["offset"], 128);

    // Every value equals what was sent, nested fields and arrays included.
    for _ in 0..3 {
        let out = dir.ok(&[
            "echo",
            "robot/probe",
            "--once",
            "--json",
            "--max-array",
            "1000",
        ]);
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        let seq = v["seq"].as_u64().unwrap();
        assert_eq!(v, expected_probe(seq));
    }
    // Long arrays are summarized; --field picks a part; --no-arr hides arrays.
    let out = dir.ok(&["echo", "robot/probe", "-n", "1", "--json"]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["big"]["len"], 100);
    assert_eq!(v["big"]["head"].as_array().unwrap().len(), 8);
    let out = dir.ok(&[
        "echo",
        "robot/probe",
        "--once",
        "--json",
        "--field",
        "pose.position",
    ]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["y"].as_f64().unwrap(), -2.0 * v["x"].as_f64().unwrap());
    let out = dir.ok(&[
        "echo",
        "robot/probe",
        "--once",
        "--json",
        "--field",
        "grid[1][2]",
    ]);
    assert_eq!(out.trim(), "2");
    let out = dir.ok(&["echo", "robot/probe", "--once", "--json", "--no-arr"]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["joints"], "<[f32; 6]>");
    let out = dir.ok(&["echo", "robot/probe", "-n", "3"]);
    assert_eq!(out.matches("---").count(), 3, "{out}");
    assert!(out.contains("label: \"probe-"), "{out}");
}

#[test]
fn list_and_info_show_the_maximum_of_a_variable_size_topic() {
    let dir = Dir::new();
    let _p = dir.publisher("cam/var", "var", 100);
    let list = json_lines(&dir.ok(&["list", "--json", "--sample", "0"]));
    assert_eq!(list[0]["type"], "Probe");
    assert_eq!(list[0]["max_len"], 32);
    let human = dir.ok(&["list", "--sample", "0"]);
    assert!(human.contains("Probe[..32]"), "{human}");
    let info = json_lines(&dir.ok(&["info", "cam/var", "--json", "--sample", "0"]));
    let tail = &info[0]["layout"]["tail"];
    assert_eq!(tail["type"], "u16");
    assert_eq!(tail["max_len"], 32);
    assert_eq!(tail["generation"], 1);
    let human = dir.ok(&["info", "cam/var", "--sample", "0"]);
    assert!(
        human.contains("tail:        u16 (2 bytes each)")
            && human.contains("at most 32 (generation 1)"),
        "{human}"
    );
    // A fixed topic has no maximum.
    let _q = dir.publisher("cam/fixed", "typed", 100);
    let list = json_lines(&dir.ok(&["list", "--json", "--sample", "0"]));
    let fixed = list.iter().find(|t| t["name"] == "cam/fixed").unwrap();
    assert_eq!(fixed["max_len"], Value::Null);
}

#[test]
fn echo_decodes_msgpack_and_shows_raw_bytes_as_hex() {
    let dir = Dir::new();
    let _m = dir.publisher("dyn/mp", "msgpack", 200);
    let out = dir.ok(&["echo", "dyn/mp", "--once", "--json"]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let seq = v["seq"].as_u64().unwrap();
    assert_eq!(
        v,
        json!({"seq": seq, "name": "probe", "values": [1.5, seq]})
    );

    let _r = dir.publisher("dyn/raw", "raw", 200);
    let out = dir.ok(&["echo", "dyn/raw", "--once", "--json"]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["bytes"], 4);
    let hex = v["hex"].as_str().unwrap();
    let bytes: Vec<u8> = (0..4)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    // Frame `seq` is `seq` in 4 little-endian bytes; echo may catch the
    // first one (0), never one past what a few seconds publish.
    let seq = u32::from_le_bytes(bytes.try_into().unwrap());
    assert!(seq < 100_000, "seq {seq}");
    assert_eq!(hex.len(), 8, "{hex}");
    let info = json_lines(&dir.ok(&["list", "--json", "--sample", "0"]));
    assert!(info.iter().all(|t| t["payload"] == "dynamic"));
}

/// What the topic-reading threads of process `pid` sleep in, sampled
/// every millisecond for `secs` seconds: the kernel function of each
/// sleep (`futex_...` for a futex waiter, `hrtimer_nanosleep` for a
/// timer). The readers are the threads named `shmc-take-*` (`record`'s),
/// or the main thread if there are none (`hz`).
fn sleeps_of(pid: u32, secs: f64) -> Vec<String> {
    let end = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
    let mut seen = Vec::new();
    while std::time::Instant::now() < end {
        let tasks: Vec<PathBuf> = std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|d| d.flatten().map(|t| t.path()).collect())
            .unwrap_or_default();
        let named = |t: &PathBuf| {
            std::fs::read_to_string(t.join("comm")).is_ok_and(|c| c.starts_with("shmc-take-"))
        };
        let mut readers: Vec<&PathBuf> = tasks.iter().filter(|t| named(t)).collect();
        if readers.is_empty() {
            readers = tasks
                .iter()
                .filter(|t| t.ends_with(pid.to_string()))
                .collect();
        }
        for t in readers {
            if let Ok(w) = std::fs::read_to_string(t.join("wchan")) {
                seen.push(w);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    seen
}

/// `shmc hz`/`record` poll by default: the publisher has no waiter to
/// wake. Their threads sleep on a timer, never on the topic's futex;
/// with `--wake` they do wait on it (which shows the check can fail).
#[test]
fn hz_and_record_never_wait_on_the_topic_futex_unless_asked() {
    let dir = Dir::new();
    let _p = dir.publisher("quiet/imu", "typed", 1000);
    let out = dir.0.join("quiet.mcap");
    let out = out.to_str().unwrap();
    for (args, futex_expected) in [
        (vec!["hz", "quiet/imu", "--duration", "3"], false),
        (vec!["hz", "quiet/imu", "--duration", "3", "--wake"], true),
        (
            vec!["record", "-q", "-o", out, "quiet/imu", "--duration", "3"],
            false,
        ),
        (
            vec![
                "record",
                "-q",
                "-o",
                out,
                "quiet/imu",
                "--duration",
                "3",
                "--wake",
            ],
            true,
        ),
    ] {
        let mut shmc = Peer(
            Command::new(SHMC)
                .args(&args)
                .env("SHM_COMM_DIR", &dir.0)
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
        let seen = sleeps_of(shmc.pid(), 1.5);
        assert!(seen.len() > 100, "{args:?}: {} samples", seen.len());
        let futex = seen.iter().filter(|w| w.starts_with("futex")).count();
        if futex_expected {
            assert!(futex > 0, "{args:?}: never in a futex wait: {seen:?}");
        } else {
            assert_eq!(futex, 0, "{args:?}: waited on a futex {futex} times");
        }
        let status = shmc.0.wait().unwrap();
        assert!(status.success(), "{args:?}: {status}");
    }
}

/// A topic whose messages carry `header.stamp` is timed by its stamps
/// (publish times); one without, by arrival times to the poll interval.
#[test]
fn hz_times_periods_by_stamps_where_the_layout_has_them() {
    let dir = Dir::new();
    let _imu = dir.publisher("stamped/imu", "imu", 500);
    let _probe = dir.publisher("plain/probe", "typed", 500);
    let report = |name: &str| {
        let out = dir.ok(&["hz", name, "--duration", "2", "--every", "10", "--json"]);
        json_lines(&out).pop().unwrap()
    };
    let r = report("stamped/imu");
    assert_eq!(r["period_source"], "stamp", "{r}");
    let mean = r["period_mean_s"].as_f64().unwrap();
    assert!((0.00198..=0.00202).contains(&mean), "{r}");
    let rate = r["rate_hz"].as_f64().unwrap();
    assert!((490.0..=510.0).contains(&rate), "{r}");
    let r = report("plain/probe");
    assert_eq!(r["period_source"], "arrival", "{r}");
    assert_eq!(r["arrival_resolution_s"], 0.001, "{r}");
}

#[test]
fn hz_is_within_one_percent_of_a_1khz_publisher() {
    let dir = Dir::new();
    let _p = dir.publisher("fast/imu", "typed", 1000);
    let out = dir.ok(&[
        "hz",
        "fast/imu",
        "--duration",
        "3",
        "--every",
        "10",
        "--json",
    ]);
    let last = json_lines(&out).pop().unwrap();
    let rate = last["rate_hz"].as_f64().unwrap();
    assert!((990.0..=1010.0).contains(&rate), "rate {rate} Hz: {last}");
    assert!(last["received"].as_u64().unwrap() > 2000, "{last}");
    let out = dir.ok(&[
        "bw",
        "fast/imu",
        "--duration",
        "1",
        "--every",
        "10",
        "--json",
    ]);
    let last = json_lines(&out).pop().unwrap();
    assert_eq!(last["size_max_bytes"], 328);
    let bw = last["bandwidth_bytes_per_s"].as_f64().unwrap();
    assert!((0.9 * 328_000.0..1.1 * 328_000.0).contains(&bw), "{last}");
}

#[test]
fn clean_removes_a_killed_publishers_segment_and_nothing_else() {
    let dir = Dir::new();
    let mut dead = dir.publisher("clean/dead", "raw", 100);
    let _live = dir.publisher("clean/live", "typed", 100);
    // A file of another user's prefix, and one that is no segment.
    let foreign = dir.0.join("shmc-4242-other.pub");
    std::fs::write(&foreign, b"not ours").unwrap();
    let junk = dir.0.join("unrelated-file");
    std::fs::write(&junk, b"junk").unwrap();
    dead.kill();

    let dry = json_lines(&dir.ok(&["clean", "--dry-run", "--json"]));
    assert_eq!(dry.len(), 1, "{dry:?}");
    assert_eq!(dry[0]["name"], "clean/dead");
    assert_eq!(dry[0]["removed"], false);
    assert_eq!(
        json_lines(&dir.ok(&["list", "--json", "--sample", "0"])).len(),
        2
    );

    let done = json_lines(&dir.ok(&["clean", "--json"]));
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(done[0]["removed"], true);
    let left = json_lines(&dir.ok(&["list", "--json", "--sample", "0"]));
    let names: Vec<&str> = left.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["clean/live"]);
    assert!(foreign.exists() && junk.exists());
    // The live topic still works.
    dir.ok(&["echo", "clean/live", "--once", "--json"]);
    assert!(dir.ok(&["clean", "--json"]).is_empty());
}

#[test]
fn bad_input_is_one_clear_error_and_a_nonzero_exit() {
    let dir = Dir::new();
    let _p = dir.publisher("bad/probe", "typed", 100);
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["echo", "no/such", "--wait", "0.1"],
            1,
            "no topic `no/such`",
        ),
        (&["info", "no/such"], 1, "no channel `no/such`"),
        (&["hz", "no/such", "--wait", "0"], 1, "no topic"),
        (&["echo", "bad//name"], 1, "bad//name"),
        (
            &["echo", "bad/probe", "--once", "--field", "pose.nope"],
            1,
            "no field `nope`",
        ),
        (
            &["echo", "bad/probe", "--once", "--field", "joints[9]"],
            1,
            "out of range",
        ),
        (&["echo", "bad/probe", "--field", "a[x"], 1, "field path"),
        (&["echo"], 2, "NAME"),
        (&["frobnicate"], 2, "frobnicate"),
    ];
    for (args, code, says) in cases {
        let out = dir.shmc(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "shmc {args:?}: {err}");
        assert!(err.contains(says), "shmc {args:?} said {err:?}");
        if *code == 1 {
            assert_eq!(err.lines().count(), 1, "one line: {err:?}");
        }
    }
}

#[test]
fn doctor_checks_the_segment_directory() {
    let dir = Dir::new();
    let checks = json_lines(&dir.ok(&["doctor", "--json"]));
    let get = |name: &str| checks.iter().find(|c| c["check"] == name).unwrap().clone();
    assert_eq!(get("create")["status"], "ok");
    assert_eq!(get("stale")["status"], "ok");
    let mut p = dir.publisher("doc/dead", "raw", 100);
    p.kill();
    let checks = json_lines(&dir.ok(&["doctor", "--json"]));
    let stale = checks.iter().find(|c| c["check"] == "stale").unwrap();
    assert_eq!(stale["status"], "warn");
    assert!(stale["detail"].as_str().unwrap().contains("doc/dead"));
}

#[test]
fn pub_sends_msgpack_to_a_dynamic_topic_and_refuses_a_second_publisher() {
    let dir = Dir::new();
    let (_sub, mut out) = dir.peer("pub/dyn", "sub-dyn", 1);
    let value = json!({"cmd": "go", "speed": 1.5, "ids": [1, 2, 3], "nested": {"ok": true}});
    dir.ok(&["pub", "pub/dyn", &value.to_string(), "-q"]);
    assert_eq!(next_json(&mut out), json!({ "msgpack": value }));

    let _p = dir.publisher("pub/taken", "msgpack", 100);
    let out = dir.shmc(&["pub", "pub/taken", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("already has a live publisher"), "{err}");
}

#[test]
fn pub_sets_a_typed_topic_by_field_names_like_a_live_topic() {
    let dir = Dir::new();
    let _live = dir.publisher("robot/probe", "typed", 50);
    let (_sub, mut out) = dir.peer("pub/probe", "sub-typed", 2);
    // Every field of `Probe::new(7)`, by name, from the JSON alone.
    let value = expected_probe(7);
    dir.ok(&[
        "pub",
        "pub/probe",
        &value.to_string(),
        "--like",
        "robot/probe",
        "-n",
        "3",
        "--rate",
        "20",
        "-q",
    ]);
    for _ in 0..2 {
        let got = next_json(&mut out);
        assert_eq!(got["fields"], value);
        assert_eq!(got["equals_probe_new"], true, "bytes differ: {got}");
    }

    // Fields left out are zero; a FixedVec gets its length.
    let (_sub, mut out) = dir.peer("pub/probe2", "sub-typed", 1);
    let partial =
        json!({"seq": 3, "pose": {"position": {"y": -1.25}}, "samples": [9, 8], "label": "hi"});
    dir.ok(&[
        "pub",
        "pub/probe2",
        &partial.to_string(),
        "--like",
        "robot/probe",
        "-q",
    ]);
    let got = next_json(&mut out)["fields"].clone();
    assert_eq!(got["seq"], 3);
    assert_eq!(got["pose"]["position"], json!({"x": 0.0, "y": -1.25}));
    assert_eq!(got["samples"], json!([9, 8]));
    assert_eq!(got["label"], "hi");
    assert_eq!(got["stamp_ns"], 0);
}

#[test]
fn pub_compiles_a_schema_file_for_a_typed_topic() {
    let dir = Dir::new();
    let schema = dir.0.join("cmd.toml");
    std::fs::write(
        &schema,
        r#"version = 1
[[message]]
name = "Cmd"
fields = [
    { name = "header", type = "Header" },
    { name = "speed", type = "f32" },
    { name = "gains", type = "[f64; 2]" },
]
"#,
    )
    .unwrap();
    let schema = schema.to_str().unwrap();
    let value =
        json!({"header": {"seq": 4, "frame_id": "base"}, "speed": 0.5, "gains": [1.0, 2.0]});
    let _pub = Peer(
        Command::new(SHMC)
            .args(["pub", "cmd/vel", &value.to_string(), "--schema", schema])
            .args(["--type", "Cmd", "--rate", "50", "-q"])
            .env("SHM_COMM_DIR", &dir.0)
            .spawn()
            .unwrap(),
    );
    let out = dir.ok(&["echo", "cmd/vel", "--once", "--json", "--wait", "5"]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["header"]["seq"], 4);
    assert_eq!(v["header"]["frame_id"], "base");
    assert_eq!(v["speed"], 0.5);
    assert_eq!(v["gains"], json!([1.0, 2.0]));
    let info = json_lines(&dir.ok(&["list", "--json", "--sample", "0"]));
    assert_eq!(info[0]["type"], "Cmd");
}

#[test]
fn call_sends_one_request_and_prints_the_reply() {
    let dir = Dir::new();
    let (_r, _) = dir.peer("svc/echo", "replier-dyn", 1);
    let out = dir.ok(&["call", "svc/echo", r#"{"x": [1, "two"]}"#, "--json"]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v, json!({"echo": {"x": [1, "two"]}, "n": 0}));

    let (_r, _) = dir.peer("svc/add", "replier-typed", 2);
    let out = dir.ok(&[
        "call",
        "svc/add",
        r#"{"a": 2, "b": 40, "scale": 0.5}"#,
        "--json",
    ]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v, json!({"sum": 21.0, "label": "sum"}));
    let out = dir.ok(&["call", "svc/add", r#"{"a": -1, "b": 1, "scale": 1}"#]);
    assert!(
        out.contains("sum: 0") && out.contains("label: \"sum\""),
        "{out}"
    );
}

#[test]
fn pub_and_call_refuse_bad_values_with_one_clear_error() {
    let dir = Dir::new();
    let _live = dir.publisher("robot/probe", "typed", 50);
    let (_r, _) = dir.peer("svc/add", "replier-typed", 1);
    let like = ["--like", "robot/probe"];
    let cases: &[(&[&str], &str)] = &[
        (&["pub", "x/y", "{nope"], "VALUE is not valid JSON"),
        (
            &["pub", "x/y", r#"{"seq": -1}"#, like[0], like[1]],
            "seq: -1 does not fit a u32",
        ),
        (
            &[
                "pub",
                "x/y",
                r#"{"pose": {"heading": "n"}}"#,
                like[0],
                like[1],
            ],
            "pose.heading: expected a number",
        ),
        (
            &[
                "pub",
                "x/y",
                r#"{"label": "a string far too long"}"#,
                like[0],
                like[1],
            ],
            "label: string of 21 bytes",
        ),
        (
            &[
                "pub",
                "x/y",
                r#"{"samples": [1,2,3,4,5,6,7,8,9]}"#,
                like[0],
                like[1],
            ],
            "samples: 9 items",
        ),
        (
            &["pub", "x/y", r#"{"joints": [1]}"#, like[0], like[1]],
            "joints: expected 6 items",
        ),
        (
            &["pub", "x/y", r#"{"nope": 1}"#, like[0], like[1]],
            "nope: no such field in `Probe`",
        ),
        (
            &["pub", "x/y", "1", "--like", "no/such"],
            "--like no/such: no such topic",
        ),
        (
            &["call", "svc/add", r#"{"a": 1.5}"#],
            "a: expected an integer",
        ),
        (&["call", "svc/add", "[1"], "not valid JSON"),
        (
            &["call", "no/svc", "1", "--timeout", "0.1"],
            "no service `no/svc`",
        ),
    ];
    for (args, says) in cases {
        let out = dir.shmc(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "shmc {args:?}: {err}");
        assert!(err.contains(says), "shmc {args:?} said {err:?}");
        assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    }
    // Nothing was created by the refused values.
    let names: Vec<Value> = json_lines(&dir.ok(&["list", "--json", "--sample", "0"]))
        .into_iter()
        .map(|t| t["name"].clone())
        .collect();
    assert!(!names.contains(&json!("x/y")), "{names:?}");
}

#[test]
fn top_once_shows_rate_bandwidth_and_peers_of_every_channel() {
    let dir = Dir::new();
    let _t = dir.publisher("top/probe", "typed", 200);
    let _m = dir.publisher("top/mp", "msgpack", 100);
    let (_r, _) = dir.peer("top/svc", "replier-dyn", 1);
    let rows = json_lines(&dir.ok(&["top", "--once", "--json", "--interval", "1"]));
    let row = |name: &str| rows.iter().find(|r| r["name"] == name).unwrap().clone();
    assert_eq!(rows.len(), 3, "{rows:?}");

    let t = row("top/probe");
    assert_eq!(
        (t["kind"].as_str(), t["type"].as_str()),
        (Some("topic"), Some("Probe"))
    );
    let rate = t["rate_hz"].as_f64().unwrap();
    assert!((150.0..250.0).contains(&rate), "{t}");
    // Every message top read was 328 bytes; it read (nearly) all of them.
    let bw = t["bandwidth_bytes_per_s"].as_f64().unwrap();
    assert!(
        (0.8 * 328.0 * rate..1.2 * 328.0 * rate).contains(&bw),
        "{t}"
    );
    assert_eq!(t["lost"], 0, "{t}");

    let m = row("top/mp");
    let rate = m["rate_hz"].as_f64().unwrap();
    assert!((70.0..130.0).contains(&rate), "{m}");
    assert!(m["bandwidth_bytes_per_s"].as_f64().unwrap() > 0.0, "{m}");

    let s = row("top/svc");
    assert_eq!(s["kind"], "service");
    assert_eq!(s["peers"], "1 rep, 0 req");

    let table = dir.ok(&["top", "--once", "--interval", "0.2"]);
    assert!(
        table.starts_with("NAME") && table.contains("top/probe"),
        "{table}"
    );
    assert!(!table.contains('\x1b'), "--once prints no escape codes");
}
