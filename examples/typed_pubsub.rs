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

use std::error::Error;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use shm_comm::pubsub::{ConnectOptions, PubOptions, Publisher, Subscriber};
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

/// `CLOCK_MONOTONIC` in nanoseconds.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Command-line settings.
#[derive(Clone, Debug)]
struct Args {
    role: String,
    count: u64,
    rate: f64,
    topic: String,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args {
        role: "demo".into(),
        count: 200,
        rate: 1000.0,
        topic: "demo/pose".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "publisher" | "subscriber" | "demo" => args.role = a.clone(),
            "--count" => args.count = value()?.parse()?,
            "--rate" => args.rate = value()?.parse()?,
            "--topic" => args.topic = value()?,
            "-h" | "--help" => {
                println!("usage: typed_pubsub [publisher|subscriber] [--count N] [--rate HZ] [--topic NAME]");
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {a:?} (try --help)").into()),
        }
    }
    if args.count == 0 || args.rate <= 0.0 {
        return Err("--count and --rate must be positive".into());
    }
    Ok(args)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    match args.role.as_str() {
        "publisher" => {
            let mut publisher = Publisher::create_with(&args.topic, pub_options(&args))?;
            announce(&args);
            publish(&args, &mut publisher)?;
            // A subscriber that joins late still gets the last pose: keep the
            // topic up a moment (dropping the publisher removes it).
            println!("pub | keeping the topic up for 1 s, then exiting");
            std::thread::sleep(Duration::from_secs(1));
            Ok(())
        }
        "subscriber" => subscribe(&args, Duration::from_secs(60)),
        _ => demo(&args),
    }
}

/// Enough slots to keep every message of the run: even a subscriber that
/// stalls for a while misses nothing.
fn pub_options(args: &Args) -> PubOptions {
    PubOptions {
        capacity: args.count.clamp(64, 4096) as u32,
        ..Default::default()
    }
}

/// Both sides: creates the topic, starts this program again as the
/// subscriber, waits until it has connected, then publishes.
fn demo(args: &Args) -> Result<(), Box<dyn Error>> {
    let mut publisher = Publisher::<Pose>::create_with(&args.topic, pub_options(args))?;
    announce(args);
    let mut child = Command::new(std::env::current_exe()?)
        .args(["subscriber", "--topic", &args.topic])
        .args(["--count", &args.count.to_string()])
        .args(["--rate", &args.rate.to_string()])
        .stdout(Stdio::piped())
        .spawn()?;
    // Relay the subscriber's lines, and note when it is connected.
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (connected_tx, connected) = mpsc::channel();
    let relay = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{line}");
            if line.contains("connected to") {
                let _ = connected_tx.send(());
            }
        }
    });
    if connected.recv_timeout(Duration::from_secs(30)).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        return Err("the subscriber did not connect within 30 s".into());
    }
    publish(args, &mut publisher)?;
    let status = child.wait()?;
    let _ = relay.join();
    if !status.success() {
        return Err(format!("the subscriber failed: {status}").into());
    }
    Ok(())
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
fn announce(args: &Args) {
    println!(
        "pub | created topic {:?} (pid {}), message layout:",
        args.topic,
        std::process::id()
    );
    for line in Pose::layout().pretty().lines() {
        println!("pub |   {line}");
    }
}

fn publish(args: &Args, publisher: &mut Publisher<Pose>) -> Result<(), Box<dyn Error>> {
    println!("pub | publishing {} poses at {} Hz", args.count, args.rate);
    let frame: FixedString<32> = "map".parse()?;
    let period = Duration::from_secs_f64(1.0 / args.rate);
    let start = Instant::now();
    for seq in 0..args.count {
        // Absolute deadlines: the rate does not drift with the loop's own cost.
        let due = start + period * seq as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let mut pose = pose_at(seq, &frame);
        pose.stamp_ns = monotonic_ns();
        publisher.send(&pose)?;
    }
    let took = start.elapsed();
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

/// The `q` quantile of sorted `v`, in microseconds.
fn quantile_us(v: &[u64], q: f64) -> f64 {
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    v[i] as f64 / 1e3
}

fn subscribe(args: &Args, wait_for_publisher: Duration) -> Result<(), Box<dyn Error>> {
    println!("sub | waiting for topic {:?}", args.topic);
    let mut sub = Subscriber::<Pose>::connect_with(
        &args.topic,
        ConnectOptions {
            timeout: wait_for_publisher,
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
    latencies.sort_unstable();
    println!(
        "sub | one-way latency: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs ({received} samples)",
        quantile_us(&latencies, 0.5),
        quantile_us(&latencies, 0.99),
        quantile_us(&latencies, 1.0),
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
