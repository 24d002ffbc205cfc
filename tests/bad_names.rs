//! Invalid names and options, and absent publishers, are typed errors from
//! every constructor.

#[path = "support/fake.rs"]
mod fake;
use fake::*;

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
        match DynPublisher::create_with(name, GEO) {
            Err(CreateError::Name(e)) => assert_eq!(e, want, "{name:?}"),
            other => panic!("{name:?}: expected a name error, got {other:?}"),
        }
        // An invalid name fails at once, not after the connect timeout.
        let t0 = Instant::now();
        match Subscriber::<Small>::connect_with(name, patient) {
            Err(OpenError::Name(e)) => assert_eq!(e, want, "{name:?}"),
            other => panic!("{name:?}: expected a name error, got {other:?}"),
        }
        match DynSubscriber::connect_with(name, patient) {
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
        match DynPublisher::create_with(ch.name(), opts) {
            Err(CreateError::Config { name, reason }) => {
                assert_eq!(name, ch.name());
                assert!(reason.contains(needle), "{reason:?} lacks {needle:?}");
            }
            other => panic!("{opts:?}: expected Config, got {other:?}"),
        }
        if opts.max_payload == PubOptions::default().max_payload {
            // Typed topics check the same limits (the slot size is the type's).
            assert!(matches!(
                Publisher::<Small>::create_with(
                    ch.name(),
                    TypedPubOptions {
                        capacity: opts.capacity,
                        borrow_budget: opts.borrow_budget,
                    }
                ),
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
    let r = DynSubscriber::connect_with(ch.name(), opts);
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
    let mut p = DynPublisher::create_with(ch.name(), GEO).unwrap();
    let opts = ConnectOptions {
        timeout: Duration::MAX,
        ..Default::default()
    };
    let mut s = DynSubscriber::connect_with(ch.name(), opts).unwrap();
    let t = Subscriber::<Small>::connect_with(ch.name(), opts);
    assert!(matches!(t, Err(OpenError::Incompatible { .. })), "{t:?}");
    p.send_bytes(b"x").unwrap();
    assert_eq!(s.recv_timeout(Duration::MAX).unwrap().data, b"x");
}
