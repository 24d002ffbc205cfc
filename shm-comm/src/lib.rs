//! Shared-memory IPC for robots: PUB/SUB, REQ/REP and PUSH/PULL channels whose
//! bytes go through rings in shared memory, never through a socket.

pub mod codec;
pub mod error;
pub mod layout;
pub mod mailbox;
pub mod message;
pub mod msgs;
pub mod pipeline;
mod platform;
pub mod pubsub;
pub mod queue;
pub mod region;
pub mod reqrep;
pub mod ring;
pub mod segment;
mod sync;

/// The `sync` door's model side, for the loom models in `tests/loom_*.rs`
/// (only with `--cfg loom`).
#[cfg(loom)]
pub use sync::model as loom_model;

pub use codec::{Codec, Frame};
pub use error::{
    BorrowError, CreateError, DecodeError, NameError, OpenError, RecvError, RecvTimeoutError,
    SendError, SendTimeoutError, TryRecvError, TrySendError,
};
pub use layout::{FieldDescriptor, Kind, LayoutDescriptor, LayoutError, Scalar, TypeDesc};
pub use message::{CapacityError, FixedString, FixedVec, Flag, ShmMessage, ShmType};
pub use pubsub::TopicExt;
pub use shm_comm_derive::ShmMessage;

/// The names most programs use: `use shm_comm::prelude::*;`.
pub mod prelude {
    pub use crate::message::{FixedString, FixedVec, Flag, ShmMessage, ShmType};
    pub use crate::pubsub::TopicExt;
    pub use shm_comm_derive::ShmMessage;
}

/// Not public API: the paths that `#[derive(ShmMessage)]` expands to.
#[doc(hidden)]
pub mod __private {
    pub use crate::layout::{FieldDescriptor, Kind, LayoutDescriptor, TypeDesc};
    pub use crate::message::{ShmMessage, ShmType};
    pub use core::mem::{align_of, offset_of, size_of};
    pub use std::sync::OnceLock;
    pub use std::vec::Vec;
}
