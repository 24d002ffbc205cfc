//! shm-comm between hosts, over Zenoh.
//!
//! One bridge per host ([`Bridge`], or the `shmc-bridge` binary) carries
//! chosen local topics, services and queues to the bridges of other hosts
//! through a Zenoh session: a typed topic published on host A is a typed
//! topic on host B, with the same layout and the same API, and a plain
//! Zenoh program can read it (see [`wire`] for the key space and header).
//!
//! The core crate `shm-comm` does not depend on this one: only the bridge
//! links Zenoh.

mod bridge;
pub mod config;
mod queues;
mod services;
mod topics;
pub mod wire;

pub use bridge::{Bridge, Stats};
pub use config::Config;
