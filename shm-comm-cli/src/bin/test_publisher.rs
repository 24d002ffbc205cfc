//! The publisher that `shm-comm-cli`'s tests run `shmc` against.
//!
//! `shmc-test-publisher NAME typed|msgpack|raw RATE_HZ COUNT`: creates
//! topic NAME, prints `ready` on stdout, then publishes COUNT messages
//! (0: until killed) at RATE_HZ, sleeping to absolute deadlines so that
//! the mean rate is exact. Message `seq` carries values computed from
//! `seq` alone ([`Probe::new`]): a test that reads `seq` back from `shmc`
//! knows every other value that was sent. The CLI never sees this type.

use std::io::Write;
use std::time::{Duration, Instant};

use shm_comm::pubsub::{DynPublisher, Publisher};
use shm_comm::{FixedString, FixedVec, Flag, ShmMessage};

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, mode, rate, count] = args.as_slice() else {
        return Err("usage: shmc-test-publisher NAME typed|msgpack|raw RATE_HZ COUNT".into());
    };
    let rate: f64 = rate.parse()?;
    let count: u64 = count.parse()?;
    let mut send: Box<dyn FnMut(u32) -> Result<(), shm_comm::SendError>> = match mode.as_str() {
        "typed" => {
            let mut p = Publisher::<Probe>::create(name)?;
            Box::new(move |seq| p.send(&Probe::new(seq)))
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
