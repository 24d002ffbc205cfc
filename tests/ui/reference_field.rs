use shm_comm::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
pub struct Pose {
    pub stamp: u64,
    pub position: &'static [f64; 3],
}

fn main() {}
