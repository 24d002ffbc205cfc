//! REQ/REP across real processes: ordered sequential calls, several
//! requesters and repliers, late replies, dead or absent peers, idle CPU,
//! and dynamic frames. The other side runs in `shm-comm-pattern-peer`
//! (tests/support/pattern_peer.rs).

use std::time::{Duration, Instant};

use shm_comm::codec::to_msgpack;
use shm_comm::reqrep::{
    DynReplier, DynRequester, Replier, RequestError, Requester, RequesterOptions,
};
use shm_comm::{Codec, CreateError, OpenError, ShmMessage};
use suite::{field, pattern, Peer, TestChannel};

const PEER: &str = env!("CARGO_BIN_EXE_shm-comm-pattern-peer");
/// How long to wait for a peer's line (generous: the machine may be loaded).
const T: Duration = Duration::from_secs(30);

fn peer(args: &[&str]) -> Peer {
    Peer::spawn(PEER, args)
}

/// A request of the test service (the same type as in the peer).
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Ask {
    client: u64,
    seq: u64,
}

/// Its reply (the same type as in the peer).
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Answer {
    client: u64,
    seq: u64,
    double: u64,
    server: u64,
}

/// Another reply type named `Answer`, differing in one field.
mod other {
    use shm_comm::ShmMessage;

    #[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
    #[repr(C)]
    pub struct Answer {
        pub client: u64,
        pub seq: u64,
        pub double: f64,
        pub server: u64,
    }
}

fn expected(client: u64, seq: u64, server: u64) -> Answer {
    Answer {
        client,
        seq,
        double: seq * 2,
        server,
    }
}

/// Starts a typed replier process answering as `id`; `hold` makes it hold
/// its first request until told `release`.
fn replier(name: &str, id: u64, hold: bool) -> Peer {
    let mut p = peer(&[
        "replier",
        name,
        &id.to_string(),
        if hold { "1" } else { "0" },
    ]);
    p.expect("ready", T);
    p
}

/// Stops a replier process; returns its `served ...` line.
fn stop(mut p: Peer) -> String {
    p.say("stop");
    let line = format!("served {}", p.expect("served", T));
    assert!(p.wait_success(T));
    line
}

fn connect(name: &str) -> Requester<Ask, Answer> {
    Requester::connect_with(name, RequesterOptions::with_timeout(T)).unwrap()
}

#[test]
fn hundred_thousand_sequential_calls_are_answered_in_order() {
    let ch = TestChannel::new("rr-seq");
    let rep = replier(ch.name(), 1, false);
    let req = connect(ch.name());
    let n = 100_000u64;
    let t0 = Instant::now();
    for seq in 0..n {
        let a = req
            .request(&Ask { client: 7, seq }, T)
            .unwrap_or_else(|e| panic!("call {seq}: {e}"));
        assert_eq!(a, expected(7, seq, 1), "call {seq}");
    }
    let took = t0.elapsed();
    eprintln!(
        "{n} sequential calls in {took:.2?}: {:.0} calls/s",
        n as f64 / took.as_secs_f64()
    );
    let line = stop(rep);
    assert_eq!(field(&line, "served"), n, "{line}");
    assert_eq!(field(&line, "discarded"), 0, "{line}");
}

#[test]
fn four_requester_processes_get_exactly_their_own_replies_from_two_repliers() {
    let ch = TestChannel::new("rr-many");
    let per = 5_000u64;
    // The first replier creates the service, the second joins it.
    let repliers = [replier(ch.name(), 1, false), replier(ch.name(), 2, false)];
    let mut requesters: Vec<Peer> = (0..4u64)
        .map(|client| {
            peer(&[
                "requester",
                ch.name(),
                &client.to_string(),
                &per.to_string(),
            ])
        })
        .collect();
    for r in &mut requesters {
        r.expect("ready", T);
    }
    for r in &mut requesters {
        r.say("go");
    }
    for (client, r) in requesters.iter_mut().enumerate() {
        let line = r.expect("done", Duration::from_secs(60));
        eprintln!("requester: {line}");
        assert_eq!(field(&line, "client"), client as u64, "{line}");
        assert_eq!(field(&line, "replies"), per, "{line}");
        assert_eq!(field(&line, "mismatches"), 0, "{line}");
        assert_eq!(field(&line, "errors"), 0, "{line}");
        assert!(r.wait_success(T));
    }
    let mut total = 0;
    for (i, r) in repliers.into_iter().enumerate() {
        let line = stop(r);
        eprintln!("replier {}: {line}", i + 1);
        assert_eq!(field(&line, "discarded"), 0, "{line}");
        assert!(
            field(&line, "served") > 0,
            "replier {} served nothing",
            i + 1
        );
        total += field(&line, "served");
    }
    assert_eq!(total, 4 * per);
}

#[test]
fn a_late_reply_to_a_timed_out_call_is_not_returned_to_the_next_call() {
    let ch = TestChannel::new("rr-late");
    let mut rep = replier(ch.name(), 1, true);
    let req = connect(ch.name());
    // The replier takes the first request and holds it: the call times out.
    let r = req.request(&Ask { client: 1, seq: 1 }, Duration::from_millis(300));
    assert_eq!(
        r,
        Err(RequestError::Timeout {
            replier_alive: true
        })
    );
    assert_eq!(rep.expect("holding", T), "client 1 seq 1");
    std::thread::scope(|s| {
        // The next call is in flight when the late reply to the first is written.
        let second = s.spawn(|| req.request(&Ask { client: 1, seq: 2 }, T));
        std::thread::sleep(Duration::from_millis(100));
        rep.say("release");
        assert_eq!(
            rep.expect("late delivered", T),
            "0",
            "the late reply was written into the mailbox"
        );
        let a = second.join().unwrap().unwrap();
        assert_eq!(a, expected(1, 2, 1), "the second call got the late reply");
    });
    // And the service goes on normally.
    for seq in 3..100 {
        assert_eq!(
            req.request(&Ask { client: 1, seq }, T).unwrap(),
            expected(1, seq, 1)
        );
    }
    let line = stop(rep);
    assert_eq!(field(&line, "served"), 99, "{line}");
    assert_eq!(field(&line, "discarded"), 1, "{line}");
}

#[test]
fn connecting_to_a_missing_service_fails_with_not_found_after_the_connect_timeout() {
    let ch = TestChannel::new("rr-absent");
    let timeout = Duration::from_millis(300);
    let t0 = Instant::now();
    let r =
        Requester::<Ask, Answer>::connect_with(ch.name(), RequesterOptions::with_timeout(timeout));
    let waited = t0.elapsed();
    eprintln!("connect to a missing service failed after {waited:.2?}");
    assert!(matches!(r, Err(OpenError::NotFound { .. })), "{r:?}");
    assert!(waited >= timeout, "gave up early: {waited:?}");
    assert!(waited < timeout + Duration::from_secs(2), "{waited:?}");
    let r = DynRequester::connect_with(ch.name(), RequesterOptions::with_timeout(timeout));
    assert!(matches!(r, Err(OpenError::NotFound { .. })), "{r:?}");
}

#[test]
fn a_requester_whose_replier_was_killed_times_out_saying_no_replier_is_alive() {
    let ch = TestChannel::new("rr-dead");
    // The replier holds our request and is killed while we wait for the reply.
    let mut rep = replier(ch.name(), 1, true);
    let req = connect(ch.name());
    assert_eq!(req.repliers(), 1);
    let timeout = Duration::from_millis(1500);
    let slack = Duration::from_secs(1);
    std::thread::scope(|s| {
        let call = s.spawn(|| {
            let t0 = Instant::now();
            (
                req.request(&Ask { client: 1, seq: 1 }, timeout),
                t0.elapsed(),
            )
        });
        rep.expect("holding", T);
        rep.kill();
        let (r, took) = call.join().unwrap();
        eprintln!("in-flight call to a killed replier: {r:?} after {took:.2?}");
        assert_eq!(
            r,
            Err(RequestError::Timeout {
                replier_alive: false
            })
        );
        assert!(took >= timeout && took < timeout + slack, "{took:?}");
    });
    assert_eq!(req.repliers(), 0);
    // A new call to the dead service also times out, and says why.
    let timeout = Duration::from_millis(300);
    let t0 = Instant::now();
    let r = req.request(&Ask { client: 1, seq: 2 }, timeout);
    let took = t0.elapsed();
    eprintln!("new call without a replier: {r:?} after {took:.2?}");
    assert_eq!(
        r,
        Err(RequestError::Timeout {
            replier_alive: false
        })
    );
    assert!(took >= timeout && took < timeout + slack, "{took:?}");
}

#[test]
fn a_requester_killed_mid_call_does_not_disturb_the_replier() {
    let ch = TestChannel::new("rr-reqdeath");
    let mut rep = replier(ch.name(), 1, true);
    let mut doomed = peer(&["requester", ch.name(), "9", "1"]);
    doomed.expect("ready", T);
    doomed.say("go");
    // Its request was sent and taken: kill it before the reply.
    assert_eq!(rep.expect("holding", T), "client 9 seq 0");
    doomed.kill();
    rep.say("release");
    let late = rep.expect("late delivered", T);
    eprintln!("reply to the killed requester: delivered {late}");
    // The replier goes on serving another requester (which may reuse the
    // dead one's mailbox).
    let req = connect(ch.name());
    for seq in 0..1000 {
        assert_eq!(
            req.request(&Ask { client: 2, seq }, T).unwrap(),
            expected(2, seq, 1)
        );
    }
    let line = stop(rep);
    assert_eq!(field(&line, "served"), 1001, "{line}");
}

#[test]
fn idle_replier_blocked_in_recv_uses_under_one_percent_of_a_core() {
    let ch = TestChannel::new("rr-idle");
    let mut idle = peer(&["idle-replier", ch.name(), "1000"]);
    idle.expect("ready", T);
    let line = format!("cpu_us {}", idle.expect("cpu_us", T));
    let (cpu, wall) = (field(&line, "cpu_us"), field(&line, "wall_us"));
    eprintln!("idle replier: {line}");
    assert_eq!(field(&line, "timeout"), 1, "{line}");
    assert!(wall >= 1_000_000, "returned before its timeout: {line}");
    assert!(cpu * 100 < wall, "more than 1% of a core: {line}");
    assert!(idle.wait_success(T));
}

#[test]
fn dynamic_requests_carry_bytes_and_msgpack_between_processes() {
    let ch = TestChannel::new("rr-dyn");
    let max = 1024usize;
    let mut rep = peer(&["dyn-replier", ch.name(), &max.to_string()]);
    rep.expect("ready", T);
    let req = DynRequester::connect_with(ch.name(), RequesterOptions::with_timeout(T)).unwrap();
    assert_eq!(req.raw().max_request(), max);
    // Raw bytes come back reversed, of every size up to the limit.
    for (i, len) in [0, 1, 7, 8, 100, 1000, max].into_iter().enumerate() {
        let data = pattern(len, i as u64);
        let reply = req.request(&data, Codec::Raw, T).unwrap();
        assert_eq!(reply.codec, Codec::Raw);
        let want: Vec<u8> = data.iter().rev().copied().collect();
        assert_eq!(reply.data, want, "{len} bytes");
    }
    // msgpack: (n, text) comes back as (2n, TEXT).
    let frame = to_msgpack(&(21u64, "hello")).unwrap();
    let reply = req.request(&frame, Codec::MsgPack, T).unwrap();
    assert_eq!(reply.codec, Codec::MsgPack);
    assert_eq!(
        reply.decode::<(u64, String)>().unwrap(),
        (42, "HELLO".to_owned())
    );
    // Other codecs pass through with their tag.
    let opaque = pattern(300, 99);
    let reply = req.request(&opaque, Codec::Pickle, T).unwrap();
    assert_eq!((reply.codec, reply.data), (Codec::Pickle, opaque));
    // A request over the limit is refused before it is sent.
    let r = req.request(&pattern(max + 1, 1), Codec::Raw, T);
    assert_eq!(r, Err(RequestError::TooLarge { len: max + 1, max }));
    // The service still works after the refusal.
    let reply = req.request(b"abc", Codec::Raw, T).unwrap();
    assert_eq!(reply.data, b"cba");
    // A typed requester cannot call a dynamic service.
    let typed =
        Requester::<Ask, Answer>::connect_with(ch.name(), RequesterOptions::with_timeout(T));
    assert!(
        matches!(typed, Err(OpenError::Incompatible { .. })),
        "{typed:?}"
    );
    rep.say("stop");
    assert_eq!(
        field(&format!("served {}", rep.expect("served", T)), "served"),
        10
    );
    assert!(rep.wait_success(T));
}

#[test]
fn a_replier_of_other_types_is_told_the_first_differing_field_and_both_hashes() {
    let ch = TestChannel::new("rr-layout");
    let _rep = Replier::<Ask, Answer>::create(ch.name()).unwrap();
    // A second replier of other types joins the service: refused, naming
    // the field, as a requester of those types is.
    let joined = match Replier::<Ask, other::Answer>::create(ch.name()) {
        Err(CreateError::Existing(e)) => *e,
        other => panic!("expected Existing(LayoutMismatch), got {other:?}"),
    };
    let connected =
        Requester::<Ask, other::Answer>::connect_with(ch.name(), RequesterOptions::with_timeout(T))
            .unwrap_err();
    for e in [joined, connected] {
        let text = e.to_string();
        eprintln!("{text}");
        let OpenError::LayoutMismatch {
            ours,
            theirs,
            ours_hash,
            theirs_hash,
            difference,
            ..
        } = e
        else {
            panic!("expected LayoutMismatch, got {e:?}");
        };
        assert!(difference.contains("`reply.double`"), "{difference}");
        assert!(difference.contains("f64") && difference.contains("u64"));
        // Both services are `Service<Ask, Answer>`: the hashes tell them apart.
        assert_eq!(ours, theirs);
        assert_ne!(ours_hash, theirs_hash);
        for hash in [ours_hash, theirs_hash] {
            assert!(text.contains(&format!("{hash:#018x}")), "{text}");
        }
    }
    // A dynamic replier is told the service is typed.
    match DynReplier::create(ch.name()) {
        Err(CreateError::Existing(e)) => match *e {
            OpenError::Incompatible { ref reason, .. } => {
                assert!(reason.contains("typed service"), "{reason}")
            }
            ref other => panic!("expected Incompatible, got {other:?}"),
        },
        other => panic!("expected Existing(Incompatible), got {other:?}"),
    }
}
