use shm_comm::ShmMessage;

#[derive(ShmMessage, Clone, Copy)]
#[repr(u8)]
pub enum Mode {
    Idle,
    Running,
}

// The derive above still implements the traits (as a stub), so this struct
// does not get a second error for its field.
#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
pub struct Status {
    pub mode: Mode,
}

fn main() {}
