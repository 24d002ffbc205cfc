use shm_comm::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
pub union Value {
    pub i: i64,
    pub f: f64,
}

fn main() {}
