use shm_comm::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
pub struct Buffer<T, const N: usize> {
    pub items: [T; N],
}

fn main() {}
