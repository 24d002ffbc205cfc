//! `#[derive(ShmMessage, Clone, Copy)]` on realistic robot messages: the layout descriptor
//! must say exactly what rustc says (`offset_of!`, `size_of`), hash by structure
//! only, and survive encoding.

// For `renamed_runtime_crate` below.
extern crate shm_comm as renamed;

use std::mem::{align_of, offset_of, size_of};

use shm_comm::{
    FieldDescriptor, FixedString, FixedVec, Flag, Kind, LayoutDescriptor, Scalar, ShmMessage,
    ShmType, TypeDesc,
};

/// A 3-vector.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
pub struct Vec3 {
    /// Metres, or whatever the field holding it says.
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

/// Common header.
#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
pub struct Header {
    pub stamp_ns: u64,
    pub seq: u32,
    pub frame_id: FixedString<32>,
}

#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
pub struct Imu {
    pub header: Header,
    pub orientation: [f64; 4],
    pub orientation_covariance: [f64; 9],
    pub angular_velocity: Vec3,
    pub linear_acceleration: Vec3,
    pub rotation: [[f32; 3]; 3],
    pub valid: Flag,
    pub saturated: [Flag; 3],
}

#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
pub struct JointState {
    pub header: Header,
    pub position: FixedVec<f64, 16>,
    pub velocity: FixedVec<f64, 16>,
    pub names: FixedString<64>,
    pub _pad: [u8; 4],
}

/// Every scalar, largest first, then explicit trailing padding.
#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
pub struct AllScalars {
    pub a_u64: u64,
    pub b_i64: i64,
    pub c_f64: f64,
    pub d_u32: u32,
    pub e_i32: i32,
    pub f_f32: f32,
    pub g_u16: u16,
    pub h_i16: i16,
    pub i_u8: u8,
    pub j_i8: i8,
    pub k_flag: Flag,
    pub _pad: [u8; 5],
}

/// Explicit padding in the middle and at the end.
#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
pub struct BatteryState {
    pub voltage: f32,
    pub _pad0: [u8; 4],
    pub charge: f64,
    pub cell_count: u8,
    pub present: Flag,
    pub _pad1: [u8; 6],
}

fn f64_desc() -> TypeDesc {
    TypeDesc::scalar(Scalar::F64)
}

/// Checks `$ty`'s descriptor against rustc, field by field: name, offset, size,
/// shape and kind, in declaration order; then size and alignment.
macro_rules! assert_layout {
    ($ty:ty { $($field:ident: $fty:ty => $kind:expr, $shape:expr;)* }) => {{
        let layout = <$ty as ShmMessage>::layout();
        let names: Vec<&str> = layout.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, [$(stringify!($field)),*], "field names of {}", stringify!($ty));
        let mut fields = layout.fields.iter();
        $(
            let f = fields.next().unwrap();
            let what = concat!(stringify!($ty), ".", stringify!($field));
            assert_eq!(f.offset as usize, offset_of!($ty, $field), "offset of {what}");
            assert_eq!(f.ty.size as usize, size_of::<$fty>(), "size of {what}");
            assert_eq!(f.ty.kind, $kind, "kind of {what}");
            let shape: Vec<u32> = $shape;
            assert_eq!(f.ty.shape, shape, "shape of {what}");
            assert_eq!(f.ty, <$fty as ShmType>::type_desc(), "type of {what}");
        )*
        assert_eq!(layout.name, stringify!($ty));
        assert_eq!(layout.size as usize, size_of::<$ty>(), "size of {}", stringify!($ty));
        assert_eq!(layout.align as usize, align_of::<$ty>(), "align of {}", stringify!($ty));
        layout
    }};
}

#[test]
fn vec3_is_exactly_the_hand_written_descriptor() {
    let expected = LayoutDescriptor::new(
        "Vec3",
        24,
        8,
        vec![
            FieldDescriptor::new("x", 0, f64_desc()),
            FieldDescriptor::new("y", 8, f64_desc()),
            FieldDescriptor::new("z", 16, f64_desc()),
        ],
    );
    assert_eq!(Vec3::layout(), &expected);
    assert_eq!(Vec3::layout_hash(), expected.hash());
    assert_eq!(Vec3::type_desc(), TypeDesc::of(Kind::Struct(expected)));
}

#[test]
fn header_with_fixed_string() {
    let layout = assert_layout!(Header {
        stamp_ns: u64 => Kind::Scalar(Scalar::U64), vec![];
        seq: u32 => Kind::Scalar(Scalar::U32), vec![];
        frame_id: FixedString<32> => Kind::FixedString { capacity: 32 }, vec![];
    });
    let offsets: Vec<u32> = layout.fields.iter().map(|f| f.offset).collect();
    assert_eq!(offsets, [0, 8, 12]);
    assert_eq!((layout.size, layout.align), (48, 8));
}

#[test]
fn imu_with_nested_structs_arrays_and_flags() {
    let layout = assert_layout!(Imu {
        header: Header => Kind::Struct(Header::layout().clone()), vec![];
        orientation: [f64; 4] => Kind::Scalar(Scalar::F64), vec![4];
        orientation_covariance: [f64; 9] => Kind::Scalar(Scalar::F64), vec![9];
        angular_velocity: Vec3 => Kind::Struct(Vec3::layout().clone()), vec![];
        linear_acceleration: Vec3 => Kind::Struct(Vec3::layout().clone()), vec![];
        rotation: [[f32; 3]; 3] => Kind::Scalar(Scalar::F32), vec![3, 3];
        valid: Flag => Kind::Scalar(Scalar::Flag), vec![];
        saturated: [Flag; 3] => Kind::Scalar(Scalar::Flag), vec![3];
    });
    let offsets: Vec<u32> = layout.fields.iter().map(|f| f.offset).collect();
    assert_eq!(offsets, [0, 48, 80, 152, 176, 200, 236, 237]);
    assert_eq!((layout.size, layout.align), (240, 8));
    assert_eq!(layout.fields[5].ty.to_string(), "[[f32; 3]; 3]");
    // The nested descriptor is the nested type's own.
    let Kind::Struct(header) = &layout.fields[0].ty.kind else {
        panic!("header is not a struct")
    };
    assert_eq!(header, Header::layout());
    assert_eq!(header.fields[2].ty.kind, Kind::FixedString { capacity: 32 });
}

#[test]
fn joint_state_with_fixed_vecs() {
    let vec16 = Kind::FixedVec {
        elem: Box::new(f64_desc()),
        capacity: 16,
    };
    let layout = assert_layout!(JointState {
        header: Header => Kind::Struct(Header::layout().clone()), vec![];
        position: FixedVec<f64, 16> => vec16.clone(), vec![];
        velocity: FixedVec<f64, 16> => vec16.clone(), vec![];
        names: FixedString<64> => Kind::FixedString { capacity: 64 }, vec![];
        _pad: [u8; 4] => Kind::Scalar(Scalar::U8), vec![4];
    });
    let offsets: Vec<u32> = layout.fields.iter().map(|f| f.offset).collect();
    assert_eq!(offsets, [0, 48, 184, 320, 388]);
    assert_eq!(layout.size, 392);
}

#[test]
fn every_scalar_width() {
    let layout = assert_layout!(AllScalars {
        a_u64: u64 => Kind::Scalar(Scalar::U64), vec![];
        b_i64: i64 => Kind::Scalar(Scalar::I64), vec![];
        c_f64: f64 => Kind::Scalar(Scalar::F64), vec![];
        d_u32: u32 => Kind::Scalar(Scalar::U32), vec![];
        e_i32: i32 => Kind::Scalar(Scalar::I32), vec![];
        f_f32: f32 => Kind::Scalar(Scalar::F32), vec![];
        g_u16: u16 => Kind::Scalar(Scalar::U16), vec![];
        h_i16: i16 => Kind::Scalar(Scalar::I16), vec![];
        i_u8: u8 => Kind::Scalar(Scalar::U8), vec![];
        j_i8: i8 => Kind::Scalar(Scalar::I8), vec![];
        k_flag: Flag => Kind::Scalar(Scalar::Flag), vec![];
        _pad: [u8; 5] => Kind::Scalar(Scalar::U8), vec![5];
    });
    let offsets: Vec<u32> = layout.fields.iter().map(|f| f.offset).collect();
    assert_eq!(offsets, [0, 8, 16, 24, 28, 32, 36, 38, 40, 41, 42, 43]);
    assert_eq!(layout.size, 48);
}

#[test]
fn explicit_padding_fields() {
    let layout = assert_layout!(BatteryState {
        voltage: f32 => Kind::Scalar(Scalar::F32), vec![];
        _pad0: [u8; 4] => Kind::Scalar(Scalar::U8), vec![4];
        charge: f64 => Kind::Scalar(Scalar::F64), vec![];
        cell_count: u8 => Kind::Scalar(Scalar::U8), vec![];
        present: Flag => Kind::Scalar(Scalar::Flag), vec![];
        _pad1: [u8; 6] => Kind::Scalar(Scalar::U8), vec![6];
    });
    let offsets: Vec<u32> = layout.fields.iter().map(|f| f.offset).collect();
    assert_eq!(offsets, [0, 4, 8, 16, 17, 18]);
    assert_eq!(layout.size, 24);
}

#[test]
fn descriptors_round_trip_through_their_encoding() {
    for layout in [
        Vec3::layout(),
        Header::layout(),
        Imu::layout(),
        JointState::layout(),
        AllScalars::layout(),
        BatteryState::layout(),
    ] {
        let back = LayoutDescriptor::decode(&layout.encode()).unwrap();
        assert_eq!(&back, layout, "{}", layout.pretty());
        assert_eq!(back.hash(), layout.hash(), "{}", layout.name);
    }
}

#[test]
fn layout_is_built_once() {
    assert!(std::ptr::eq(Imu::layout(), Imu::layout()));
}

/// The same pose, declared several times with one change each.
mod poses {
    use super::Vec3;
    use shm_comm::ShmMessage;

    #[derive(ShmMessage, Clone, Copy)]
    #[repr(C)]
    pub struct Pose {
        pub position: Vec3,
        pub yaw: f64,
    }

    /// Same structure, another type name (and doc comments).
    #[derive(ShmMessage, Clone, Copy)]
    #[repr(C)]
    pub struct RobotPose {
        /// Where.
        pub position: Vec3,
        /// Which way.
        pub yaw: f64,
    }

    #[derive(ShmMessage, Clone, Copy)]
    #[repr(C)]
    pub struct Renamed {
        pub position: Vec3,
        pub heading: f64,
    }

    #[derive(ShmMessage, Clone, Copy)]
    #[repr(C)]
    pub struct Reordered {
        pub yaw: f64,
        pub position: Vec3,
    }

    #[derive(ShmMessage, Clone, Copy)]
    #[repr(C)]
    pub struct Retyped {
        pub position: Vec3,
        pub yaw: i64,
    }

    /// A nested field renamed: `Vec3` with `w` instead of `z`.
    #[derive(ShmMessage, Clone, Copy)]
    #[repr(C)]
    pub struct Xyw {
        pub x: f64,
        pub y: f64,
        pub w: f64,
    }

    #[derive(ShmMessage, Clone, Copy)]
    #[repr(C)]
    pub struct NestedRenamed {
        pub position: Xyw,
        pub yaw: f64,
    }
}

#[test]
fn hash_depends_on_structure_not_on_type_name() {
    use poses::*;
    assert_eq!(Pose::layout_hash(), RobotPose::layout_hash());
    assert_eq!(Pose::layout().fields, RobotPose::layout().fields);
    assert_ne!(Pose::layout().name, RobotPose::layout().name);
    assert_eq!(Pose::layout().first_difference(RobotPose::layout()), None);

    for (other, what) in [
        (Renamed::layout(), "renamed field"),
        (Reordered::layout(), "reordered fields"),
        (Retyped::layout(), "retyped field"),
        (NestedRenamed::layout(), "renamed nested field"),
    ] {
        assert_ne!(Pose::layout_hash(), other.hash(), "{what}");
        assert!(Pose::layout().first_difference(other).is_some(), "{what}");
    }
    assert_eq!(
        Pose::layout().first_difference(Retyped::layout()).unwrap(),
        "`yaw`: f64 at offset 24 vs i64 at offset 24"
    );
}

#[test]
fn raw_identifiers_are_stored_without_prefix() {
    #[derive(ShmMessage, Clone, Copy)]
    #[repr(C)]
    struct r#Match {
        r#type: u32,
        r#ref: [u8; 4],
    }
    let layout = r#Match::layout();
    assert_eq!(layout.name, "Match");
    let names: Vec<&str> = layout.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["type", "ref"]);
    assert_eq!(layout.fields[1].offset as usize, offset_of!(r#Match, r#ref));
}

/// Names the generated code uses for its own items and locals, used by the
/// user's field types.
mod hygiene {
    use shm_comm::ShmMessage;

    pub const LAYOUT: usize = 4;
    #[allow(non_upper_case_globals)]
    pub const fields: usize = 2;
    pub const N: usize = 8;

    #[derive(ShmMessage, Clone, Copy)]
    #[repr(C)]
    pub struct Tricky {
        pub a: [u8; LAYOUT],
        pub b: [u16; fields],
        pub c: [u8; N],
    }
}

#[test]
fn generated_names_do_not_capture_user_constants() {
    let layout = hygiene::Tricky::layout();
    let shapes: Vec<&[u32]> = layout.fields.iter().map(|f| &f.ty.shape[..]).collect();
    assert_eq!(shapes, [&[4][..], &[2], &[8]]);
    assert_eq!(layout.size, 16);
}

#[test]
fn renamed_runtime_crate() {
    #[derive(renamed::ShmMessage, Clone, Copy)]
    #[shm(crate = "renamed")]
    #[repr(C)]
    struct Ping {
        seq: u64,
        payload: renamed::FixedVec<u16, 4>,
    }
    let layout = <Ping as renamed::ShmMessage>::layout();
    assert_eq!(layout.name, "Ping");
    assert_eq!(layout.size as usize, size_of::<Ping>());
    assert_eq!(layout.fields[1].offset as usize, offset_of!(Ping, payload));
    assert_eq!(
        layout.fields[1].ty.kind,
        Kind::FixedVec {
            elem: Box::new(TypeDesc::scalar(Scalar::U16)),
            capacity: 4
        }
    );
}

/// A message with a foreign `bytemuck::Pod` field (glam's, through its
/// `bytemuck` feature), stored as opaque bytes.
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct Waypoint {
    pub stamp_ns: u64,
    #[shm(pod)]
    pub position: glam::Vec3,
    pub speed: f32,
    #[shm(pod)]
    pub corners: [glam::Vec2; 2],
}

#[test]
fn pod_fields_are_opaque_with_their_size_and_alignment() {
    let layout = Waypoint::layout();
    let fields: Vec<(&str, u32, &TypeDesc)> = layout
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.offset, &f.ty))
        .collect();
    let opaque = |size, align| TypeDesc::of(Kind::Opaque { size, align });
    assert_eq!(
        fields,
        [
            ("stamp_ns", 0, &TypeDesc::scalar(Scalar::U64)),
            ("position", 8, &opaque(12, 4)),
            ("speed", 20, &TypeDesc::scalar(Scalar::F32)),
            ("corners", 24, &opaque(16, 4)),
        ]
    );
    assert_eq!(
        layout.fields[3].offset as usize,
        offset_of!(Waypoint, corners)
    );
    assert_eq!(
        (layout.size as usize, layout.align as usize),
        (size_of::<Waypoint>(), align_of::<Waypoint>())
    );
    assert_eq!(layout.size, 40);
    let back = LayoutDescriptor::decode(&layout.encode()).unwrap();
    assert_eq!(&back, layout);
    assert_eq!(back.hash(), layout.hash());
    assert_eq!(layout.fields[1].ty.to_string(), "opaque(12 bytes, align 4)");
}

/// The same bytes as `Waypoint`, with the vectors described as numbers.
#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
pub struct WaypointNumbers {
    pub stamp_ns: u64,
    pub position: [f32; 3],
    pub speed: f32,
    pub corners: [[f32; 2]; 2],
}

#[test]
fn an_opaque_field_is_not_the_numbers_it_holds() {
    assert_eq!(size_of::<Waypoint>(), size_of::<WaypointNumbers>());
    assert_ne!(Waypoint::layout_hash(), WaypointNumbers::layout_hash());
    assert_eq!(
        Waypoint::layout()
            .first_difference(WaypointNumbers::layout())
            .unwrap(),
        "`position`: opaque(12 bytes, align 4) at offset 8 vs [f32; 3] at offset 8"
    );
}

fn waypoints() -> [Waypoint; 3] {
    std::array::from_fn(|i| Waypoint {
        stamp_ns: 1_000 + i as u64,
        position: glam::Vec3::new(i as f32, 2.0, -3.5),
        speed: 0.25 * i as f32,
        corners: [glam::Vec2::splat(i as f32), glam::Vec2::new(-1.0, 8.0)],
    })
}

#[test]
fn bytemuck_casts_slices_of_messages_both_ways() {
    use shm_comm::bytemuck;
    let msgs = waypoints();
    let bytes: &[u8] = bytemuck::cast_slice(&msgs);
    assert_eq!(bytes.len(), 3 * size_of::<Waypoint>());
    assert_eq!(&bytes[..8], &1_000u64.to_ne_bytes());
    let at = offset_of!(Waypoint, position) + size_of::<Waypoint>();
    assert_eq!(&bytes[at..at + 4], &1.0f32.to_ne_bytes());
    // Back, from a copy with the message's alignment.
    let copy: Vec<u64> = bytemuck::cast_slice::<u8, u64>(bytes).to_vec();
    let back: &[Waypoint] = bytemuck::cast_slice(&copy);
    assert_eq!(back, &msgs);
    let zero: Imu = bytemuck::Zeroable::zeroed();
    assert_eq!(zero.header.stamp_ns, 0);
    assert!(!zero.valid.get());
    // Nested messages and the helpers are plain bytes too.
    let imu: &[u8] = bytemuck::bytes_of(&zero);
    assert!(imu.iter().all(|&b| b == 0) && imu.len() == size_of::<Imu>());
}

#[test]
fn zerocopy_reads_and_writes_messages_through_zc() {
    use shm_comm::zerocopy::{FromBytes, IntoBytes};
    use shm_comm::Zc;
    let msgs = waypoints();
    let bytes = Zc::from_ref(&msgs[1]).as_bytes();
    assert_eq!(bytes, shm_comm::bytemuck::bytes_of(&msgs[1]));
    let one = Zc::<Waypoint>::ref_from_bytes(bytes).unwrap();
    assert_eq!(**one, msgs[1]);
    assert_eq!(one.position, glam::Vec3::new(1.0, 2.0, -3.5));
    // A wrong length is refused.
    assert!(Zc::<Waypoint>::ref_from_bytes(&bytes[1..]).is_err());

    let all = Zc::slice_from(&msgs).as_bytes();
    let read = <[Zc<Waypoint>]>::ref_from_bytes(all).unwrap();
    assert_eq!(Zc::slice_as_inner(read), &msgs);
    // Misaligned bytes are refused, not read.
    let mut buf = vec![0u64; size_of::<Waypoint>() / 8 + 1];
    let raw = buf.as_mut_bytes();
    raw[1..1 + size_of::<Waypoint>()].copy_from_slice(bytes);
    assert!(Zc::<Waypoint>::ref_from_bytes(&raw[1..1 + size_of::<Waypoint>()]).is_err());
    let (read, _) = Zc::<Waypoint>::read_from_prefix(&raw[1..]).unwrap();
    assert_eq!(read.into_inner(), msgs[1]);

    // Writing through the wrapper writes the message.
    let mut msg = msgs[0];
    Zc::from_mut(&mut msg).as_mut_bytes()[..8].copy_from_slice(&7u64.to_ne_bytes());
    assert_eq!(msg.stamp_ns, 7);
}

/// Lengths the derive never reads: rustc computes them (`[T; N]` is one
/// generic `ShmType` impl), so a macro, a `const fn` or an associated
/// constant is as good as a literal, and the layout is whatever rustc laid
/// out.
mod computed_lengths {
    use shm_comm::ShmMessage;

    macro_rules! joints {
        () => {
            3 + 4
        };
    }
    macro_rules! vector {
        ($t:ty; $n:expr) => {
            [$t; $n]
        };
    }
    pub const fn rows(cams: usize) -> usize {
        cams * 2
    }
    pub struct Arm;
    impl Arm {
        pub const DOF: usize = 6;
    }

    #[derive(ShmMessage, Clone, Copy)]
    #[repr(C)]
    pub struct Computed {
        pub q: [f64; joints!()],
        pub v: vector!(f32; joints!() * 2),
        pub grid: [[u16; Arm::DOF]; rows(2)],
        pub bits: [u8; 1 << 3],
    }
}

#[test]
fn array_lengths_from_macros_and_const_fns_are_rustc_s() {
    use computed_lengths::Computed;
    let layout = Computed::layout();
    let shapes: Vec<&[u32]> = layout.fields.iter().map(|f| &f.ty.shape[..]).collect();
    assert_eq!(shapes, [&[7][..], &[14], &[4, 6], &[8]]);
    let offsets: Vec<u32> = layout.fields.iter().map(|f| f.offset).collect();
    assert_eq!(
        offsets,
        [
            offset_of!(Computed, q) as u32,
            offset_of!(Computed, v) as u32,
            offset_of!(Computed, grid) as u32,
            offset_of!(Computed, bits) as u32,
        ]
    );
    assert_eq!(layout.size as usize, size_of::<Computed>());
    assert_eq!(layout.size, 7 * 8 + 14 * 4 + 4 * 6 * 2 + 8);
}
