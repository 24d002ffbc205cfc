use shm_comm::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
pub struct Heartbeat {}

fn main() {}
