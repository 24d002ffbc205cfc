//! Helpers of the bad-input tests (`tests/bad_*.rs`, `tests/hostile_ring.rs`):
//! fake segments built from the bytes of a real one, at the library's own
//! offsets, and the checks that opening them fails as it should.
//!
//! The fake segments start from the bytes of a real one: a publisher in this
//! process creates the topic, the test copies its file and drops the
//! publisher (which removes it), then writes modified bytes back under the
//! same name. Every name is a [`TestChannel`], whose drop removes whatever
//! file is left, even when a test fails.
#![allow(dead_code, unused_imports)]

pub use std::fs::{self, OpenOptions};
pub use std::io::Write;
pub use std::os::unix::fs::{FileExt, OpenOptionsExt};
pub use std::path::PathBuf;
pub use std::time::{Duration, Instant};

pub use shm_comm::pubsub::{
    ConnectOptions, DynPublisher, DynSubscriber, PubOptions, Publisher, Subscriber, TypedPubOptions,
};
pub use shm_comm::segment::{self, HEADER_LEN, INIT_READY, MAGIC, VERSION};
pub use shm_comm::{
    BorrowError, Codec, CreateError, NameError, OpenError, RecvTimeoutError, SendError, ShmMessage,
    TryRecvError,
};
pub use suite::{digest, field, pattern, Peer, TestChannel};

pub const PEER: &str = env!("CARGO_BIN_EXE_shm-comm-test-peer");
/// Where the library keeps its segments (POSIX shared memory on Linux).
pub const SHM_DIR: &str = "/dev/shm";
/// Generous timeout for anything that should happen.
pub const T: Duration = Duration::from_secs(20);
/// Connect timeout for segments that will never become usable.
pub const SHORT: Duration = Duration::from_millis(200);
/// How late past `SHORT` an error may come on a loaded machine.
pub const SLACK: Duration = Duration::from_secs(5);

/// Offsets of the `Header` fields, from the library's own (hidden) struct.
pub mod hdr {
    use shm_comm::segment::Header;
    use std::mem::offset_of;
    pub const MAGIC: usize = offset_of!(Header, magic);
    pub const VERSION: usize = offset_of!(Header, version);
    pub const INIT: usize = offset_of!(Header, init);
    pub const ENDIAN: usize = offset_of!(Header, endian);
    pub const PTR_WIDTH: usize = offset_of!(Header, ptr_width);
    pub const KIND: usize = offset_of!(Header, kind);
    pub const PAYLOAD: usize = offset_of!(Header, payload);
    pub const CREATOR_PID: usize = offset_of!(Header, creator_pid);
    pub const CREATOR_START: usize = offset_of!(Header, creator_start);
    pub const TOTAL_LEN: usize = offset_of!(Header, total_len);
    pub const LAYOUT_HASH: usize = offset_of!(Header, layout_hash);
    pub const LAYOUT_OFF: usize = offset_of!(Header, layout_off);
    pub const LAYOUT_LEN: usize = offset_of!(Header, layout_len);
    pub const REGION_OFF: usize = offset_of!(Header, region_off);
    pub const REGION_LEN: usize = offset_of!(Header, region_len);
}

/// Offsets inside the ring region (ring.rs), from the start of the region.
pub mod ring {
    pub const CAPACITY: usize = 0;
    pub const MAX_PAYLOAD: usize = 4;
    pub const BUDGET: usize = 8;
    pub const WRITE_SEQ: usize = 64;
    /// The pin table follows the 256-byte control block: `budget` owner
    /// words (u64), then `budget` pin words (u32).
    pub const PINS: usize = 256;
    /// Entries start on the first 4096-byte boundary after the pin table
    /// (what subscribers map read-only), 64 bytes each:
    /// `{ stamp: u64, chunk: u64 }`; the chunks follow them.
    pub const ENTRIES: usize = 4096;
    pub const ENTRY_LEN: usize = 64;
    /// Chunk header: `{ stamp: u64, 4 B, len: u32, tag: u32, .. }`, 32 bytes.
    pub const CHUNK_HEADER: usize = 32;
    pub const CH_LEN: usize = 12;
}

/// The typed message of most tests: 16 bytes.
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct Small {
    pub stamp: u64,
    pub x: f64,
}

/// Geometry of the small test topics: 4 slots, 64-byte payloads, 2 spare
/// chunks for borrowing (7 chunks).
pub const GEO: PubOptions = PubOptions {
    capacity: 4,
    max_payload: 64,
    borrow_budget: 2,
};

/// [`GEO`] for a typed topic (its payload size is the type's).
pub const TYPED_GEO: TypedPubOptions = TypedPubOptions {
    capacity: GEO.capacity,
    borrow_budget: GEO.borrow_budget,
};

pub fn path_of(name: &str) -> PathBuf {
    let file = segment::file_name(name, "pub").expect("valid name");
    PathBuf::from(SHM_DIR).join(file)
}

pub fn exists(name: &str) -> bool {
    path_of(name).exists()
}

pub fn short() -> ConnectOptions {
    ConnectOptions {
        timeout: SHORT,
        ..Default::default()
    }
}

/// The bytes of a segment file, with typed accessors at byte offsets.
#[derive(Clone)]
pub struct Image(pub Vec<u8>);

impl Image {
    pub fn u32(&self, off: usize) -> u32 {
        u32::from_ne_bytes(self.0[off..off + 4].try_into().unwrap())
    }
    pub fn u64(&self, off: usize) -> u64 {
        u64::from_ne_bytes(self.0[off..off + 8].try_into().unwrap())
    }
    pub fn set_u32(&mut self, off: usize, v: u32) {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }
    pub fn set_u64(&mut self, off: usize, v: u64) {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
    }
    /// Offset of the ring region in the file.
    pub fn region(&self) -> usize {
        self.u64(hdr::REGION_OFF) as usize
    }
    pub fn layout_range(&self) -> std::ops::Range<usize> {
        let off = self.u64(hdr::LAYOUT_OFF) as usize;
        off..off + self.u64(hdr::LAYOUT_LEN) as usize
    }
}

/// What a fake segment is made from.
#[derive(Clone, Copy, Debug)]
pub enum Base {
    /// A dynamic topic of geometry [`GEO`].
    Dynamic,
    /// A typed topic of [`Small`].
    Typed,
}

/// The bytes of a real, freshly created topic `name` (READY, created by this
/// process); the topic itself is removed again before returning.
pub fn image_of(name: &str, base: Base) -> Image {
    let bytes = match base {
        Base::Dynamic => {
            let _p = DynPublisher::create_with(name, GEO).unwrap();
            fs::read(path_of(name)).unwrap()
        }
        Base::Typed => {
            let _p = Publisher::<Small>::create_with(name, TYPED_GEO).unwrap();
            fs::read(path_of(name)).unwrap()
        }
    };
    assert!(!exists(name), "the publisher's drop removes its segment");
    Image(bytes)
}

/// Writes `bytes` as the segment file of topic `name`, mode 0600, as a
/// foreign or damaged creator would have left it.
pub fn write_fake(name: &str, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path_of(name))
        .unwrap();
    f.write_all(bytes).unwrap();
}

/// Writes `bytes` at `off` into the live file of topic `name` (the same
/// pages the publisher and subscribers have mapped).
pub fn poke(name: &str, off: usize, bytes: &[u8]) {
    let f = OpenOptions::new().write(true).open(path_of(name)).unwrap();
    f.write_all_at(bytes, off as u64).unwrap();
}

pub fn peek_u64(name: &str, off: usize) -> u64 {
    let f = OpenOptions::new().read(true).open(path_of(name)).unwrap();
    let mut b = [0u8; 8];
    f.read_exact_at(&mut b, off as u64).unwrap();
    u64::from_ne_bytes(b)
}

pub fn peek_u32(name: &str, off: usize) -> u32 {
    let f = OpenOptions::new().read(true).open(path_of(name)).unwrap();
    let mut b = [0u8; 4];
    f.read_exact_at(&mut b, off as u64).unwrap();
    u32::from_ne_bytes(b)
}

/// The kind of open error expected.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Want {
    Corrupt,
    Incompatible,
    NotReady,
}

/// Connects to topic `name` (typed as [`Small`] for [`Base::Typed`], dynamic
/// otherwise) with a short timeout and checks the error: its kind, that it
/// names the channel, that its reason contains every one of `needles`, and
/// that it came without hanging. Returns the error.
pub fn expect_open_error(name: &str, base: Base, want: Want, needles: &[&str]) -> OpenError {
    let t0 = Instant::now();
    let err = match base {
        Base::Typed => Subscriber::<Small>::connect_with(name, short()).err(),
        Base::Dynamic => DynSubscriber::connect_with(name, short()).err(),
    };
    let elapsed = t0.elapsed();
    let Some(err) = err else {
        panic!("connecting to the damaged segment of {name:?} succeeded")
    };
    assert!(
        elapsed < SHORT + SLACK,
        "took {elapsed:?} to fail with a timeout of {SHORT:?}: {err}"
    );
    let (got, chan, reason) = match &err {
        OpenError::Corrupt { name, reason } => (Want::Corrupt, name, reason.clone()),
        OpenError::Incompatible { name, reason } => (Want::Incompatible, name, reason.clone()),
        OpenError::NotReady { name, .. } => (Want::NotReady, name, String::new()),
        other => panic!("expected {want:?}, got {other:?}"),
    };
    assert_eq!(got, want, "{err:?}");
    assert_eq!(chan, name, "{err:?}");
    for n in needles {
        assert!(reason.contains(n), "reason {reason:?} lacks {n:?}");
    }
    if want == Want::NotReady {
        assert!(elapsed >= SHORT, "gave up after {elapsed:?} < {SHORT:?}");
    }
    err
}

/// Makes a fake segment from a real image of `base`, damaged by `damage`,
/// and checks that connecting fails as `want` with every one of `needles`.
pub fn check_fake(
    what: &str,
    base: Base,
    damage: impl FnOnce(&mut Image),
    want: Want,
    needles: &[&str],
) {
    let ch = TestChannel::new(what);
    let mut img = image_of(ch.name(), base);
    damage(&mut img);
    write_fake(ch.name(), &img.0);
    expect_open_error(ch.name(), base, want, needles);
    // A failed open leaves the file alone (only its creator may remove it).
    assert!(exists(ch.name()));
}
