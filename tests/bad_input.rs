//! Every bad input is a typed error: no panic, no hang, no out-of-bounds read.
//!
//! Oversized frames, wrong message types, invalid names and options, absent
//! publishers, foreign or corrupt segment files (written by the test itself
//! under the name the library would use), and hostile ring contents written
//! into a live topic's file behind the library's back.
//!
//! The fake segments start from the bytes of a real one: a publisher in this
//! process creates the topic, the test copies its file and drops the
//! publisher (which removes it), then writes modified bytes back under the
//! same name. Every name is a [`TestChannel`], whose drop removes whatever
//! file is left, even when a test fails.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use shm_comm::pubsub::{
    ConnectOptions, DynPublisher, DynSubscriber, PubOptions, Publisher, Subscriber,
};
use shm_comm::segment::{self, HEADER_LEN, INIT_READY, MAGIC, VERSION};
use shm_comm::{
    BorrowError, Codec, CreateError, NameError, OpenError, RecvTimeoutError, SendError, ShmMessage,
    TryRecvError,
};
use suite::{digest, field, pattern, Peer, TestChannel};

const PEER: &str = env!("CARGO_BIN_EXE_shm-comm-test-peer");
/// Where the library keeps its segments (POSIX shared memory on Linux).
const SHM_DIR: &str = "/dev/shm";
/// Generous timeout for anything that should happen.
const T: Duration = Duration::from_secs(20);
/// Connect timeout for segments that will never become usable.
const SHORT: Duration = Duration::from_millis(200);
/// How late past `SHORT` an error may come on a loaded machine.
const SLACK: Duration = Duration::from_secs(5);

/// Offsets of the `Header` fields (segment.rs, `repr(C)`); checked against a
/// real segment by `fake_segment_offsets_match_the_library`.
mod hdr {
    pub const MAGIC: usize = 0;
    pub const VERSION: usize = 8;
    pub const INIT: usize = 12;
    pub const ENDIAN: usize = 16;
    pub const PTR_WIDTH: usize = 20;
    pub const KIND: usize = 24;
    pub const PAYLOAD: usize = 28;
    pub const CREATOR_PID: usize = 32;
    pub const CREATOR_START: usize = 40;
    pub const TOTAL_LEN: usize = 48;
    pub const LAYOUT_HASH: usize = 56;
    pub const LAYOUT_OFF: usize = 64;
    pub const LAYOUT_LEN: usize = 72;
    pub const REGION_OFF: usize = 80;
    pub const REGION_LEN: usize = 88;
}

/// Offsets inside the ring region (ring.rs), from the start of the region.
mod ring {
    pub const CAPACITY: usize = 0;
    pub const MAX_PAYLOAD: usize = 4;
    pub const BUDGET: usize = 8;
    pub const WRITE_SEQ: usize = 64;
    /// Entries start after the 256-byte control block, 64 bytes each:
    /// `{ stamp: u64, chunk: u64 }`.
    pub const ENTRIES: usize = 256;
    pub const ENTRY_LEN: usize = 64;
    /// The pin table follows the entries: `budget` owner words (u64), then
    /// `budget` pin words (u32), rounded up to 64 bytes.
    pub fn pins_len(budget: u32) -> usize {
        (budget as usize * 12).div_ceil(64) * 64
    }
    /// Chunk header: `{ stamp: u64, 4 B, len: u32, tag: u32, .. }`, 32 bytes.
    pub const CHUNK_HEADER: usize = 32;
    pub const CH_LEN: usize = 12;
}

/// The typed message of most tests: 16 bytes.
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Small {
    stamp: u64,
    x: f64,
}

/// Geometry of the small test topics: 4 slots, 64-byte payloads, 2 spare
/// chunks for borrowing (7 chunks).
const GEO: PubOptions = PubOptions {
    capacity: 4,
    max_payload: 64,
    borrow_budget: 2,
};

fn path_of(name: &str) -> PathBuf {
    let file = segment::file_name(name, "pub").expect("valid name");
    PathBuf::from(SHM_DIR).join(file)
}

fn exists(name: &str) -> bool {
    path_of(name).exists()
}

fn short() -> ConnectOptions {
    ConnectOptions {
        timeout: SHORT,
        ..Default::default()
    }
}

/// The bytes of a segment file, with typed accessors at byte offsets.
#[derive(Clone)]
struct Image(Vec<u8>);

impl Image {
    fn u32(&self, off: usize) -> u32 {
        u32::from_ne_bytes(self.0[off..off + 4].try_into().unwrap())
    }
    fn u64(&self, off: usize) -> u64 {
        u64::from_ne_bytes(self.0[off..off + 8].try_into().unwrap())
    }
    fn set_u32(&mut self, off: usize, v: u32) {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }
    fn set_u64(&mut self, off: usize, v: u64) {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
    }
    /// Offset of the ring region in the file.
    fn region(&self) -> usize {
        self.u64(hdr::REGION_OFF) as usize
    }
    fn layout_range(&self) -> std::ops::Range<usize> {
        let off = self.u64(hdr::LAYOUT_OFF) as usize;
        off..off + self.u64(hdr::LAYOUT_LEN) as usize
    }
}

/// What a fake segment is made from.
#[derive(Clone, Copy, Debug)]
enum Base {
    /// A dynamic topic of geometry [`GEO`].
    Dynamic,
    /// A typed topic of [`Small`].
    Typed,
}

/// The bytes of a real, freshly created topic `name` (READY, created by this
/// process); the topic itself is removed again before returning.
fn image_of(name: &str, base: Base) -> Image {
    let bytes = match base {
        Base::Dynamic => {
            let _p = DynPublisher::create(name, GEO).unwrap();
            fs::read(path_of(name)).unwrap()
        }
        Base::Typed => {
            let _p = Publisher::<Small>::create_with(name, GEO).unwrap();
            fs::read(path_of(name)).unwrap()
        }
    };
    assert!(!exists(name), "the publisher's drop removes its segment");
    Image(bytes)
}

/// Writes `bytes` as the segment file of topic `name`, mode 0600, as a
/// foreign or damaged creator would have left it.
fn write_fake(name: &str, bytes: &[u8]) {
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
fn poke(name: &str, off: usize, bytes: &[u8]) {
    let f = OpenOptions::new().write(true).open(path_of(name)).unwrap();
    f.write_all_at(bytes, off as u64).unwrap();
}

fn peek_u64(name: &str, off: usize) -> u64 {
    let f = OpenOptions::new().read(true).open(path_of(name)).unwrap();
    let mut b = [0u8; 8];
    f.read_exact_at(&mut b, off as u64).unwrap();
    u64::from_ne_bytes(b)
}

fn peek_u32(name: &str, off: usize) -> u32 {
    let f = OpenOptions::new().read(true).open(path_of(name)).unwrap();
    let mut b = [0u8; 4];
    f.read_exact_at(&mut b, off as u64).unwrap();
    u32::from_ne_bytes(b)
}

/// The kind of open error expected.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Want {
    Corrupt,
    Incompatible,
    NotReady,
}

/// Connects to topic `name` (typed as [`Small`] for [`Base::Typed`], dynamic
/// otherwise) with a short timeout and checks the error: its kind, that it
/// names the channel, that its reason contains every one of `needles`, and
/// that it came without hanging. Returns the error.
fn expect_open_error(name: &str, base: Base, want: Want, needles: &[&str]) -> OpenError {
    let t0 = Instant::now();
    let err = match base {
        Base::Typed => Subscriber::<Small>::connect_with(name, short()).err(),
        Base::Dynamic => DynSubscriber::connect(name, short()).err(),
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
fn check_fake(
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

// ---------------------------------------------------------------------------
// The fake images are what the library writes.
// ---------------------------------------------------------------------------

#[test]
fn fake_segment_offsets_match_the_library() {
    let ch = TestChannel::new("offsets");
    let p = Publisher::<Small>::create_with(ch.name(), GEO).unwrap();
    let img = Image(fs::read(path_of(ch.name())).unwrap());
    assert_eq!(img.0[hdr::MAGIC..hdr::MAGIC + 8], MAGIC);
    assert_eq!(img.u32(hdr::VERSION), VERSION);
    assert_eq!(img.u32(hdr::INIT), INIT_READY);
    assert_eq!(img.u32(hdr::ENDIAN), 0x0102_0304);
    assert_eq!(img.u32(hdr::PTR_WIDTH), usize::BITS);
    assert_eq!(img.u32(hdr::KIND), 1, "PubSub");
    assert_eq!(img.u32(hdr::PAYLOAD), 1, "typed");
    assert_eq!(img.u32(hdr::CREATOR_PID), std::process::id());
    assert_ne!(img.u64(hdr::CREATOR_START), 0);
    assert_eq!(img.u64(hdr::TOTAL_LEN), img.0.len() as u64);
    assert_eq!(img.u64(hdr::LAYOUT_HASH), Small::layout_hash());
    assert_eq!(img.u64(hdr::LAYOUT_OFF), HEADER_LEN as u64);
    assert_eq!(img.0[img.layout_range()], Small::layout().encode());
    assert_eq!(img.region() % 4096, 0);
    assert_eq!(
        img.region() as u64 + img.u64(hdr::REGION_LEN),
        img.0.len() as u64
    );
    let r = img.region();
    assert_eq!(img.u32(r + ring::CAPACITY), GEO.capacity);
    assert_eq!(img.u32(r + ring::MAX_PAYLOAD), 16, "typed: the type's size");
    assert_eq!(img.u32(r + ring::BUDGET), GEO.borrow_budget);
    let pins = r + ring::ENTRIES + GEO.capacity as usize * ring::ENTRY_LEN;
    for i in 0..GEO.borrow_budget as usize {
        assert_eq!(img.u64(pins + i * 8), 0, "pin slot {i} owned");
    }
    assert_eq!(img.u64(r + ring::WRITE_SEQ), 0);
    drop(p);

    // The dynamic image: no descriptor, region on the first page boundary.
    let img = image_of(ch.name(), Base::Dynamic);
    assert_eq!(img.u32(hdr::PAYLOAD), 0, "dynamic");
    assert_eq!(img.u64(hdr::LAYOUT_LEN), 0);
    assert_eq!(img.region(), 4096);
    assert_eq!(img.u32(img.region() + ring::MAX_PAYLOAD), GEO.max_payload);
    // And an unmodified copy is accepted: the damage is what the other tests test.
    write_fake(ch.name(), &img.0);
    let mut s = DynSubscriber::connect(ch.name(), short()).unwrap();
    assert_eq!(s.try_recv(), Err(TryRecvError::Empty));
}

// ---------------------------------------------------------------------------
// Oversized frames.
// ---------------------------------------------------------------------------

#[test]
fn oversized_dynamic_frame_is_too_large_and_nothing_is_delivered() {
    let ch = TestChannel::new("toolarge");
    let mut p = DynPublisher::create(
        ch.name(),
        PubOptions {
            max_payload: 4096,
            ..Default::default()
        },
    )
    .unwrap();
    let mut s = DynSubscriber::connect(ch.name(), short()).unwrap();

    let big = pattern(4097, 1);
    assert_eq!(
        p.send_bytes(&big),
        Err(SendError::TooLarge {
            len: 4097,
            max: 4096
        })
    );
    assert_eq!(
        p.send_frame(&pattern(100_000, 2), Codec::Pickle),
        Err(SendError::TooLarge {
            len: 100_000,
            max: 4096
        })
    );
    // msgpack of 5000 bytes: the encoded frame is a little longer.
    match p.send_msgpack(&vec![7u64; 5000]) {
        Err(SendError::TooLarge { len, max: 4096 }) => assert!(len > 5000, "{len}"),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    assert_eq!(
        p.raw_mut().published(),
        0,
        "a failed send publishes nothing"
    );
    assert_eq!(s.try_recv(), Err(TryRecvError::Empty));

    // Exactly max_payload is fine and arrives intact.
    let full = pattern(4096, 3);
    p.send_bytes(&full).unwrap();
    let f = s.recv_timeout(T).unwrap();
    assert_eq!(f.codec, Codec::Raw);
    assert_eq!(f.data, full);
    assert_eq!(s.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(s.missed(), 0);
}

// ---------------------------------------------------------------------------
// Wrong message types.
// ---------------------------------------------------------------------------

#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct StampU64 {
    stamp: u64,
    x: f64,
}

#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct StampF64 {
    stamp: f64,
    x: f64,
}

#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Renamed {
    stamp_ns: u64,
    x: f64,
}

#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Extra {
    stamp: u64,
    x: f64,
    y: f64,
}

/// Same fields as `StampU64` under another type name.
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct SameShape {
    stamp: u64,
    x: f64,
}

/// Connects a `Subscriber<B>` to a topic published as `A`, expecting a
/// layout mismatch; returns `difference` and checks the other fields.
fn mismatch<A: ShmMessage, B: ShmMessage>(what: &str) -> String {
    let ch = TestChannel::new(what);
    let _p = Publisher::<A>::create(ch.name()).unwrap();
    let t0 = Instant::now();
    match Subscriber::<B>::connect(ch.name()) {
        Err(e @ OpenError::LayoutMismatch { .. }) => {
            assert!(t0.elapsed() < SLACK, "a mismatch is known at once");
            let text = e.to_string();
            let OpenError::LayoutMismatch {
                name,
                ours,
                theirs,
                difference,
            } = e
            else {
                unreachable!()
            };
            assert_eq!(name, ch.name());
            assert_eq!(ours, B::layout().name);
            assert_eq!(theirs, A::layout().name);
            assert!(
                text.contains(&ours) && text.contains(&theirs) && text.contains(&difference),
                "{text}"
            );
            difference
        }
        Err(other) => panic!("expected LayoutMismatch, got {other:?}"),
        Ok(_) => panic!("connected to a topic of another type"),
    }
}

#[test]
fn subscriber_of_another_field_type_gets_a_layout_mismatch_naming_both_sides() {
    let d = mismatch::<StampF64, StampU64>("wrongtype");
    assert!(
        d.contains("`stamp`: u64 at offset 0 vs f64 at offset 0"),
        "{d}"
    );
    let d = mismatch::<StampU64, StampF64>("wrongtype");
    assert!(
        d.contains("`stamp`: f64 at offset 0 vs u64 at offset 0"),
        "{d}"
    );
}

#[test]
fn subscriber_with_a_renamed_field_gets_a_layout_mismatch_naming_both_names() {
    let d = mismatch::<StampU64, Renamed>("renamed");
    assert!(
        d.contains("`stamp_ns` u64 at offset 0") && d.contains("`stamp` u64 at offset 0"),
        "{d}"
    );
}

#[test]
fn subscriber_with_an_extra_or_missing_field_gets_a_layout_mismatch() {
    let d = mismatch::<StampU64, Extra>("extra");
    assert!(d.contains("`y`: f64 at offset 16 vs no such field"), "{d}");
    let d = mismatch::<Extra, StampU64>("missing");
    assert!(
        d.contains("`y`: no such field") && d.contains("vs f64 at offset 16"),
        "{d}"
    );
}

#[test]
fn same_layout_under_another_type_name_is_accepted() {
    let ch = TestChannel::new("sameshape");
    let mut p = Publisher::<StampU64>::create(ch.name()).unwrap();
    let mut s = Subscriber::<SameShape>::connect(ch.name()).unwrap();
    p.send(&StampU64 { stamp: 5, x: 2.5 }).unwrap();
    assert_eq!(s.recv_timeout(T).unwrap(), SameShape { stamp: 5, x: 2.5 });
}

#[test]
fn dynamic_subscriber_on_a_typed_topic_and_typed_on_dynamic_are_incompatible() {
    let typed = TestChannel::new("typedtopic");
    let _p = Publisher::<StampU64>::create(typed.name()).unwrap();
    match DynSubscriber::connect(typed.name(), short()) {
        Err(OpenError::Incompatible { name, reason }) => {
            assert_eq!(name, typed.name());
            assert!(reason.contains("typed"), "{reason}");
        }
        other => panic!("expected Incompatible, got {other:?}"),
    }

    let dynamic = TestChannel::new("dyntopic");
    let _d = DynPublisher::create(dynamic.name(), GEO).unwrap();
    match Subscriber::<StampU64>::connect_with(dynamic.name(), short()) {
        Err(OpenError::Incompatible { name, reason }) => {
            assert_eq!(name, dynamic.name());
            assert!(
                reason.contains("dynamic") && reason.contains("StampU64"),
                "{reason}"
            );
        }
        other => panic!("expected Incompatible, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Foreign and corrupt segment files.
// ---------------------------------------------------------------------------

#[test]
fn bad_magic_is_corrupt() {
    check_fake(
        "magic",
        Base::Dynamic,
        |img| img.0[0..8].copy_from_slice(b"NOTSHMC\0"),
        Want::Corrupt,
        &["bad magic", "4e, 4f, 54"],
    );
}

#[test]
fn wrong_version_is_incompatible() {
    check_fake(
        "version",
        Base::Dynamic,
        |img| img.set_u32(hdr::VERSION, VERSION + 6),
        Want::Incompatible,
        &[&format!("version {}", VERSION + 6)],
    );
}

#[test]
fn other_byte_order_or_pointer_width_is_incompatible() {
    check_fake(
        "endian",
        Base::Dynamic,
        |img| img.set_u32(hdr::ENDIAN, 0x0403_0201),
        Want::Incompatible,
        &["0x04030201"],
    );
    check_fake(
        "ptrwidth",
        Base::Dynamic,
        |img| img.set_u32(hdr::PTR_WIDTH, 32),
        Want::Incompatible,
        &["pointer width 32"],
    );
}

#[test]
fn other_channel_kind_is_incompatible_and_unknown_kinds_corrupt() {
    check_fake(
        "kind",
        Base::Dynamic,
        |img| img.set_u32(hdr::KIND, 2),
        Want::Incompatible,
        &["Request"],
    );
    check_fake(
        "kind",
        Base::Dynamic,
        |img| img.set_u32(hdr::KIND, 99),
        Want::Corrupt,
        &["kind 99"],
    );
    check_fake(
        "payload",
        Base::Dynamic,
        |img| img.set_u32(hdr::PAYLOAD, 5),
        Want::Corrupt,
        &["payload kind 5"],
    );
}

#[test]
fn zero_slots_are_corrupt() {
    for base in [Base::Dynamic, Base::Typed] {
        check_fake(
            "zeroslots",
            base,
            |img| {
                let r = img.region();
                img.set_u32(r + ring::CAPACITY, 0);
            },
            Want::Corrupt,
            &["capacity 0"],
        );
    }
}

#[test]
fn zero_slot_size_and_excessive_limits_are_corrupt() {
    check_fake(
        "zeropayload",
        Base::Dynamic,
        |img| {
            let r = img.region();
            img.set_u32(r + ring::MAX_PAYLOAD, 0);
        },
        Want::Corrupt,
        &["slot size 0"],
    );
    check_fake(
        "hugecapacity",
        Base::Dynamic,
        |img| {
            let r = img.region();
            img.set_u32(r + ring::CAPACITY, u32::MAX);
        },
        Want::Corrupt,
        &["capacity 4294967295"],
    );
    check_fake(
        "hugebudget",
        Base::Dynamic,
        |img| {
            let r = img.region();
            img.set_u32(r + ring::BUDGET, u32::MAX);
        },
        Want::Corrupt,
        &["borrow budget 4294967295"],
    );
}

#[test]
fn ring_geometry_larger_than_the_file_is_corrupt() {
    // Within every limit, but the slots would not fit in the file.
    check_fake(
        "bigcapacity",
        Base::Dynamic,
        |img| {
            let r = img.region();
            img.set_u32(r + ring::CAPACITY, 1 << 20);
        },
        Want::Corrupt,
        &["1048576 slots", "needs"],
    );
    check_fake(
        "bigpayload",
        Base::Dynamic,
        |img| {
            let r = img.region();
            img.set_u32(r + ring::MAX_PAYLOAD, 1 << 30);
        },
        Want::Corrupt,
        &["1073741824 bytes", "needs"],
    );
    check_fake(
        "bigbudget",
        Base::Dynamic,
        |img| {
            let r = img.region();
            img.set_u32(r + ring::BUDGET, 1 << 10);
        },
        Want::Corrupt,
        &["+1024 spare", "needs"],
    );
}

#[test]
fn typed_topic_whose_slots_do_not_match_its_message_size_is_corrupt() {
    check_fake(
        "slotsize",
        Base::Typed,
        |img| {
            let r = img.region();
            img.set_u32(r + ring::MAX_PAYLOAD, 8);
        },
        Want::Corrupt,
        &["slots of 8 bytes", "16-byte message"],
    );
}

#[test]
fn total_len_not_matching_the_file_size_is_corrupt() {
    check_fake(
        "totallen",
        Base::Dynamic,
        |img| {
            let n = img.0.len() as u64;
            img.set_u64(hdr::TOTAL_LEN, n + 4096);
        },
        Want::Corrupt,
        &["bytes but the file has"],
    );
    // Consistent header, file cut short: the header says more than there is.
    check_fake(
        "truncated",
        Base::Dynamic,
        |img| img.0.truncate(img.0.len() - 64),
        Want::Corrupt,
        &["bytes but the file has"],
    );
}

#[test]
fn layout_descriptor_out_of_bounds_is_corrupt() {
    check_fake(
        "layoutlen",
        Base::Typed,
        |img| {
            let n = img.0.len() as u64;
            img.set_u64(hdr::LAYOUT_LEN, n);
        },
        Want::Corrupt,
        &["layout descriptor at 256+"],
    );
    check_fake(
        "layoutoverflow",
        Base::Typed,
        |img| img.set_u64(hdr::LAYOUT_OFF, u64::MAX - 3),
        Want::Corrupt,
        &["layout descriptor at 18446744073709551612+"],
    );
    check_fake(
        "layoutinheader",
        Base::Typed,
        |img| img.set_u64(hdr::LAYOUT_OFF, 8),
        Want::Corrupt,
        &["layout descriptor at 8+"],
    );
}

#[test]
fn region_outside_the_file_or_misplaced_is_corrupt() {
    check_fake(
        "regionlen",
        Base::Dynamic,
        |img| img.set_u64(hdr::REGION_LEN, u64::MAX),
        Want::Corrupt,
        &["region at 4096+18446744073709551615"],
    );
    check_fake(
        "regionoff",
        Base::Dynamic,
        |img| img.set_u64(hdr::REGION_OFF, 100),
        Want::Corrupt,
        &["region at 100+"],
    );
    // On a page boundary, but over the header and descriptor.
    check_fake(
        "regionzero",
        Base::Typed,
        |img| img.set_u64(hdr::REGION_OFF, 0),
        Want::Corrupt,
        &["region at 0+"],
    );
    // Inside the file, but too small for the ring it describes.
    check_fake(
        "regionsmall",
        Base::Dynamic,
        |img| img.set_u64(hdr::REGION_LEN, 128),
        Want::Corrupt,
        &["128 bytes"],
    );
}

#[test]
fn layout_hash_not_matching_the_stored_descriptor_is_corrupt() {
    check_fake(
        "hash",
        Base::Typed,
        |img| {
            let h = img.u64(hdr::LAYOUT_HASH);
            img.set_u64(hdr::LAYOUT_HASH, h ^ 1);
        },
        Want::Corrupt,
        &[
            "stored layout hash",
            &format!("{:#018x}", Small::layout_hash()),
        ],
    );
}

#[test]
fn garbage_descriptor_bytes_are_corrupt() {
    check_fake(
        "garbagelayout",
        Base::Typed,
        |img| {
            let r = img.layout_range();
            img.0[r].fill(0xa5);
        },
        Want::Corrupt,
        &["invalid layout descriptor"],
    );
    // A typed payload without a descriptor, and a dynamic one with.
    check_fake(
        "nolayout",
        Base::Typed,
        |img| img.set_u64(hdr::LAYOUT_LEN, 0),
        Want::Corrupt,
        &["payload kind 1 with a 0-byte layout descriptor"],
    );
    check_fake(
        "dynlayout",
        Base::Dynamic,
        |img| img.set_u64(hdr::LAYOUT_LEN, 16),
        Want::Corrupt,
        &["payload kind 0 with a 16-byte layout descriptor"],
    );
}

#[test]
fn header_never_marked_ready_is_not_ready_after_the_timeout() {
    check_fake(
        "notready",
        Base::Dynamic,
        |img| img.set_u32(hdr::INIT, 0),
        Want::NotReady,
        &[],
    );
    // The error reports the creator's pid as written in the header.
    let ch = TestChannel::new("notready");
    let mut img = image_of(ch.name(), Base::Typed);
    img.set_u32(hdr::INIT, 0x1234_5678);
    img.set_u32(hdr::CREATOR_PID, 4242);
    write_fake(ch.name(), &img.0);
    match expect_open_error(ch.name(), Base::Typed, Want::NotReady, &[]) {
        OpenError::NotReady { pid, waited, .. } => {
            assert_eq!(pid, 4242);
            assert!(waited >= SHORT, "{waited:?}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn file_shorter_than_the_header_fails_after_the_timeout_without_hanging() {
    for len in [0, 1, 100, HEADER_LEN - 1] {
        let ch = TestChannel::new("short");
        let img = image_of(ch.name(), Base::Dynamic);
        write_fake(ch.name(), &img.0[..len]);
        let t0 = Instant::now();
        let r = DynSubscriber::connect(ch.name(), short());
        let elapsed = t0.elapsed();
        assert!(
            matches!(
                r,
                Err(OpenError::NotReady { .. } | OpenError::Corrupt { .. })
            ),
            "{len}-byte file: {r:?}"
        );
        assert!(elapsed < SHORT + SLACK, "{len}-byte file: {elapsed:?}");
    }
}

#[test]
fn random_bytes_are_refused() {
    for len in [HEADER_LEN, 4096, 3 * 4096 + 17] {
        let ch = TestChannel::new("random");
        let mut bytes = pattern(len, 99);
        // With and without a READY word: either way no valid header.
        for ready in [false, true] {
            if ready {
                bytes[hdr::INIT..hdr::INIT + 4].copy_from_slice(&INIT_READY.to_ne_bytes());
            }
            let _ = fs::remove_file(path_of(ch.name()));
            write_fake(ch.name(), &bytes);
            let t0 = Instant::now();
            let r = DynSubscriber::connect(ch.name(), short());
            let elapsed = t0.elapsed();
            let ok = if ready {
                matches!(r, Err(OpenError::Corrupt { .. }))
            } else {
                matches!(r, Err(OpenError::NotReady { .. }))
            };
            assert!(ok, "{len} random bytes (ready {ready}): {r:?}");
            assert!(elapsed < SHORT + SLACK, "{elapsed:?}");
            let t = Subscriber::<Small>::connect_with(ch.name(), short());
            assert!(
                matches!(
                    t,
                    Err(OpenError::Corrupt { .. } | OpenError::NotReady { .. })
                ),
                "{t:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Creating over foreign or stale files.
// ---------------------------------------------------------------------------

/// A pid that no process has: pids are below `pid_max`.
fn dead_pid() -> u32 {
    fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4_194_304)
}

#[test]
fn create_replaces_a_corrupt_segment_whose_creator_is_dead() {
    // Dead pid, another version (a segment of an older build). A file
    // without our magic is not ours to replace (tests/trust.rs).
    let ch = TestChannel::new("stale");
    let mut img = image_of(ch.name(), Base::Typed);
    img.set_u32(hdr::VERSION, 77);
    img.set_u32(hdr::CREATOR_PID, dead_pid());
    write_fake(ch.name(), &img.0);
    let mut p = Publisher::<Small>::create_with(ch.name(), GEO).unwrap();
    let mut s = Subscriber::<Small>::connect_with(ch.name(), short()).unwrap();
    p.send(&Small { stamp: 1, x: 2.0 }).unwrap();
    assert_eq!(s.recv_timeout(T).unwrap(), Small { stamp: 1, x: 2.0 });
    let now = Image(fs::read(path_of(ch.name())).unwrap());
    assert_eq!(now.0[0..8], MAGIC);
    assert_eq!(now.u32(hdr::CREATOR_PID), std::process::id());
    drop(p);
    assert!(!exists(ch.name()));

    // Our own pid, but another start time: a previous process that had our pid.
    let ch = TestChannel::new("stale");
    let mut img = image_of(ch.name(), Base::Dynamic);
    let start = img.u64(hdr::CREATOR_START);
    img.set_u64(hdr::CREATOR_START, start.wrapping_sub(1));
    write_fake(ch.name(), &img.0);
    let mut p = DynPublisher::create(ch.name(), GEO).unwrap();
    let mut s = DynSubscriber::connect(ch.name(), short()).unwrap();
    p.send_bytes(b"fresh").unwrap();
    assert_eq!(s.recv_timeout(T).unwrap().data, b"fresh");
}

#[test]
fn create_leaves_a_foreign_file_too_short_for_a_header_in_place() {
    for len in [10, HEADER_LEN - 1] {
        let ch = TestChannel::new("shortfile");
        let bytes = pattern(len, 5);
        write_fake(ch.name(), &bytes);
        match DynPublisher::create(ch.name(), GEO) {
            Err(CreateError::Existing(e)) => {
                assert!(matches!(*e, OpenError::Corrupt { .. }), "{e:?}")
            }
            other => panic!("{len}-byte file: expected an error, got {other:?}"),
        }
        assert_eq!(fs::read(path_of(ch.name())).unwrap(), bytes);
    }
}

#[test]
fn create_over_a_segment_of_a_live_creator_is_in_use_and_leaves_it_alone() {
    let ch = TestChannel::new("liveowner");
    // READY, created by this (live) process.
    let img = image_of(ch.name(), Base::Typed);
    write_fake(ch.name(), &img.0);
    match Publisher::<Small>::create_with(ch.name(), GEO) {
        Err(CreateError::InUse { name, pid }) => {
            assert_eq!(name, ch.name());
            assert_eq!(pid, std::process::id());
        }
        other => panic!("expected InUse, got {other:?}"),
    }
    match DynPublisher::create(ch.name(), GEO) {
        Err(CreateError::InUse { pid, .. }) => assert_eq!(pid, std::process::id()),
        other => panic!("expected InUse, got {other:?}"),
    }
    assert_eq!(
        fs::read(path_of(ch.name())).unwrap(),
        img.0,
        "the live owner's segment is untouched"
    );
}

// ---------------------------------------------------------------------------
// Invalid names and options, absent publishers.
// ---------------------------------------------------------------------------

#[test]
fn invalid_names_are_name_errors_for_every_constructor() {
    let long = "x".repeat(101);
    let cases: Vec<(&str, NameError)> = vec![
        ("", NameError::Empty),
        (
            "a b",
            NameError::BadChar {
                name: "a b".into(),
                ch: ' ',
                pos: 1,
            },
        ),
        (
            "/abs",
            NameError::BadComponent {
                name: "/abs".into(),
            },
        ),
        (
            "trailing/",
            NameError::BadComponent {
                name: "trailing/".into(),
            },
        ),
        (
            "a//b",
            NameError::BadComponent {
                name: "a//b".into(),
            },
        ),
        (
            "../x",
            NameError::BadComponent {
                name: "../x".into(),
            },
        ),
        (
            "a/./b",
            NameError::BadComponent {
                name: "a/./b".into(),
            },
        ),
        (
            &long,
            NameError::TooLong {
                name: long.clone(),
                len: 101,
                max: 100,
            },
        ),
        (
            "robot/pösé",
            NameError::BadChar {
                name: "robot/pösé".into(),
                ch: 'ö',
                pos: 7,
            },
        ),
        (
            "nul\0byte",
            NameError::BadChar {
                name: "nul\0byte".into(),
                ch: '\0',
                pos: 3,
            },
        ),
        // '%' would let a name alias the escaped form of another ("a/b").
        (
            "a%2Fb",
            NameError::BadChar {
                name: "a%2Fb".into(),
                ch: '%',
                pos: 1,
            },
        ),
    ];
    let patient = ConnectOptions {
        timeout: Duration::from_secs(10),
        ..Default::default()
    };
    for (name, want) in cases {
        assert_eq!(segment::file_name(name, "pub"), Err(want.clone()));
        match Publisher::<Small>::create(name) {
            Err(CreateError::Name(e)) => assert_eq!(e, want, "{name:?}"),
            other => panic!("{name:?}: expected a name error, got {other:?}"),
        }
        match DynPublisher::create(name, GEO) {
            Err(CreateError::Name(e)) => assert_eq!(e, want, "{name:?}"),
            other => panic!("{name:?}: expected a name error, got {other:?}"),
        }
        // An invalid name fails at once, not after the connect timeout.
        let t0 = Instant::now();
        match Subscriber::<Small>::connect_with(name, patient) {
            Err(OpenError::Name(e)) => assert_eq!(e, want, "{name:?}"),
            other => panic!("{name:?}: expected a name error, got {other:?}"),
        }
        match DynSubscriber::connect(name, patient) {
            Err(OpenError::Name(e)) => assert_eq!(e, want, "{name:?}"),
            other => panic!("{name:?}: expected a name error, got {other:?}"),
        }
        assert!(t0.elapsed() < patient.timeout / 2, "{name:?} waited");
    }
}

#[test]
fn name_of_exactly_the_maximum_length_works() {
    let ch = TestChannel::with_len("maxlen", segment::MAX_NAME_LEN);
    assert_eq!(ch.name().len(), 100);
    let mut p = Publisher::<Small>::create(ch.name()).unwrap();
    let mut s = Subscriber::<Small>::connect(ch.name()).unwrap();
    p.send(&Small { stamp: 3, x: 0.5 }).unwrap();
    assert_eq!(s.recv_timeout(T).unwrap().stamp, 3);
    assert!(segment::list().iter().any(|(n, _)| n == ch.name()));
}

#[test]
fn invalid_ring_options_are_config_errors_and_create_nothing() {
    let cases = [
        (
            PubOptions {
                capacity: 0,
                ..Default::default()
            },
            "capacity 0",
        ),
        (
            PubOptions {
                capacity: (1 << 20) + 1,
                ..Default::default()
            },
            "capacity 1048577",
        ),
        (
            PubOptions {
                max_payload: (1 << 30) + 1,
                ..Default::default()
            },
            "slot size 1073741825",
        ),
        (
            PubOptions {
                borrow_budget: 1025,
                ..Default::default()
            },
            "borrow budget 1025",
        ),
    ];
    for (opts, needle) in cases {
        let ch = TestChannel::new("config");
        match DynPublisher::create(ch.name(), opts) {
            Err(CreateError::Config { name, reason }) => {
                assert_eq!(name, ch.name());
                assert!(reason.contains(needle), "{reason:?} lacks {needle:?}");
            }
            other => panic!("{opts:?}: expected Config, got {other:?}"),
        }
        if opts.max_payload == PubOptions::default().max_payload {
            // Typed topics check the same limits (the slot size is the type's).
            assert!(matches!(
                Publisher::<Small>::create_with(ch.name(), opts),
                Err(CreateError::Config { .. })
            ));
        }
        assert!(!exists(ch.name()), "{opts:?} left a segment behind");
    }
}

#[test]
fn missing_publisher_is_not_found_within_the_timeout() {
    let ch = TestChannel::new("absent");
    let timeout = Duration::from_millis(300);
    let opts = ConnectOptions {
        timeout,
        ..Default::default()
    };
    let t0 = Instant::now();
    let r = DynSubscriber::connect(ch.name(), opts);
    let elapsed = t0.elapsed();
    match r {
        Err(OpenError::NotFound { name, waited }) => {
            assert_eq!(name, ch.name());
            assert!(waited >= timeout, "{waited:?}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(
        elapsed >= timeout && elapsed < timeout + SLACK,
        "{elapsed:?}"
    );
    // Zero timeout: one look, no wait.
    let t0 = Instant::now();
    let r = Subscriber::<Small>::connect_with(
        ch.name(),
        ConnectOptions {
            timeout: Duration::ZERO,
            ..Default::default()
        },
    );
    assert!(matches!(r, Err(OpenError::NotFound { .. })), "{r:?}");
    assert!(t0.elapsed() < SLACK);
}

#[test]
fn connect_timeout_of_duration_max_waits_as_long_as_needed_instead_of_panicking() {
    // `recv_timeout(Duration::MAX)` means "no deadline"; the connect timeout
    // must not overflow `Instant` either. The topic exists, so this returns at once.
    let ch = TestChannel::new("forever");
    let mut p = DynPublisher::create(ch.name(), GEO).unwrap();
    let opts = ConnectOptions {
        timeout: Duration::MAX,
        ..Default::default()
    };
    let mut s = DynSubscriber::connect(ch.name(), opts).unwrap();
    let t = Subscriber::<Small>::connect_with(ch.name(), opts);
    assert!(matches!(t, Err(OpenError::Incompatible { .. })), "{t:?}");
    p.send_bytes(b"x").unwrap();
    assert_eq!(s.recv_timeout(Duration::MAX).unwrap().data, b"x");
}

// ---------------------------------------------------------------------------
// Hostile ring contents in a live topic.
// ---------------------------------------------------------------------------

/// Offset in the file of the ring entry of message `seq` of a topic of geometry `GEO`.
fn entry_off(region: usize, seq: u64) -> usize {
    region + ring::ENTRIES + (seq % u64::from(GEO.capacity)) as usize * ring::ENTRY_LEN
}

/// Offset in the file of chunk `c`'s header, for slots of `max_payload` bytes.
fn chunk_off(region: usize, max_payload: usize, c: u64) -> usize {
    let stride = (ring::CHUNK_HEADER + max_payload.div_ceil(8) * 8).div_ceil(64) * 64;
    region
        + ring::ENTRIES
        + GEO.capacity as usize * ring::ENTRY_LEN
        + ring::pins_len(GEO.borrow_budget)
        + c as usize * stride
}

fn region_of(name: &str) -> usize {
    peek_u64(name, hdr::REGION_OFF) as usize
}

#[test]
fn ring_entry_naming_an_out_of_range_chunk_is_corrupt() {
    let chunks = u64::from(GEO.capacity + 1 + GEO.borrow_budget);
    // Exactly one past the last chunk, a value whose low 32 bits are a valid
    // index, and the largest.
    for bad in [chunks, 1u64 << 32, u64::MAX] {
        let ch = TestChannel::new("badchunk");
        let mut p = DynPublisher::create(ch.name(), GEO).unwrap();
        let mut s = DynSubscriber::connect(ch.name(), short()).unwrap();
        p.send_bytes(&pattern(10, 0)).unwrap();
        let e = entry_off(region_of(ch.name()), 0);
        poke(ch.name(), e + 8, &bad.to_ne_bytes());
        match s.try_recv() {
            Err(TryRecvError::Corrupt(r)) => {
                assert!(r.contains(&format!("chunk {bad}")), "{r}")
            }
            other => panic!("chunk {bad}: expected Corrupt, got {other:?}"),
        }
        // Once the publisher has overwritten the damaged entry, the
        // subscriber goes on with the messages still in the ring, and counts
        // the damaged one as missed.
        for seq in 1..=u64::from(GEO.capacity) {
            p.send_bytes(&pattern(10, seq)).unwrap();
        }
        for seq in 1..=u64::from(GEO.capacity) {
            assert_eq!(s.recv_timeout(T).unwrap().data, pattern(10, seq));
        }
        assert_eq!(s.missed(), 1);
    }
}

#[test]
fn ring_entry_naming_an_out_of_range_chunk_is_corrupt_for_typed_subscribers() {
    let ch = TestChannel::new("badchunktyped");
    let mut p = Publisher::<Small>::create_with(ch.name(), GEO).unwrap();
    let mut s = Subscriber::<Small>::connect_with(ch.name(), short()).unwrap();
    p.send(&Small { stamp: 0, x: 0.0 }).unwrap();
    let e = entry_off(region_of(ch.name()), 0);
    poke(ch.name(), e + 8, &1000u64.to_ne_bytes());
    // A blocking receive reports it too (rather than waiting or looping).
    let r = s.recv_timeout(T);
    assert!(
        matches!(&r, Err(RecvTimeoutError::Corrupt(m)) if m.contains("chunk 1000")),
        "{r:?}"
    );

    let ch = TestChannel::new("badchunktyped");
    let mut p = Publisher::<Small>::create_with(ch.name(), GEO).unwrap();
    let mut s = Subscriber::<Small>::connect_with(ch.name(), short()).unwrap();
    p.send(&Small { stamp: 0, x: 0.0 }).unwrap();
    let e = entry_off(region_of(ch.name()), 0);
    poke(ch.name(), e + 8, &1000u64.to_ne_bytes());
    let r = s.try_borrow();
    assert!(
        matches!(&r, Err(BorrowError::Corrupt(m)) if m.contains("chunk 1000")),
        "{:?}",
        r.err()
    );
}

#[test]
fn chunk_longer_than_the_slot_is_corrupt() {
    for bad in [GEO.max_payload + 1, u32::MAX] {
        let ch = TestChannel::new("badlen");
        let mut p = DynPublisher::create(ch.name(), GEO).unwrap();
        let mut s = DynSubscriber::connect(ch.name(), short()).unwrap();
        p.send_bytes(&pattern(64, 0)).unwrap();
        let region = region_of(ch.name());
        let c = peek_u64(ch.name(), entry_off(region, 0) + 8);
        let off = chunk_off(region, GEO.max_payload as usize, c);
        assert_eq!(
            peek_u32(ch.name(), off + ring::CH_LEN),
            64,
            "found the chunk"
        );
        poke(ch.name(), off + ring::CH_LEN, &bad.to_ne_bytes());
        match s.try_recv() {
            Err(TryRecvError::Corrupt(r)) => {
                assert!(r.contains(&format!("{bad} bytes")), "{r}")
            }
            other => panic!("len {bad}: expected Corrupt, got {other:?}"),
        }
    }
}

/// A typed topic of geometry `GEO` with one message published, whose chunk
/// length was then overwritten with `bad`; and a subscriber that connected
/// before the message (at most one borrow at a time).
fn typed_topic_with_bad_len(bad: u32) -> (TestChannel, Publisher<Small>, Subscriber<Small>) {
    let size = std::mem::size_of::<Small>();
    let ch = TestChannel::new("badlentyped");
    let mut p = Publisher::<Small>::create_with(ch.name(), GEO).unwrap();
    let s = Subscriber::<Small>::connect_with(
        ch.name(),
        ConnectOptions {
            timeout: SHORT,
            max_borrows: 1,
            ..Default::default()
        },
    )
    .unwrap();
    p.send(&Small { stamp: 0, x: 9.0 }).unwrap();
    let region = region_of(ch.name());
    let c = peek_u64(ch.name(), entry_off(region, 0) + 8);
    let off = chunk_off(region, size, c);
    assert_eq!(
        peek_u32(ch.name(), off + ring::CH_LEN) as usize,
        size,
        "found the chunk"
    );
    poke(ch.name(), off + ring::CH_LEN, &bad.to_ne_bytes());
    (ch, p, s)
}

#[test]
fn typed_chunk_of_the_wrong_length_is_corrupt_and_borrowing_leaks_nothing() {
    let size = std::mem::size_of::<Small>() as u32;
    for bad in [size + 1, size - 1, 0, u32::MAX] {
        // Copying.
        let (_ch, _p, mut s) = typed_topic_with_bad_len(bad);
        assert!(
            matches!(s.try_recv(), Err(TryRecvError::Corrupt(_))),
            "len {bad}"
        );

        // Borrowing: the first attempt reports the damage; none of the
        // attempts may keep a pin, a budget token or this subscriber's
        // single borrow allowance.
        let (ch, mut p, mut s) = typed_topic_with_bad_len(bad);
        assert!(
            matches!(s.try_borrow(), Err(BorrowError::Corrupt(_))),
            "len {bad}"
        );
        for _ in 0..3 {
            let r = s.try_borrow();
            assert!(
                matches!(r, Err(BorrowError::Corrupt(_) | BorrowError::Empty)),
                "len {bad}: {r:?}"
            );
        }
        let pins = region_of(ch.name()) + ring::ENTRIES + GEO.capacity as usize * ring::ENTRY_LEN;
        for i in 0..GEO.borrow_budget as usize {
            assert_eq!(
                peek_u64(ch.name(), pins + i * 8),
                0,
                "len {bad}: pin slot {i} leaked"
            );
        }
        for seq in 1..=u64::from(GEO.capacity) {
            p.send(&Small { stamp: seq, x: 0.0 }).unwrap();
        }
        let sample = s
            .try_borrow()
            .unwrap_or_else(|e| panic!("len {bad}: {e:?}"));
        assert_eq!(sample.stamp, 1, "len {bad}");
        assert_eq!(sample.x, 0.0);
    }
}

/// A `dyn-poll` child subscribed to `name`; hostile data that could make the
/// subscriber loop forever is tested in a child, which is killed if it hangs.
fn poller(name: &str, last_value: bool) -> Peer {
    let mut c = Peer::spawn(
        PEER,
        &["dyn-poll", name, if last_value { "1" } else { "0" }],
    );
    c.expect("ready", T);
    c
}

/// The digest in a poller's `frame codec TAG len LEN digest D missed M` line.
fn frame_digest(line: &str) -> u64 {
    let rest = line
        .strip_prefix("frame ")
        .unwrap_or_else(|| panic!("expected a frame, got {line:?}"));
    field(rest, "digest")
}

/// Asks the poller for one `try_recv` and returns its answer line.
fn poll(c: &mut Peer) -> String {
    c.say("try");
    c.line(T)
}

#[test]
fn ring_entry_stamped_ahead_of_the_write_sequence_does_not_hang_try_recv() {
    let ch = TestChannel::new("futurestamp");
    let mut p = DynPublisher::create(ch.name(), GEO).unwrap();
    let mut c = poller(ch.name(), false);
    p.send_bytes(&pattern(5, 0)).unwrap();
    let line = poll(&mut c);
    assert_eq!(
        frame_digest(&line),
        digest(&pattern(5, 0)),
        "message 0: {line}"
    );
    // The subscriber now waits for message 1. Its entry claims to hold
    // message 5 (stamp 2n+2 = 12), while the write sequence says 1 message.
    let region = region_of(ch.name());
    poke(ch.name(), entry_off(region, 1), &12u64.to_ne_bytes());
    let line = poll(&mut c);
    assert!(
        line.starts_with("empty") || line.starts_with("corrupt"),
        "forged entry: {line}"
    );
    // The real message 1 then overwrites the forged entry and arrives.
    p.send_bytes(&pattern(5, 1)).unwrap();
    let line = poll(&mut c);
    assert_eq!(
        frame_digest(&line),
        digest(&pattern(5, 1)),
        "message 1: {line}"
    );
    c.say("exit");
    assert!(c.wait_success(T));
}

#[test]
fn ring_entry_announcing_an_unpublished_message_does_not_hang_try_recv() {
    let ch = TestChannel::new("forgedentry");
    let mut p = DynPublisher::create(ch.name(), GEO).unwrap();
    let mut c = poller(ch.name(), false);
    p.send_bytes(&pattern(5, 0)).unwrap();
    let line = poll(&mut c);
    assert_eq!(
        frame_digest(&line),
        digest(&pattern(5, 0)),
        "message 0: {line}"
    );
    // Entry 1 forged to announce message 1 (stamp 2n+2 = 4) in the chunk
    // that holds message 0 (chunk stamp 2): a stamp mismatch, while the
    // write sequence still says 1 message.
    let region = region_of(ch.name());
    let chunk0 = peek_u64(ch.name(), entry_off(region, 0) + 8);
    let e1 = entry_off(region, 1);
    poke(ch.name(), e1 + 8, &chunk0.to_ne_bytes());
    poke(ch.name(), e1, &4u64.to_ne_bytes());
    let line = poll(&mut c);
    assert!(
        line.starts_with("empty") || line.starts_with("corrupt"),
        "forged entry: {line}"
    );
    p.send_bytes(&pattern(5, 1)).unwrap();
    let line = poll(&mut c);
    assert_eq!(
        frame_digest(&line),
        digest(&pattern(5, 1)),
        "message 1: {line}"
    );
    c.say("exit");
    assert!(c.wait_success(T));
}

#[test]
fn write_sequence_near_u64_max_does_not_panic_a_subscriber() {
    for last_value in [false, true] {
        let ch = TestChannel::new("hugeseq");
        let mut p = DynPublisher::create(ch.name(), GEO).unwrap();
        p.send_bytes(b"real").unwrap();
        let region = region_of(ch.name());
        poke(ch.name(), region + ring::WRITE_SEQ, &u64::MAX.to_ne_bytes());
        // A subscriber that joins now believes u64::MAX messages were sent.
        let mut c = poller(ch.name(), last_value);
        let line = poll(&mut c);
        assert!(
            line.starts_with("empty") || line.starts_with("corrupt"),
            "last_value {last_value}: {line}"
        );
        c.say("exit");
        assert!(c.wait_success(T), "last_value {last_value}");
    }
}

#[test]
fn a_service_whose_request_slots_cannot_hold_the_request_header_is_corrupt() {
    use shm_comm::reqrep::{DynReplier, DynRequester, ServiceOptions};
    let ch = TestChannel::new("tinyreqslots");
    let _rep = DynReplier::create(ch.name(), ServiceOptions::default()).unwrap();
    let path = PathBuf::from(SHM_DIR).join(segment::file_name(ch.name(), "svc").unwrap());
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let mut off = [0u8; 8];
    f.read_exact_at(&mut off, hdr::REGION_OFF as u64).unwrap();
    // The queue's `max_payload` (offset 4), after the participant table.
    let at = u64::from_ne_bytes(off) + segment::TABLE_LEN as u64 + 4;
    f.write_all_at(&8u32.to_ne_bytes(), at).unwrap();
    match DynRequester::connect(ch.name(), SHORT) {
        Err(OpenError::Corrupt { reason, .. }) => {
            assert!(reason.contains("request header"), "{reason}")
        }
        other => panic!("expected a corrupt-segment error, got {other:?}"),
    }
}

#[test]
fn a_corrupt_request_queue_is_named_in_the_request_error() {
    // Before, a request that found the request queue damaged failed with
    // "reply is corrupt", pointing at the wrong place.
    use shm_comm::reqrep::{DynReplier, DynRequester, RequestError, ServiceOptions};
    let ch = TestChannel::new("badreqqueue");
    let _rep = DynReplier::create(ch.name(), ServiceOptions::default()).unwrap();
    let req = DynRequester::connect(ch.name(), SHORT).unwrap();
    let path = PathBuf::from(SHM_DIR).join(segment::file_name(ch.name(), "svc").unwrap());
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let mut off = [0u8; 8];
    f.read_exact_at(&mut off, hdr::REGION_OFF as u64).unwrap();
    // The state of cell 0 (after the participant table and the queue's
    // 320-byte control block): FULL of lap 5, impossible at position 0.
    let at = u64::from_ne_bytes(off) + segment::TABLE_LEN as u64 + 320;
    f.write_all_at(&(5u64 << 32 | 2 << 30).to_ne_bytes(), at)
        .unwrap();
    match req.request(b"x", shm_comm::Codec::Raw, SHORT) {
        Err(e @ RequestError::Corrupt(_)) => {
            let text = e.to_string();
            assert!(text.contains("request queue"), "{text}");
            assert!(!text.contains("reply"), "{text}");
        }
        other => panic!("expected a corrupt-service error, got {other:?}"),
    }
}

#[test]
fn a_subscriber_sent_ahead_of_the_writer_by_a_forged_write_sequence_resumes() {
    // Before: a forged write sequence made a lapped subscriber skip far
    // ahead; once the publisher wrote the real sequence again, the
    // subscriber waited for messages the publisher would not reach for
    // 2^40 sends: silently dead while its publisher was alive.
    let ch = TestChannel::new("aheadofwriter");
    let mut p = DynPublisher::create(ch.name(), GEO).unwrap();
    let mut s = DynSubscriber::connect(ch.name(), short()).unwrap();
    for i in 0..10 {
        p.send_bytes(&pattern(5, i)).unwrap();
        assert_eq!(s.try_recv().unwrap().data, pattern(5, i));
    }
    // The subscriber waits for message 10: its entry claims a newer
    // message, and the write sequence says 2^40 were published.
    let region = region_of(ch.name());
    poke(
        ch.name(),
        region + ring::WRITE_SEQ,
        &(1u64 << 40).to_ne_bytes(),
    );
    poke(ch.name(), entry_off(region, 10), &1000u64.to_ne_bytes());
    let _ = s.try_recv();
    // The publisher goes on (writing the real write sequence back).
    let mut errors = 0;
    for i in 10..30 {
        p.send_bytes(&pattern(5, i)).unwrap();
        match s.recv_timeout(Duration::from_millis(20)) {
            Ok(f) => {
                assert_eq!(f.data, pattern(5, i));
                return;
            }
            Err(RecvTimeoutError::Corrupt(e)) => {
                eprintln!("corrupt: {e}");
                errors += 1;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
    panic!("no message in 20 sends ({errors} corrupt errors)");
}
