use shm_comm::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
pub struct KeyPress {
    pub key: char,
}

fn main() {}
