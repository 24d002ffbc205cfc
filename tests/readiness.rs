//! Readiness through file descriptors (`shm_comm::bells`, `shm_comm::poll`)
//! across real processes: a Poller over 256 subscribers reports exactly the
//! topics that got a message, a bell rings for a queue and a service, and a
//! publish with no fd waiter makes no system call (counted with strace).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use shm_comm::bells::Bell;
use shm_comm::pipeline::{DynPuller, DynPusher};
use shm_comm::poll::{Poller, Waitable};
use shm_comm::pubsub::{ConnectOptions, DynPublisher, DynSubscriber};
use shm_comm::reqrep::{DynReplier, DynRequester};
use shm_comm::Codec;
use suite::{Peer, TestChannel};

const PEER: &str = env!("CARGO_BIN_EXE_shm-comm-test-peer");
const T: Duration = Duration::from_secs(30);

/// Removes the `n` sub-topics of `base` (the peer may be killed first).
struct SubTopics<'a>(&'a str, usize);

impl Drop for SubTopics<'_> {
    fn drop(&mut self) {
        for i in 0..self.1 {
            let _ = shm_comm::segment::force_unlink(&format!("{}/{i}", self.0));
        }
    }
}

/// Polls until `want` topics were reported (or `T` passes); returns every
/// index reported, after taking what each had.
fn collect(poller: &mut Poller, subs: &mut [DynSubscriber], want: usize) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let until = Instant::now() + T;
    while seen.len() < want && Instant::now() < until {
        let mut items: Vec<&mut dyn Waitable> =
            subs.iter_mut().map(|s| s as &mut dyn Waitable).collect();
        let ready = poller
            .poll(&mut items, Some(Duration::from_secs(5)))
            .unwrap();
        drop(items);
        for i in ready.items {
            while let Ok(f) = subs[i].try_recv() {
                assert_eq!(f.data, format!("frame for {i}").as_bytes());
                seen.insert(i);
            }
        }
    }
    seen
}

#[test]
fn a_poller_over_256_subscribers_reports_exactly_the_ones_that_got_a_message() {
    const N: usize = 256;
    let ch = TestChannel::new("ready-256");
    let _cleanup = SubTopics(ch.name(), N);
    let mut peer = Peer::spawn(PEER, &["multi-pub", ch.name(), &N.to_string()]);
    peer.expect("ready", T);
    let mut subs: Vec<DynSubscriber> = (0..N)
        .map(|i| {
            DynSubscriber::connect_with(
                &format!("{}/{i}", ch.name()),
                ConnectOptions::with_timeout(T),
            )
            .unwrap()
        })
        .collect();
    let mut poller = Poller::new().unwrap();

    // Nothing sent: the poll times out with nothing ready.
    let mut items: Vec<&mut dyn Waitable> =
        subs.iter_mut().map(|s| s as &mut dyn Waitable).collect();
    let ready = poller
        .poll(&mut items, Some(Duration::from_millis(50)))
        .unwrap();
    drop(items);
    assert!(ready.is_empty(), "{ready:?}");

    for batch in [vec![3usize, 77, 200], vec![0, 255], vec![128]] {
        let line: Vec<String> = batch.iter().map(|i| i.to_string()).collect();
        peer.say(&format!("send {}", line.join(" ")));
        peer.expect("sent", T);
        let seen = collect(&mut poller, &mut subs, batch.len());
        assert_eq!(seen, batch.iter().copied().collect::<BTreeSet<_>>());
        // All taken: a short poll finds nothing more.
        let mut items: Vec<&mut dyn Waitable> =
            subs.iter_mut().map(|s| s as &mut dyn Waitable).collect();
        let ready = poller
            .poll(&mut items, Some(Duration::from_millis(20)))
            .unwrap();
        assert!(ready.is_empty(), "after {batch:?}: {ready:?}");
    }
}

#[test]
fn a_poll_returns_when_a_message_arrives_while_it_sleeps() {
    let ch = TestChannel::new("ready-sleep");
    let mut publisher = DynPublisher::create(ch.name()).unwrap();
    let mut sub = DynSubscriber::connect(ch.name()).unwrap();
    let mut poller = Poller::new().unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            publisher.send_bytes(b"late").unwrap();
        });
        let start = Instant::now();
        let ready = poller.poll(&mut [&mut sub], Some(T)).unwrap();
        assert_eq!(ready.items, [0]);
        assert!(start.elapsed() >= Duration::from_millis(90));
    });
    assert_eq!(sub.try_recv().unwrap().data, b"late");
}

#[test]
fn a_bell_rings_for_a_job_a_request_a_reply_and_room() {
    let q = TestChannel::new("ready-queue");
    let pusher = DynPusher::create(q.name()).unwrap();
    let puller = DynPuller::connect(q.name()).unwrap();
    let bell = Bell::new().unwrap();
    let mut w = bell.watch().unwrap();
    assert!(!puller.arm(&mut w));
    assert!(!bell.wait(Some(Duration::from_millis(20))).unwrap());
    pusher.try_send(b"job", Codec::Raw).unwrap();
    assert!(bell.wait(Some(T)).unwrap(), "no ring for a job");
    assert_eq!(bell.drain(), 1);
    // Armed with a job there: says so, and the caller does not wait.
    assert!(puller.arm(&mut w));
    assert_eq!(puller.try_recv().unwrap().data, b"job");

    let svc = TestChannel::new("ready-svc");
    let replier = DynReplier::create(svc.name()).unwrap();
    let requester = DynRequester::connect(svc.name()).unwrap();
    bell.drain();
    assert!(!replier.raw().arm(&mut w));
    let pending = requester.raw().send(b"ask", Codec::Raw, None).unwrap();
    assert!(bell.wait(Some(T)).unwrap(), "no ring for a request");
    bell.drain();
    let mut reply_watch = bell.watch().unwrap();
    assert!(!requester.raw().arm_reply(&pending, &mut reply_watch));
    let (call, frame) = replier.recv_timeout(T).unwrap();
    assert_eq!(frame.data, b"ask");
    assert!(replier
        .reply(&call, b"answer", Codec::Raw)
        .unwrap()
        .is_delivered());
    assert!(bell.wait(Some(T)).unwrap(), "no ring for a reply");
    let mut out = Vec::new();
    requester
        .raw()
        .wait_reply(&pending, Some(Instant::now()), &mut out)
        .unwrap();
    assert_eq!(out, b"answer");
}

/// The system calls a `quiet-pub` peer makes publishing `count` frames,
/// per name, counted by `strace -c`; `arm` subscribes (and arms a bell
/// once) in this process before the sends.
fn syscalls_of_sends(count: u64, arm: bool) -> Option<std::collections::HashMap<String, u64>> {
    let ch = TestChannel::new("ready-quiet");
    let out =
        std::env::temp_dir().join(format!("shmc-strace-{}-{count}-{arm}", std::process::id()));
    let out_s = out.to_string_lossy().into_owned();
    let mut peer = Peer::spawn(
        "strace",
        &[
            "-f",
            "-qq",
            "-c",
            "-o",
            &out_s,
            PEER,
            "quiet-pub",
            ch.name(),
            &count.to_string(),
        ],
    );
    peer.try_expect("ready", T)?;
    let mut sub = DynSubscriber::connect(ch.name()).unwrap();
    let bell = Bell::new().unwrap();
    let mut w = bell.watch().unwrap();
    if arm {
        assert!(!sub.raw_mut().arm(&mut w));
    }
    peer.say("go");
    peer.expect("sent", T);
    peer.say("exit");
    assert!(peer.wait_success(T), "strace or the peer failed");
    if arm {
        assert!(bell.wait(Some(T)).unwrap(), "the armed bell did not ring");
    }
    let text = std::fs::read_to_string(&out).ok()?;
    let _ = std::fs::remove_file(&out);
    // Rows: `% time seconds usecs/call calls [errors] syscall`.
    let mut calls = std::collections::HashMap::new();
    for line in text.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        if w.len() >= 5 && w[0].parse::<f64>().is_ok() && w[w.len() - 1] != "total" {
            let name = w[w.len() - 1].to_owned();
            calls.insert(name, w[3].parse().unwrap_or(0));
        }
    }
    Some(calls)
}

#[test]
fn a_publish_with_no_fd_waiter_makes_no_system_call() {
    if Command::new("strace").arg("-V").output().is_err() || !Path::new("/proc/self").exists() {
        eprintln!("SKIPPED: strace is not installed");
        return;
    }
    let get = |m: &std::collections::HashMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    let base = syscalls_of_sends(0, false).expect("strace ran");
    let quiet = syscalls_of_sends(20_000, false).expect("strace ran");
    let armed = syscalls_of_sends(20_000, true).expect("strace ran");
    let total = |m: &std::collections::HashMap<String, u64>| m.values().sum::<u64>();
    eprintln!(
        "system calls: none {} quiet {} armed {} (sendto armed {})",
        total(&base),
        total(&quiet),
        total(&armed),
        get(&armed, "sendto")
    );
    // 20,000 publishes with a subscriber that does not wait: the same
    // system calls as none at all (a few of slack for the runtime).
    assert!(
        total(&quiet) <= total(&base) + 5,
        "20,000 sends made system calls: {} vs {} for none\n{quiet:?}",
        total(&quiet),
        total(&base)
    );
    assert_eq!(get(&quiet, "sendto"), 0, "{quiet:?}");
    assert_eq!(
        get(&quiet, "futex"),
        get(&base, "futex"),
        "{quiet:?} vs {base:?}"
    );
    // Armed once: one ring (one sendto), then nothing more per send.
    assert_eq!(get(&armed, "sendto"), 1, "{armed:?}");
    assert!(total(&armed) <= total(&base) + 30, "{armed:?} vs {base:?}");
}

#[test]
fn a_bell_rings_for_room_in_a_full_request_queue() {
    use shm_comm::reqrep::{RequestError, ServiceOptions};
    let svc = TestChannel::new("ready-req-room");
    let opts = ServiceOptions {
        capacity: 2,
        ..ServiceOptions::default()
    };
    let replier = DynReplier::create_with(svc.name(), opts).unwrap();
    let requester = DynRequester::connect(svc.name()).unwrap();
    let bell = Bell::new().unwrap();
    let mut w = bell.watch().unwrap();
    // Each send withdraws the previous call but leaves its request queued:
    // send until the queue refuses one.
    let mut queued = 0;
    loop {
        match requester
            .raw()
            .send(b"ask", Codec::Raw, Some(Instant::now()))
        {
            Ok(_) => queued += 1,
            Err(RequestError::Timeout { .. }) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(queued <= 1024, "the request queue never filled");
    }
    assert!(queued >= 2, "only {queued} requests queued");
    bell.drain();
    assert!(!requester.raw().arm_room(&mut w), "room in a full queue");
    assert!(!bell.wait(Some(Duration::from_millis(20))).unwrap());
    replier.recv_timeout(T).unwrap();
    assert!(bell.wait(Some(T)).unwrap(), "no ring for room");
    assert!(requester.raw().arm_room(&mut w));
}

#[test]
fn a_poller_follows_a_subscriber_to_its_new_publisher() {
    let ch = TestChannel::new("ready-replaced");
    let mut sub;
    let mut poller = Poller::new().unwrap();
    {
        let mut first = DynPublisher::create(ch.name()).unwrap();
        sub = DynSubscriber::connect(ch.name()).unwrap();
        first.send_bytes(b"one").unwrap();
        let ready = poller.poll(&mut [&mut sub], Some(T)).unwrap();
        assert_eq!(ready.items, [0]);
        assert_eq!(sub.try_recv().unwrap().data, b"one");
        // Dropping the publisher closes the topic, which rings the bell.
    }
    let ready = poller
        .poll(&mut [&mut sub], Some(Duration::from_millis(100)))
        .unwrap();
    assert_eq!(
        ready.items,
        Vec::<usize>::new(),
        "a closed topic has nothing to take"
    );
    // A new publisher of the same name (its segment may even be mapped at
    // the address of the old one): the next arming moves the subscriber
    // to it, and its messages ring the bell.
    let mut second = DynPublisher::create(ch.name()).unwrap();
    let until = Instant::now() + T;
    let got = loop {
        let ready = poller
            .poll(&mut [&mut sub], Some(Duration::from_millis(50)))
            .unwrap();
        if !ready.items.is_empty() {
            if let Ok(f) = sub.try_recv() {
                break f;
            }
        }
        second.send_bytes(b"two").unwrap();
        assert!(Instant::now() < until, "never followed the new publisher");
    };
    assert_eq!(got.data, b"two");
}
