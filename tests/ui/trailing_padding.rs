use shm_comm::{Flag, ShmMessage};

#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
pub struct Battery {
    pub voltage: f64,
    pub percentage: f32,
    pub charging: Flag,
}

fn main() {}
