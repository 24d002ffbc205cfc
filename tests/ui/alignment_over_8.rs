use shm_comm::{Scalar, ShmMessage, ShmType, TypeDesc};

/// A hand-written (and wrong) `ShmType` impl for an over-aligned type.
#[derive(Clone, Copy)] #[repr(C, align(16))]
pub struct Simd {
    pub lanes: [u8; 16],
}

// SAFETY: not sound (the alignment is 16); this test checks that the derive
// refuses it.
unsafe impl ShmType for Simd {
    fn type_desc() -> TypeDesc {
        TypeDesc::scalar(Scalar::U8).array(16)
    }
}

#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
pub struct Packet {
    pub stamp: u64,
    pub data: Simd,
}

fn main() {}
