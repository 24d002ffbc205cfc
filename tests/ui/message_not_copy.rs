use shm_comm::ShmMessage;

/// A message is plain bytes (`bytemuck::Pod`), so it must be `Copy`.
#[derive(ShmMessage)]
#[repr(C)]
pub struct Odometry {
    pub stamp_ns: u64,
    pub distance_m: f64,
}

fn main() {}
