use shm_comm::ShmMessage;

#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
pub struct Target {
    #[shm(pod, pod)]
    pub stamp: u64,
}

fn main() {}
