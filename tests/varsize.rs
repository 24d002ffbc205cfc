//! Variable-size typed topics across real processes: 640x480 and
//! 3840x2160 RGB frames on one topic, loaned in one process and checked
//! byte for byte in another; a topic grown several times while two
//! subscriber processes read it; a frame over the maximum and a wrong
//! element type refused with typed errors.

use std::time::Duration;

use shm_comm::varsize::{VarPublisher, VarSubscriber};
use shm_comm::{OpenError, SendError};
use suite::{FrameHead, Peer, TestChannel};

const PEER: &str = env!("CARGO_BIN_EXE_shm-comm-test-peer");
const T: Duration = Duration::from_secs(60);

fn peer(args: &[&str]) -> Peer {
    Peer::spawn(PEER, args)
}

#[test]
fn vga_and_4k_frames_on_one_topic_arrive_byte_for_byte() {
    let ch = TestChannel::new("var-frames");
    let mut publisher = peer(&["vframes", ch.name()]);
    publisher.expect("ready", T);
    let sizes = [
        (640u32, 480u32),
        (3840, 2160),
        (640, 480),
        (3840, 2160),
        (1, 1),
    ];
    let mut sub = peer(&["vcheck", ch.name(), &sizes.len().to_string()]);
    sub.expect("ready", T);
    // One frame at a time: the default ring of 24 MB frames keeps 2.
    for (seq, (w, h)) in sizes.iter().enumerate() {
        publisher.say(&format!("{w} {h}"));
        assert_eq!(publisher.expect("sent", T), seq.to_string());
        let n = w * h;
        assert_eq!(
            sub.expect("frame", T),
            format!("{seq} {w}x{h} {n} ok"),
            "frame {seq}"
        );
    }
    assert_eq!(sub.expect("missed", T), "0");
    publisher.say("end");
}

#[test]
fn a_frame_over_the_maximum_and_a_wrong_element_are_typed_errors() {
    let ch = TestChannel::new("var-refused");
    let mut p = VarPublisher::<FrameHead, [u8; 3]>::create(ch.name(), 640 * 480).unwrap();
    match p.loan_with_len(640 * 480 + 1) {
        Err(SendError::TooLong { len, max }) => assert_eq!((len, max), (640 * 480 + 1, 640 * 480)),
        other => panic!("expected TooLong, got {other:?}"),
    }
    assert_eq!(p.published(), 0);
    // Another process asking for 4-byte pixels is refused, by field.
    let mut wrong = peer(&["vwrong", ch.name()]);
    let said = wrong.expect("error", T);
    assert!(said.contains("tail element: [u8; 4] vs [u8; 3]"), "{said}");
    // In this process too, as the typed error.
    let err = VarSubscriber::<FrameHead, [u16; 3]>::connect(ch.name()).unwrap_err();
    assert!(matches!(err, OpenError::LayoutMismatch { .. }), "{err}");
}

#[test]
fn growing_the_maximum_while_two_processes_read_loses_and_tears_nothing() {
    let ch = TestChannel::new("var-grow");
    // 4 grows (16 -> 4096 pixels); a ring of 1024 frames and a frame every
    // 100 us keep a subscriber of a debug build from being lapped, so
    // every frame must arrive.
    let count = 3000u64;
    let mut publisher = peer(&["vgrow", ch.name(), &count.to_string(), "4", "1024", "100"]);
    publisher.expect("ready", T);
    let mut subs: Vec<Peer> = (0..2)
        .map(|_| peer(&["vfollow", ch.name(), &count.to_string()]))
        .collect();
    for s in &mut subs {
        s.expect("ready", T);
    }
    publisher.say("go");
    assert_eq!(publisher.expect("sent", T), format!("{count} generation 4"));
    for s in &mut subs {
        assert_eq!(
            s.expect("got", T),
            format!("{count} missed 0 torn 0 gaps 0 generation 4")
        );
    }
    publisher.say("end");
}
