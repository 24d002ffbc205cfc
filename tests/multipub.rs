//! Multi-publisher topics across real processes: fan-in from several
//! publishers to several subscribers, publishers killed mid-stream, late
//! subscribers with the last value, and publishers that come and go.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use shm_comm::multipub::{
    DynMultiPublisher, DynMultiSubscriber, MultiPublisher, MultiSubscriber, PublisherId,
};
use shm_comm::pubsub::{ConnectOptions, Publisher, TypedPubOptions};
use shm_comm::{RecvTimeoutError, ShmMessage, TryRecvError};
use suite::{field, Check, Peer, TestChannel};

const PEER: &str = env!("CARGO_BIN_EXE_shm-comm-test-peer");
const T: Duration = Duration::from_secs(30);

fn peer(args: &[&str]) -> Peer {
    Peer::spawn(PEER, args)
}

/// Publisher processes of `count` messages each (publisher `k` puts `k` in
/// the high bits of its sequence numbers), joined and waiting for `go`.
fn publishers(name: &str, ks: std::ops::Range<u64>, count: u64, interval_us: u64) -> Vec<Peer> {
    let mut pubs: Vec<Peer> = ks
        .map(|k| {
            peer(&[
                "mpub",
                name,
                &k.to_string(),
                &count.to_string(),
                &interval_us.to_string(),
                "64",
            ])
        })
        .collect();
    for p in &mut pubs {
        p.expect("ready", T);
    }
    pubs
}

#[test]
fn four_publishers_reach_three_subscribers_in_order() {
    let ch = TestChannel::new("mpub-fanin");
    // 100,000 per publisher: 400,000 messages to each subscriber. Sent flat
    // out, so subscribers of a debug build fall behind and miss some: the
    // test checks that `missed_from` says exactly how many, per publisher.
    let count = 100_000u64;
    let mut subs: Vec<Peer> = (0..3)
        .map(|_| peer(&["msub", ch.name(), "4", &count.to_string(), "0"]))
        .collect();
    for s in &mut subs {
        s.expect("ready", T);
    }
    let mut pubs = publishers(ch.name(), 0..4, count, 0);
    for p in &mut pubs {
        p.say("go");
    }
    for p in &mut pubs {
        p.expect("sent", T);
    }
    let mut lines = Vec::new();
    for s in &mut subs {
        let line = s.expect("done", T);
        assert_eq!(field(&line, "pubs"), 4, "{line}");
        assert_eq!(field(&line, "corrupt"), 0, "{line}");
        assert_eq!(field(&line, "disorder"), 0, "{line}");
        assert_eq!(field(&line, "mismatch"), 0, "{line}");
        assert_eq!(field(&line, "gone"), 0, "{line}");
        assert_eq!(field(&line, "gaps"), field(&line, "missed"), "{line}");
        // Every message was either received or counted missed.
        assert_eq!(
            field(&line, "got") + field(&line, "missed"),
            4 * count,
            "{line}"
        );
        lines.push(line);
        s.say("exit");
    }
    eprintln!("{lines:#?}");
    for p in &mut pubs {
        p.say("exit");
        assert!(p.wait_success(T));
    }
}

/// Per publisher: last sequence number seen, gaps before it.
#[derive(Default)]
struct Track {
    last: HashMap<PublisherId, u64>,
    gaps: HashMap<PublisherId, u64>,
    disorder: u64,
    corrupt: u64,
    got: u64,
}

impl Track {
    fn take(&mut self, from: PublisherId, m: &Check) {
        self.got += 1;
        if !m.verify() {
            self.corrupt += 1;
            return;
        }
        let n = m.seq & 0xffff_ffff;
        let gap = match self.last.get(&from) {
            Some(&p) if n <= p => {
                self.disorder += 1;
                0
            }
            Some(&p) => n - p - 1,
            None => n,
        };
        *self.gaps.entry(from).or_default() += gap;
        self.last.insert(from, n);
    }
}

#[test]
fn a_publisher_killed_again_and_again_harms_no_other() {
    let ch = TestChannel::new("mpub-kill");
    let name = ch.name().to_owned();
    // Three steady publishers, one message every 200 us for about 6 s.
    let count = 30_000u64;
    let mut steady = publishers(&name, 0..3, count, 200);
    // Three subscribers: this process, and two others that report.
    let mut sub = MultiSubscriber::<Check>::connect(&name).unwrap();
    let mut others: Vec<Peer> = (0..2)
        .map(|_| peer(&["msub", &name, "3", &count.to_string(), "0"]))
        .collect();
    for s in &mut others {
        s.expect("ready", T);
    }
    for p in &mut steady {
        p.say("go");
    }
    let kills = 50;
    let killer = std::thread::spawn(move || {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..kills {
            let mut victim = peer(&["mpub", &name, "3", "1000000000", "50", "64"]);
            victim.expect("ready", T);
            victim.say("go");
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            std::thread::sleep(Duration::from_millis(20 + rng % 100));
            victim.kill();
        }
    });
    let mut track = Track::default();
    let mut done = [false; 3];
    let mut longest = Duration::ZERO;
    let mut at = Instant::now();
    while !done.iter().all(|&d| d) {
        let (from, m) = match sub.recv_timeout(Duration::from_secs(5)) {
            Ok(r) => r,
            Err(e) => panic!("stalled after {} messages: {e}", track.got),
        };
        longest = longest.max(at.elapsed());
        at = Instant::now();
        track.take(from, &m);
        let (k, n) = (m.seq >> 32, m.seq & 0xffff_ffff);
        if k < 3 && n + 1 == count {
            done[k as usize] = true;
        }
    }
    killer.join().unwrap();
    assert_eq!(track.corrupt, 0);
    assert_eq!(track.disorder, 0);
    // Each steady publisher: received or counted missed, exactly.
    let steady_ids: Vec<PublisherId> = steady
        .iter()
        .map(|p| {
            *track
                .last
                .keys()
                .find(|id| id.pid == p.pid())
                .expect("a steady publisher was heard")
        })
        .collect();
    for id in steady_ids {
        let gaps = track.gaps[&id];
        assert_eq!(sub.raw().missed_from(id), Some(gaps), "{id:?}");
    }
    // Killed publishers were heard from too (most of them: one killed
    // before its first message has nothing to say).
    let victims = track.last.len() - 3;
    eprintln!(
        "got {} from {} publishers ({victims} killed ones), missed {}, longest gap {longest:?}",
        track.got,
        track.last.len(),
        sub.missed()
    );
    assert!(
        victims >= kills / 2,
        "only {victims} of {kills} victims heard"
    );
    for s in &mut others {
        let line = s.expect("done", T);
        eprintln!("{line}");
        assert_eq!(field(&line, "corrupt"), 0, "{line}");
        assert_eq!(field(&line, "disorder"), 0, "{line}");
        assert_eq!(field(&line, "mismatch"), 0, "{line}");
        assert!(field(&line, "pubs") >= 3 + kills as u64 / 2, "{line}");
        s.say("exit");
    }
    for p in &mut steady {
        p.say("exit");
        assert!(p.wait_success(T));
    }
}

#[test]
fn a_late_subscriber_gets_the_newest_message_of_each_live_publisher() {
    let ch = TestChannel::new("mpub-last");
    let mut pubs = publishers(ch.name(), 0..3, 10, 0);
    for p in &mut pubs {
        p.say("go");
        p.expect("sent", T);
    }
    let mut sub = MultiSubscriber::<Check>::connect_with(
        ch.name(),
        ConnectOptions {
            last_value: true,
            ..Default::default()
        },
    )
    .unwrap();
    let mut got: Vec<u64> = (0..3).map(|_| sub.try_recv().unwrap().1.seq).collect();
    got.sort_unstable();
    assert_eq!(got, vec![9, (1 << 32) | 9, (2 << 32) | 9]);
    assert_eq!(sub.try_recv(), Err(TryRecvError::Empty));
    // Without the option: nothing old.
    let mut plain = MultiSubscriber::<Check>::connect(ch.name()).unwrap();
    assert_eq!(plain.try_recv(), Err(TryRecvError::Empty));
    // What `shmc list/info` read: the directory and its publishers.
    let info = shm_comm::segment::inspect(ch.name(), "mpub").unwrap();
    assert_eq!(info.kind, shm_comm::segment::ChannelKind::Directory);
    let live = |role| {
        info.participants
            .iter()
            .filter(|p| p.alive && p.role == role)
            .count()
    };
    assert_eq!(live(shm_comm::multipub::PUBLISHER), 3);
    assert_eq!(live(shm_comm::multipub::SUBSCRIBER), 2);
    for p in &mut pubs {
        p.say("exit");
        assert!(p.wait_success(T));
    }
}

#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Other {
    a: f64,
}

#[test]
fn publishers_come_and_go_and_a_blocked_subscriber_follows() {
    let ch = TestChannel::new("mpub-follow");
    let name = ch.name().to_owned();
    let mut sub = DynMultiSubscriber::connect(&name).unwrap();
    assert_eq!(
        sub.recv_timeout(Duration::from_millis(50)).unwrap_err(),
        RecvTimeoutError::Timeout
    );
    // A publisher that joins while the subscriber sleeps wakes it.
    let (done, wait_done) = std::sync::mpsc::channel::<()>();
    let joiner = std::thread::spawn({
        let name = name.clone();
        move || {
            std::thread::sleep(Duration::from_millis(200));
            let mut p = DynMultiPublisher::create(&name).unwrap();
            p.send_bytes(b"first").unwrap();
            let id = p.id();
            let _ = wait_done.recv();
            id
        }
    });
    let t0 = Instant::now();
    let (from, frame) = sub.recv_timeout(T).unwrap();
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_eq!(frame.data, b"first");
    done.send(()).unwrap();
    assert_eq!(from, joiner.join().unwrap());
    // Two publishers at once, one leaving: what it sent before is still
    // delivered, and the other keeps going.
    let mut a = DynMultiPublisher::create(&name).unwrap();
    let mut b = DynMultiPublisher::create(&name).unwrap();
    assert_ne!(a.id(), b.id());
    a.send_bytes(b"a1").unwrap();
    a.send_bytes(b"a2").unwrap();
    b.send_bytes(b"b1").unwrap();
    let mut got = vec![sub.recv_timeout(T).unwrap().1.data];
    drop(a);
    b.send_bytes(b"b2").unwrap();
    got.extend((0..3).map(|_| sub.recv_timeout(T).unwrap().1.data));
    assert_eq!(sub.try_recv().unwrap_err(), TryRecvError::Empty);
    let of = |p: u8| -> Vec<&[u8]> {
        got.iter()
            .map(|d| d.as_slice())
            .filter(|d| d[0] == p)
            .collect()
    };
    assert_eq!(of(b'a'), vec![b"a1", b"a2"]);
    assert_eq!(of(b'b'), vec![b"b1", b"b2"]);
    assert_eq!(sub.missed(), 0);
    // Round robin: a busy publisher does not starve a quiet one.
    let mut c = DynMultiPublisher::create(&name).unwrap();
    for i in 0..10u8 {
        b.send_bytes(&[i]).unwrap();
    }
    c.send_bytes(b"quiet").unwrap();
    let order: Vec<PublisherId> = (0..2).map(|_| sub.try_recv().unwrap().0).collect();
    assert!(order.contains(&c.id()), "{order:?}");
}

#[test]
fn a_topic_of_another_kind_or_layout_is_refused() {
    let ch = TestChannel::new("mpub-refuse");
    let _p = MultiPublisher::<Check>::create(ch.name()).unwrap();
    assert!(MultiPublisher::<Other>::create(ch.name()).is_err());
    assert!(MultiSubscriber::<Other>::connect(ch.name()).is_err());
    assert!(DynMultiSubscriber::connect(ch.name()).is_err());
    // The single-publisher topic of the same name is another topic: its
    // guarantee (one publisher) is untouched.
    let _single = Publisher::<Check>::create_with(ch.name(), TypedPubOptions::default()).unwrap();
    assert!(Publisher::<Check>::create(ch.name()).is_err());
}

#[test]
fn loaned_messages_are_borrowed_in_place_with_their_sender() {
    let ch = TestChannel::new("mpub-loan");
    let mut sub = MultiSubscriber::<Check>::connect(ch.name()).unwrap();
    let mut a = MultiPublisher::<Check>::create(ch.name()).unwrap();
    let mut b = MultiPublisher::<Check>::create(ch.name()).unwrap();
    for (p, seq) in [(&mut a, 1u64 << 32), (&mut b, 2 << 32)] {
        let mut loan = p.loan().unwrap();
        *loan = Check::new(seq);
        loan.send().unwrap();
    }
    let mut held = Vec::new();
    for _ in 0..2 {
        let (from, sample) = sub.try_borrow().unwrap();
        assert!(sample.verify());
        let want = if from == a.id() { 1 << 32 } else { 2 << 32 };
        assert_eq!(sample.seq, want);
        held.push((from, sample));
    }
    assert!(matches!(
        sub.try_borrow(),
        Err(shm_comm::BorrowError::Empty)
    ));
    // The publishers go on while the samples are held: they stay intact.
    for n in 1..200u64 {
        a.send(&Check::new((1 << 32) | n)).unwrap();
        b.send(&Check::new((2 << 32) | n)).unwrap();
    }
    for (_, s) in &held {
        assert!(s.verify() && s.seq & 0xffff_ffff == 0);
    }
    assert_ne!(held[0].0, held[1].0);
}

#[test]
fn a_subscriber_blocked_on_silent_publishers_sleeps() {
    let ch = TestChannel::new("mpub-idle");
    let _a = MultiPublisher::<Check>::create(ch.name()).unwrap();
    let b = MultiPublisher::<Check>::create(ch.name()).unwrap();
    let mut idle = peer(&["midle", ch.name(), "1000"]);
    idle.expect("ready", T);
    // A publisher leaving wakes it once (the directory changed); the waits
    // after that must sleep again.
    std::thread::sleep(Duration::from_millis(100));
    drop(b);
    let line = format!("cpu_us {}", idle.expect("cpu_us", T));
    let (cpu, wall) = (field(&line, "cpu_us"), field(&line, "wall_us"));
    eprintln!("idle multi-publisher subscriber: {line}");
    assert_eq!(field(&line, "timeout"), 1, "{line}");
    assert!(wall >= 1_000_000, "returned before its timeout: {line}");
    assert!(cpu * 20 < wall, "more than 5% of a core: {line}");
}

/// A `Poller` (one doorbell, one watch with an extra slot per publisher)
/// wakes for a publisher joining, and then for the messages of publisher
/// processes, next to an ordinary topic: every message is taken, in
/// order per publisher, through wake-ups alone.
#[test]
fn a_poller_wakes_for_every_publisher_and_for_joins() {
    use shm_comm::poll::Poller;
    use shm_comm::pubsub::Subscriber;
    let ch = TestChannel::new("mpub-poll");
    let other = TestChannel::new("mpub-poll-plain");
    let mut sub = MultiSubscriber::<Check>::connect(ch.name()).unwrap();
    let mut plain_pub = Publisher::<Check>::create(other.name()).unwrap();
    let mut plain = Subscriber::<Check>::connect(other.name()).unwrap();
    let mut poller = Poller::new().unwrap();
    let ready = poller
        .poll(&mut [&mut sub, &mut plain], Some(Duration::from_millis(50)))
        .unwrap();
    assert!(ready.is_empty(), "nothing was sent: {ready:?}");
    // A publisher that joins while the poll sleeps, and sends, wakes it
    // (its ring was not armed: the directory's change word was).
    let joiner = std::thread::spawn({
        let name = ch.name().to_owned();
        move || {
            std::thread::sleep(Duration::from_millis(200));
            let mut p = MultiPublisher::<Check>::create(&name).unwrap();
            p.send(&Check::new(0)).unwrap();
            p
        }
    });
    let t0 = Instant::now();
    let ready = poller.poll(&mut [&mut sub, &mut plain], Some(T)).unwrap();
    assert_eq!(ready.items, vec![0]);
    assert!(t0.elapsed() < Duration::from_secs(10));
    let joined = joiner.join().unwrap();
    let (from, m) = sub.try_recv().unwrap();
    assert!(from == joined.id() && m.verify() && m.seq == 0);
    drop(joined);
    // Three publisher processes, 2,000 messages each, 50 us apart, and
    // one message on the ordinary topic.
    let count = 2_000u64;
    let mut pubs = publishers(ch.name(), 0..3, count, 50);
    for p in &mut pubs {
        p.say("go");
    }
    plain_pub.send(&Check::new(7)).unwrap();
    let mut track = Track::default();
    let mut plain_got = 0;
    let deadline = Instant::now() + T;
    while track.got + sub.missed() < 3 * count || plain_got == 0 {
        assert!(Instant::now() < deadline, "stalled at {}", track.got);
        let ready = poller.poll(&mut [&mut sub, &mut plain], Some(T)).unwrap();
        if ready.items.contains(&0) {
            while let Ok((from, m)) = sub.try_recv() {
                track.take(from, &m);
            }
        }
        if ready.items.contains(&1) {
            while plain.try_recv().is_ok() {
                plain_got += 1;
            }
        }
    }
    assert_eq!(plain_got, 1);
    assert_eq!((track.corrupt, track.disorder), (0, 0));
    assert_eq!(track.gaps.values().sum::<u64>(), sub.missed());
    assert_eq!(track.last.len(), 3);
    for p in &mut pubs {
        p.expect("sent", T);
        p.say("exit");
        assert!(p.wait_success(T));
    }
}
