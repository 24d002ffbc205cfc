//! PUB/SUB across real processes: delivery, fan-out, lagging, torn-message
//! stress, idle CPU, and peers that exit or are killed.

use std::time::{Duration, Instant};

use shm_comm::pubsub::{ConnectOptions, Publisher, Subscriber, TypedPubOptions};
use shm_comm::{CreateError, ShmMessage, TopicExt};
use suite::{field, Check, Peer, TestChannel};

const PEER: &str = env!("CARGO_BIN_EXE_shm-comm-test-peer");
const T: Duration = Duration::from_secs(20);

fn peer(args: &[&str]) -> Peer {
    Peer::spawn(PEER, args)
}

fn segment_exists(name: &str) -> bool {
    shm_comm::segment::list().iter().any(|(n, _)| n == name)
}

#[test]
fn typed_round_trip_between_processes() {
    let ch = TestChannel::new("roundtrip");
    let mut publisher = peer(&["pub", ch.name(), "100", "128", "0"]);
    publisher.expect("ready", T);
    let mut sub = Subscriber::<Check>::connect(ch.name()).unwrap();
    publisher.say("go");
    for seq in 0..100 {
        let m = sub.recv_timeout(T).unwrap();
        assert!(m.verify());
        assert_eq!(m.seq, seq);
    }
    assert_eq!(sub.missed(), 0);
    publisher.expect("sent", T);
    publisher.say("exit");
    assert!(publisher.wait_success(T));
    // The publisher's drop removed the segment.
    assert!(!segment_exists(ch.name()));
}

#[test]
fn three_subscribers_receive_the_same_sequence() {
    let ch = TestChannel::new("fanout");
    let n = 5000u64;
    let mut publisher = peer(&["pub", ch.name(), &n.to_string(), "8192", "0"]);
    publisher.expect("ready", T);
    let mut subs: Vec<Peer> = (0..3)
        .map(|_| peer(&["sub", ch.name(), &n.to_string()]))
        .collect();
    for s in &mut subs {
        s.expect("ready", T);
    }
    publisher.say("go");
    let expected = (0..n).fold(0u64, |d, seq| d.rotate_left(7) ^ seq);
    for s in &mut subs {
        let line = s.expect("got", T);
        let line = format!("got {line}");
        assert_eq!(field(&line, "got"), n, "{line}");
        assert_eq!(field(&line, "missed"), 0, "{line}");
        assert_eq!(field(&line, "corrupt"), 0, "{line}");
        assert_eq!(field(&line, "digest"), expected, "{line}");
    }
    publisher.say("exit");
    assert!(publisher.wait_success(T));
}

#[test]
fn lapped_subscriber_reports_exactly_what_it_missed() {
    let ch = TestChannel::new("lagged");
    let mut p = Publisher::<Check>::create_with(
        ch.name(),
        TypedPubOptions {
            capacity: 16,
            ..Default::default()
        },
    )
    .unwrap();
    let mut lagger = peer(&["lagger", ch.name()]);
    lagger.expect("ready", T);
    for seq in 0..1000 {
        p.send(&Check::new(seq)).unwrap();
    }
    lagger.say("drain");
    let line = format!("got {}", lagger.expect("got", T));
    assert_eq!(field(&line, "got"), 16, "{line}");
    assert_eq!(field(&line, "first"), 984, "{line}");
    assert_eq!(field(&line, "last"), 999, "{line}");
    assert_eq!(field(&line, "missed"), 984, "{line}");
}

#[test]
fn flooded_four_slot_ring_never_returns_a_corrupt_message() {
    let ch = TestChannel::new("stress");
    let mut flood = peer(&["flood", ch.name(), "2", "4"]);
    flood.expect("ready", T);
    let mut readers: Vec<Peer> = (0..2)
        .map(|_| peer(&["verify", ch.name(), "2.5"]))
        .collect();
    for r in &mut readers {
        r.expect("ready", T);
    }
    flood.say("go");
    let sent = field(&format!("sent {}", flood.expect("sent", T)), "sent");
    assert!(sent > 1000, "publisher too slow to stress anything: {sent}");
    for r in &mut readers {
        let line = format!("ok {}", r.expect("ok", T));
        eprintln!("stress reader: {line} (publisher sent {sent})");
        assert_eq!(field(&line, "corrupt"), 0, "{line}");
        assert_eq!(field(&line, "order_errors"), 0, "{line}");
        assert!(field(&line, "ok") > 0, "{line}");
    }
    flood.say("exit");
    assert!(flood.wait_success(T));
}

#[test]
fn idle_subscriber_blocked_in_recv_uses_under_one_percent_of_a_core() {
    let ch = TestChannel::new("idle");
    let _p = Publisher::<Check>::create(ch.name()).unwrap();
    let mut idle = peer(&["idle", ch.name(), "1000"]);
    idle.expect("ready", T);
    let line = format!("cpu_us {}", idle.expect("cpu_us", T));
    let (cpu, wall) = (field(&line, "cpu_us"), field(&line, "wall_us"));
    eprintln!("idle subscriber: {line}");
    assert_eq!(field(&line, "timeout"), 1, "{line}");
    assert!(wall >= 1_000_000, "returned before its timeout: {line}");
    assert!(wall < 1_500_000, "overslept its timeout: {line}");
    assert!(cpu * 100 < wall, "more than 1% of a core: {line}");
}

#[test]
fn subscriber_of_a_closed_topic_sleeps_instead_of_spinning() {
    // The publisher leaves while the subscriber waits: the wake-up on the
    // closure is right, but the waits after it must sleep, not return at
    // once (a closed ring never gets another message).
    let ch = TestChannel::new("closedidle");
    let p = Publisher::<Check>::create(ch.name()).unwrap();
    let mut idle = peer(&["idle", ch.name(), "1000"]);
    idle.expect("ready", T);
    drop(p);
    let line = format!("cpu_us {}", idle.expect("cpu_us", T));
    let (cpu, wall) = (field(&line, "cpu_us"), field(&line, "wall_us"));
    eprintln!("subscriber of a closed topic: {line}");
    assert_eq!(field(&line, "timeout"), 1, "{line}");
    assert!(wall >= 1_000_000, "returned before its timeout: {line}");
    assert!(cpu * 10 < wall, "more than 10% of a core: {line}");
}

#[test]
fn killed_or_exited_subscribers_leave_the_topic_working() {
    let ch = TestChannel::new("subdeath");
    let mut p = Publisher::<Check>::create_with(
        ch.name(),
        TypedPubOptions {
            capacity: 8,
            borrow_budget: 4,
        },
    )
    .unwrap();
    let mut sub = Subscriber::<Check>::connect(ch.name()).unwrap();
    // One blocked in the futex, one holding the whole borrow budget, one
    // that exits normally.
    let mut blocked = peer(&["block", ch.name()]);
    let mut holder = peer(&["borrow-hold", ch.name(), "4"]);
    let mut done = peer(&["sub", ch.name(), "4"]);
    blocked.expect("ready", T);
    holder.expect("ready", T);
    done.expect("ready", T);
    for seq in 0..4 {
        p.send(&Check::new(seq)).unwrap();
    }
    holder.expect("holding", T);
    done.expect("got", T);
    assert!(done.wait_success(T));
    std::thread::sleep(Duration::from_millis(50)); // let `blocked` go back to sleep
    blocked.kill();
    holder.kill();
    for seq in 0..4 {
        assert_eq!(sub.recv_timeout(T).unwrap().seq, seq);
    }
    // The dead holder's pins are leaked, but the publisher still has free
    // slots, and copying subscribers are unaffected.
    for seq in 4..1000 {
        p.send(&Check::new(seq)).unwrap();
        let m = sub.recv_timeout(T).unwrap();
        assert!(m.verify());
        assert_eq!(m.seq, seq);
    }
    // A new subscriber still joins and receives.
    let mut late = Subscriber::<Check>::connect(ch.name()).unwrap();
    p.send(&Check::new(1000)).unwrap();
    assert_eq!(late.recv_timeout(T).unwrap().seq, 1000);
}

#[test]
fn borrowers_killed_while_holding_samples_do_not_exhaust_the_borrow_budget() {
    // Before: each kill leaked its borrow tokens, and after the budget was
    // gone every borrow() on the topic failed with "borrow limit reached"
    // until the publisher restarted.
    let ch = TestChannel::new("borrowdeath");
    let mut p = Publisher::<Check>::create_with(
        ch.name(),
        TypedPubOptions {
            capacity: 8,
            borrow_budget: 4,
        },
    )
    .unwrap();
    let mut seq = 0;
    for round in 0..3 {
        let mut holder = peer(&["borrow-hold", ch.name(), "3"]);
        holder.expect("ready", T);
        for _ in 0..3 {
            p.send(&Check::new(seq)).unwrap();
            seq += 1;
        }
        holder.expect("holding", T);
        holder.kill();
        // The whole budget is usable again by a live borrower.
        let mut sub = Subscriber::<Check>::connect(ch.name()).unwrap();
        let mut held = Vec::new();
        for _ in 0..4 {
            p.send(&Check::new(seq)).unwrap();
            seq += 1;
            let s = sub
                .borrow_timeout(T)
                .unwrap_or_else(|e| panic!("round {round}: borrow {}: {e}", held.len()));
            assert!(s.verify());
            held.push(s);
        }
        // The budget still holds: another subscriber's borrow is refused,
        // and the publisher never writes a pinned slot.
        let mut other = Subscriber::<Check>::connect(ch.name()).unwrap();
        for _ in 0..20 {
            p.send(&Check::new(seq)).unwrap();
            seq += 1;
        }
        assert!(matches!(
            other.try_borrow(),
            Err(shm_comm::BorrowError::Limit { limit: 4 })
        ));
        assert!(held.iter().all(|s| s.verify()));
    }
}

#[test]
fn killed_publisher_is_replaced_and_live_one_is_refused() {
    let ch = TestChannel::new("pubdeath");
    let mut holder = peer(&["hold", ch.name()]);
    holder.expect("ready", T);
    // Alive: a second publisher is refused with the owner's pid.
    match Publisher::<Check>::create(ch.name()) {
        Err(CreateError::InUse { pid, .. }) => assert_eq!(pid, holder.pid()),
        other => panic!("expected InUse, got {other:?}"),
    }
    // A subscriber attached to the doomed publisher.
    let mut sub = Subscriber::<Check>::connect(ch.name()).unwrap();
    holder.kill();
    assert!(
        segment_exists(ch.name()),
        "SIGKILL leaves the segment behind"
    );
    assert!(!sub.raw().publisher_alive());
    // The next create replaces the stale segment.
    let mut p = Publisher::<Check>::create(ch.name()).unwrap();
    // The old subscriber reattaches to the new publisher by itself.
    p.send(&Check::new(7)).unwrap();
    let m = sub.recv_timeout(T).unwrap();
    assert_eq!(m.seq, 7);
    assert!(sub.raw().publisher_alive());
}

/// Context switches of thread `tid` of this process so far (voluntary and
/// not): each wake-up of a sleeping thread is one.
fn context_switches(tid: i64) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")).unwrap();
    status
        .lines()
        .filter(|l| l.contains("ctxt_switches:"))
        .map(|l| l.split_whitespace().last().unwrap().parse::<u64>().unwrap())
        .sum()
}

#[test]
fn blocked_subscriber_makes_no_wake_ups_while_idle() {
    // Before: a blocked receive woke every 100 ms to look at its publisher
    // (20 wake-ups in 2 s); a thousand idle subscribers made 10,000 a second.
    let ch = TestChannel::new("nowake");
    let mut p = Publisher::<Check>::create(ch.name()).unwrap();
    let mut sub = Subscriber::<Check>::connect(ch.name()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let blocked = std::thread::spawn(move || {
        // SAFETY: gettid has no preconditions.
        tx.send(unsafe { libc::syscall(libc::SYS_gettid) }).unwrap();
        sub.recv_timeout(T).map(|m| m.seq)
    });
    let tid = rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let before = context_switches(tid);
    std::thread::sleep(Duration::from_secs(2));
    let woke = context_switches(tid) - before;
    p.send(&Check::new(5)).unwrap();
    assert_eq!(blocked.join().unwrap().unwrap(), 5);
    assert!(woke <= 2, "{woke} wake-ups in 2 s while idle");
}

#[test]
fn blocked_subscriber_follows_a_killed_publisher_replaced_at_once() {
    // The replacing publisher closes the dead one's ring, which wakes the
    // blocked subscriber: no periodic check needed to find the new one.
    let ch = TestChannel::new("pubwake");
    let mut holder = peer(&["hold", ch.name()]);
    holder.expect("ready", T);
    let mut sub = Subscriber::<Check>::connect(ch.name()).unwrap();
    let blocked = std::thread::spawn(move || {
        let m = sub.recv_timeout(T).map(|m| m.seq);
        (m, Instant::now())
    });
    std::thread::sleep(Duration::from_millis(200));
    holder.kill();
    let mut p = Publisher::<Check>::create(ch.name()).unwrap();
    let sent = Instant::now();
    p.send(&Check::new(9)).unwrap();
    let (m, got) = blocked.join().unwrap();
    assert_eq!(m.unwrap(), 9);
    let took = got.duration_since(sent);
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// A subscriber blocked in `recv()` (no timeout: its futex sleep has none
/// either) on a publisher killed and then removed by `remove` follows
/// the next publisher of the topic: removing a dead publisher's segment
/// closes its ring, which wakes the subscriber.
fn blocked_subscriber_follows_a_publisher_removed_by(what: &str, remove: fn(&str)) {
    let ch = TestChannel::new(&format!("pubrm-{what}"));
    let mut holder = peer(&["hold", ch.name()]);
    holder.expect("ready", T);
    let mut sub = Subscriber::<Check>::connect(ch.name()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(sub.recv().map(|m| m.seq));
    });
    std::thread::sleep(Duration::from_millis(200));
    holder.kill();
    remove(ch.name());
    // Nothing wakes the subscriber but the closed ring: give it time to
    // go back to sleep on the old one if it were not closed.
    std::thread::sleep(Duration::from_millis(300));
    let mut p = Publisher::<Check>::create(ch.name()).unwrap();
    p.send(&Check::new(9)).unwrap();
    let got = rx.recv_timeout(Duration::from_secs(5));
    assert_eq!(
        got.ok().map(|r| r.unwrap()),
        Some(9),
        "{what}: the blocked subscriber did not follow the new publisher"
    );
}

#[test]
fn blocked_subscriber_follows_a_killed_publisher_force_unlinked() {
    blocked_subscriber_follows_a_publisher_removed_by("force", |name| {
        assert!(shm_comm::segment::force_unlink(name).unwrap() >= 1);
    });
}

#[test]
fn blocked_subscriber_follows_a_killed_publisher_cleaned_up() {
    // `shmc clean`'s call, on the publisher's segment alone.
    blocked_subscriber_follows_a_publisher_removed_by("clean", |name| {
        assert!(shm_comm::segment::unlink(name, "pub").unwrap());
    });
}

#[test]
fn subscriber_without_publisher_times_out_with_a_typed_error() {
    let ch = TestChannel::new("absent");
    let t0 = Instant::now();
    let r = Subscriber::<Check>::connect_with(
        ch.name(),
        ConnectOptions {
            timeout: Duration::from_millis(200),
            ..Default::default()
        },
    );
    let waited = t0.elapsed();
    assert!(
        matches!(r, Err(shm_comm::OpenError::NotFound { .. })),
        "{r:?}"
    );
    assert!(waited >= Duration::from_millis(200) && waited < Duration::from_secs(2));
}

#[test]
fn loan_and_borrow_large_messages_without_copying() {
    #[derive(ShmMessage, Clone, Copy)]
    #[repr(C)]
    struct Frame {
        seq: u64,
        pixels: [u8; 1 << 20],
    }
    let ch = TestChannel::new("loan");
    let mut p = Frame::publisher(ch.name()).unwrap();
    let mut s = Frame::subscriber(ch.name()).unwrap();
    for seq in 0..10u64 {
        let mut loan = p.loan().unwrap();
        loan.seq = seq;
        loan.pixels.fill(seq as u8);
        loan.send().unwrap();
        let sample = s.borrow_timeout(T).unwrap();
        assert_eq!(sample.seq, seq);
        assert!(sample.pixels.iter().all(|&b| b == seq as u8));
    }
    // A loan dropped unsent publishes nothing.
    drop(p.loan().unwrap());
    assert_eq!(p.published(), 10);
    assert!(s.try_borrow().is_err());
}

#[test]
fn borrow_limits_per_subscriber_and_per_topic_are_released_by_drops_on_any_thread() {
    use shm_comm::BorrowError;
    let ch = TestChannel::new("borrowlimits");
    let opts = TypedPubOptions {
        capacity: 8,
        borrow_budget: 3,
    };
    let mut p = Publisher::<Check>::create_with(ch.name(), opts).unwrap();
    let two = ConnectOptions {
        max_borrows: 2,
        ..Default::default()
    };
    let mut a = Subscriber::<Check>::connect_with(ch.name(), two).unwrap();
    let mut b = Subscriber::<Check>::connect_with(ch.name(), two).unwrap();
    for seq in 0..8 {
        p.send(&Check::new(seq)).unwrap();
    }
    // Per subscriber: two samples, then Limit{2}.
    let a0 = a.try_borrow().unwrap();
    let a1 = a.try_borrow().unwrap();
    assert_eq!(a.try_borrow().unwrap_err(), BorrowError::Limit { limit: 2 });
    // Per topic: b gets the third token, then Limit{3} (the topic budget).
    let b0 = b.try_borrow().unwrap();
    assert_eq!(b.try_borrow().unwrap_err(), BorrowError::Limit { limit: 3 });
    // Copying receives keep working past both limits.
    assert_eq!(b.try_recv().unwrap().seq, 1);
    // The publisher writes around the pinned slots, however much it sends.
    for seq in 8..100 {
        p.send(&Check::new(seq)).unwrap();
    }
    assert_eq!((a0.seq, a1.seq, b0.seq), (0, 1, 0));
    assert!(a0.verify() && a1.verify() && b0.verify());
    // A sample dropped on another thread gives back both its tokens.
    std::thread::spawn(move || drop(a0)).join().unwrap();
    let a2 = a.try_borrow().unwrap();
    assert_eq!(
        a2.seq, 92,
        "a was lapped: it resumes at the oldest message in the ring"
    );
    assert_eq!(a.missed(), 90);
    drop((a1, a2, b0));
    // A loan dropped unsent keeps its slot for the next message.
    drop(p.loan().unwrap());
    let mut loan = p.loan().unwrap();
    *loan = Check::new(100);
    loan.send().unwrap();
    assert_eq!(b.try_borrow().unwrap().seq, 93);
    assert_eq!(p.published(), 101);
    // At its limit, a subscriber is told so at once, even with nothing to
    // borrow (a timed borrow must not wait for a message it cannot take).
    let one = ConnectOptions {
        max_borrows: 1,
        ..Default::default()
    };
    let mut idle = Subscriber::<Check>::connect_with(ch.name(), one).unwrap();
    p.send(&Check::new(101)).unwrap();
    let held = idle.try_borrow().unwrap();
    let t = Instant::now();
    assert_eq!(
        idle.borrow_timeout(Duration::from_secs(5)).unwrap_err(),
        BorrowError::Limit { limit: 1 }
    );
    assert!(t.elapsed() < Duration::from_secs(1));
    drop((held, idle));
}

#[test]
fn a_subscriber_polling_with_short_timeouts_reattaches_to_a_replaced_publisher() {
    // Before: only a wait longer than the 100 ms health check looked for a
    // new publisher, so a control loop polling with recv_timeout(5 ms)
    // never left the dead publisher's segment.
    let ch = TestChannel::new("pubdeath-poll");
    let mut holder = peer(&["hold", ch.name()]);
    holder.expect("ready", T);
    let mut sub = Subscriber::<Check>::connect(ch.name()).unwrap();
    holder.kill();
    let mut p = Publisher::<Check>::create(ch.name()).unwrap();
    let t0 = Instant::now();
    let mut seq = 0;
    loop {
        p.send(&Check::new(seq)).unwrap();
        seq += 1;
        if let Ok(m) = sub.recv_timeout(Duration::from_millis(5)) {
            assert!(m.verify());
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the subscriber never reattached"
        );
    }
    eprintln!("reattached after {:.2?}", t0.elapsed());
    assert!(sub.raw().publisher_alive());
}
