//! Shared-memory IPC for robots: PUB/SUB, REQ/REP and PUSH/PULL channels whose
//! bytes go through rings in shared memory, never through a socket.
//!
//! # Quick start
//!
//! A message is a `#[repr(C)]` struct that derives [`ShmMessage`]. Every
//! pattern is made the same way: the side that owns the channel creates it
//! (`create(name)`, or `create_with(name, options)`), the others join it
//! (`connect(name)`, which waits up to 5 s for it, or `connect_with(name,
//! options)`). [`TopicExt`] and [`QueueExt`] (both in the [`prelude`]) name
//! the typed constructors from the message type; a service has two types,
//! named on its handles.
//!
//! ```
//! use std::time::Duration;
//! use shm_comm::prelude::*;
//! use shm_comm::reqrep::{Delivery, Replier, Requester};
//!
//! #[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
//! #[repr(C)]
//! struct Pose { x: f64, y: f64, heading: f64 }
//!
//! #[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
//! #[repr(C)]
//! struct Job { id: u64, size: f64 }
//!
//! #[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
//! #[repr(C)]
//! struct Add { a: i64, b: i64 }
//!
//! #[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
//! #[repr(C)]
//! struct Sum { sum: i64 }
//!
//! // A robot uses fixed names such as "robot/pose"; this example runs
//! // in one process, under names no other run shares.
//! let name = |what: &str| format!("quickstart/{}/{what}", std::process::id());
//! let timeout = Duration::from_secs(5);
//!
//! // PUB/SUB: the publisher never blocks; subscribers get the latest data.
//! let mut publisher = Pose::publisher(&name("pose"))?; // Publisher::<Pose>::create
//! let mut subscriber = Pose::subscriber(&name("pose"))?; // Subscriber::<Pose>::connect
//! let pose = Pose { x: 1.0, y: 2.0, heading: 0.5 };
//! publisher.send(&pose)?;
//! assert_eq!(subscriber.recv_timeout(timeout)?, pose);
//!
//! // PUSH/PULL: a work queue; each job goes to exactly one puller, and a
//! // full queue makes `send` wait (errors give the job back: `into_inner`).
//! let pusher = Job::pusher(&name("jobs"))?; // Pusher::<Job>::create
//! let puller = Job::puller(&name("jobs"))?; // Puller::<Job>::connect
//! pusher.send(Job { id: 1, size: 2.5 })?;
//! assert_eq!(puller.recv_timeout(timeout)?.id, 1);
//!
//! // REQ/REP: calls to a service; the replier answers on its own thread.
//! let replier = Replier::<Add, Sum>::create(&name("add"))?;
//! let requester = Requester::<Add, Sum>::connect(&name("add"))?;
//! let server = std::thread::spawn(move || {
//!     let (call, req) = replier.recv_timeout(timeout).unwrap();
//!     // `Discarded` if the requester had stopped waiting.
//!     replier.reply(&call, &Sum { sum: req.a + req.b }).unwrap()
//! });
//! assert_eq!(requester.request(&Add { a: 2, b: 3 }, timeout)?.sum, 5);
//! assert_eq!(server.join().unwrap(), Delivery::Delivered);
//!
//! // Dropping the handles removes the channels (a queue still holding
//! // jobs stays until a puller takes them).
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The dynamic handles ([`DynPublisher`](pubsub::DynPublisher),
//! [`DynReplier`](reqrep::DynReplier), [`DynPusher`](pipeline::DynPusher)
//! and their joining sides) carry frames of bytes, msgpack or pickle, up
//! to a size set in their options, with the same constructors. Each
//! pattern's module says what happens when a side is slow, full, absent or
//! dies: [`pubsub`], [`reqrep`], [`pipeline`].

#[cfg(not(target_os = "linux"))]
compile_error!("shm-comm supports Linux only: it is built on Linux shared memory (/dev/shm), futexes and /proc");

#[cfg(not(loom))]
pub mod bells;
pub mod cast;
pub mod codec;
pub mod error;
pub mod events;
pub mod layout;
pub mod mailbox;
pub mod message;
pub mod msgs;
#[cfg(not(loom))]
pub mod multipub;
pub mod pipeline;
mod platform;
#[cfg(not(loom))]
pub mod poll;
pub mod pubsub;
pub mod queue;
pub mod region;
pub mod reqrep;
pub mod ring;
pub mod segment;
mod sync;
#[cfg(all(feature = "tokio", not(loom)))]
pub mod tokio;
pub mod varsize;

/// The `sync` door's model side, for the loom models in `tests/loom_*.rs`
/// (only with `--cfg loom`).
#[cfg(loom)]
pub use sync::model as loom_model;

pub use cast::Zc;
pub use codec::{Codec, Frame};
pub use error::{
    BlockingSendError, BorrowError, CreateError, DecodeError, DynSendTimeoutError, DynTrySendError,
    NameError, OpenError, RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError,
    TrySendError,
};
pub use layout::{FieldDescriptor, Kind, LayoutDescriptor, LayoutError, Scalar, Tail, TypeDesc};
pub use message::{
    var_layout, zeroed_box, CapacityError, FixedString, FixedVec, Flag, ShmMessage, ShmType,
};
pub use pipeline::QueueExt;
pub use pubsub::TopicExt;
pub use shm_comm_derive::ShmMessage;

/// The `bytemuck` crate, whose `Pod` and `Zeroable` every message implements.
pub use bytemuck;
/// The `zerocopy` crate, whose traits [`Zc<T>`] implements for every message.
pub use zerocopy;

/// Includes the module that `shm_comm_schema::Builder` generated from
/// schema files in the build script: `include_msgs!("robot")` stands for
/// the messages of `robot.toml`.
///
/// ```ignore
/// mod robot {
///     shm_comm::include_msgs!("robot");
/// }
/// ```
#[macro_export]
macro_rules! include_msgs {
    ($name:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $name, ".rs"));
    };
}

/// The names most programs use: `use shm_comm::prelude::*;`.
pub mod prelude {
    pub use crate::message::{FixedString, FixedVec, Flag, ShmMessage, ShmType};
    pub use crate::pipeline::QueueExt;
    pub use crate::pubsub::TopicExt;
    pub use shm_comm_derive::ShmMessage;
}

/// Not public API: the paths that `#[derive(ShmMessage)]` expands to.
#[doc(hidden)]
pub mod __private {
    pub use crate::cast::{zc_align, Align, AlignUnit, ZcRepr};
    pub use crate::layout::{FieldDescriptor, Kind, LayoutDescriptor, TypeDesc};
    pub use crate::message::{ShmMessage, ShmType};
    pub use bytemuck;
    pub use core::mem::{align_of, offset_of, size_of};
    pub use std::sync::OnceLock;
    pub use std::vec::Vec;

    use crate::layout::Kind as K;

    /// What a `#[shm(pod)]` field's type must be.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be a `#[shm(pod)]` field: it does not implement `bytemuck::Pod`",
        label = "not `bytemuck::Pod`",
        note = "`#[shm(pod)]` stores a foreign plain-old-data type as opaque bytes; enable its crate's `bytemuck` feature (glam, nalgebra, ...), or drop `#[shm(pod)]` for a type that derives `ShmMessage`"
    )]
    pub trait PodField: bytemuck::Pod {}
    impl<T: bytemuck::Pod> PodField for T {}

    /// The descriptor of a `#[shm(pod)]` field of type `T`.
    pub fn opaque<T: PodField>() -> TypeDesc {
        TypeDesc::of(K::Opaque {
            size: size_of::<T>() as u32,
            align: align_of::<T>() as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::pipeline::{DynPuller, DynPusher};
    use crate::pubsub::{DynPublisher, DynSubscriber};
    use crate::reqrep::{Delivery, DynReplier, DynRequester};
    use crate::{Codec, DynSendTimeoutError, DynTrySendError, QueueExt, ShmMessage};

    /// Removes the channel's segments when dropped, even if the test fails.
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = crate::segment::force_unlink(&self.0);
        }
    }

    fn unique(what: &str) -> (String, Cleanup) {
        let name = format!("test/api/{}-{what}", std::process::id());
        (name.clone(), Cleanup(name))
    }

    #[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
    #[repr(C)]
    #[shm(crate = "crate")]
    struct Job {
        id: u64,
    }

    #[test]
    fn every_dynamic_role_has_plain_create_and_connect() {
        let t = Duration::from_secs(5);
        let (name, _c) = unique("pub");
        let mut publisher = DynPublisher::create(&name).unwrap();
        let mut subscriber = DynSubscriber::connect(&name).unwrap();
        publisher.send_bytes(b"frame").unwrap();
        assert_eq!(subscriber.recv_timeout(t).unwrap().data, b"frame");

        let (name, _c) = unique("queue");
        let pusher = DynPusher::create(&name).unwrap();
        let puller = DynPuller::connect(&name).unwrap();
        pusher.try_send(b"job", Codec::Raw).unwrap();
        assert_eq!(puller.recv_timeout(t).unwrap().data, b"job");
        // Only a dynamic frame can be too large; it is refused whole.
        let big = vec![0u8; pusher.max_payload() + 1];
        let too_large = |len| (len, pusher.max_payload());
        match pusher.try_send(&big, Codec::Raw) {
            Err(DynTrySendError::TooLarge { len, max }) => {
                assert_eq!((len, max), too_large(big.len()))
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        match pusher.send_deadline(&big, Codec::Raw, None) {
            Err(DynSendTimeoutError::TooLarge { len, max }) => {
                assert_eq!((len, max), too_large(big.len()))
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        assert!(pusher.is_empty());

        let (name, _c) = unique("svc");
        let replier = DynReplier::create(&name).unwrap();
        let requester = DynRequester::connect(&name).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                let (call, frame) = replier.recv_timeout(t).unwrap();
                let mut echo = frame.data;
                echo.reverse();
                let delivery = replier.reply(&call, &echo, Codec::Raw).unwrap();
                assert_eq!(delivery, Delivery::Delivered);
            });
            assert_eq!(
                requester.request(b"abc", Codec::Raw, t).unwrap().data,
                b"cba"
            );
        });
    }

    #[test]
    fn inspect_reads_a_segment_without_joining_it() {
        use crate::segment::{inspect, ChannelKind};
        let (name, _c) = unique("inspect");
        let mut publisher = crate::pubsub::Publisher::<Job>::create(&name).unwrap();
        publisher.send(&Job { id: 1 }).unwrap();
        publisher.send(&Job { id: 2 }).unwrap();
        let info = inspect(&name, "pub").unwrap();
        assert_eq!(info.kind, ChannelKind::PubSub);
        assert_eq!(info.layout.as_ref(), Some(Job::layout()));
        assert_eq!(info.creator_pid, std::process::id());
        assert!(info.creator_alive && !info.closed);
        assert_eq!(info.ring.map(|(_, published)| published), Some(2));

        let (name, _c) = unique("inspect-queue");
        let _pusher = Job::pusher(&name).unwrap();
        let _puller = Job::puller(&name).unwrap();
        let info = inspect(&name, "queue").unwrap();
        let mut roles: Vec<u32> = info.participants.iter().map(|p| p.role).collect();
        roles.sort();
        assert_eq!(roles, [crate::pipeline::PUSHER, crate::pipeline::PULLER]);
        assert!(info.participants.iter().all(|p| p.alive));
        assert!(matches!(
            inspect(&format!("{name}-absent"), "pub"),
            Err(crate::OpenError::NotFound { .. })
        ));
    }

    #[test]
    fn a_message_type_makes_its_own_pusher_and_puller() {
        let (name, _c) = unique("queue-ext");
        let pusher = Job::pusher(&name).unwrap();
        let puller = Job::puller(&name).unwrap();
        pusher.try_send(Job { id: 7 }).unwrap();
        assert_eq!(puller.recv_timeout(Duration::from_secs(5)).unwrap().id, 7);
    }
}
