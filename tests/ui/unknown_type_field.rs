use shm_comm::ShmMessage;

/// Forgot `#[derive(ShmMessage)]`.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Quaternion {
    pub w: f64,
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
pub struct Attitude {
    pub stamp: u64,
    pub orientation: Quaternion,
}

fn main() {}
