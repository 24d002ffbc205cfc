//! Host A of the two-host example (`two_hosts.sh`): a Rust node that
//! publishes `Imu` on `robot/imu` at 100 Hz and serves `robot/add`
//! (msgpack `[a, b]` -> `a + b`), for `--seconds` (default 20).
//!
//! ```text
//! SHM_COMM_DIR=<host A's directory> cargo run -p shm-comm-zenoh --example host_a
//! ```

use std::time::{Duration, Instant};

use shm_comm::msgs::{Header, Imu, Time, Vector3};
use shm_comm::pubsub::Publisher;
use shm_comm::reqrep::DynReplier;
use shm_comm::Codec;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let seconds: f64 = match args.iter().position(|a| a == "--seconds") {
        Some(i) => args.get(i + 1).ok_or("--seconds N")?.parse()?,
        None => 20.0,
    };
    let mut imu = Publisher::<Imu>::create("robot/imu")?;
    let add = DynReplier::create("robot/add")?;
    println!("host A: Imu on robot/imu at 100 Hz, service robot/add");
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut seq = 0u32;
    let mut next = Instant::now();
    while Instant::now() < end {
        let mut m = Imu {
            header: Header {
                stamp: Time {
                    sec: seq as i32 / 100,
                    nanosec: (seq % 100) * 10_000_000,
                },
                seq,
                ..Header::default()
            },
            linear_acceleration: Vector3 {
                z: 9.81,
                ..Vector3::default()
            },
            ..Imu::default()
        };
        m.header.frame_id.set("imu_link")?;
        imu.send(&m)?;
        seq += 1;
        // Serve calls between readings.
        next += Duration::from_millis(10);
        let wait = next.saturating_duration_since(Instant::now());
        if let Ok((call, frame)) = add.recv_timeout(wait) {
            if frame.codec != Codec::MsgPack {
                eprintln!(
                    "host A: robot/add takes msgpack, got {}",
                    frame.codec.name()
                );
                continue;
            }
            let (a, b): (i64, i64) = rmp_serde::from_slice(&frame.data)?;
            let reply = rmp_serde::to_vec(&(a + b))?;
            let _ = add.raw().reply(&call, &reply, Codec::MsgPack)?;
            println!("host A: robot/add({a}, {b}) = {}", a + b);
        }
    }
    Ok(())
}
