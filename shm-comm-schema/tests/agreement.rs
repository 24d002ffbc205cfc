//! The agreement proof, Rust side: for every message of the standard set, the
//! layout descriptor that `#[derive(ShmMessage)]` builds from rustc's layout
//! of the generated type (`shm_comm::msgs`) is the one the schema compiler
//! computes from `schemas/`, field by field, with the same hash.
//!
//! The Python side (`python/tests/test_msgs.py`) compiles the same TOML files
//! with this compiler (`shm_comm.schema` calls it through the native module)
//! and compares the layouts with those of the derive, in another process.

use shm_comm::{Kind, LayoutDescriptor, TypeDesc};
use shm_comm_schema::{compile_std, read_sources, std_sources, STD_FILES};

/// Compares two descriptors field by field, recursively, with a message
/// naming the first difference.
fn same(path: &str, ours: &LayoutDescriptor, theirs: &LayoutDescriptor) {
    assert_eq!(ours.name, theirs.name, "{path}: type name");
    assert_eq!(ours.size, theirs.size, "{path}: size");
    assert_eq!(ours.align, theirs.align, "{path}: align");
    assert_eq!(
        ours.fields.len(),
        theirs.fields.len(),
        "{path}: number of fields"
    );
    for (a, b) in ours.fields.iter().zip(&theirs.fields) {
        let here = format!("{path}.{}", a.name);
        assert_eq!(a.name, b.name, "{here}: name");
        assert_eq!(a.offset, b.offset, "{here}: offset");
        same_type(&here, &a.ty, &b.ty);
    }
    assert_eq!(ours.hash(), theirs.hash(), "{path}: hash");
    assert_eq!(ours, theirs, "{path}");
}

fn same_type(path: &str, a: &TypeDesc, b: &TypeDesc) {
    assert_eq!(a.size, b.size, "{path}: size");
    assert_eq!(a.shape, b.shape, "{path}: shape");
    match (&a.kind, &b.kind) {
        (Kind::Struct(x), Kind::Struct(y)) => same(path, x, y),
        (
            Kind::FixedVec {
                elem: x,
                capacity: n,
            },
            Kind::FixedVec {
                elem: y,
                capacity: m,
            },
        ) => {
            assert_eq!(n, m, "{path}: capacity");
            same_type(&format!("{path}[]"), x, y);
        }
        (x, y) => assert_eq!(x, y, "{path}: kind"),
    }
}

#[test]
fn derive_and_schema_agree_on_every_standard_message() {
    let schema = compile_std(&std_sources()).unwrap();
    let derived = shm_comm::msgs::all_layouts();
    let compiled: Vec<&LayoutDescriptor> = schema.generated().map(|m| &m.layout).collect();
    let names = |v: &[&LayoutDescriptor]| v.iter().map(|l| l.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&derived), names(&compiled), "the same messages");
    for (d, c) in derived.iter().zip(&compiled) {
        same(&d.name, d, c);
        assert_eq!(d.first_difference(c), None);
    }
    // The whole set the issue asks for is there.
    for name in [
        "Time",
        "Header",
        "Vector3",
        "Point",
        "Quaternion",
        "Pose",
        "PoseStamped",
        "Twist",
        "TwistStamped",
        "Transform",
        "TransformStamped",
        "Wrench",
        "Accel",
        "Imu",
        "JointState",
        "LaserScan",
        "NavSatFix",
        "BatteryState",
        "Range",
        "Temperature",
        "ImageVga",
        "ImageHd",
        "ImageFullHd",
        "Image4K",
        "PointCloud64K",
    ] {
        assert!(schema.get(name).is_some(), "{name} is missing");
    }
}

#[test]
fn sizes_match_rustc() {
    use shm_comm::msgs::*;
    use shm_comm::ShmMessage;
    use std::mem::{align_of, size_of};
    assert_eq!(Imu::layout().size as usize, size_of::<Imu>());
    assert_eq!(size_of::<Header>(), 80);
    assert_eq!(align_of::<Header>(), 4);
    assert_eq!(size_of::<ImageVga>(), 124 + 640 * 480 * 3);
    assert_eq!(size_of::<Image4K>(), 124 + 3840 * 2160 * 3);
    // Padding the compiler made explicit: `_pad0` after the frame id.
    let t = TransformStamped::layout();
    let pad = t.fields.iter().find(|f| f.name == "_pad0").unwrap();
    assert_eq!((pad.offset, pad.ty.size), (148, 4));
    let fix = NavSatFix::layout();
    let names: Vec<&str> = fix.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "header",
            "status",
            "_pad0",
            "latitude",
            "longitude",
            "altitude",
            "position_covariance",
            "position_covariance_type",
            "_pad1"
        ]
    );
    assert_eq!(NavSatStatus::STATUS_NO_FIX, -1i8);
    assert_eq!(JointState::MAX_JOINTS, 32u32);
}

#[test]
fn embedded_standard_set_is_the_schemas_directory() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas");
    let on_disk = read_sources(&[dir]).unwrap();
    let names: Vec<String> = on_disk
        .iter()
        .map(|s| s.path.rsplit('/').next().unwrap().to_owned())
        .collect();
    let embedded: Vec<&str> = STD_FILES.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names, embedded,
        "STD_FILES in shm-comm-schema/src/lib.rs must list every file of schemas/"
    );
    for (s, (_, text)) in on_disk.iter().zip(STD_FILES) {
        assert_eq!(&s.text, text, "{}", s.path);
    }
}
