use shm_comm::ShmMessage;

#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
pub struct Imu {
    pub seq: u32,
    pub stamp: f64,
    pub accel: [f64; 3],
}

fn main() {}
