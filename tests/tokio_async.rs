//! The tokio futures and streams (`shm_comm::tokio`, feature `tokio`):
//! one task gathers every message of 50 topics fed by another process,
//! requests reach a replier process, and cancelling a receive or a request
//! leaves nothing consumed and no reply misdelivered.

use std::collections::BTreeMap;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::mpsc;
use std::task::Poll;
use std::time::Duration;

use futures_core::Stream;
use shm_comm::pipeline::{DynPuller, DynPusher, Puller, Pusher, TypedQueueOptions};
use shm_comm::pubsub::{ConnectOptions, DynPublisher, DynSubscriber, Publisher, Subscriber};
use shm_comm::reqrep::{Delivery, DynReplier, DynRequester, Replier, RequestError, Requester};
use shm_comm::tokio::Async;
use shm_comm::{Codec, ShmMessage};
use suite::{Peer, TestChannel};

const PEER: &str = env!("CARGO_BIN_EXE_shm-comm-test-peer");
const PATTERN_PEER: &str = env!("CARGO_BIN_EXE_shm-comm-pattern-peer");
const T: Duration = Duration::from_secs(30);

#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Sample {
    seq: u64,
    value: f64,
}

/// Removes the `n` sub-topics of `base` (the peer may be killed first).
struct SubTopics<'a>(&'a str, usize);

impl Drop for SubTopics<'_> {
    fn drop(&mut self) {
        for i in 0..self.1 {
            let _ = shm_comm::segment::force_unlink(&format!("{}/{i}", self.0));
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The next frame of any of `subs`, with its index: a select over many.
async fn next_of(subs: &mut [Async<DynSubscriber>]) -> (usize, Vec<u8>) {
    poll_fn(|cx| {
        for (i, s) in subs.iter_mut().enumerate() {
            if let Poll::Ready(r) = s.poll_recv(cx) {
                return Poll::Ready((i, r.unwrap().data));
            }
        }
        Poll::Pending
    })
    .await
}

#[test]
fn one_task_gathers_every_message_of_50_topics_fed_by_another_process() {
    const N: usize = 50;
    const ROUNDS: usize = 4;
    let ch = TestChannel::new("tokio-50");
    let _cleanup = SubTopics(ch.name(), N);
    let mut peer = Peer::spawn(PEER, &["multi-pub", ch.name(), &N.to_string()]);
    peer.expect("ready", T);
    runtime().block_on(async {
        let mut subs: Vec<Async<DynSubscriber>> = (0..N)
            .map(|i| {
                let name = format!("{}/{i}", ch.name());
                let sub = DynSubscriber::connect_with(&name, ConnectOptions::with_timeout(T));
                Async::new(sub.unwrap()).unwrap()
            })
            .collect();
        // Nothing sent yet: nothing comes.
        let quiet = tokio::time::timeout(Duration::from_millis(50), next_of(&mut subs)).await;
        assert!(quiet.is_err(), "a frame before any send: {quiet:?}");
        let mut got: BTreeMap<usize, usize> = BTreeMap::new();
        for round in 0..ROUNDS {
            // Every topic once, in an order that changes per round; the
            // peer sends while this task sleeps in `next_of`.
            let order: Vec<String> = (0..N).map(|k| ((k * 7 + round) % N).to_string()).collect();
            peer.say(&format!("send {}", order.join(" ")));
            for _ in 0..N {
                let (i, data) = tokio::time::timeout(T, next_of(&mut subs))
                    .await
                    .expect("a frame went missing");
                assert_eq!(data, format!("frame for {i}").as_bytes());
                *got.entry(i).or_default() += 1;
            }
            peer.expect("sent", T);
            assert!(
                got.values().all(|&n| n == round + 1),
                "round {round}: {got:?}"
            );
        }
        assert_eq!(got.len(), N);
        // All taken: nothing more comes.
        let more = tokio::time::timeout(Duration::from_millis(50), next_of(&mut subs)).await;
        assert!(more.is_err(), "an extra frame: {more:?}");
    });
}

#[test]
fn a_cancelled_recv_takes_nothing_and_the_next_recv_gets_the_message() {
    let ch = TestChannel::new("tokio-cancel-recv");
    let mut publisher = Publisher::<Sample>::create(ch.name()).unwrap();
    let q = TestChannel::new("tokio-cancel-pull");
    let pusher = DynPusher::create(q.name()).unwrap();
    runtime().block_on(async {
        let mut sub = Async::new(Subscriber::<Sample>::connect(ch.name()).unwrap()).unwrap();
        let mut puller = Async::new(DynPuller::connect(q.name()).unwrap()).unwrap();
        // Cancelled while nothing is there.
        let idle = tokio::time::timeout(Duration::from_millis(20), sub.recv_async()).await;
        assert!(idle.is_err(), "{idle:?}");
        // Poll each receive once (it arms its bell and sleeps), send while
        // it sleeps, then drop it without polling it again.
        {
            let mut recv = Box::pin(sub.recv_async());
            let mut pull = Box::pin(puller.recv_async());
            poll_fn(|cx| {
                assert!(recv.as_mut().poll(cx).is_pending());
                assert!(pull.as_mut().poll(cx).is_pending());
                Poll::Ready(())
            })
            .await;
            publisher.send(&Sample { seq: 1, value: 0.5 }).unwrap();
            pusher.try_send(b"job", Codec::Raw).unwrap();
        }
        let s = tokio::time::timeout(T, sub.recv_async()).await.unwrap();
        assert_eq!(s.unwrap(), Sample { seq: 1, value: 0.5 });
        let job = tokio::time::timeout(T, puller.recv_async()).await.unwrap();
        assert_eq!(job.unwrap().data, b"job");
        assert!(pusher.is_empty());
        // And the stream of the subscriber yields the next one.
        publisher.send(&Sample { seq: 2, value: 1.5 }).unwrap();
        let next = poll_fn(|cx| Pin::new(&mut sub).poll_next(cx)).await;
        assert_eq!(next.unwrap().unwrap().seq, 2);
    });
}

#[test]
fn a_cancelled_request_is_withdrawn_and_its_late_reply_discarded() {
    let svc = TestChannel::new("tokio-cancel-req");
    let replier = DynReplier::create(svc.name()).unwrap();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel::<Delivery>();
    // A replier that answers the first call only when told (after the
    // requester gave up on it), and the second at once.
    let serve = std::thread::spawn(move || {
        for n in 0..2 {
            let (call, frame) = replier.recv_timeout(T).unwrap();
            if n == 0 {
                go_rx.recv_timeout(T).unwrap();
            }
            let mut answer = b"re: ".to_vec();
            answer.extend_from_slice(&frame.data);
            done_tx
                .send(replier.reply(&call, &answer, Codec::Raw).unwrap())
                .unwrap();
        }
    });
    runtime().block_on(async {
        let mut req = Async::new(DynRequester::connect(svc.name()).unwrap()).unwrap();
        let first = tokio::time::timeout(
            Duration::from_millis(100),
            req.request_async(b"first", Codec::Raw, T),
        )
        .await;
        assert!(first.is_err(), "no reply was due: {first:?}");
        // The dropped future withdrew the call: the late reply is refused.
        go_tx.send(()).unwrap();
        let late = tokio::task::spawn_blocking(move || {
            let d = done_rx.recv_timeout(T).unwrap();
            (d, done_rx)
        })
        .await
        .unwrap();
        assert_eq!(late.0, Delivery::Discarded);
        let second = req.request_async(b"second", Codec::Raw, T).await.unwrap();
        assert_eq!(second.data, b"re: second");
        assert_eq!(late.1.recv_timeout(T).unwrap(), Delivery::Delivered);
    });
    serve.join().unwrap();
}

#[test]
fn a_request_reaches_a_replier_process_and_times_out_without_one() {
    let svc = TestChannel::new("tokio-req-peer");
    let mut peer = Peer::spawn(PATTERN_PEER, &["dyn-replier", svc.name(), "4096"]);
    peer.expect("ready", T);
    runtime().block_on(async {
        let mut req = Async::new(DynRequester::connect(svc.name()).unwrap()).unwrap();
        for i in 0..100u32 {
            let ask = format!("call {i}");
            let rep = req
                .request_async(ask.as_bytes(), Codec::Raw, T)
                .await
                .unwrap();
            let want: Vec<u8> = ask.bytes().rev().collect();
            assert_eq!(rep.data, want);
        }
        peer.say("stop");
        peer.expect("served 100", T);
        assert!(peer.wait_success(T));
        // No replier left: the request's own timeout ends it.
        let start = tokio::time::Instant::now();
        let r = req
            .request_async(b"anyone?", Codec::Raw, Duration::from_millis(100))
            .await;
        assert!(
            matches!(
                r,
                Err(RequestError::Timeout {
                    replier_alive: false
                })
            ),
            "{r:?}"
        );
        assert!(start.elapsed() >= Duration::from_millis(90));
    });
}

#[test]
fn typed_tasks_serve_call_push_and_pull_on_one_runtime() {
    let svc = TestChannel::new("tokio-typed-svc");
    let q = TestChannel::new("tokio-typed-queue");
    let replier = Replier::<Sample, Sample>::create(svc.name()).unwrap();
    let requester = Requester::<Sample, Sample>::connect(svc.name()).unwrap();
    let pusher =
        Pusher::<Sample>::create_with(q.name(), TypedQueueOptions { capacity: 4 }).unwrap();
    let puller = Puller::<Sample>::connect(q.name()).unwrap();
    let rt = runtime();
    rt.block_on(async {
        let mut svc = Async::new(replier).unwrap();
        let server = tokio::spawn(async move {
            for _ in 0..20 {
                let (call, s) = svc.recv_async().await.unwrap();
                let doubled = Sample {
                    seq: s.seq,
                    value: s.value * 2.0,
                };
                assert!(svc.reply(&call, &doubled).unwrap().is_delivered());
            }
        });
        let mut req = Async::new(requester).unwrap();
        for seq in 0..20 {
            let ask = Sample {
                seq,
                value: seq as f64,
            };
            let rep = req.request_async(&ask, T).await.unwrap();
            assert_eq!(
                rep,
                Sample {
                    seq,
                    value: 2.0 * seq as f64
                }
            );
        }
        server.await.unwrap();

        // A full queue: send_async waits until the puller task takes jobs.
        let mut push = Async::new(pusher).unwrap();
        let mut pull = Async::new(puller).unwrap();
        let sent = tokio::spawn(async move {
            for seq in 0..40 {
                push.send_async(Sample { seq, value: 0.0 }).await.unwrap();
            }
            push
        });
        let mut out = Sample { seq: 0, value: 0.0 };
        for seq in 0..40 {
            tokio::time::timeout(T, pull.recv_into_async(&mut out))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(out.seq, seq);
        }
        let push = sent.await.unwrap();
        assert!(push.get_ref().is_empty());
    });
}

#[test]
fn a_dynamic_subscriber_stream_follows_a_publisher_in_this_process() {
    let ch = TestChannel::new("tokio-stream");
    let mut publisher = DynPublisher::create(ch.name()).unwrap();
    runtime().block_on(async {
        let mut sub = Async::new(DynSubscriber::connect(ch.name()).unwrap()).unwrap();
        let feed = tokio::spawn(async move {
            for i in 0..10u8 {
                tokio::time::sleep(Duration::from_millis(2)).await;
                publisher.send_bytes(&[i]).unwrap();
            }
            publisher
        });
        for i in 0..10u8 {
            let next = tokio::time::timeout(T, poll_fn(|cx| Pin::new(&mut sub).poll_next(cx)))
                .await
                .unwrap();
            assert_eq!(next.unwrap().unwrap().data, [i]);
        }
        drop(feed.await.unwrap());
    });
}

/// A multi-publisher subscriber with `recv_async` and as a `Stream`:
/// two publisher processes' messages all arrive, each publisher's in
/// order, and a publisher that joins later is followed without
/// reconnecting.
#[test]
fn a_multi_publisher_subscriber_gathers_every_publisher_process() {
    use shm_comm::multipub::{MultiSubscriber, PublisherId};
    let ch = TestChannel::new("tokio-mpub");
    let count = 500u64;
    runtime().block_on(async {
        let mut sub =
            Async::new(MultiSubscriber::<suite::Check>::connect(ch.name()).unwrap()).unwrap();
        let mut pubs: Vec<Peer> = Vec::new();
        let mut last: std::collections::HashMap<PublisherId, u64> = Default::default();
        let mut got = 0u64;
        for k in 0..2u64 {
            // The second publisher process joins after the first is done.
            let mut p = Peer::spawn(
                PEER,
                &[
                    "mpub",
                    ch.name(),
                    &k.to_string(),
                    &count.to_string(),
                    "100",
                    "64",
                ],
            );
            p.expect("ready", T);
            p.say("go");
            pubs.push(p);
            for i in 0..count {
                let next = async {
                    if i % 2 == 0 {
                        sub.recv_async().await
                    } else {
                        poll_fn(|cx| Pin::new(&mut sub).poll_next(cx))
                            .await
                            .expect("the stream never ends")
                    }
                };
                let (from, m) = tokio::time::timeout(T, next)
                    .await
                    .expect("a message within the timeout")
                    .unwrap();
                assert!(m.verify(), "torn: {m:?}");
                let n = m.seq & 0xffff_ffff;
                if let Some(&prev) = last.get(&from) {
                    assert!(n > prev, "out of order: {prev} then {n}");
                }
                last.insert(from, n);
                got += 1;
            }
        }
        assert_eq!(last.len(), 2);
        assert_eq!(got + sub.get_ref().missed(), 2 * count);
        for p in &mut pubs {
            p.expect("sent", T);
            p.say("exit");
            assert!(p.wait_success(T));
        }
    });
}

/// A requester killed while writing its request leaves its queue cell
/// in "writing", in the way of every request behind it. A blocking
/// replier skips it after a quiet slice; an awaiting one only ever looks
/// without waiting, and must skip it too, not spin on it forever.
#[test]
fn an_awaiting_replier_skips_the_cell_of_a_requester_killed_mid_write() {
    use std::os::unix::fs::FileExt;
    let svc = TestChannel::new("tokio-stuck-cell");
    let replier = DynReplier::create(svc.name()).unwrap();
    // The request queue: after the participant table in the segment's
    // region (`region_off` at byte 80 of the header); the enqueue
    // position at +64, cells from +320 with their state word first.
    let dir = std::env::var_os("SHM_COMM_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| std::path::PathBuf::from("/dev/shm"), Into::into);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join(shm_comm::segment::file_name(svc.name(), "svc").unwrap()))
        .unwrap();
    let mut word = [0u8; 8];
    file.read_exact_at(&mut word, 80).unwrap();
    let queue = u64::from_ne_bytes(word) + shm_comm::segment::TABLE_LEN as u64;
    // Cell 0, lap 0: "writing" (kind 1) by participant 200 of a start
    // time nobody has (no such participant: dead); the enqueue position
    // past it, as a pusher leaves it once it claimed the cell.
    let stuck: u64 = (1 << 30) | (200 | (12345 << 8));
    file.write_all_at(&stuck.to_ne_bytes(), queue + 320)
        .unwrap();
    file.write_all_at(&1u64.to_ne_bytes(), queue + 64).unwrap();
    let ask = std::thread::spawn({
        let name = svc.name().to_owned();
        move || {
            let req = DynRequester::connect(&name).unwrap();
            req.request(b"behind the stuck cell", Codec::Raw, T)
        }
    });
    runtime().block_on(async {
        let mut rep = Async::new(replier).unwrap();
        let (call, frame) = tokio::time::timeout(Duration::from_secs(10), rep.recv_async())
            .await
            .expect("the request behind the stuck cell within 10 s")
            .unwrap();
        assert_eq!(frame.data, b"behind the stuck cell");
        assert_eq!(
            rep.reply(&call, b"served", Codec::Raw).unwrap(),
            Delivery::Delivered
        );
    });
    assert_eq!(ask.join().unwrap().unwrap().data, b"served");
}
