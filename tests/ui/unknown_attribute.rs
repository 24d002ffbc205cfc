use shm_comm::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
#[shm(rename = "Other")]
pub struct Reading {
    #[shm(skip)]
    pub value: f64,
}

fn main() {}

#[derive(ShmMessage)]
#[repr(C)]
#[shm(crate = "not a path")]
pub struct BadPath {
    pub value: f64,
}
