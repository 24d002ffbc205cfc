//! Foreign, corrupt or stale segment files (written by the test itself
//! under the name the library would use) are typed errors when opened, with
//! no panic, no hang and no out-of-bounds read; a creator replaces a dead
//! creator's segment and leaves a live one's alone.

#[path = "support/fake.rs"]
mod fake;
use fake::*;

// ---------------------------------------------------------------------------
// The fake images are what the library writes.
// ---------------------------------------------------------------------------

#[test]
fn fake_segment_offsets_match_the_library() {
    let ch = TestChannel::new("offsets");
    let p = Publisher::<Small>::create_with(ch.name(), TYPED_GEO).unwrap();
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
    let pins = r + ring::PINS;
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
    let mut s = DynSubscriber::connect_with(ch.name(), short()).unwrap();
    assert_eq!(s.try_recv(), Err(TryRecvError::Empty));
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
        let r = DynSubscriber::connect_with(ch.name(), short());
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
            let r = DynSubscriber::connect_with(ch.name(), short());
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
    let mut p = Publisher::<Small>::create_with(ch.name(), TYPED_GEO).unwrap();
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
    let mut p = DynPublisher::create_with(ch.name(), GEO).unwrap();
    let mut s = DynSubscriber::connect_with(ch.name(), short()).unwrap();
    p.send_bytes(b"fresh").unwrap();
    assert_eq!(s.recv_timeout(T).unwrap().data, b"fresh");
}

#[test]
fn create_leaves_a_foreign_file_too_short_for_a_header_in_place() {
    for len in [10, HEADER_LEN - 1] {
        let ch = TestChannel::new("shortfile");
        let bytes = pattern(len, 5);
        write_fake(ch.name(), &bytes);
        match DynPublisher::create_with(ch.name(), GEO) {
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
    match Publisher::<Small>::create_with(ch.name(), TYPED_GEO) {
        Err(CreateError::InUse { name, pid }) => {
            assert_eq!(name, ch.name());
            assert_eq!(pid, std::process::id());
        }
        other => panic!("expected InUse, got {other:?}"),
    }
    match DynPublisher::create_with(ch.name(), GEO) {
        Err(CreateError::InUse { pid, .. }) => assert_eq!(pid, std::process::id()),
        other => panic!("expected InUse, got {other:?}"),
    }
    assert_eq!(
        fs::read(path_of(ch.name())).unwrap(),
        img.0,
        "the live owner's segment is untouched"
    );
}
