//! A message with fields of a foreign math type: `glam::Vec3` (with glam's
//! `bytemuck` feature) stored as it is with `#[shm(pod)]`, no conversion to
//! arrays. The layout records those fields as opaque bytes of known size and
//! alignment, so Python sees them as bytes (`np.frombuffer(b, np.float32)`).
//!
//! The same message is also cast with bytemuck and read through zerocopy,
//! which every `#[derive(ShmMessage)]` type supports.
//!
//! One terminal (publishes, and receives in the same process):
//!     cargo run --example pod_field
//! For another process or language to receive (Python:
//! `shm_comm.Subscriber("demo/target")`):
//!     cargo run --example pod_field -- publisher [--topic NAME] [--count N]

mod common;

use std::error::Error;
use std::time::Duration;

use common::CommandLine;
use glam::Vec3;
use shm_comm::pubsub::{ConnectOptions, Publisher, Subscriber, TypedPubOptions};
use shm_comm::zerocopy::{FromBytes, IntoBytes};
use shm_comm::{bytemuck, ShmMessage, Zc};

/// Where a tracked target is and where it goes: 40 bytes, no padding.
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Target {
    stamp_ns: u64,
    seq: u32,
    /// Metres: three `f32`s, opaque to other languages.
    #[shm(pod)]
    position: Vec3,
    heading_rad: f32,
    /// Metres per second.
    #[shm(pod)]
    velocity: Vec3,
}

/// Message `seq` of the run (a receiver can recompute it to check the bytes).
fn target(seq: u32) -> Target {
    let t = seq as f32 * 0.1;
    Target {
        stamp_ns: 1_000_000 + u64::from(seq),
        seq,
        position: Vec3::new(t, 2.0 * t, -1.5),
        heading_rad: 0.25 * t,
        velocity: Vec3::new(1.0, 2.0, 0.0),
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let line = CommandLine::parse(&["publisher"], &[("--topic", "NAME"), ("--count", "N")])?;
    let topic: String = line.get("--topic", "demo/target".to_owned())?;
    let count: u32 = line.get("--count", 20)?;
    println!("{}", Target::layout().pretty());
    casts();

    let mut publisher = Publisher::<Target>::create_with(
        &topic,
        TypedPubOptions {
            capacity: count.max(16),
            ..Default::default()
        },
    )?;
    let mut subscriber = if line.role == "demo" {
        Some(Subscriber::<Target>::connect_with(
            &topic,
            ConnectOptions {
                last_value: true,
                ..Default::default()
            },
        )?)
    } else {
        None
    };
    for seq in 0..count {
        publisher.send(&target(seq))?;
        if let Some(sub) = &mut subscriber {
            let got = sub.recv_timeout(Duration::from_secs(5))?;
            assert_eq!(got, target(seq));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("published {count} targets on {topic}");
    if subscriber.is_none() {
        // A subscriber that connects late still gets the last one: keep the
        // topic up a moment (dropping the publisher removes it).
        std::thread::sleep(Duration::from_secs(2));
    }
    Ok(())
}

/// The message through bytemuck and zerocopy, without copies.
fn casts() {
    let batch = [target(1), target(2)];
    let bytes: &[u8] = bytemuck::cast_slice(&batch);
    let read = <[Zc<Target>]>::ref_from_bytes(bytes).expect("aligned bytes of two targets");
    assert_eq!(Zc::slice_as_inner(read), &batch);
    assert_eq!(
        Zc::from_ref(&batch[0]).as_bytes(),
        bytemuck::bytes_of(&batch[0])
    );
    println!(
        "{} bytes per target; position of the second: {}",
        bytes.len() / 2,
        read[1].position
    );
}
