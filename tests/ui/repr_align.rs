use shm_comm::ShmMessage;

#[derive(ShmMessage)]
#[repr(C, align(64))]
pub struct CacheLine {
    pub seq: u64,
}

fn main() {}
