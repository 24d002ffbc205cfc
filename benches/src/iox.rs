//! The iceoryx2 rows (feature `iceoryx2`): the same ping-pong as the typed
//! shm-comm rows, over iceoryx2 publish-subscribe services.
//!
//! Each direction is one service, `<channel>/ping` and `<channel>/pong`,
//! with one publisher and one subscriber. Busy rows poll
//! `Subscriber::receive`. The blocking row adds one event service per
//! direction (`<channel>/ping-ev`, `<channel>/pong-ev`): the sender calls
//! `Notifier::notify` after each send, and the receiver, when `receive` finds
//! nothing, sleeps in `Listener::timed_wait` (iceoryx2's event-based wait; its
//! publish-subscribe ports have no blocking receive of their own).
//!
//! Copies match the shm-comm rows: 64 B and 4 KiB are copied in by
//! `send_copy` and out of the received sample (as `try_recv` does); 1 MiB
//! is never copied: `loan_uninit`, write `seq`, `send`, and the receiver
//! reads `seq` from the sample in place.

use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use iceoryx2::node::NodeView;
use iceoryx2::port::listener::Listener;
use iceoryx2::port::notifier::Notifier;
use iceoryx2::port::publisher::Publisher;
use iceoryx2::port::subscriber::Subscriber;
use iceoryx2::prelude::*;
use iceoryx2::sample::Sample;

use crate::peer::{parent_gone, say, Spin, Waiter};
use crate::scenarios::{self, drive, Kind, Measured, Msg4K, Msg64, Plan, PEER_POLL, STOP};

type Svc = ipc::Service;

/// Name of every node of the benchmark (used to find the dead ones).
const NODE_NAME: &str = "shm-comm-benches";

/// Adds context to an iceoryx2 error (they all implement `Debug`).
trait Ctx<T> {
    fn ix(self, what: &str) -> Result<T, String>;
}

impl<T, E: std::fmt::Debug> Ctx<T> for Result<T, E> {
    fn ix(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("iceoryx2: {what}: {e:?}"))
    }
}

/// A 1 MiB message, only ever built in place (loaned) and read in place. The
/// filler is never written (as in the shm-comm loan row), hence
/// `MaybeUninit`: a loan is fully initialised once `seq` and `stamp` are.
#[derive(Debug, ZeroCopySend)]
#[repr(C)]
#[type_name("ShmCommBenchMsg1M")]
pub struct Msg1M {
    seq: u64,
    stamp: u64,
    payload: MaybeUninit<[u64; (1 << 17) - 2]>,
}

const _: () = assert!(std::mem::size_of::<Msg1M>() == 1 << 20);

/// The copied message types: those of the shm-comm rows, which also derive
/// iceoryx2's `ZeroCopySend` in this build.
trait Probe: scenarios::Probe + ZeroCopySend + 'static {}

impl<T: scenarios::Probe + ZeroCopySend + 'static> Probe for T {}

/// Runs iceoryx2 scenario `plan` (parent side).
pub fn run(plan: &Plan) -> Result<Measured, String> {
    quiet();
    match plan.kind {
        Kind::Iox64Busy => ping_pong::<Msg64>(plan, false),
        Kind::Iox64Blocking => ping_pong::<Msg64>(plan, true),
        Kind::Iox4KBusy => ping_pong::<Msg4K>(plan, false),
        Kind::Iox1MLoan => loan_ping_pong(plan),
        k => Err(format!("{} is not an iceoryx2 scenario", k.id())),
    }
}

/// Runs the peer side of iceoryx2 scenario `kind` on `channel`.
pub fn serve(kind: Kind, channel: &str, spin: Spin) -> Result<(), String> {
    quiet();
    match kind {
        Kind::Iox64Busy => echo::<Msg64>(channel, spin, false),
        Kind::Iox64Blocking => echo::<Msg64>(channel, spin, true),
        Kind::Iox4KBusy => echo::<Msg4K>(channel, spin, false),
        Kind::Iox1MLoan => loan_echo(channel, spin),
        k => Err(format!("{} is not an iceoryx2 scenario", k.id())),
    }
}

/// iceoryx2 logs at `Info` by default (e.g. that no config file exists).
fn quiet() {
    set_log_level_from_env_or(LogLevel::Error);
}

/// A node of this process. Signal handling is left to the harness (the
/// parent turns Ctrl-C into a clean stop, the peer ignores it).
fn node() -> Result<Node<Svc>, String> {
    let name: NodeName = NODE_NAME.try_into().ix("node name")?;
    NodeBuilder::new()
        .name(&name)
        .signal_handling_mode(SignalHandlingMode::Disabled)
        .create::<Svc>()
        .ix("creating the node")
}

fn service_name(name: &str) -> Result<ServiceName, String> {
    ServiceName::new(name).ix(&format!("service name {name}"))
}

/// One direction: one publisher, one subscriber, and a ring of 4 samples (2
/// of which the subscriber may hold), like the shm-comm loan rows.
fn pubsub<M: std::fmt::Debug + ZeroCopySend + 'static>(
    node: &Node<Svc>,
    name: &str,
) -> Result<iceoryx2::service::port_factory::publish_subscribe::PortFactory<Svc, M, ()>, String> {
    node.service_builder(&service_name(name)?)
        .publish_subscribe::<M>()
        .max_publishers(1)
        .max_subscribers(1)
        .max_nodes(2)
        .history_size(0)
        .subscriber_max_buffer_size(4)
        .subscriber_max_borrowed_samples(2)
        .open_or_create()
        .ix(&format!("service {name}"))
}

fn publisher<M: std::fmt::Debug + ZeroCopySend + 'static>(
    node: &Node<Svc>,
    name: &str,
) -> Result<Publisher<Svc, M, ()>, String> {
    pubsub::<M>(node, name)?
        .publisher_builder()
        .max_loaned_samples(1)
        .create()
        .ix(&format!("publisher of {name}"))
}

fn subscriber<M: std::fmt::Debug + ZeroCopySend + 'static>(
    node: &Node<Svc>,
    name: &str,
) -> Result<Subscriber<Svc, M, ()>, String> {
    pubsub::<M>(node, name)?
        .subscriber_builder()
        .create()
        .ix(&format!("subscriber of {name}"))
}

fn event(
    node: &Node<Svc>,
    name: &str,
) -> Result<iceoryx2::service::port_factory::event::PortFactory<Svc>, String> {
    node.service_builder(&service_name(name)?)
        .event()
        .max_notifiers(1)
        .max_listeners(1)
        .max_nodes(2)
        .disable_notifier_created_event()
        .disable_notifier_dropped_event()
        .disable_notifier_dead_event()
        .open_or_create()
        .ix(&format!("event service {name}"))
}

fn notifier(node: &Node<Svc>, name: &str) -> Result<Notifier<Svc>, String> {
    event(node, name)?
        .notifier_builder()
        .create()
        .ix(&format!("notifier of {name}"))
}

fn listener(node: &Node<Svc>, name: &str) -> Result<Listener<Svc>, String> {
    event(node, name)?
        .listener_builder()
        .create()
        .ix(&format!("listener of {name}"))
}

/// Waits (in the kernel) for the sample that the notification announces, or
/// fails after `timeout`.
fn recv_blocking<M: std::fmt::Debug + ZeroCopySend + 'static>(
    sub: &Subscriber<Svc, M, ()>,
    listener: &Listener<Svc>,
    timeout: Duration,
) -> Result<Sample<Svc, M, ()>, String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = sub.receive().ix("receive")? {
            return Ok(s);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("no echo within {timeout:?} (peer dead or stuck?)"));
        }
        listener.timed_wait(|_| {}, left).ix("timed_wait")?;
    }
}

fn ping_pong<M: Probe>(plan: &Plan, blocking: bool) -> Result<Measured, String> {
    let base = plan.channel();
    let node = node()?;
    let ping = publisher::<M>(&node, &format!("{base}/ping"))?;
    let ping_ev = if blocking {
        Some(notifier(&node, &format!("{base}/ping-ev"))?)
    } else {
        None
    };
    let mut peer = plan.spawn_peer()?;
    peer.expect("ready")?;
    let pong = subscriber::<M>(&node, &format!("{base}/pong"))?;
    let pong_ev = if blocking {
        Some(listener(&node, &format!("{base}/pong-ev"))?)
    } else {
        None
    };
    let send = |m: M| -> Result<(), String> {
        ping.send_copy(m).ix("send_copy")?;
        if let Some(n) = &ping_ev {
            n.notify().ix("notify")?;
        }
        Ok(())
    };
    let mut waiter = Waiter::new(plan.spin);
    let lat = drive(&plan.budget, |seq| {
        send(M::with_seq(seq))?;
        let got: M = match &pong_ev {
            Some(l) => *recv_blocking(&pong, l, Duration::from_secs(10))?,
            None => {
                waiter.reset();
                loop {
                    match pong.receive().ix("receive")? {
                        // Copied out, as shm-comm's `try_recv` does.
                        Some(s) => break *s,
                        None => waiter.pause()?,
                    }
                }
            }
        };
        if got.seq() != seq {
            return Err(format!("expected echo of {seq}, got {}", got.seq()));
        }
        Ok(())
    })?;
    send(M::with_seq(STOP))?;
    peer.finish()?;
    Ok(Measured::PingPong(lat))
}

fn echo<M: Probe>(base: &str, spin: Spin, blocking: bool) -> Result<(), String> {
    let node = node()?;
    let pong = publisher::<M>(&node, &format!("{base}/pong"))?;
    let ping = subscriber::<M>(&node, &format!("{base}/ping"))?;
    let (pong_ev, ping_ev) = if blocking {
        (
            Some(notifier(&node, &format!("{base}/pong-ev"))?),
            Some(listener(&node, &format!("{base}/ping-ev"))?),
        )
    } else {
        (None, None)
    };
    say("ready");
    let mut waiter = Waiter::new(spin);
    loop {
        let got: M = match ping.receive().ix("receive")? {
            Some(s) => *s,
            None => {
                match &ping_ev {
                    Some(l) => {
                        let n = l.timed_wait(|_| {}, PEER_POLL).ix("timed_wait")?;
                        if n == 0 && parent_gone() {
                            return Err("the parent went away".into());
                        }
                    }
                    None => waiter.pause()?,
                }
                continue;
            }
        };
        if got.seq() == STOP {
            return Ok(());
        }
        pong.send_copy(got).ix("send_copy")?;
        if let Some(n) = &pong_ev {
            n.notify().ix("notify")?;
        }
        waiter.reset();
    }
}

/// Loans a 1 MiB sample, writes `seq` and `stamp` (the filler stays as it
/// is) and sends it.
fn send_loaned(publisher: &Publisher<Svc, Msg1M, ()>, seq: u64, stamp: u64) -> Result<(), String> {
    let mut sample = publisher.loan_uninit().ix("loan_uninit")?;
    let p = sample.payload_mut().as_mut_ptr();
    // SAFETY: `p` points to the loaned sample's payload, which is valid for
    // writes and aligned for `Msg1M`; writing through raw field pointers
    // never reads or creates a reference to the uninitialised filler.
    unsafe {
        std::ptr::addr_of_mut!((*p).seq).write(seq);
        std::ptr::addr_of_mut!((*p).stamp).write(stamp);
    }
    // SAFETY: `seq` and `stamp` were written just above, and `payload` is a
    // `MaybeUninit`, which needs no initialisation.
    let sample = unsafe { sample.assume_init() };
    sample.send().ix("send")?;
    Ok(())
}

fn loan_ping_pong(plan: &Plan) -> Result<Measured, String> {
    let base = plan.channel();
    let node = node()?;
    let ping = publisher::<Msg1M>(&node, &format!("{base}/ping"))?;
    let mut peer = plan.spawn_peer()?;
    peer.expect("ready")?;
    let pong = subscriber::<Msg1M>(&node, &format!("{base}/pong"))?;
    let mut waiter = Waiter::new(plan.spin);
    let lat = drive(&plan.budget, |seq| {
        send_loaned(&ping, seq, 0)?;
        waiter.reset();
        loop {
            match pong.receive().ix("receive")? {
                Some(s) if s.seq == seq => return Ok(()),
                Some(s) => return Err(format!("expected echo of {seq}, got {}", s.seq)),
                None => waiter.pause()?,
            }
        }
    })?;
    send_loaned(&ping, STOP, 0)?;
    peer.finish()?;
    Ok(Measured::PingPong(lat))
}

fn loan_echo(base: &str, spin: Spin) -> Result<(), String> {
    let node = node()?;
    let pong = publisher::<Msg1M>(&node, &format!("{base}/pong"))?;
    let ping = subscriber::<Msg1M>(&node, &format!("{base}/ping"))?;
    say("ready");
    let mut waiter = Waiter::new(spin);
    loop {
        let Some(sample) = ping.receive().ix("receive")? else {
            waiter.pause()?;
            continue;
        };
        if sample.seq == STOP {
            return Ok(());
        }
        send_loaned(&pong, sample.seq, sample.stamp)?;
        drop(sample);
        waiter.reset();
    }
}

/// Removes the resources of benchmark nodes whose process died (killed by
/// SIGKILL, so they could not clean up). Returns how many.
pub fn sweep_stale() -> usize {
    quiet();
    let mut dead = Vec::new();
    let _ = Node::<Svc>::list(Config::global_config(), |state| {
        if let NodeState::Dead(view) = state {
            if view
                .details()
                .as_ref()
                .is_some_and(|d| d.name().as_str() == NODE_NAME)
            {
                dead.push(view);
            }
        }
        CallbackProgression::Continue
    });
    dead.into_iter()
        .filter(|view| view.clone().try_remove_stale_resources().is_ok())
        .count()
}

/// iceoryx2 services of this run still present (there should be none).
pub fn leftovers() -> Vec<String> {
    let prefix = format!("bench/{}/", std::process::id());
    let mut left = Vec::new();
    let _ = Svc::list(Config::global_config(), |details| {
        let name = details.static_details.name().as_str();
        if name.starts_with(&prefix) {
            left.push(format!("iceoryx2 service {name}"));
        }
        CallbackProgression::Continue
    });
    left
}
