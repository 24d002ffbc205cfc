//! Topics across simulated hosts: real bridge, publisher and subscriber
//! processes, each host a segment directory of its own.

mod support;

#[path = "../src/bin/test_peer/fixture.rs"]
#[allow(dead_code)]
mod fixture;

use serde_json::Value;
use support::{Host, Proc};

/// Reads `n` messages from a `sub-imu` peer and checks each equals, field
/// by field, the `Imu` the publisher sent for its sequence number; returns
/// the sequence numbers.
fn read_imus(sub: &mut Proc, n: usize) -> Vec<u64> {
    (0..n)
        .map(|_| {
            let v = sub.json();
            let seq = v["seq"]
                .as_u64()
                .unwrap_or_else(|| panic!("subscriber: {v}"));
            let want = format!("{:?}", fixture::imu(seq as u32));
            assert_eq!(v["debug"].as_str(), Some(want.as_str()), "message {seq}");
            seq
        })
        .collect()
}

fn count(stats: &Value, what: &str) -> u64 {
    stats[what]
        .as_u64()
        .unwrap_or_else(|| panic!("no {what}: {stats}"))
}

#[test]
fn a_typed_topic_crosses_with_every_field_equal() {
    let (a, b) = (Host::new("a"), Host::new("b"));
    let mut ba = a.bridge(&["--export", "robot/**"]);
    let mut bb = b.bridge(&["--connect", &a.endpoint(), "--import", "**"]);
    let _publisher = a.peer(&["pub-imu", "robot/imu", "2000", "0"]);
    let mut sub = b.peer(&["sub-imu", "robot/imu", "30", "15"]);
    let seqs = read_imus(&mut sub, 30);
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "in order, none lost or repeated: {seqs:?}"
    );
    let (sa, sb) = (ba.stop(), bb.stop());
    assert!(count(&sa, "exported") >= 30, "{sa}");
    assert!(count(&sb, "imported") >= 30, "{sb}");
    assert_eq!(count(&sb, "refused") + count(&sb, "bad"), 0, "{sb}");
}

#[test]
fn a_dynamic_topic_keeps_its_codec() {
    let (a, b) = (Host::new("a"), Host::new("b"));
    let _ba = a.bridge(&["--export", "**"]);
    let _bb = b.bridge(&["--connect", &a.endpoint(), "--import", "**"]);
    let _publisher = a.peer(&["pub-bytes", "chat", "2000", "100000"]);
    let mut sub = b.peer(&["sub-bytes", "chat", "5", "15"]);
    let mut last = None;
    for _ in 0..5 {
        let v = sub.json();
        assert_eq!(v["codec"], "msgpack", "{v}");
        let text = v["value"].as_str().unwrap().to_owned();
        let i: u64 = text.strip_prefix("msg-").unwrap().parse().unwrap();
        assert!(last.is_none_or(|l| i == l + 1), "{i} after {last:?}");
        last = Some(i);
    }
}

#[test]
fn three_bridges_in_a_triangle_deliver_each_message_once_per_host() {
    let (a, b, c) = (Host::new("a"), Host::new("b"), Host::new("c"));
    let all = ["--export", "**", "--import", "**"];
    let mut ba = a.bridge(&all);
    let mut bb = b.bridge(&[&all[..], &["--connect", &a.endpoint()]].concat());
    let mut bc = c.bridge(
        &[
            &all[..],
            &["--connect", &a.endpoint(), "--connect", &b.endpoint()],
        ]
        .concat(),
    );
    let _publisher = a.peer(&["pub-imu", "tri/imu", "3000", "0"]);
    let mut sub_b = b.peer(&["sub-imu", "tri/imu", "40", "15"]);
    let mut sub_c = c.peer(&["sub-imu", "tri/imu", "40", "15"]);
    for (host, sub) in [("B", &mut sub_b), ("C", &mut sub_c)] {
        let seqs = read_imus(sub, 40);
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "host {host}: each message exactly once: {seqs:?}"
        );
    }
    let (sa, sb, sc) = (ba.stop(), bb.stop(), bc.stop());
    // Only A's bridge reads the topic from shared memory; B and C publish
    // it and never send it on.
    assert!(count(&sa, "exported") >= 40, "{sa}");
    assert_eq!(count(&sb, "exported"), 0, "B re-exported: {sb}");
    assert_eq!(count(&sc, "exported"), 0, "C re-exported: {sc}");
    assert_eq!(count(&sa, "imported"), 0, "A imported its own topic: {sa}");
    for s in [&sb, &sc] {
        assert!(count(s, "imported") >= 40, "{s}");
    }
}

#[test]
fn a_layout_mismatch_is_refused_counted_and_named() {
    let (a, b) = (Host::new("a"), Host::new("b"));
    let _ba = a.bridge(&["--export", "**"]);
    // B has its own live `robot/imu`, of another type.
    let _local = b.peer(&["pub-mag", "robot/imu"]);
    let mut bb = b.bridge(&["--connect", &a.endpoint(), "--import", "**"]);
    let _publisher = a.peer(&["pub-imu", "robot/imu", "2000", "0"]);
    let log = bb.wait_stderr("refused `robot/imu`");
    // The first field that differs, by name (MagneticField's second field
    // against Imu's).
    assert!(
        log.contains("magnetic_field") || log.contains("orientation"),
        "the field is not named: {log}"
    );
    let stats = bb.stop();
    assert!(count(&stats, "refused") >= 1, "{stats}");
    assert_eq!(count(&stats, "imported"), 0, "{stats}");
    let lines = bb.stderr().matches("refused `robot/imu`").count();
    assert_eq!(lines, 1, "logged once, not per sample");
}

/// Reads messages until one is above `mark + 64`: the importing ring
/// holds 64, so such a message crossed after the moment `mark` was read.
/// Returns it.
fn read_past(sub: &mut Proc, mark: u64) -> u64 {
    for _ in 0..2000 {
        let seq = read_imus(sub, 1)[0];
        if seq > mark + 64 {
            return seq;
        }
    }
    panic!("nothing past {mark} + 64 in 2000 messages");
}

#[test]
fn a_bridge_killed_and_restarted_resumes_without_restarting_peers() {
    let (a, b) = (Host::new("a"), Host::new("b"));
    let args_b = ["--connect", &a.endpoint(), "--import", "**"];
    let mut ba = a.bridge(&["--export", "**"]);
    let mut bb = b.bridge(&args_b);
    let _publisher = a.peer(&["pub-imu", "robot/imu", "2000", "0"]);
    let mut sub = b.peer(&["sub-imu", "robot/imu", "100000", "15"]);
    let mark = *read_imus(&mut sub, 5).last().unwrap();

    // The importing side: its local topic is taken over by the new bridge.
    bb.kill();
    bb = b.bridge(&args_b);
    let mark = read_past(&mut sub, mark);

    // The exporting side: the new bridge reads the same local topic.
    ba.kill();
    ba = a.bridge(&["--export", "**"]);
    read_past(&mut sub, mark);
    let (sa, sb) = (ba.stop(), bb.stop());
    assert!(count(&sa, "exported") > 0, "{sa}");
    assert!(count(&sb, "imported") > 0, "{sb}");
}
