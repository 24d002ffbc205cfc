//! Typed PUB/SUB between two processes: a `Pose` (timestamp, position,
//! orientation quaternion, frame name, validity flag) published at 1 kHz on
//! `demo/pose`, received by another process that reports how many arrived and
//! the one-way latency.
//!
//! One terminal (the publisher starts the subscriber as a child process):
//!     cargo run --release --example typed_pubsub
//! Two terminals (start either first; the subscriber waits for the topic):
//!     cargo run --release --example typed_pubsub -- subscriber
//!     cargo run --release --example typed_pubsub -- publisher
//! Options: `--count N` (default 200), `--rate HZ` (default 1000),
//! `--topic NAME` (default demo/pose).

mod common;

use std::error::Error;
use std::time::Duration;

use common::{latency_summary, monotonic_ns, paced, PubSubArgs};
use shm_comm::pubsub::{ConnectOptions, Publisher, Subscriber, TypedPubOptions};
use shm_comm::{FixedString, Flag, RecvTimeoutError, ShmMessage};

/// Where a robot is and which way it faces: 112 bytes, no pointers, no
/// padding, the same bytes in every process.
#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
struct Pose {
    /// When it was published: `CLOCK_MONOTONIC` in nanoseconds, which every
    /// process on the machine shares.
    stamp_ns: u64,
    /// Sequence number, from 0.
    seq: u64,
    /// Metres, in `frame_id`.
    position: [f64; 3],
    /// Unit quaternion `[x, y, z, w]`.
    orientation: [f64; 4],
    /// The coordinate frame, e.g. `"map"`.
    frame_id: FixedString<32>,
    /// `false` when the localisation is lost.
    valid: Flag,
    _pad: [u8; 3],
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = PubSubArgs::parse(200, 1000.0, "demo/pose")?;
    if args.role == "subscriber" {
        return subscribe(&args);
    }
    // Enough slots to keep every message of the run: even a subscriber that
    // stalls for a while misses nothing.
    let options = TypedPubOptions {
        capacity: args.count.clamp(64, 4096) as u32,
        ..Default::default()
    };
    let mut publisher = Publisher::<Pose>::create_with(&args.topic, options)?;
    announce(&args);
    // In the demo role this starts the subscriber first (see `common`).
    args.run_publisher(|| publish(&args, &mut publisher))
}

/// The pose of a robot driving a circle of 2 m radius, `seq` ms into the run.
fn pose_at(seq: u64, frame: &FixedString<32>) -> Pose {
    let t = seq as f64 * 1e-3;
    let angle = 0.5 * t; // rad, 0.5 rad/s
    let yaw = angle + std::f64::consts::FRAC_PI_2; // tangent to the circle
    Pose {
        stamp_ns: 0,
        seq,
        position: [2.0 * angle.cos(), 2.0 * angle.sin(), 0.0],
        orientation: [0.0, 0.0, (yaw / 2.0).sin(), (yaw / 2.0).cos()],
        frame_id: *frame,
        valid: Flag::TRUE,
        _pad: [0; 3],
    }
}

/// What the publisher is about to do, and the message layout that every
/// subscriber checks when it connects.
fn announce(args: &PubSubArgs) {
    println!(
        "pub | created topic {:?} (pid {}), message layout:",
        args.topic,
        std::process::id()
    );
    for line in Pose::layout().pretty().lines() {
        println!("pub |   {line}");
    }
}

fn publish(args: &PubSubArgs, publisher: &mut Publisher<Pose>) -> Result<(), Box<dyn Error>> {
    println!("pub | publishing {} poses at {} Hz", args.count, args.rate);
    let frame: FixedString<32> = "map".parse()?;
    let took = paced(args.count, args.rate, |seq| {
        let mut pose = pose_at(seq, &frame);
        pose.stamp_ns = monotonic_ns();
        publisher.send(&pose)?;
        Ok(())
    })?;
    println!(
        "pub | sent {} poses in {:.1} ms ({:.0} Hz)",
        args.count,
        took.as_secs_f64() * 1e3,
        (args.count - 1) as f64 / took.as_secs_f64().max(1e-9)
    );
    Ok(())
}

fn describe(p: &Pose, latency_us: f64) -> String {
    let [x, y, z] = p.position;
    let [_, _, qz, qw] = p.orientation;
    let yaw = 2.0 * qz.atan2(qw);
    format!(
        "#{:<4} pos ({x:+.3}, {y:+.3}, {z:+.3}) m  yaw {:+7.2}°  frame {:?}  valid {}  latency {latency_us:.1} µs",
        p.seq,
        yaw.to_degrees(),
        p.frame_id,
        if p.valid.get() { "yes" } else { "NO" },
    )
}

fn subscribe(args: &PubSubArgs) -> Result<(), Box<dyn Error>> {
    println!("sub | waiting for topic {:?}", args.topic);
    let mut sub = Subscriber::<Pose>::connect_with(
        &args.topic,
        ConnectOptions {
            timeout: Duration::from_secs(60),
            // Joining a running publisher: start from its newest pose.
            last_value: true,
            ..Default::default()
        },
    )?;
    println!(
        "sub | connected to {:?} (publisher pid {})",
        args.topic,
        sub.raw().publisher_pid()
    );
    let mut latencies = Vec::with_capacity(args.count as usize);
    let mut last = None;
    loop {
        match sub.recv_timeout(Duration::from_millis(500)) {
            Ok(pose) => {
                let latency = monotonic_ns().saturating_sub(pose.stamp_ns);
                latencies.push(latency);
                if pose.seq < 3 || pose.seq + 1 == args.count {
                    println!("sub | {}", describe(&pose, latency as f64 / 1e3));
                } else if pose.seq == 3 {
                    println!("sub | ...");
                }
                last = Some(pose.seq);
                if pose.seq + 1 >= args.count {
                    break;
                }
            }
            // Nothing for a while: stop once the publisher is gone.
            Err(RecvTimeoutError::Timeout) if !sub.raw().publisher_alive() => break,
            Err(RecvTimeoutError::Timeout) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let received = latencies.len();
    println!(
        "sub | received {received} of {} poses, missed {}{}",
        args.count,
        sub.missed(),
        match last {
            Some(seq) if seq + 1 < args.count => format!(" (publisher stopped after #{seq})"),
            None => " (none arrived)".into(),
            _ => String::new(),
        }
    );
    if received == 0 {
        return Err("no pose received".into());
    }
    println!(
        "sub | one-way latency: {} ({received} samples)",
        latency_summary(&mut latencies)
    );
    println!("sub | measured from the stamp taken just before each send to just after its");
    println!(
        "sub | receive, both on CLOCK_MONOTONIC (one clock for all processes). At {} Hz",
        args.rate
    );
    println!("sub | the subscriber sleeps between messages, so every sample includes waking");
    println!("sub | it up (futex wake + scheduling); one already spinning would see less.");
    Ok(())
}
