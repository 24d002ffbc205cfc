use shm_comm::ShmMessage;

#[derive(ShmMessage)]
#[repr(C, packed)]
pub struct Sample {
    pub id: u8,
    pub value: f64,
}

fn main() {}
