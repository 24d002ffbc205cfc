use shm_comm::ShmMessage;

#[derive(ShmMessage)]
pub struct Odometry {
    pub x: f64,
    pub y: f64,
}

fn main() {}
