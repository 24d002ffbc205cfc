use shm_comm::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
pub struct Point(pub f64, pub f64);

fn main() {}
