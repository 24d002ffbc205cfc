use shm_comm::ShmMessage;

#[derive(ShmMessage)]
#[repr(C)]
pub struct Path {
    pub points: Vec<[f64; 2]>,
    pub map: Box<[u8; 1024]>,
    pub goal: Option<[f64; 2]>,
    pub names: std::collections::HashMap<u32, u32>,
    pub marker: std::marker::PhantomData<u8>,
}

fn main() {}
