//! The messages the bridge tests send: the same function in the peer
//! that publishes and in the test that checks what arrived.

use shm_comm::msgs::{Header, Imu, Quaternion, Time, Vector3};
use shm_comm::FixedString;

/// The `i`-th test `Imu`: every field depends on `i`.
pub fn imu(i: u32) -> Imu {
    let f = f64::from(i);
    let mut cov = [0.0; 9];
    for (k, c) in cov.iter_mut().enumerate() {
        *c = f + k as f64 / 10.0;
    }
    Imu {
        header: Header {
            stamp: Time {
                sec: i as i32,
                nanosec: i.wrapping_mul(7) % 1_000_000_000,
            },
            seq: i,
            frame_id: {
                let mut s = FixedString::new();
                s.set(&format!("imu-{i}")).expect("fits in 64 bytes");
                s
            },
        },
        orientation: Quaternion {
            x: f,
            y: -f,
            z: f * 0.5,
            w: 1.0,
        },
        orientation_covariance: cov,
        angular_velocity: Vector3 {
            x: f + 0.25,
            y: f + 0.5,
            z: f + 0.75,
        },
        angular_velocity_covariance: cov.map(|c| -c),
        linear_acceleration: Vector3 {
            x: 9.81,
            y: f * 3.0,
            z: -f,
        },
        linear_acceleration_covariance: cov.map(|c| c * 2.0),
    }
}

/// A service's request.
#[derive(shm_comm::ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct Add {
    pub a: i64,
    pub b: i64,
}

/// A service's reply.
#[derive(shm_comm::ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct Sum {
    pub sum: i64,
}

/// A queue's job.
#[derive(shm_comm::ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct Job {
    pub id: u64,
    pub weight: f64,
}
