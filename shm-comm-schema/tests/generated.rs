//! The generated files are up to date with their schemas, and a user's
//! generated module (`tests/fixtures/robot.rs`, from `robot.toml`) compiles
//! and agrees with the compiler.

use std::path::Path;

use shm_comm_schema::{compile_user, generate_python, generate_rust, read_sources, std_outputs};

// Not every generated item is used here: the generated module must say so
// itself (clippy runs with -D warnings over the tests).
#[path = "fixtures/robot.rs"]
mod robot;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The first line where `a` and `b` differ, for the failure message.
fn first_diff(a: &str, b: &str) -> String {
    for (i, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n  checked in: {x}\n  generated:  {y}", i + 1);
        }
    }
    format!(
        "lengths differ ({} vs {} lines)",
        a.lines().count(),
        b.lines().count()
    )
}

#[test]
fn standard_modules_are_up_to_date() {
    let mut stale = Vec::new();
    for (rel, text) in std_outputs(root()).unwrap() {
        let old = std::fs::read_to_string(root().join(rel)).unwrap_or_default();
        if old != text {
            stale.push(format!("{rel}: {}", first_diff(&old, &text)));
        }
    }
    assert!(
        stale.is_empty(),
        "generated files are stale; run `cargo run -p shm-comm-schema -- gen-std` from the workspace root\n{}",
        stale.join("\n")
    );
}

const FIXTURE: &str = "shm-comm-schema/tests/fixtures/robot.toml";

fn fixture() -> shm_comm_schema::Schema {
    let mut sources = read_sources(&[root().join(FIXTURE)]).unwrap();
    sources[0].path = FIXTURE.to_owned();
    compile_user(&sources).unwrap()
}

#[test]
fn user_fixture_is_up_to_date() {
    let text = generate_rust(&fixture());
    let path = root().join("shm-comm-schema/tests/fixtures/robot.rs");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        old == text,
        "tests/fixtures/robot.rs is stale; run `cargo run -p shm-comm-schema -- gen-rust {FIXTURE} -o shm-comm-schema/tests/fixtures/robot.rs` from the workspace root\n{}",
        first_diff(&old, &text)
    );
}

#[test]
fn user_module_agrees_with_the_compiler() {
    use shm_comm::ShmMessage;
    let schema = fixture();
    let derived = robot::all_layouts();
    let compiled: Vec<_> = schema.generated().map(|m| &m.layout).collect();
    assert_eq!(derived.len(), 4);
    for (d, c) in derived.iter().zip(&compiled) {
        assert_eq!(d.first_difference(c), None, "{}", d.name);
        assert_eq!(*d, *c);
        assert_eq!(d.hash(), c.hash());
    }
    // Standard types are reused, not redefined.
    let status = robot::RobotStatus::layout();
    let pose = status.fields.iter().find(|f| f.name == "pose").unwrap();
    assert_eq!(
        pose.ty,
        <shm_comm::msgs::Pose as shm_comm::ShmType>::type_desc()
    );
    // Explicit padding before the 8-aligned pose; keywords kept as field names.
    let names: Vec<&str> = status.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(&names[..4], ["header", "mode", "_pad0", "pose"]);
    assert!(names.contains(&"type") && names.contains(&"in"));
    assert_eq!(robot::RobotStatus::MODE_DRIVE, 1u8);
    let thermal = robot::ImageThermal::layout();
    assert_eq!(thermal.size as usize, 124 + 655_360);
    // A variable-size message: the generated type names its element, and
    // a topic of it refuses another element type.
    use shm_comm::varsize::{VarMessage, VarPub, VarSub};
    let scan = robot::Scan::var_layout();
    assert_eq!(scan.tail.as_ref().unwrap().elem.size, 16);
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = shm_comm::segment::force_unlink(&self.0);
        }
    }
    let name = format!("test/schema-scan/{}", std::process::id());
    let _cleanup = Cleanup(name.clone());
    let mut p = VarPub::<robot::Scan>::create(&name, 100).unwrap();
    let mut s = VarSub::<robot::Scan>::connect(&name).unwrap();
    let mut loan = p.loan_with_len(3).unwrap();
    loan.elems_mut()[2].ring = 9;
    loan.send().unwrap();
    assert_eq!(s.try_borrow().unwrap().elems()[2].ring, 9);
    let wrong = shm_comm::varsize::VarSubscriber::<robot::Scan, [u16; 8]>::connect(&name);
    assert!(matches!(
        wrong,
        Err(shm_comm::OpenError::LayoutMismatch { .. })
    ));
    drop(p);
    // The Python module of the same file has the same layouts.
    let py = generate_python(&schema);
    assert!(py.contains(&format!("\"hash\": 0x{:016x},", status.hash())));
    assert!(py.contains("from shm_comm.msgs import BatteryState, Header, Point, Pose"));
    assert!(py.contains("    in_: bool = False\n"));
}

#[test]
fn standard_messages_derive_default_and_partial_eq() {
    use shm_comm::msgs::{Imu, Odometry, PoseStamped};
    let mut imu = Imu::default();
    assert_eq!(imu, Imu::default());
    imu.header.frame_id.set("imu_link").unwrap();
    assert_ne!(imu, Imu::default());
    imu.orientation_covariance[4] = 0.5;
    let copy = imu;
    assert_eq!(copy, imu);
    assert_eq!(PoseStamped::default(), PoseStamped::default());
    assert_eq!(Odometry::default(), Odometry::default());
    // Large messages have no `Default` (it would build them on the stack):
    // `shm_comm::zeroed_box` makes them, and they still compare.
    let a: Box<shm_comm::msgs::ImageVga> = shm_comm::zeroed_box();
    let mut b: Box<shm_comm::msgs::ImageVga> = shm_comm::zeroed_box();
    assert!(*a == *b);
    b.data.push(1).unwrap();
    assert!(*a != *b);
}
