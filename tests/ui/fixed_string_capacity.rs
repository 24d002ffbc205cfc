use shm_comm::{FixedString, ShmMessage};

/// `FixedString<N>` would have padding unless `N % 4 == 0`: refused even if
/// the message's layout is never built.
#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
pub struct Label {
    pub text: FixedString<6>,
}

fn main() {}
