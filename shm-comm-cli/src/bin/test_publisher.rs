//! The publisher that `shm-comm-cli`'s tests run `shmc` against.
//!
//! `shmc-test-publisher NAME typed|imu|msgpack|raw RATE_HZ COUNT`: creates
//! topic NAME, prints `ready` on stdout, then publishes COUNT messages
//! (0: until killed) at RATE_HZ, sleeping to absolute deadlines so that
//! the mean rate is exact. Message `seq` carries values computed from
//! `seq` alone ([`Probe::new`]): a test that reads `seq` back from `shmc`
//! knows every other value that was sent. The CLI never sees this type.
//! `imu` publishes the standard `Imu` instead, its `header.stamp` the
//! wall-clock time of each send.
//! Mode `var` publishes variable-size messages (a `Probe` and `seq % 8`
//! `u16` elements) on a topic of at most 16, grown to 32 before the first.
//!
//! The other direction, for `shmc pub` and `shmc call`:
//! - `NAME sub-typed _ COUNT`: prints `ready`, subscribes to NAME as
//!   `Probe` (asking for the last value), and prints COUNT messages, one
//!   JSON line each: the fields read by Rust (not by the CLI's decoder)
//!   and whether the bytes equal `Probe::new(seq)`'s.
//! - `NAME sub-dyn _ COUNT`: the same for a dynamic topic; msgpack
//!   frames decoded to JSON.
//! - `NAME replier-dyn _ COUNT` / `NAME replier-typed _ COUNT`: serves
//!   COUNT calls of service NAME: msgpack `{"echo": request, "n": i}`, or
//!   `Add { a, b, scale }` -> `Sum { sum: (a + b) * scale, label }`.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;
use shm_comm::pubsub::{ConnectOptions, DynPublisher, DynSubscriber, Publisher, Subscriber};
use shm_comm::reqrep::{DynReplier, Replier};
use shm_comm::{Codec, FixedString, FixedVec, Flag, ShmMessage};

#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
struct Add {
    a: i64,
    b: i64,
    scale: f32,
    _pad: [u8; 4],
}

#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
struct Sum {
    sum: f64,
    label: FixedString<12>,
}

#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
struct Point {
    x: f64,
    y: f64,
}

#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
struct Pose {
    position: Point,
    heading: f32,
    quality: i32,
}

#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
struct Probe {
    stamp_ns: u64,
    seq: u32,
    flags: [u8; 4],
    pose: Pose,
    joints: [f32; 6],
    grid: [[i16; 3]; 2],
    label: FixedString<16>,
    samples: FixedVec<u16, 8>,
    ok: Flag,
    _pad: [u8; 7],
    big: [u16; 100],
}

impl Probe {
    fn new(seq: u32) -> Probe {
        let s = seq as f64;
        let mut grid = [[0i16; 3]; 2];
        for (r, row) in grid.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = (r * 3 + c) as i16 - 3;
            }
        }
        let n = (seq % 9) as u16;
        let samples: Vec<u16> = (0..n.min(8)).map(|i| i * 10 + n).collect();
        Probe {
            stamp_ns: u64::from(seq) * 1_000_000,
            seq,
            flags: [1, 2, 3, (seq % 256) as u8],
            pose: Pose {
                position: Point { x: s * 0.5, y: -s },
                heading: 0.25,
                quality: -(seq as i32),
            },
            joints: [0.0, 0.5, 1.0, 1.5, 2.0, s as f32],
            grid,
            label: FixedString::try_from(format!("probe-{seq}").as_str()).unwrap_or_default(),
            samples: FixedVec::from_slice(&samples).unwrap_or_default(),
            ok: Flag::from(seq % 2 == 0),
            _pad: [0; 7],
            big: std::array::from_fn(|i| i as u16 + (seq % 7) as u16),
        }
    }
}

/// The fields of `p` as Rust reads them.
fn probe_json(p: &Probe) -> serde_json::Value {
    json!({
        "stamp_ns": p.stamp_ns,
        "seq": p.seq,
        "flags": p.flags,
        "pose": {
            "position": { "x": p.pose.position.x, "y": p.pose.position.y },
            "heading": p.pose.heading,
            "quality": p.pose.quality,
        },
        "joints": p.joints,
        "grid": p.grid,
        "label": p.label.as_str().unwrap_or("<invalid UTF-8>"),
        "samples": p.samples.as_slice(),
        "ok": p.ok.get(),
        "_pad": p._pad,
        "big": p.big.to_vec(),
    })
}

type Res = Result<(), Box<dyn std::error::Error>>;

fn ready() -> Res {
    println!("ready");
    std::io::stdout().flush()?;
    Ok(())
}

/// The subscriber, replier modes (see the module docs).
fn serve(name: &str, mode: &str, count: u64) -> Res {
    let wait = Duration::from_secs(10);
    let opts = ConnectOptions {
        last_value: true,
        ..ConnectOptions::with_timeout(wait)
    };
    match mode {
        "sub-typed" => {
            ready()?;
            let mut sub = Subscriber::<Probe>::connect_with(name, opts)?;
            for _ in 0..count {
                let p = sub.recv_timeout(wait)?;
                let same = shm_comm::bytemuck::bytes_of(&p)
                    == shm_comm::bytemuck::bytes_of(&Probe::new(p.seq));
                let v = json!({"fields": probe_json(&p), "equals_probe_new": same});
                println!("{v}");
            }
        }
        "sub-dyn" => {
            ready()?;
            let mut sub = DynSubscriber::connect_with(name, opts)?;
            for _ in 0..count {
                let f = sub.recv_timeout(wait)?;
                let v = match f.codec {
                    Codec::MsgPack => json!({"msgpack": f.decode::<serde_json::Value>()?}),
                    c => json!({"codec": c.name(), "bytes": f.data.len()}),
                };
                println!("{v}");
            }
        }
        "replier-dyn" => {
            let rep = DynReplier::create(name)?;
            ready()?;
            for n in 0..count {
                let (call, f) = rep.recv_timeout(wait)?;
                let req: serde_json::Value = f.decode()?;
                let out = shm_comm::codec::to_msgpack(&json!({"echo": req, "n": n}))?;
                let _ = rep.reply(&call, &out, Codec::MsgPack)?;
            }
        }
        "replier-typed" => {
            let rep = Replier::<Add, Sum>::create(name)?;
            ready()?;
            for _ in 0..count {
                let (call, q) = rep.recv_timeout(wait)?;
                let sum = Sum {
                    sum: (q.a + q.b) as f64 * f64::from(q.scale),
                    label: FixedString::try_from("sum").unwrap_or_default(),
                };
                let _ = rep.reply(&call, &sum)?;
            }
        }
        other => return Err(format!("unknown mode {other}").into()),
    }
    Ok(())
}

fn main() -> Res {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, mode, rate, count] = args.as_slice() else {
        return Err("usage: shmc-test-publisher NAME MODE RATE_HZ COUNT".into());
    };
    let count: u64 = count.parse()?;
    if mode.starts_with("sub-") || mode.starts_with("replier-") {
        return serve(name, mode, count);
    }
    let rate: f64 = rate.parse()?;
    let mut send: Box<dyn FnMut(u32) -> Result<(), shm_comm::SendError>> = match mode.as_str() {
        "typed" => {
            let mut p = Publisher::<Probe>::create(name)?;
            Box::new(move |seq| p.send(&Probe::new(seq)))
        }
        "imu" => {
            // A standard message stamped with the wall clock at each send.
            let mut p = Publisher::<shm_comm::msgs::Imu>::create(name)?;
            Box::new(move |seq| {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                let mut m = shm_comm::msgs::Imu::default();
                m.header.seq = seq;
                m.header.stamp.sec = now.as_secs() as i32;
                m.header.stamp.nanosec = now.subsec_nanos();
                p.send(&m)
            })
        }
        "msgpack" => {
            let mut p = DynPublisher::create(name)?;
            Box::new(move |seq| {
                let v = serde_json::json!({"seq": seq, "name": "probe", "values": [1.5, seq]});
                p.send_msgpack(&v)
            })
        }
        "raw" => {
            let mut p = DynPublisher::create(name)?;
            Box::new(move |seq| p.send_bytes(&seq.to_le_bytes()))
        }
        "var" => {
            let mut p = shm_comm::varsize::VarPublisher::<Probe, u16>::create(name, 16)?;
            p.grow(32)?;
            Box::new(move |seq| {
                let elems: Vec<u16> = (0..(seq % 8) as u16).collect();
                p.send(&Probe::new(seq), &elems)
            })
        }
        other => return Err(format!("unknown mode {other}").into()),
    };
    println!("ready {}", Probe::layout().size);
    std::io::stdout().flush()?;
    let period = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now();
    let mut seq: u64 = 0;
    while count == 0 || seq < count {
        send(seq as u32)?;
        seq += 1;
        let next = start + period.mul_f64(seq as f64);
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
    }
    Ok(())
}
