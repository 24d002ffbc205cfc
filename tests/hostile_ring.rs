//! Hostile ring contents written into a live topic's file behind the
//! library's back: every one is a typed `Corrupt` error or a skipped
//! message, never a panic, a hang or a torn message.

#[path = "support/fake.rs"]
mod fake;
use fake::*;

// ---------------------------------------------------------------------------
// Hostile ring contents in a live topic.
// ---------------------------------------------------------------------------

/// Offset in the file of the ring entry of message `seq` of a topic of geometry `GEO`.
fn entry_off(region: usize, seq: u64) -> usize {
    region + ring::ENTRIES + (seq % u64::from(GEO.capacity)) as usize * ring::ENTRY_LEN
}

/// Offset in the file of chunk `c`'s header, for slots of `max_payload` bytes.
fn chunk_off(region: usize, max_payload: usize, c: u64) -> usize {
    let stride = (ring::CHUNK_HEADER + max_payload.div_ceil(8) * 8).div_ceil(64) * 64;
    region + ring::ENTRIES + GEO.capacity as usize * ring::ENTRY_LEN + c as usize * stride
}

fn region_of(name: &str) -> usize {
    peek_u64(name, hdr::REGION_OFF) as usize
}

#[test]
fn ring_entry_naming_an_out_of_range_chunk_is_corrupt() {
    let chunks = u64::from(GEO.capacity + 1 + GEO.borrow_budget);
    // Exactly one past the last chunk, a value whose low 32 bits are a valid
    // index, and the largest.
    for bad in [chunks, 1u64 << 32, u64::MAX] {
        let ch = TestChannel::new("badchunk");
        let mut p = DynPublisher::create_with(ch.name(), GEO).unwrap();
        let mut s = DynSubscriber::connect_with(ch.name(), short()).unwrap();
        p.send_bytes(&pattern(10, 0)).unwrap();
        let e = entry_off(region_of(ch.name()), 0);
        poke(ch.name(), e + 8, &bad.to_ne_bytes());
        match s.try_recv() {
            Err(TryRecvError::Corrupt(r)) => {
                assert!(r.contains(&format!("chunk {bad}")), "{r}")
            }
            other => panic!("chunk {bad}: expected Corrupt, got {other:?}"),
        }
        // Once the publisher has overwritten the damaged entry, the
        // subscriber goes on with the messages still in the ring, and counts
        // the damaged one as missed.
        for seq in 1..=u64::from(GEO.capacity) {
            p.send_bytes(&pattern(10, seq)).unwrap();
        }
        for seq in 1..=u64::from(GEO.capacity) {
            assert_eq!(s.recv_timeout(T).unwrap().data, pattern(10, seq));
        }
        assert_eq!(s.missed(), 1);
    }
}

#[test]
fn ring_entry_naming_an_out_of_range_chunk_is_corrupt_for_typed_subscribers() {
    let ch = TestChannel::new("badchunktyped");
    let mut p = Publisher::<Small>::create_with(ch.name(), TYPED_GEO).unwrap();
    let mut s = Subscriber::<Small>::connect_with(ch.name(), short()).unwrap();
    p.send(&Small { stamp: 0, x: 0.0 }).unwrap();
    let e = entry_off(region_of(ch.name()), 0);
    poke(ch.name(), e + 8, &1000u64.to_ne_bytes());
    // A blocking receive reports it too (rather than waiting or looping).
    let r = s.recv_timeout(T);
    assert!(
        matches!(&r, Err(RecvTimeoutError::Corrupt(m)) if m.contains("chunk 1000")),
        "{r:?}"
    );

    let ch = TestChannel::new("badchunktyped");
    let mut p = Publisher::<Small>::create_with(ch.name(), TYPED_GEO).unwrap();
    let mut s = Subscriber::<Small>::connect_with(ch.name(), short()).unwrap();
    p.send(&Small { stamp: 0, x: 0.0 }).unwrap();
    let e = entry_off(region_of(ch.name()), 0);
    poke(ch.name(), e + 8, &1000u64.to_ne_bytes());
    let r = s.try_borrow();
    assert!(
        matches!(&r, Err(BorrowError::Corrupt(m)) if m.contains("chunk 1000")),
        "{:?}",
        r.err()
    );
}

#[test]
fn chunk_longer_than_the_slot_is_corrupt() {
    for bad in [GEO.max_payload + 1, u32::MAX] {
        let ch = TestChannel::new("badlen");
        let mut p = DynPublisher::create_with(ch.name(), GEO).unwrap();
        let mut s = DynSubscriber::connect_with(ch.name(), short()).unwrap();
        p.send_bytes(&pattern(64, 0)).unwrap();
        let region = region_of(ch.name());
        let c = peek_u64(ch.name(), entry_off(region, 0) + 8);
        let off = chunk_off(region, GEO.max_payload as usize, c);
        assert_eq!(
            peek_u32(ch.name(), off + ring::CH_LEN),
            64,
            "found the chunk"
        );
        poke(ch.name(), off + ring::CH_LEN, &bad.to_ne_bytes());
        match s.try_recv() {
            Err(TryRecvError::Corrupt(r)) => {
                assert!(r.contains(&format!("{bad} bytes")), "{r}")
            }
            other => panic!("len {bad}: expected Corrupt, got {other:?}"),
        }
    }
}

/// A typed topic of geometry `GEO` with one message published, whose chunk
/// length was then overwritten with `bad`; and a subscriber that connected
/// before the message (at most one borrow at a time).
fn typed_topic_with_bad_len(bad: u32) -> (TestChannel, Publisher<Small>, Subscriber<Small>) {
    let size = std::mem::size_of::<Small>();
    let ch = TestChannel::new("badlentyped");
    let mut p = Publisher::<Small>::create_with(ch.name(), TYPED_GEO).unwrap();
    let s = Subscriber::<Small>::connect_with(
        ch.name(),
        ConnectOptions {
            timeout: SHORT,
            max_borrows: 1,
            ..Default::default()
        },
    )
    .unwrap();
    p.send(&Small { stamp: 0, x: 9.0 }).unwrap();
    let region = region_of(ch.name());
    let c = peek_u64(ch.name(), entry_off(region, 0) + 8);
    let off = chunk_off(region, size, c);
    assert_eq!(
        peek_u32(ch.name(), off + ring::CH_LEN) as usize,
        size,
        "found the chunk"
    );
    poke(ch.name(), off + ring::CH_LEN, &bad.to_ne_bytes());
    (ch, p, s)
}

#[test]
fn typed_chunk_of_the_wrong_length_is_corrupt_and_borrowing_leaks_nothing() {
    let size = std::mem::size_of::<Small>() as u32;
    for bad in [size + 1, size - 1, 0, u32::MAX] {
        // Copying.
        let (_ch, _p, mut s) = typed_topic_with_bad_len(bad);
        assert!(
            matches!(s.try_recv(), Err(TryRecvError::Corrupt(_))),
            "len {bad}"
        );

        // Borrowing: the first attempt reports the damage; none of the
        // attempts may keep a pin, a budget token or this subscriber's
        // single borrow allowance.
        let (ch, mut p, mut s) = typed_topic_with_bad_len(bad);
        assert!(
            matches!(s.try_borrow(), Err(BorrowError::Corrupt(_))),
            "len {bad}"
        );
        for _ in 0..3 {
            let r = s.try_borrow();
            assert!(
                matches!(r, Err(BorrowError::Corrupt(_) | BorrowError::Empty)),
                "len {bad}: {r:?}"
            );
        }
        let pins = region_of(ch.name()) + ring::PINS;
        for i in 0..GEO.borrow_budget as usize {
            assert_eq!(
                peek_u64(ch.name(), pins + i * 8),
                0,
                "len {bad}: pin slot {i} leaked"
            );
        }
        for seq in 1..=u64::from(GEO.capacity) {
            p.send(&Small { stamp: seq, x: 0.0 }).unwrap();
        }
        let sample = s
            .try_borrow()
            .unwrap_or_else(|e| panic!("len {bad}: {e:?}"));
        assert_eq!(sample.stamp, 1, "len {bad}");
        assert_eq!(sample.x, 0.0);
    }
}

/// A `dyn-poll` child subscribed to `name`; hostile data that could make the
/// subscriber loop forever is tested in a child, which is killed if it hangs.
fn poller(name: &str, last_value: bool) -> Peer {
    let mut c = Peer::spawn(
        PEER,
        &["dyn-poll", name, if last_value { "1" } else { "0" }],
    );
    c.expect("ready", T);
    c
}

/// The digest in a poller's `frame codec TAG len LEN digest D missed M` line.
fn frame_digest(line: &str) -> u64 {
    let rest = line
        .strip_prefix("frame ")
        .unwrap_or_else(|| panic!("expected a frame, got {line:?}"));
    field(rest, "digest")
}

/// Asks the poller for one `try_recv` and returns its answer line.
fn poll(c: &mut Peer) -> String {
    c.say("try");
    c.line(T)
}

#[test]
fn ring_entry_stamped_ahead_of_the_write_sequence_does_not_hang_try_recv() {
    let ch = TestChannel::new("futurestamp");
    let mut p = DynPublisher::create_with(ch.name(), GEO).unwrap();
    let mut c = poller(ch.name(), false);
    p.send_bytes(&pattern(5, 0)).unwrap();
    let line = poll(&mut c);
    assert_eq!(
        frame_digest(&line),
        digest(&pattern(5, 0)),
        "message 0: {line}"
    );
    // The subscriber now waits for message 1. Its entry claims to hold
    // message 5 (stamp 2n+2 = 12), while the write sequence says 1 message.
    let region = region_of(ch.name());
    poke(ch.name(), entry_off(region, 1), &12u64.to_ne_bytes());
    let line = poll(&mut c);
    assert!(
        line.starts_with("empty") || line.starts_with("corrupt"),
        "forged entry: {line}"
    );
    // The real message 1 then overwrites the forged entry and arrives.
    p.send_bytes(&pattern(5, 1)).unwrap();
    let line = poll(&mut c);
    assert_eq!(
        frame_digest(&line),
        digest(&pattern(5, 1)),
        "message 1: {line}"
    );
    c.say("exit");
    assert!(c.wait_success(T));
}

#[test]
fn ring_entry_announcing_an_unpublished_message_does_not_hang_try_recv() {
    let ch = TestChannel::new("forgedentry");
    let mut p = DynPublisher::create_with(ch.name(), GEO).unwrap();
    let mut c = poller(ch.name(), false);
    p.send_bytes(&pattern(5, 0)).unwrap();
    let line = poll(&mut c);
    assert_eq!(
        frame_digest(&line),
        digest(&pattern(5, 0)),
        "message 0: {line}"
    );
    // Entry 1 forged to announce message 1 (stamp 2n+2 = 4) in the chunk
    // that holds message 0 (chunk stamp 2): a stamp mismatch, while the
    // write sequence still says 1 message.
    let region = region_of(ch.name());
    let chunk0 = peek_u64(ch.name(), entry_off(region, 0) + 8);
    let e1 = entry_off(region, 1);
    poke(ch.name(), e1 + 8, &chunk0.to_ne_bytes());
    poke(ch.name(), e1, &4u64.to_ne_bytes());
    let line = poll(&mut c);
    assert!(
        line.starts_with("empty") || line.starts_with("corrupt"),
        "forged entry: {line}"
    );
    p.send_bytes(&pattern(5, 1)).unwrap();
    let line = poll(&mut c);
    assert_eq!(
        frame_digest(&line),
        digest(&pattern(5, 1)),
        "message 1: {line}"
    );
    c.say("exit");
    assert!(c.wait_success(T));
}

#[test]
fn write_sequence_near_u64_max_does_not_panic_a_subscriber() {
    for last_value in [false, true] {
        let ch = TestChannel::new("hugeseq");
        let mut p = DynPublisher::create_with(ch.name(), GEO).unwrap();
        p.send_bytes(b"real").unwrap();
        let region = region_of(ch.name());
        poke(ch.name(), region + ring::WRITE_SEQ, &u64::MAX.to_ne_bytes());
        // A subscriber that joins now believes u64::MAX messages were sent.
        let mut c = poller(ch.name(), last_value);
        let line = poll(&mut c);
        assert!(
            line.starts_with("empty") || line.starts_with("corrupt"),
            "last_value {last_value}: {line}"
        );
        c.say("exit");
        assert!(c.wait_success(T), "last_value {last_value}");
    }
}

#[test]
fn a_service_whose_request_slots_cannot_hold_the_request_header_is_corrupt() {
    use shm_comm::reqrep::{DynReplier, DynRequester, RequesterOptions, ServiceOptions};
    let ch = TestChannel::new("tinyreqslots");
    let _rep = DynReplier::create_with(ch.name(), ServiceOptions::default()).unwrap();
    let path = PathBuf::from(SHM_DIR).join(segment::file_name(ch.name(), "svc").unwrap());
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let mut off = [0u8; 8];
    f.read_exact_at(&mut off, hdr::REGION_OFF as u64).unwrap();
    // The queue's `max_payload` (offset 4), after the participant table.
    let at = u64::from_ne_bytes(off) + segment::TABLE_LEN as u64 + 4;
    f.write_all_at(&8u32.to_ne_bytes(), at).unwrap();
    match DynRequester::connect_with(ch.name(), RequesterOptions::with_timeout(SHORT)) {
        Err(OpenError::Corrupt { reason, .. }) => {
            assert!(reason.contains("request header"), "{reason}")
        }
        other => panic!("expected a corrupt-segment error, got {other:?}"),
    }
}

#[test]
fn a_corrupt_request_queue_is_named_in_the_request_error() {
    // Before, a request that found the request queue damaged failed with
    // "reply is corrupt", pointing at the wrong place.
    use shm_comm::reqrep::{
        DynReplier, DynRequester, RequestError, RequesterOptions, ServiceOptions,
    };
    let ch = TestChannel::new("badreqqueue");
    let _rep = DynReplier::create_with(ch.name(), ServiceOptions::default()).unwrap();
    let req = DynRequester::connect_with(ch.name(), RequesterOptions::with_timeout(SHORT)).unwrap();
    let path = PathBuf::from(SHM_DIR).join(segment::file_name(ch.name(), "svc").unwrap());
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let mut off = [0u8; 8];
    f.read_exact_at(&mut off, hdr::REGION_OFF as u64).unwrap();
    // The state of cell 0 (after the participant table and the queue's
    // 320-byte control block): FULL of lap 5, impossible at position 0.
    let at = u64::from_ne_bytes(off) + segment::TABLE_LEN as u64 + 320;
    f.write_all_at(&(5u64 << 32 | 2 << 30).to_ne_bytes(), at)
        .unwrap();
    match req.request(b"x", shm_comm::Codec::Raw, SHORT) {
        Err(e @ RequestError::Corrupt(_)) => {
            let text = e.to_string();
            assert!(text.contains("request queue"), "{text}");
            assert!(!text.contains("reply"), "{text}");
        }
        other => panic!("expected a corrupt-service error, got {other:?}"),
    }
}

#[test]
fn a_subscriber_sent_ahead_of_the_writer_by_a_forged_write_sequence_resumes() {
    // Before: a forged write sequence made a lapped subscriber skip far
    // ahead; once the publisher wrote the real sequence again, the
    // subscriber waited for messages the publisher would not reach for
    // 2^40 sends: silently dead while its publisher was alive.
    let ch = TestChannel::new("aheadofwriter");
    let mut p = DynPublisher::create_with(ch.name(), GEO).unwrap();
    let mut s = DynSubscriber::connect_with(ch.name(), short()).unwrap();
    for i in 0..10 {
        p.send_bytes(&pattern(5, i)).unwrap();
        assert_eq!(s.try_recv().unwrap().data, pattern(5, i));
    }
    // The subscriber waits for message 10: its entry claims a newer
    // message, and the write sequence says 2^40 were published.
    let region = region_of(ch.name());
    poke(
        ch.name(),
        region + ring::WRITE_SEQ,
        &(1u64 << 40).to_ne_bytes(),
    );
    poke(ch.name(), entry_off(region, 10), &1000u64.to_ne_bytes());
    let _ = s.try_recv();
    // The publisher goes on (writing the real write sequence back).
    let mut errors = 0;
    for i in 10..30 {
        p.send_bytes(&pattern(5, i)).unwrap();
        match s.recv_timeout(Duration::from_millis(20)) {
            Ok(f) => {
                assert_eq!(f.data, pattern(5, i));
                return;
            }
            Err(RecvTimeoutError::Corrupt(e)) => {
                eprintln!("corrupt: {e}");
                errors += 1;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
    panic!("no message in 20 sends ({errors} corrupt errors)");
}
