use shm_comm::{FixedVec, ShmMessage};

#[derive(ShmMessage)]
#[repr(C)]
pub struct Contacts {
    pub stamp: u64,
    pub touching: FixedVec<bool, 8>,
}

fn main() {}
