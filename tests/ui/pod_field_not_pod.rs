use shm_comm::ShmMessage;

/// Plain data, but nobody promised `bytemuck::Pod` for it.
#[derive(Clone, Copy)]
#[repr(C)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
pub struct Target {
    pub stamp: u64,
    #[shm(pod)]
    pub at: Point,
    #[shm(pod)]
    pub reached: bool,
    pub _pad: [u8; 7],
}

fn main() {}
