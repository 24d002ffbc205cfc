//! Bad frames are typed errors: an oversized frame is refused and nothing
//! is delivered; a subscriber of another message type gets an error that
//! names the first differing field on both sides.

#[path = "support/fake.rs"]
mod fake;
use fake::*;

// ---------------------------------------------------------------------------
// Oversized frames.
// ---------------------------------------------------------------------------

#[test]
fn oversized_dynamic_frame_is_too_large_and_nothing_is_delivered() {
    let ch = TestChannel::new("toolarge");
    let mut p = DynPublisher::create_with(
        ch.name(),
        PubOptions {
            max_payload: 4096,
            ..Default::default()
        },
    )
    .unwrap();
    let mut s = DynSubscriber::connect_with(ch.name(), short()).unwrap();

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
                ours_hash,
                theirs_hash,
                difference,
            } = e
            else {
                unreachable!()
            };
            assert_eq!(name, ch.name());
            assert_eq!(ours, B::layout().name);
            assert_eq!(theirs, A::layout().name);
            assert_eq!(
                (ours_hash, theirs_hash),
                (B::layout_hash(), A::layout_hash())
            );
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
    match DynSubscriber::connect_with(typed.name(), short()) {
        Err(OpenError::Incompatible { name, reason }) => {
            assert_eq!(name, typed.name());
            assert!(reason.contains("typed"), "{reason}");
        }
        other => panic!("expected Incompatible, got {other:?}"),
    }

    let dynamic = TestChannel::new("dyntopic");
    let _d = DynPublisher::create_with(dynamic.name(), GEO).unwrap();
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
