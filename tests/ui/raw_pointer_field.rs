use shm_comm::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub data: *const u8,
}

fn main() {}
