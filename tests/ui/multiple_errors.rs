use shm_comm::ShmMessage;

// Three mistakes, three errors, all reported at once.
#[derive(ShmMessage)]
pub struct Telemetry {
    pub stamp: u64,
    pub armed: bool,
    pub mode: String,
    pub altitude: f64,
}

fn main() {}
