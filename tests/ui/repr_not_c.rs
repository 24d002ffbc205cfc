use shm_comm::ShmMessage;

#[derive(ShmMessage)]
#[repr(transparent)]
pub struct Meters {
    pub value: f64,
}

#[derive(ShmMessage)]
#[repr(Rust)]
pub struct Seconds {
    pub value: f64,
}

fn main() {}
