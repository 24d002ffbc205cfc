use shm_comm::{FixedVec, ShmMessage};

#[derive(ShmMessage)]
#[repr(C)]
pub struct Grid {
    pub cells: [[bool; 4]; 4],
    pub labels: FixedVec<char, 8>,
}

fn main() {}
