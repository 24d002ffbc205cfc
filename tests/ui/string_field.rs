use shm_comm::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
pub struct Log {
    pub level: u32,
    pub text: String,
}

fn main() {}
