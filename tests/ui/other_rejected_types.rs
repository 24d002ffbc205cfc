use shm_comm::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
pub struct Everything {
    pub pair: (f64, f64),
    pub callback: fn(u32) -> u32,
    pub big: u128,
    pub nothing: (),
    pub samples: [f32],
}

#[derive(ShmMessage)]
#[repr(C)]
pub struct Dynamic {
    pub stamp: u64,
    pub handler: dyn Send,
}

fn main() {}
