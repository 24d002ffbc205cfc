//! Dynamic channels across processes: raw bytes of every size with exact
//! contents, msgpack of serde structs encoded in one process and decoded in
//! another, codec tags (pickle, unknown) passed through untouched, and what
//! late and last-value subscribers receive.
//!
//! The other process is the `shm-comm-test-peer` binary, except for the
//! msgpack test: the peer cannot use serde (a dev-dependency), so that test
//! runs a second copy of this test binary as its child (see [`child_main`]).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use shm_comm::pubsub::{ConnectOptions, DynPublisher, DynSubscriber, PubOptions};
use shm_comm::{Codec, DecodeError, Frame, TryRecvError};
use suite::{digest, field, pattern, Peer, TestChannel};

const PEER: &str = env!("CARGO_BIN_EXE_shm-comm-test-peer");
const T: Duration = Duration::from_secs(20);
/// Set in the environment of a child copy of this test binary: which role it plays.
const CHILD_ENV: &str = "SHM_COMM_DYNAMIC_TEST_CHILD";

/// Payload sizes around every boundary of a 4096-byte slot: empty, sub-word,
/// one word, word + 1, cache line, and the full slot.
const SIZES: [usize; 11] = [0, 1, 7, 8, 9, 63, 64, 65, 1000, 4095, 4096];

fn peer(args: &[&str]) -> Peer {
    Peer::spawn(PEER, args)
}

fn connect(name: &str, last_value: bool) -> DynSubscriber {
    DynSubscriber::connect_with(
        name,
        ConnectOptions {
            timeout: T,
            last_value,
            ..Default::default()
        },
    )
    .unwrap()
}

fn slot_4096() -> PubOptions {
    PubOptions {
        max_payload: 4096,
        capacity: 64,
        ..Default::default()
    }
}

/// The fields of a peer's `frame codec TAG len LEN digest D ...` line.
struct FrameLine {
    tag: u32,
    len: usize,
    digest: u64,
}

fn parse_frame(line: &str) -> FrameLine {
    let rest = line
        .strip_prefix("frame ")
        .unwrap_or_else(|| panic!("expected a frame line, got {line:?}"));
    FrameLine {
        tag: field(rest, "codec") as u32,
        len: field(rest, "len") as usize,
        digest: field(rest, "digest"),
    }
}

/// Checks a peer's frame line against `pattern(len, seed)` tagged `codec`.
fn assert_frame_line(line: &str, codec: Codec, len: usize, seed: u64) {
    let f = parse_frame(line);
    assert_eq!(f.tag, codec.tag(), "{line}");
    assert_eq!(f.len, len, "{line}");
    assert_eq!(f.digest, digest(&pattern(len, seed)), "{line}");
}

// ---------------------------------------------------------------------------
// Raw bytes.
// ---------------------------------------------------------------------------

#[test]
fn raw_bytes_of_every_size_from_another_process_arrive_exactly() {
    let ch = TestChannel::new("dynraw-in");
    let mut p = peer(&["dyn-pub", ch.name(), "4096", "64"]);
    p.expect("ready", T);
    let mut s = connect(ch.name(), false);
    for (seed, &len) in SIZES.iter().enumerate() {
        p.say(&format!("bytes {len} {seed}"));
        assert_eq!(p.expect("sent", T), len.to_string());
        let f = s.recv_timeout(T).unwrap();
        assert_eq!(f.codec, Codec::Raw, "{len} bytes");
        assert_eq!(f.data.len(), len);
        assert!(f.data == pattern(len, seed as u64), "{len} bytes differ");
    }
    // One byte too many: an error in the publisher, nothing for the subscriber.
    p.say("bytes 4097 0");
    let line = p.line(T);
    assert!(line.starts_with("error") && line.contains("4097"), "{line}");
    assert_eq!(s.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(s.missed(), 0);
    p.say("exit");
    assert!(p.wait_success(T));
    assert!(!s.raw_mut().publisher_alive());
}

#[test]
fn raw_bytes_of_every_size_to_another_process_arrive_exactly() {
    let ch = TestChannel::new("dynraw-out");
    let mut p = DynPublisher::create_with(ch.name(), slot_4096()).unwrap();
    let mut sub = peer(&["dyn-sub", ch.name(), &SIZES.len().to_string(), "0"]);
    sub.expect("ready", T);
    for (seed, &len) in SIZES.iter().enumerate() {
        p.send_bytes(&pattern(len, seed as u64)).unwrap();
    }
    for (seed, &len) in SIZES.iter().enumerate() {
        assert_frame_line(&sub.line(T), Codec::Raw, len, seed as u64);
    }
    assert_eq!(field(&sub.expect("done", T), "missed"), 0);
    assert!(sub.wait_success(T));
}

// ---------------------------------------------------------------------------
// msgpack.
// ---------------------------------------------------------------------------

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Severity {
    Info,
    Warning { code: u32 },
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Pose {
    position: [f64; 3],
    heading: f32,
}

/// A struct with most of what serde can express: strings, integers, floats,
/// nested structs, sequences, maps, options, enums and raw bytes.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Event {
    source: String,
    seq: u64,
    delta: i32,
    pose: Pose,
    tags: Vec<String>,
    readings: BTreeMap<String, f64>,
    note: Option<String>,
    severity: Severity,
    #[serde(with = "serde_bytes_compat")]
    blob: Vec<u8>,
}

/// Serializes `Vec<u8>` as a msgpack `bin` (how Python `bytes` arrive)
/// rather than an array of integers, without another dependency.
mod serde_bytes_compat {
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
        }
        d.deserialize_bytes(V)
    }
}

impl Event {
    /// The `i`th event the parent sends.
    fn sample(i: u64) -> Event {
        Event {
            source: format!("lidar-{i}"),
            seq: i,
            delta: -(i as i32) * 7,
            pose: Pose {
                position: [i as f64 * 0.5, -1.25, 1e-9],
                heading: 0.1 * i as f32,
            },
            tags: (0..i % 4).map(|k| format!("tag{k}")).collect(),
            readings: (0..3)
                .map(|k| (format!("r{k}"), i as f64 / (k as f64 + 1.0)))
                .collect(),
            note: (i % 2 == 0).then(|| "even ✓".to_owned()),
            severity: if i % 3 == 0 {
                Severity::Info
            } else {
                Severity::Warning { code: i as u32 }
            },
            blob: pattern(i as usize * 13, i),
        }
    }

    /// What the child answers to `self`.
    fn reply(&self) -> Event {
        let mut r = self.clone();
        r.source = format!("child saw {}", self.source);
        r.seq += 1000;
        r.tags.push("echoed".into());
        r.note = None;
        r
    }
}

/// Messages the msgpack test sends each way.
const EVENTS: u64 = 20;

/// The child side of the msgpack test (this binary re-run with [`CHILD_ENV`]
/// set to `msgpack TO_CHILD TO_PARENT`): decodes every event the parent sent
/// and answers each with [`Event::reply`], then sends a pickle-tagged frame.
/// Reports on stdout; any failure panics, so the child exits non-zero.
fn child_main(spec: &str) {
    let args: Vec<&str> = spec.split_whitespace().collect();
    let [_, to_child, to_parent] = args[..] else {
        panic!("bad child spec {spec:?}")
    };
    let mut s = connect(to_child, false);
    let mut p = DynPublisher::create_with(to_parent, slot_4096()).unwrap();
    // On a line of its own, whatever the test harness printed before.
    println!("\nready");
    for i in 0..EVENTS {
        let f = s.recv_timeout(T).unwrap();
        assert_eq!(f.codec, Codec::MsgPack);
        let e: Event = f.decode().unwrap();
        assert_eq!(e, Event::sample(i));
        p.send_msgpack(&e.reply()).unwrap();
    }
    // Msgpack bytes tagged raw: decoding must refuse them.
    let f = s.recv_timeout(T).unwrap();
    assert_eq!(f.codec, Codec::Raw);
    match f.decode::<Event>() {
        Err(DecodeError::WrongCodec { expected, found }) => {
            println!("wrong-codec expected {expected} found {found}")
        }
        other => panic!("raw frame decoded: {other:?}"),
    }
    p.send_frame(b"\x80\x04pickled", Codec::Pickle).unwrap();
    println!("child done {EVENTS}");
    // Keep the topic until the parent has read everything.
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

#[test]
fn msgpack_struct_crosses_processes_both_ways() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        return child_main(&spec);
    }
    let to_child = TestChannel::new("msgpack-down");
    let to_parent = TestChannel::new("msgpack-up");
    let mut p = DynPublisher::create_with(to_child.name(), slot_4096()).unwrap();
    let me = std::env::current_exe().unwrap();
    let spec = format!("msgpack {} {}", to_child.name(), to_parent.name());
    let mut child = Peer::spawn_with_env(
        me.to_str().unwrap(),
        &[
            "--exact",
            "msgpack_struct_crosses_processes_both_ways",
            "--nocapture",
            "--quiet",
            "--test-threads=1",
        ],
        &[(CHILD_ENV, &spec)],
    );
    child.expect("ready", T);
    let mut s = connect(to_parent.name(), false);

    for i in 0..EVENTS {
        p.send_msgpack(&Event::sample(i)).unwrap();
    }
    for i in 0..EVENTS {
        let f = s.recv_timeout(T).unwrap();
        assert_eq!(f.codec, Codec::MsgPack);
        let got: Event = f.decode().unwrap();
        assert_eq!(got, Event::sample(i).reply());
    }
    // The same bytes, tagged raw.
    let bytes = shm_comm::codec::to_msgpack(&Event::sample(0)).unwrap();
    p.send_frame(&bytes, Codec::Raw).unwrap();
    assert_eq!(child.expect("wrong-codec", T), "expected msgpack found raw");

    let f = s.recv_timeout(T).unwrap();
    assert_eq!(
        f,
        Frame {
            codec: Codec::Pickle,
            data: b"\x80\x04pickled".to_vec()
        }
    );
    assert_eq!(
        f.decode::<Event>(),
        Err(DecodeError::WrongCodec {
            expected: "msgpack",
            found: "pickle".into()
        })
    );
    assert_eq!(child.expect("child done", T), EVENTS.to_string());
    child.say("exit");
    assert!(child.wait_success(T), "the child's checks failed");
    assert_eq!(s.missed(), 0);
}

#[test]
fn frames_from_another_process_decode_only_as_what_they_are() {
    let ch = TestChannel::new("decode");
    let mut p = peer(&["dyn-pub", ch.name(), "4096", "64"]);
    p.expect("ready", T);
    let mut s = connect(ch.name(), false);

    // Raw bytes are not msgpack, whatever they contain.
    p.say("bytes 16 1");
    p.expect("sent", T);
    let f = s.recv_timeout(T).unwrap();
    assert_eq!(
        f.decode::<Event>(),
        Err(DecodeError::WrongCodec {
            expected: "msgpack",
            found: "raw".into()
        })
    );
    // Bytes tagged msgpack that are not an `Event`: a decode error, no panic.
    p.say("frame 1 16 2");
    p.expect("sent", T);
    let f = s.recv_timeout(T).unwrap();
    assert_eq!(f.codec, Codec::MsgPack);
    match f.decode::<Event>() {
        Err(DecodeError::Invalid { codec, reason }) => {
            assert_eq!(codec, "msgpack");
            assert!(!reason.is_empty());
        }
        other => panic!("garbage decoded: {other:?}"),
    }
    // An empty msgpack frame.
    p.say("frame 1 0 0");
    p.expect("sent", T);
    let f = s.recv_timeout(T).unwrap();
    assert!(matches!(
        f.decode::<Event>(),
        Err(DecodeError::Invalid { .. })
    ));
    p.say("exit");
    assert!(p.wait_success(T));
}

// ---------------------------------------------------------------------------
// Codec tags.
// ---------------------------------------------------------------------------

#[test]
fn pickle_and_unknown_codec_tags_pass_through_both_ways() {
    // Peer -> test.
    let ch = TestChannel::new("tags-in");
    let mut p = peer(&["dyn-pub", ch.name(), "4096", "64"]);
    p.expect("ready", T);
    let mut s = connect(ch.name(), false);
    for (tag, len, seed, want) in [
        (2, 100, 7, Codec::Pickle),
        (2, 0, 8, Codec::Pickle),
        (77, 10, 9, Codec::Other(77)),
        (u32::MAX, 4096, 10, Codec::Other(u32::MAX)),
    ] {
        p.say(&format!("frame {tag} {len} {seed}"));
        p.expect("sent", T);
        let f = s.recv_timeout(T).unwrap();
        assert_eq!(f.codec, want);
        assert!(f.data == pattern(len, seed), "tag {tag}: contents differ");
    }
    p.say("exit");
    assert!(p.wait_success(T));

    // Test -> peer.
    let ch = TestChannel::new("tags-out");
    let mut p = DynPublisher::create_with(ch.name(), slot_4096()).unwrap();
    let mut sub = peer(&["dyn-sub", ch.name(), "3", "0"]);
    sub.expect("ready", T);
    p.send_frame(&pattern(300, 1), Codec::Pickle).unwrap();
    p.send_frame(&pattern(5, 2), Codec::Other(1234)).unwrap();
    p.send_frame(&pattern(64, 3), Codec::Raw).unwrap();
    assert_frame_line(&sub.line(T), Codec::Pickle, 300, 1);
    assert_frame_line(&sub.line(T), Codec::Other(1234), 5, 2);
    assert_frame_line(&sub.line(T), Codec::Raw, 64, 3);
    assert!(sub.wait_success(T));
}

// ---------------------------------------------------------------------------
// Joining.
// ---------------------------------------------------------------------------

/// A `dyn-poll` child on `name`.
fn poller(name: &str, last_value: bool) -> Peer {
    let mut c = peer(&["dyn-poll", name, if last_value { "1" } else { "0" }]);
    c.expect("ready", T);
    c
}

/// The `missed` count that ends every answer of a poller.
fn missed(line: &str) -> u64 {
    let (_, n) = line
        .rsplit_once(" missed ")
        .unwrap_or_else(|| panic!("no missed count in {line:?}"));
    n.parse().unwrap()
}

/// The poller's answer to `cmd` (`try` or `recv MS`).
fn ask(c: &mut Peer, cmd: &str) -> String {
    c.say(cmd);
    c.line(T)
}

#[test]
fn late_joiner_gets_only_messages_published_after_it_connected() {
    let ch = TestChannel::new("latejoin");
    let mut p = DynPublisher::create_with(ch.name(), slot_4096()).unwrap();
    for seed in 0..3 {
        p.send_bytes(&pattern(20, seed)).unwrap();
    }
    let mut c = poller(ch.name(), false);
    let line = ask(&mut c, "try");
    assert!(line.starts_with("empty"), "{line}");
    for seed in 10..13 {
        p.send_bytes(&pattern(20, seed)).unwrap();
    }
    for seed in 10..13 {
        assert_frame_line(&ask(&mut c, "recv 10000"), Codec::Raw, 20, seed);
    }
    let line = ask(&mut c, "try");
    assert!(line.starts_with("empty"), "{line}");
    assert_eq!(missed(&line), 0, "early messages are not missed ones");
    c.say("exit");
    assert!(c.wait_success(T));
}

#[test]
fn last_value_subscriber_gets_the_newest_message_first() {
    let ch = TestChannel::new("lastvalue");
    let mut p = DynPublisher::create_with(ch.name(), slot_4096()).unwrap();

    // Nothing published yet: nothing to get.
    let mut early = poller(ch.name(), true);
    let line = ask(&mut early, "try");
    assert!(line.starts_with("empty"), "{line}");

    for seed in 0..5 {
        p.send_frame(&pattern(33, seed), Codec::MsgPack).unwrap();
    }
    let mut c = poller(ch.name(), true);
    // The newest of the five, and only it.
    assert_frame_line(&ask(&mut c, "try"), Codec::MsgPack, 33, 4);
    let line = ask(&mut c, "try");
    assert!(line.starts_with("empty"), "{line}");
    assert_eq!(missed(&line), 0);
    // Then everything that follows.
    p.send_bytes(&pattern(1, 5)).unwrap();
    assert_frame_line(&ask(&mut c, "recv 10000"), Codec::Raw, 1, 5);

    // The subscriber that connected before any message sees all six.
    for seed in 0..5 {
        assert_frame_line(&ask(&mut early, "recv 10000"), Codec::MsgPack, 33, seed);
    }
    assert_frame_line(&ask(&mut early, "recv 10000"), Codec::Raw, 1, 5);
    for mut c in [c, early] {
        c.say("exit");
        assert!(c.wait_success(T));
    }
}
