use shm_comm::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
pub struct MotorStatus {
    pub current: f32,
    pub enabled: bool,
}

fn main() {}
