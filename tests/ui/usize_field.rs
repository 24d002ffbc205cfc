use shm_comm::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
pub struct Counter {
    pub count: usize,
    pub delta: isize,
}

fn main() {}
