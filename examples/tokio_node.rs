//! A tokio node: one task consumes three topics (`imu` and `odom` typed,
//! `log` dynamic) and serves a status service, all in one `tokio::select!`,
//! with no thread per channel. A feeder process publishes the topics and
//! calls the service; its last call stops the node, whose counts must
//! match what was sent.
//!
//! One terminal (the node starts the feeder as a child process):
//!     cargo run --release --features tokio --example tokio_node
//! Two terminals (node first: the feeder waits up to 10 s for its service):
//!     cargo run --release --features tokio --example tokio_node -- node
//!     cargo run --release --features tokio --example tokio_node -- feeder
//! Options: `--count N` IMU messages at 1 kHz (default 2000; one odometry
//! message per 10, one log line per 100), `--name NAME` (default demo/node).

mod common;

use std::time::Duration;

use common::{paced, CommandLine, Peer, Result};
use shm_comm::pubsub::{ConnectOptions, DynPublisher, DynSubscriber, Publisher, Subscriber};
use shm_comm::reqrep::{Replier, Requester, RequesterOptions};
use shm_comm::tokio::Async;
use shm_comm::ShmMessage;

#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
struct Imu {
    seq: u64,
    gyro: [f64; 3],
}

#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
struct Odom {
    x: f64,
    y: f64,
    theta: f64,
}

/// A status call; `stop` 1 also ends the node.
#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
struct Query {
    stop: u64,
}

/// What the node has received so far.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
struct Counts {
    imu: u64,
    odom: u64,
    log: u64,
}

const WAIT: Duration = Duration::from_secs(10);

fn main() -> Result {
    let line = CommandLine::parse(&["node", "feeder"], &[("--count", "N"), ("--name", "NAME")])?;
    let count: u64 = line.get("--count", 2000)?;
    let name = line.get("--name", "demo/node".to_owned())?;
    match line.role.as_str() {
        "feeder" => feed(&name, count),
        "node" => node(&name),
        _ => {
            let feeder = Peer::spawn(
                "the feeder",
                &["feeder", "--name", &name, "--count", &count.to_string()],
            )?;
            println!("demo | started the feeder (pid {})", feeder.pid());
            node(&name)?;
            let (status, _) = feeder.finish()?;
            if !status.success() {
                return Err(format!("the feeder failed ({status})").into());
            }
            Ok(())
        }
    }
}

/// The node: a current-thread runtime, one task, four channels.
#[tokio::main(flavor = "current_thread")]
async fn node(name: &str) -> Result {
    // The service first: the feeder waits for it before publishing.
    let mut status = Async::new(Replier::<Query, Counts>::create(&format!("{name}/status"))?)?;
    let topic = |t: &str| format!("{name}/{t}");
    let opts = ConnectOptions::with_timeout(WAIT);
    let mut imu = Async::new(Subscriber::<Imu>::connect_with(&topic("imu"), opts)?)?;
    let mut odom = Async::new(Subscriber::<Odom>::connect_with(&topic("odom"), opts)?)?;
    let mut log = Async::new(DynSubscriber::connect_with(&topic("log"), opts)?)?;
    println!("node | waiting on 3 topics and a service, one task");
    let mut counts = Counts::default();
    loop {
        // Each branch is cancel-safe: the receives that lose the race
        // have taken nothing, and are made again on the next turn.
        tokio::select! {
            m = imu.recv_async() => {
                m?;
                counts.imu += 1;
            }
            m = odom.recv_async() => {
                let o = m?;
                if counts.odom % 50 == 0 {
                    println!("node | odom x {:.2} y {:.2} theta {:.2}", o.x, o.y, o.theta);
                }
                counts.odom += 1;
            }
            f = log.recv_async() => {
                println!("node | log: {}", String::from_utf8_lossy(&f?.data));
                counts.log += 1;
            }
            r = status.recv_async() => {
                let (call, q) = r?;
                if q.stop != 0 {
                    // Sent before this call: take what is still queued.
                    while imu.get_mut().try_recv().is_ok() {
                        counts.imu += 1;
                    }
                    while odom.get_mut().try_recv().is_ok() {
                        counts.odom += 1;
                    }
                    while log.get_mut().try_recv().is_ok() {
                        counts.log += 1;
                    }
                }
                // `Discarded`: the caller gave up; nothing to do.
                let _ = status.reply(&call, &counts)?;
                if q.stop != 0 {
                    break;
                }
            }
        }
    }
    let missed = imu.get_ref().missed() + odom.get_ref().missed() + log.get_ref().missed();
    println!(
        "node | stopped: imu {} odom {} log {} (missed {missed})",
        counts.imu, counts.odom, counts.log
    );
    Ok(())
}

/// The feeder: publishes the three topics, calling the node's status
/// service now and then, and stops it at the end.
fn feed(name: &str, count: u64) -> Result {
    let mut imu = Publisher::<Imu>::create(&format!("{name}/imu"))?;
    let mut odom = Publisher::<Odom>::create(&format!("{name}/odom"))?;
    let mut log = DynPublisher::create(&format!("{name}/log"))?;
    let status = Requester::<Query, Counts>::connect_with(
        &format!("{name}/status"),
        RequesterOptions::with_timeout(WAIT),
    )?;
    // Answered once the node waits on everything: publish from then on.
    status.request(&Query { stop: 0 }, WAIT)?;
    let mut sent = Counts::default();
    paced(count, 1000.0, |seq| {
        let t = seq as f64 / 1000.0;
        imu.send(&Imu {
            seq,
            gyro: [t.sin(), t.cos(), 0.0],
        })?;
        sent.imu += 1;
        if seq % 10 == 0 {
            odom.send(&Odom {
                x: t,
                y: 0.5 * t,
                theta: t.sin(),
            })?;
            sent.odom += 1;
        }
        if seq % 100 == 0 {
            log.send_bytes(format!("feeder at {seq}").as_bytes())?;
            sent.log += 1;
        }
        if seq % 500 == 499 {
            let c = status.request(&Query { stop: 0 }, WAIT)?;
            println!(
                "feed | status: node has imu {} odom {} log {}",
                c.imu, c.odom, c.log
            );
        }
        Ok(())
    })?;
    let got = status.request(&Query { stop: 1 }, WAIT)?;
    println!(
        "feed | sent imu {} odom {} log {}; the node got {got:?}",
        sent.imu, sent.odom, sent.log
    );
    if got != sent {
        return Err("the node's counts differ from what was sent".into());
    }
    Ok(())
}
