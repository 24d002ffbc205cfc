//! Dynamic PUB/SUB between two processes on `demo/events`: msgpack-encoded
//! serde structs (what a Python peer receives as dicts) interleaved with raw
//! byte frames, each frame tagged with its codec so the subscriber knows how
//! to read it.
//!
//! One terminal (the publisher starts the subscriber as a child process):
//!     cargo run --release --example dynamic_pubsub
//! Two terminals (start either first; the subscriber waits for the topic):
//!     cargo run --release --example dynamic_pubsub -- subscriber
//!     cargo run --release --example dynamic_pubsub -- publisher
//! Options: `--count N` frames (default 100), `--rate HZ` (default 200),
//! `--topic NAME` (default demo/events).

mod common;

use std::collections::BTreeMap;
use std::error::Error;
use std::time::{Duration, Instant};

use common::{latency_summary, monotonic_ns, paced, PubSubArgs};
use serde::{Deserialize, Serialize};
use shm_comm::pubsub::{ConnectOptions, DynPublisher, DynSubscriber, PubOptions};
use shm_comm::{Codec, RecvTimeoutError};

/// An event as a serde struct: sent as a msgpack map, so a Python
/// subscriber gets `{"seq": 0, "stamp_ns": ..., "source": "battery", ...}`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Event {
    seq: u64,
    /// `CLOCK_MONOTONIC` nanoseconds when sent.
    stamp_ns: u64,
    source: String,
    level: f64,
    tags: Vec<String>,
    extra: BTreeMap<String, i64>,
    note: Option<String>,
}

/// Raw frames: the sequence number and send stamp as little-endian `u64`s,
/// then a tiny `IMAGE_SIDE` x `IMAGE_SIDE` grayscale image, a byte a pixel.
const RAW_HEADER: usize = 16;
const IMAGE_SIDE: usize = 16;

fn main() -> Result<(), Box<dyn Error>> {
    let args = PubSubArgs::parse(100, 200.0, "demo/events")?;
    if args.role == "subscriber" {
        return subscribe(&args);
    }
    // 4 KiB frames, and enough of them to keep every frame of the run.
    let options = PubOptions {
        capacity: args.count.clamp(64, 4096) as u32,
        max_payload: 4096,
        ..Default::default()
    };
    let mut publisher = DynPublisher::create_with(&args.topic, options)?;
    println!(
        "pub | created dynamic topic {:?} (pid {}): frames of up to 4096 bytes",
        args.topic,
        std::process::id()
    );
    // In the demo role this starts the subscriber first (see `common`).
    args.run_publisher(|| publish(&args, &mut publisher))
}

/// Frame `seq`: even ones are msgpack events, odd ones raw bytes.
fn send_frame(publisher: &mut DynPublisher, seq: u64) -> Result<(), Box<dyn Error>> {
    let stamp_ns = monotonic_ns();
    if seq % 2 == 0 {
        let event = Event {
            seq,
            stamp_ns,
            source: ["battery", "lidar", "arm"][(seq / 2 % 3) as usize].into(),
            level: 100.0 - seq as f64 * 0.05,
            tags: vec!["demo".into(), format!("batch-{}", seq / 10)],
            extra: [("retries".to_owned(), (seq % 5) as i64)].into(),
            note: (seq % 4 == 0).then(|| "all nominal".to_owned()),
        };
        publisher.send_msgpack(&event)?;
    } else {
        let mut frame = Vec::with_capacity(RAW_HEADER + IMAGE_SIDE * IMAGE_SIDE);
        frame.extend_from_slice(&seq.to_le_bytes());
        frame.extend_from_slice(&stamp_ns.to_le_bytes());
        // A diagonal gradient that brightens from frame to frame.
        for y in 0..IMAGE_SIDE {
            for x in 0..IMAGE_SIDE {
                frame.push(((x + y) * 8 + seq as usize) as u8);
            }
        }
        publisher.send_bytes(&frame)?;
    }
    Ok(())
}

fn publish(args: &PubSubArgs, publisher: &mut DynPublisher) -> Result<(), Box<dyn Error>> {
    println!(
        "pub | publishing {} frames at {} Hz: msgpack events and raw images, alternating",
        args.count, args.rate
    );
    let took = paced(args.count, args.rate, |seq| send_frame(publisher, seq))?;
    println!(
        "pub | sent {} frames in {:.1} ms",
        args.count,
        took.as_secs_f64() * 1e3
    );
    Ok(())
}

fn subscribe(args: &PubSubArgs) -> Result<(), Box<dyn Error>> {
    println!("sub | waiting for topic {:?}", args.topic);
    let mut sub = DynSubscriber::connect_with(
        &args.topic,
        ConnectOptions {
            timeout: Duration::from_secs(60),
            // Joining a running publisher: start from its newest frame.
            last_value: true,
            ..Default::default()
        },
    )?;
    println!("sub | connected to {:?}", args.topic);
    let (mut events, mut raw, mut other) = (0u64, 0u64, 0u64);
    let mut latencies = Vec::with_capacity(args.count as usize);
    let mut buf = Vec::new();
    loop {
        let codec = match sub.recv_into(
            &mut buf,
            Instant::now().checked_add(Duration::from_millis(500)),
        ) {
            Ok(codec) => codec,
            Err(RecvTimeoutError::Timeout) if !sub.raw_mut().publisher_alive() => break,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(e) => return Err(e.into()),
        };
        let now = monotonic_ns();
        let seq = match codec {
            Codec::MsgPack => {
                let event: Event = shm_comm::codec::from_msgpack(&buf)?;
                latencies.push(now.saturating_sub(event.stamp_ns));
                if events < 3 {
                    println!(
                        "sub | msgpack #{:<3} {} bytes -> {event:?}",
                        event.seq,
                        buf.len()
                    );
                }
                events += 1;
                event.seq
            }
            Codec::Raw if buf.len() >= RAW_HEADER => {
                let word = |i: usize| {
                    u64::from_le_bytes(buf[i * 8..i * 8 + 8].try_into().unwrap_or_default())
                };
                let (seq, stamp) = (word(0), word(1));
                latencies.push(now.saturating_sub(stamp));
                if raw < 3 {
                    let pixels = &buf[RAW_HEADER..];
                    let mean = pixels.iter().map(|&p| f64::from(p)).sum::<f64>()
                        / pixels.len().max(1) as f64;
                    println!(
                        "sub | raw     #{seq:<3} {} bytes -> {}x{} image, mean brightness {mean:.1}",
                        buf.len(),
                        IMAGE_SIDE,
                        pixels.len() / IMAGE_SIDE,
                    );
                }
                raw += 1;
                seq
            }
            c => {
                println!("sub | {} frame of {} bytes, skipped", c.name(), buf.len());
                other += 1;
                continue;
            }
        };
        if seq + 1 >= args.count {
            break;
        }
    }
    let received = events + raw;
    println!(
        "sub | received {received} of {} frames ({events} msgpack, {raw} raw, {other} other), missed {}",
        args.count,
        sub.missed()
    );
    if latencies.is_empty() {
        return Err("no frame received".into());
    }
    println!(
        "sub | one-way latency: {} ({} samples)",
        latency_summary(&mut latencies),
        latencies.len()
    );
    println!("sub | measured from the stamp taken before encoding and sending to just");
    println!(
        "sub | after receiving and decoding, both on CLOCK_MONOTONIC. At {} Hz the",
        args.rate
    );
    println!("sub | subscriber sleeps between frames, so every sample includes waking it");
    println!("sub | up (futex wake + scheduling); one already spinning would see less.");
    Ok(())
}
