use shm_comm::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
pub struct Borrowed<'a> {
    pub name: &'a str,
}

fn main() {}
