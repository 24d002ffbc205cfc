//! The lifecycle events of `shm_comm::events`, from real processes: a
//! publisher killed with SIGKILL leaves its segment; the next publisher
//! replaces it (`Replaced`, naming the dead pid) and the subscriber that
//! was waiting moves to it (`Reattached`, naming the new one).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use shm_comm::events::{self, Event};
use shm_comm::pubsub::{ConnectOptions, Publisher, Subscriber};
use suite::{Check, Peer, TestChannel};

const PEER: &str = env!("CARGO_BIN_EXE_shm-comm-test-peer");
const T: Duration = Duration::from_secs(30);

static SEEN: Mutex<Vec<Event>> = Mutex::new(Vec::new());

fn record(e: &Event) {
    SEEN.lock().unwrap().push(e.clone());
}

fn seen(name: &str) -> Vec<Event> {
    SEEN.lock()
        .unwrap()
        .iter()
        .filter(|e| match e {
            Event::Replaced { name: n, .. }
            | Event::Reattached { name: n, .. }
            | Event::PeerDied { name: n, .. } => n == name,
            _ => false,
        })
        .cloned()
        .collect()
}

#[test]
fn a_killed_publisher_is_replaced_and_its_subscriber_moves_on() {
    events::set_hook(Some(record));
    let ch = TestChannel::new("events-replace");
    let name = ch.name();
    let mut peer = Peer::spawn(PEER, &["hold", name]);
    peer.expect("ready", T);
    let dead = peer.pid();
    let mut sub = Subscriber::<Check>::connect_with(
        name,
        ConnectOptions {
            timeout: T,
            ..Default::default()
        },
    )
    .unwrap();
    peer.kill();
    assert!(seen(name).is_empty(), "{:?}", seen(name));

    let mut publisher = Publisher::<Check>::create(name).unwrap();
    assert_eq!(
        seen(name),
        [Event::Replaced {
            name: name.to_owned(),
            role: "pub".into(),
            pid: dead
        }]
    );
    // The replacement closed the dead ring: the subscriber's next wait
    // moves it to the new segment, where it gets what is sent from now on.
    let until = Instant::now() + T;
    let got = loop {
        publisher.send(&Check::new(7)).unwrap();
        if let Ok(c) = sub.recv_timeout(Duration::from_millis(20)) {
            break c;
        }
        assert!(Instant::now() < until, "never reattached: {:?}", seen(name));
    };
    assert!(got.verify());
    let reattached = Event::Reattached {
        name: name.to_owned(),
        pid: std::process::id(),
    };
    assert!(seen(name).contains(&reattached), "{:?}", seen(name));
    assert!(reattached.to_string().contains("new publisher"));
}
