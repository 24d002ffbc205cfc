//! `shmc record` then `shmc play`, against real publishers, checked by
//! a subscriber in this process. One test in this file: the process's
//! segment directory (`SHM_COMM_DIR`, read once) is this test's own.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use shm_comm::pubsub::{ConnectOptions, Expect, RawSubscriber};

const SHMC: &str = env!("CARGO_BIN_EXE_shmc");
const PUBLISHER: &str = env!("CARGO_BIN_EXE_shmc-test-publisher");

/// The segment directory, removed with everything in it on drop.
struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process, killed and reaped on drop.
struct Peer(Child);
impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn publisher(name: &str, mode: &str, rate: u32) -> Peer {
    let mut child = Command::new(PUBLISHER)
        .args([name, mode, &rate.to_string(), "0"])
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

fn shmc(args: &[&str]) -> Output {
    Command::new(SHMC).args(args).output().unwrap()
}

fn ok(args: &[&str]) {
    let out = shmc(args);
    assert!(
        out.status.success(),
        "shmc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn fails(args: &[&str], says: &str) {
    let out = shmc(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "shmc {args:?}: {err}");
    assert!(err.contains(says), "shmc {args:?} said {err:?}");
}

/// `(topic, bytes)` of every message in the file, in order.
fn recorded(file: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let buf = std::fs::read(file).unwrap();
    mcap::MessageStream::new(&buf)
        .unwrap()
        .map(|m| {
            let m = m.unwrap();
            (m.channel.topic.clone(), m.data.into_owned())
        })
        .collect()
}

/// A CDR message, read at offsets after its 4-byte header.
struct Cdr<'a>(&'a [u8]);
impl Cdr<'_> {
    fn at<const N: usize>(&self, off: usize) -> [u8; N] {
        self.0[4 + off..4 + off + N].try_into().unwrap()
    }
    fn u32(&self, off: usize) -> u32 {
        u32::from_le_bytes(self.at(off))
    }
    fn i32(&self, off: usize) -> i32 {
        i32::from_le_bytes(self.at(off))
    }
    fn u64(&self, off: usize) -> u64 {
        u64::from_le_bytes(self.at(off))
    }
    fn f64(&self, off: usize) -> f64 {
        f64::from_le_bytes(self.at(off))
    }
}

#[test]
fn play_reproduces_a_recording_byte_for_byte_and_refuses_bad_input() {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let dir = Dir(base.join(format!("shmc-record-test-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    // Read by this process's shm-comm (once, at first use) and inherited
    // by every child.
    std::env::set_var("SHM_COMM_DIR", &dir.0);
    let file = dir.0.join("rec.mcap");
    let file_s = file.to_str().unwrap();

    let typed = publisher("robot/probe", "typed", 200);
    let dynamic = publisher("dyn/mp", "msgpack", 200);
    ok(&[
        "record",
        "-o",
        file_s,
        "robot/probe",
        "dyn/mp",
        "-n",
        "120",
        "-q",
    ]);
    drop((typed, dynamic));

    let messages = recorded(&file);
    assert_eq!(messages.len(), 120);
    let typed: Vec<&Vec<u8>> = messages
        .iter()
        .filter(|m| m.0 == "robot/probe")
        .map(|m| &m.1)
        .collect();
    assert!(typed.len() > 30, "{} typed messages", typed.len());
    // Typed messages are CDR: the header, then every field aligned to its
    // size from there. Read by hand, they hold `Probe::new(seq)`'s values.
    for m in &typed {
        let m = Cdr(m);
        assert_eq!(&m.0[..4], &[0, 1, 0, 0], "CDR little endian");
        let seq = m.u32(8);
        assert_eq!(m.u64(0), u64::from(seq) * 1_000_000, "stamp_ns");
        assert_eq!(m.f64(16), f64::from(seq) * 0.5, "pose.position.x");
        assert_eq!(m.f64(24), -f64::from(seq), "pose.position.y");
        assert_eq!(m.i32(36), -(seq as i32), "pose.quality");
        let label = format!("probe-{seq}");
        assert_eq!(m.u32(76) as usize, label.len(), "label.len");
        assert_eq!(&m.0[4 + 80..4 + 80 + label.len()], label.as_bytes());
        let n = seq % 9;
        assert_eq!(m.u32(96), n.min(8), "samples.len");
        assert_eq!(m.0[4 + 120], u8::from(seq % 2 == 0), "ok");
    }
    // `seq` runs on without a gap: nothing was dropped.
    let seqs: Vec<u32> = typed.iter().map(|b| Cdr(b).u32(8)).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    let buf = std::fs::read(&file).unwrap();
    let summary = mcap::Summary::read(&buf).unwrap().unwrap();
    let schema = summary.schemas.values().next().unwrap();
    assert_eq!(
        (schema.name.as_str(), schema.encoding.as_str()),
        ("Probe", "omgidl")
    );
    let idl = String::from_utf8(schema.data.to_vec()).unwrap();
    assert!(idl.contains("struct Pose {\n    Point position;"), "{idl}");
    assert!(idl.contains("    int16 grid[2][3];"), "{idl}");
    assert!(idl.contains("    FixedVec_u16_8 samples;"), "{idl}");
    let encodings: Vec<(&str, &str)> = summary
        .channels
        .values()
        .map(|c| (c.topic.as_str(), c.message_encoding.as_str()))
        .collect();
    assert!(encodings.contains(&("robot/probe", "cdr")), "{encodings:?}");
    assert!(encodings.contains(&("dyn/mp", "msgpack")), "{encodings:?}");

    // Play to fresh names; a subscriber here takes every message.
    let mut play = Peer(
        Command::new(SHMC)
            .args(["play", file_s, "--delay", "1", "--rate", "4", "-q"])
            .args([
                "--remap",
                "robot/probe=replay/probe",
                "--remap",
                "dyn/mp=replay/mp",
            ])
            .spawn()
            .unwrap(),
    );
    let connect = |name: &str| {
        let opts = ConnectOptions::with_timeout(Duration::from_secs(5));
        RawSubscriber::connect(name, Expect::Any, opts).unwrap()
    };
    let mut subs = [
        ("robot/probe", connect("replay/probe")),
        ("dyn/mp", connect("replay/mp")),
    ];
    for (topic, sub) in &mut subs {
        let want: Vec<&Vec<u8>> = messages
            .iter()
            .filter(|m| m.0 == *topic)
            .map(|m| &m.1)
            .collect();
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while got.len() < want.len() {
            let mut b = Vec::new();
            sub.recv_into_deadline(&mut b, Some(deadline)).unwrap();
            got.push(b);
        }
        assert_eq!(sub.missed(), 0);
        // The slots are the recorded messages: CDR without its header
        // (a layout laid out as CDR), msgpack as it was.
        let strip = if *topic == "robot/probe" { 4 } else { 0 };
        assert!(
            got.iter()
                .map(|g| &g[..])
                .eq(want.iter().map(|w| &w[strip..])),
            "{topic} differs"
        );
    }
    assert!(play.0.wait().unwrap().success());
    drop(subs);

    // A live topic is refused, saying how its layout differs.
    let _other = publisher("live/dyn", "msgpack", 50);
    fails(
        &["play", file_s, "--remap", "robot/probe=live/dyn"],
        "typed, the live topic dynamic",
    );
    let _same = publisher("live/typed", "typed", 50);
    fails(
        &["play", file_s, "--remap", "robot/probe=live/typed"],
        "already has a live publisher",
    );

    // A corrupt or truncated file publishes nothing and says so.
    let mut bad = buf.clone();
    bad.truncate(bad.len() / 2);
    let cut = dir.0.join("cut.mcap");
    std::fs::write(&cut, &bad).unwrap();
    fails(&["play", cut.to_str().unwrap()], "not a readable MCAP file");
    let mut flipped = buf.clone();
    let mid = flipped.len() / 3;
    flipped[mid] ^= 0xff;
    let flip = dir.0.join("flip.mcap");
    std::fs::write(&flip, &flipped).unwrap();
    fails(
        &["play", flip.to_str().unwrap()],
        "not a readable MCAP file",
    );
    fails(&["play", "no-such-file.mcap"], "no-such-file.mcap");
    fails(
        &["record", "-o", file_s, "no/topic", "--wait", "0.1"],
        "no topic",
    );
}
