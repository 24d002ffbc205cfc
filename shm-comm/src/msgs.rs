//! The standard message set: time and header, geometry, sensors, images and
//! point clouds, as fixed-layout types (see the table in the README).
//!
//! Generated from `schemas/` by `shm-comm-schema`: do not edit. After changing a
//! schema, run `cargo run -p shm-comm-schema -- gen-std` from the workspace root;
//! it also writes the Python dataclasses of `shm_comm.msgs`, which have the same
//! layouts (a test checks that the checked-in files are up to date).
//!
//! Large messages (`ImageVga` is 900 KB, `Image4K` 24 MB) should not be built on
//! the stack (receiving one over 256 KiB by value does not compile): fill them
//! in place with `Publisher::loan()` (or in `shm_comm::zeroed_box()`), and read
//! them in place with `Subscriber::try_borrow()` or into a box with
//! `recv_into`/`recv_boxed`.

use crate::varsize::VarMessage;
use crate::{FixedString, FixedVec, Flag, ShmMessage};

/// The version of the schema format these types were generated from.
pub const SCHEMA_VERSION: u32 = 1;

/// A point in time: seconds and nanoseconds since an epoch (usually the Unix epoch, or CLOCK_MONOTONIC within one machine).
///
/// Layout: 8 bytes, align 4, hash 0x3607c3d5a8b91f39.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct Time {
    /// Whole seconds.
    pub sec: i32,
    /// Nanoseconds past `sec`, in 0..1_000_000_000.
    pub nanosec: u32,
}

/// A span of time: seconds and nanoseconds (negative durations have a negative `sec`).
///
/// Layout: 8 bytes, align 4, hash 0x3607c3d5a8b91f39.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct Duration {
    /// Whole seconds.
    pub sec: i32,
    /// Nanoseconds added to `sec`, in 0..1_000_000_000.
    pub nanosec: u32,
}

/// Standard metadata of a stamped message: when it was measured, its sequence number and the coordinate frame it is expressed in.
///
/// Layout: 80 bytes, align 4, hash 0x96a3f82de9d65e10.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct Header {
    /// Acquisition time of the data.
    pub stamp: Time,
    /// Sequence number, incremented by the publisher for each message.
    pub seq: u32,
    /// Coordinate frame of the data (at most 64 bytes of UTF-8).
    pub frame_id: FixedString<64>,
}

/// A vector in free space (a direction and magnitude, not a position).
///
/// Layout: 24 bytes, align 8, hash 0xd5074248d74fd4ff.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct Vector3 {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

/// A position in space.
///
/// Layout: 24 bytes, align 8, hash 0xd5074248d74fd4ff.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

/// An orientation as a unit quaternion (x, y, z, w); the identity is w = 1.
///
/// Layout: 32 bytes, align 8, hash 0x7ca95272ca376ad9.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct Quaternion {
    pub x: f64,
    pub y: f64,
    pub z: f64,
    pub w: f64,
}

/// A position and an orientation.
///
/// Layout: 56 bytes, align 8, hash 0xdef195e160b72f93.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct Pose {
    pub position: Point,
    pub orientation: Quaternion,
}

/// A pose with a header (time and frame).
///
/// Layout: 136 bytes, align 8, hash 0x66bb167fbb345702.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct PoseStamped {
    pub header: Header,
    pub pose: Pose,
}

/// A pose with its uncertainty.
///
/// Layout: 344 bytes, align 8, hash 0x1d3884330b7c03c6.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct PoseWithCovariance {
    pub pose: Pose,
    /// 6x6 covariance of (x, y, z, rotation about X, rotation about Y, rotation about Z), row by row.
    pub covariance: [[f64; 6]; 6],
}

/// Velocity in free space: linear and angular parts.
///
/// Layout: 48 bytes, align 8, hash 0xb763a7cf680e700d.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct Twist {
    /// Linear velocity, m/s.
    pub linear: Vector3,
    /// Angular velocity, rad/s.
    pub angular: Vector3,
}

/// A twist with a header (time and frame).
///
/// Layout: 128 bytes, align 8, hash 0xbf672d902313729f.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct TwistStamped {
    pub header: Header,
    pub twist: Twist,
}

/// A twist with its uncertainty.
///
/// Layout: 336 bytes, align 8, hash 0xc0d52ffe2115231b.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct TwistWithCovariance {
    pub twist: Twist,
    /// 6x6 covariance of (vx, vy, vz, wx, wy, wz), row by row.
    pub covariance: [[f64; 6]; 6],
}

/// The transform between two coordinate frames: a translation then a rotation.
///
/// Layout: 56 bytes, align 8, hash 0xdc254b9e6a7f589f.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct Transform {
    pub translation: Vector3,
    pub rotation: Quaternion,
}

/// The transform from frame `header.frame_id` to frame `child_frame_id`, at `header.stamp`.
///
/// Layout: 208 bytes, align 8, hash 0xc410619d7c0561c9.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct TransformStamped {
    pub header: Header,
    /// The frame this transform maps from.
    pub child_frame_id: FixedString<64>,
    /// Padding inserted by the schema compiler (always zero).
    pub _pad0: [u8; 4],
    pub transform: Transform,
}

/// Force and torque in free space.
///
/// Layout: 48 bytes, align 8, hash 0x2df8d3ff57b0f61d.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct Wrench {
    /// Force, N.
    pub force: Vector3,
    /// Torque, N m.
    pub torque: Vector3,
}

/// A wrench with a header (time and frame).
///
/// Layout: 128 bytes, align 8, hash 0x66652ff7df21712a.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct WrenchStamped {
    pub header: Header,
    pub wrench: Wrench,
}

/// Acceleration in free space: linear and angular parts.
///
/// Layout: 48 bytes, align 8, hash 0xb763a7cf680e700d.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct Accel {
    /// Linear acceleration, m/s^2.
    pub linear: Vector3,
    /// Angular acceleration, rad/s^2.
    pub angular: Vector3,
}

/// An acceleration with a header (time and frame).
///
/// Layout: 128 bytes, align 8, hash 0xd957f503bc3c390c.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct AccelStamped {
    pub header: Header,
    pub accel: Accel,
}

/// An estimate of position and velocity: the pose in `header.frame_id`, the twist in `child_frame_id`.
///
/// Layout: 832 bytes, align 8, hash 0x9b8dadf8cb6a8c57.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct Odometry {
    pub header: Header,
    /// The frame of the twist (usually the robot's base).
    pub child_frame_id: FixedString<64>,
    /// Padding inserted by the schema compiler (always zero).
    pub _pad0: [u8; 4],
    pub pose: PoseWithCovariance,
    pub twist: TwistWithCovariance,
}

/// An image of up to 640 x 480 x 3 bytes (VGA RGB8).
///
/// An uncompressed image: `height` rows of `step` bytes each, in `data`.
///
/// Variant of `Image` with CAPACITY = 921600.
///
/// Layout: 921724 bytes, align 4, hash 0x63684e128d5e1cd6.
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct ImageVga {
    /// `stamp` is the acquisition time; `frame_id` the camera's optical frame.
    pub header: Header,
    /// Rows.
    pub height: u32,
    /// Columns.
    pub width: u32,
    /// Pixel encoding, as in ROS: rgb8, bgr8, mono8, mono16, 16UC1, 32FC1, bayer_rggb8, ...
    pub encoding: FixedString<16>,
    /// Byte order of multi-byte pixels.
    pub is_bigendian: u8,
    /// Padding inserted by the schema compiler (always zero).
    pub _pad0: [u8; 3],
    /// Bytes per row.
    pub step: u32,
    /// `height * step` bytes of pixels, row by row.
    pub data: FixedVec<u8, 921600>,
}

/// An image of up to 1280 x 720 x 3 bytes (HD RGB8).
///
/// An uncompressed image: `height` rows of `step` bytes each, in `data`.
///
/// Variant of `Image` with CAPACITY = 2764800.
///
/// Layout: 2764924 bytes, align 4, hash 0x7b0793672ca24c52.
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct ImageHd {
    /// `stamp` is the acquisition time; `frame_id` the camera's optical frame.
    pub header: Header,
    /// Rows.
    pub height: u32,
    /// Columns.
    pub width: u32,
    /// Pixel encoding, as in ROS: rgb8, bgr8, mono8, mono16, 16UC1, 32FC1, bayer_rggb8, ...
    pub encoding: FixedString<16>,
    /// Byte order of multi-byte pixels.
    pub is_bigendian: u8,
    /// Padding inserted by the schema compiler (always zero).
    pub _pad0: [u8; 3],
    /// Bytes per row.
    pub step: u32,
    /// `height * step` bytes of pixels, row by row.
    pub data: FixedVec<u8, 2764800>,
}

/// An image of up to 1920 x 1080 x 3 bytes (Full HD RGB8).
///
/// An uncompressed image: `height` rows of `step` bytes each, in `data`.
///
/// Variant of `Image` with CAPACITY = 6220800.
///
/// Layout: 6220924 bytes, align 4, hash 0x77c2460894155822.
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct ImageFullHd {
    /// `stamp` is the acquisition time; `frame_id` the camera's optical frame.
    pub header: Header,
    /// Rows.
    pub height: u32,
    /// Columns.
    pub width: u32,
    /// Pixel encoding, as in ROS: rgb8, bgr8, mono8, mono16, 16UC1, 32FC1, bayer_rggb8, ...
    pub encoding: FixedString<16>,
    /// Byte order of multi-byte pixels.
    pub is_bigendian: u8,
    /// Padding inserted by the schema compiler (always zero).
    pub _pad0: [u8; 3],
    /// Bytes per row.
    pub step: u32,
    /// `height * step` bytes of pixels, row by row.
    pub data: FixedVec<u8, 6220800>,
}

/// An image of up to 3840 x 2160 x 3 bytes (4K UHD RGB8): 25 MB per slot.
///
/// An uncompressed image: `height` rows of `step` bytes each, in `data`.
///
/// Variant of `Image` with CAPACITY = 24883200.
///
/// Layout: 24883324 bytes, align 4, hash 0xd8524d9c3b977efc.
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct Image4K {
    /// `stamp` is the acquisition time; `frame_id` the camera's optical frame.
    pub header: Header,
    /// Rows.
    pub height: u32,
    /// Columns.
    pub width: u32,
    /// Pixel encoding, as in ROS: rgb8, bgr8, mono8, mono16, 16UC1, 32FC1, bayer_rggb8, ...
    pub encoding: FixedString<16>,
    /// Byte order of multi-byte pixels.
    pub is_bigendian: u8,
    /// Padding inserted by the schema compiler (always zero).
    pub _pad0: [u8; 3],
    /// Bytes per row.
    pub step: u32,
    /// `height * step` bytes of pixels, row by row.
    pub data: FixedVec<u8, 24883200>,
}

/// How one field of a point is stored in `PointCloud.data`.
///
/// Layout: 28 bytes, align 4, hash 0xa13914f77cba9cd3.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct PointField {
    /// Field name: x, y, z, intensity, rgb, ring, ...
    pub name: FixedString<12>,
    /// Byte offset in a point.
    pub offset: u32,
    /// One of the type constants.
    pub datatype: u8,
    /// Padding inserted by the schema compiler (always zero).
    pub _pad0: [u8; 3],
    /// Elements in the field (1 for a scalar).
    pub count: u32,
}

impl PointField {
    pub const INT8: u8 = 1;

    pub const UINT8: u8 = 2;

    pub const INT16: u8 = 3;

    pub const UINT16: u8 = 4;

    pub const INT32: u8 = 5;

    pub const UINT32: u8 = 6;

    pub const FLOAT32: u8 = 7;

    pub const FLOAT64: u8 = 8;
}

/// A point cloud of up to 1 MiB: 65536 points of 16 bytes (x, y, z, intensity as f32).
///
/// A point cloud: `height * width` points of `point_step` bytes each, described by `fields`. An unordered cloud has `height` 1.
///
/// Variant of `PointCloud` with CAPACITY = 1048576.
///
/// Layout: 1048916 bytes, align 4, hash 0xac31ae5a4f36cabd.
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct PointCloud64K {
    pub header: Header,
    /// Rows of an organized cloud, or 1.
    pub height: u32,
    /// Points per row.
    pub width: u32,
    /// The layout of a point.
    pub fields: FixedVec<PointField, 8>,
    pub is_bigendian: Flag,
    /// True if there are no invalid points.
    pub is_dense: Flag,
    /// Padding inserted by the schema compiler (always zero).
    pub _pad0: [u8; 2],
    /// Bytes per point.
    pub point_step: u32,
    /// Bytes per row.
    pub row_step: u32,
    /// `height * row_step` bytes of points.
    pub data: FixedVec<u8, 1048576>,
}

impl PointCloud64K {
    /// Capacity of `fields`.
    pub const MAX_FIELDS: u32 = 8;
}

/// A point cloud of up to 4 MiB: 262144 points of 16 bytes (a 128 x 2048 lidar).
///
/// A point cloud: `height * width` points of `point_step` bytes each, described by `fields`. An unordered cloud has `height` 1.
///
/// Variant of `PointCloud` with CAPACITY = 4194304.
///
/// Layout: 4194644 bytes, align 4, hash 0x4e38838efa76ee0d.
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct PointCloud256K {
    pub header: Header,
    /// Rows of an organized cloud, or 1.
    pub height: u32,
    /// Points per row.
    pub width: u32,
    /// The layout of a point.
    pub fields: FixedVec<PointField, 8>,
    pub is_bigendian: Flag,
    /// True if there are no invalid points.
    pub is_dense: Flag,
    /// Padding inserted by the schema compiler (always zero).
    pub _pad0: [u8; 2],
    /// Bytes per point.
    pub point_step: u32,
    /// Bytes per row.
    pub row_step: u32,
    /// `height * row_step` bytes of points.
    pub data: FixedVec<u8, 4194304>,
}

impl PointCloud256K {
    /// Capacity of `fields`.
    pub const MAX_FIELDS: u32 = 8;
}

/// A point cloud of up to 16 MiB: 1048576 points of 16 bytes.
///
/// A point cloud: `height * width` points of `point_step` bytes each, described by `fields`. An unordered cloud has `height` 1.
///
/// Variant of `PointCloud` with CAPACITY = 16777216.
///
/// Layout: 16777556 bytes, align 4, hash 0x2a55c3143898cb64.
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct PointCloud1M {
    pub header: Header,
    /// Rows of an organized cloud, or 1.
    pub height: u32,
    /// Points per row.
    pub width: u32,
    /// The layout of a point.
    pub fields: FixedVec<PointField, 8>,
    pub is_bigendian: Flag,
    /// True if there are no invalid points.
    pub is_dense: Flag,
    /// Padding inserted by the schema compiler (always zero).
    pub _pad0: [u8; 2],
    /// Bytes per point.
    pub point_step: u32,
    /// Bytes per row.
    pub row_step: u32,
    /// `height * row_step` bytes of points.
    pub data: FixedVec<u8, 16777216>,
}

impl PointCloud1M {
    /// Capacity of `fields`.
    pub const MAX_FIELDS: u32 = 8;
}

/// An uncompressed image of any size: `height` rows of `step` bytes each, in the `data` tail.
///
/// Variable size: followed by `data`, a run-time number of `u8` from byte 116 (see `shm_comm::varsize`).
///
/// `height * step` bytes of pixels, row by row.
///
/// Layout: 116 bytes, align 4, hash 0xf595e7db45c1ecef.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct VarImage {
    /// `stamp` is the acquisition time; `frame_id` the camera's optical frame.
    pub header: Header,
    /// Rows.
    pub height: u32,
    /// Columns.
    pub width: u32,
    /// Pixel encoding, as in ROS: rgb8, bgr8, mono8, mono16, 16UC1, 32FC1, bayer_rggb8, ...
    pub encoding: FixedString<16>,
    /// Byte order of multi-byte pixels.
    pub is_bigendian: u8,
    /// Padding inserted by the schema compiler (always zero).
    pub _pad0: [u8; 3],
    /// Bytes per row.
    pub step: u32,
}

impl VarMessage for VarImage {
    type Elem = u8;
}

/// A point cloud of any size, as ROS's PointCloud2: `height * width` points of `point_step` bytes each, described by `fields`, in the `data` tail. An unordered cloud has `height` 1.
///
/// Variable size: followed by `data`, a run-time number of `u8` from byte 332 (see `shm_comm::varsize`).
///
/// `height * row_step` bytes of points.
///
/// Layout: 332 bytes, align 4, hash 0x68f5b877201a1b01.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct VarPointCloud {
    pub header: Header,
    /// Rows of an organized cloud, or 1.
    pub height: u32,
    /// Points per row.
    pub width: u32,
    /// The layout of a point.
    pub fields: FixedVec<PointField, 8>,
    pub is_bigendian: Flag,
    /// True if there are no invalid points.
    pub is_dense: Flag,
    /// Padding inserted by the schema compiler (always zero).
    pub _pad0: [u8; 2],
    /// Bytes per point.
    pub point_step: u32,
    /// Bytes per row.
    pub row_step: u32,
}

impl VarMessage for VarPointCloud {
    type Elem = u8;
}

impl VarPointCloud {
    /// Capacity of `fields`.
    pub const MAX_FIELDS: u32 = 8;
}

/// An inertial measurement: orientation, angular velocity and linear acceleration, each with a 3x3 covariance (row by row). A covariance of all zeros means unknown; element 0 set to -1 means the quantity is not provided.
///
/// Layout: 376 bytes, align 8, hash 0x93083b9a5babdb51.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct Imu {
    pub header: Header,
    pub orientation: Quaternion,
    /// Covariance of the orientation, about X, Y, Z axes (rad^2).
    pub orientation_covariance: [f64; 9],
    /// rad/s.
    pub angular_velocity: Vector3,
    pub angular_velocity_covariance: [f64; 9],
    /// m/s^2.
    pub linear_acceleration: Vector3,
    pub linear_acceleration_covariance: [f64; 9],
}

/// A magnetometer reading.
///
/// Layout: 176 bytes, align 8, hash 0x76ac2eca16c4f69e.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct MagneticField {
    pub header: Header,
    /// Field vector, tesla.
    pub magnetic_field: Vector3,
    /// Row by row; all zeros means unknown.
    pub magnetic_field_covariance: [f64; 9],
}

/// The state of up to MAX_JOINTS joints. Each sequence holds either one entry per joint (in the order of `name`) or none at all when not measured.
///
/// Layout: 2032 bytes, align 8, hash 0x87679a4166cb1888.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct JointState {
    pub header: Header,
    /// Joint names.
    pub name: FixedVec<FixedString<32>, 32>,
    /// rad or m.
    pub position: FixedVec<f64, 32>,
    /// rad/s or m/s.
    pub velocity: FixedVec<f64, 32>,
    /// N m or N.
    pub effort: FixedVec<f64, 32>,
}

impl JointState {
    /// Capacity of each sequence.
    pub const MAX_JOINTS: u32 = 32;
}

/// One scan of a planar laser range finder: up to MAX_RANGES beams, counter-clockwise from `angle_min` with zero along the X axis.
///
/// Layout: 16508 bytes, align 4, hash 0xce885b3d74f4542e.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct LaserScan {
    /// `stamp` is the time of the first beam.
    pub header: Header,
    /// Angle of the first beam, rad.
    pub angle_min: f32,
    /// Angle of the last beam, rad.
    pub angle_max: f32,
    /// Angle between beams, rad.
    pub angle_increment: f32,
    /// Time between beams, s.
    pub time_increment: f32,
    /// Time between scans, s.
    pub scan_time: f32,
    /// Shortest valid range, m.
    pub range_min: f32,
    /// Longest valid range, m.
    pub range_max: f32,
    /// Ranges, m; values outside range_min..range_max are invalid.
    pub ranges: FixedVec<f32, 2048>,
    /// Device-specific intensities, one per range, or empty.
    pub intensities: FixedVec<f32, 2048>,
}

impl LaserScan {
    /// Capacity of `ranges` and `intensities`.
    pub const MAX_RANGES: u32 = 2048;
}

/// The fix status of a satellite navigation receiver.
///
/// Layout: 4 bytes, align 2, hash 0x9e03a6d8270f7399.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct NavSatStatus {
    /// One of the STATUS_ constants.
    pub status: i8,
    /// Padding inserted by the schema compiler (always zero).
    pub _pad0: [u8; 1],
    /// Bit mask of the SERVICE_ constants.
    pub service: u16,
}

impl NavSatStatus {
    /// Unable to fix position.
    pub const STATUS_NO_FIX: i8 = -1;

    /// Unaugmented fix.
    pub const STATUS_FIX: i8 = 0;

    /// Fix with satellite-based augmentation.
    pub const STATUS_SBAS_FIX: i8 = 1;

    /// Fix with ground-based augmentation.
    pub const STATUS_GBAS_FIX: i8 = 2;

    pub const SERVICE_GPS: u16 = 1;

    pub const SERVICE_GLONASS: u16 = 2;

    /// Includes BeiDou.
    pub const SERVICE_COMPASS: u16 = 4;

    pub const SERVICE_GALILEO: u16 = 8;
}

/// A position from a satellite navigation receiver (WGS 84).
///
/// Layout: 192 bytes, align 8, hash 0xf25323d997f68f7d.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct NavSatFix {
    /// `frame_id` is the antenna's frame.
    pub header: Header,
    pub status: NavSatStatus,
    /// Padding inserted by the schema compiler (always zero).
    pub _pad0: [u8; 4],
    /// Degrees, positive north.
    pub latitude: f64,
    /// Degrees, positive east.
    pub longitude: f64,
    /// Metres above the WGS 84 ellipsoid; NaN if unknown.
    pub altitude: f64,
    /// East, north, up covariance (m^2), row by row.
    pub position_covariance: [f64; 9],
    /// One of the COVARIANCE_TYPE_ constants.
    pub position_covariance_type: u8,
    /// Padding inserted by the schema compiler (always zero).
    pub _pad1: [u8; 7],
}

impl NavSatFix {
    pub const COVARIANCE_TYPE_UNKNOWN: u8 = 0;

    pub const COVARIANCE_TYPE_APPROXIMATED: u8 = 1;

    pub const COVARIANCE_TYPE_DIAGONAL_KNOWN: u8 = 2;

    pub const COVARIANCE_TYPE_KNOWN: u8 = 3;
}

/// The state of a battery. Unmeasured values are NaN.
///
/// Layout: 456 bytes, align 4, hash 0x0231a588f851c179.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct BatteryState {
    pub header: Header,
    /// V.
    pub voltage: f32,
    /// Degrees Celsius.
    pub temperature: f32,
    /// A; negative while discharging.
    pub current: f32,
    /// Ah.
    pub charge: f32,
    /// Capacity at full charge, Ah.
    pub capacity: f32,
    /// Capacity when new, Ah.
    pub design_capacity: f32,
    /// Charge as a fraction, 0 to 1.
    pub percentage: f32,
    /// One of the POWER_SUPPLY_STATUS_ constants.
    pub power_supply_status: u8,
    /// One of the POWER_SUPPLY_HEALTH_ constants.
    pub power_supply_health: u8,
    /// One of the POWER_SUPPLY_TECHNOLOGY_ constants.
    pub power_supply_technology: u8,
    /// Whether a battery is present.
    pub present: Flag,
    /// Per-cell voltages, V, or empty.
    pub cell_voltage: FixedVec<f32, 32>,
    /// Per-cell temperatures, degrees Celsius, or empty.
    pub cell_temperature: FixedVec<f32, 32>,
    /// Where the battery is (slot or connector).
    pub location: FixedString<32>,
    pub serial_number: FixedString<32>,
}

impl BatteryState {
    /// Capacity of the per-cell sequences.
    pub const MAX_CELLS: u32 = 32;

    pub const POWER_SUPPLY_STATUS_UNKNOWN: u8 = 0;

    pub const POWER_SUPPLY_STATUS_CHARGING: u8 = 1;

    pub const POWER_SUPPLY_STATUS_DISCHARGING: u8 = 2;

    pub const POWER_SUPPLY_STATUS_NOT_CHARGING: u8 = 3;

    pub const POWER_SUPPLY_STATUS_FULL: u8 = 4;

    pub const POWER_SUPPLY_HEALTH_UNKNOWN: u8 = 0;

    pub const POWER_SUPPLY_HEALTH_GOOD: u8 = 1;

    pub const POWER_SUPPLY_HEALTH_OVERHEAT: u8 = 2;

    pub const POWER_SUPPLY_HEALTH_DEAD: u8 = 3;

    pub const POWER_SUPPLY_HEALTH_OVERVOLTAGE: u8 = 4;

    pub const POWER_SUPPLY_HEALTH_UNSPEC_FAILURE: u8 = 5;

    pub const POWER_SUPPLY_HEALTH_COLD: u8 = 6;

    pub const POWER_SUPPLY_HEALTH_WATCHDOG_TIMER_EXPIRE: u8 = 7;

    pub const POWER_SUPPLY_HEALTH_SAFETY_TIMER_EXPIRE: u8 = 8;

    pub const POWER_SUPPLY_TECHNOLOGY_UNKNOWN: u8 = 0;

    pub const POWER_SUPPLY_TECHNOLOGY_NIMH: u8 = 1;

    pub const POWER_SUPPLY_TECHNOLOGY_LION: u8 = 2;

    pub const POWER_SUPPLY_TECHNOLOGY_LIPO: u8 = 3;

    pub const POWER_SUPPLY_TECHNOLOGY_LIFE: u8 = 4;

    pub const POWER_SUPPLY_TECHNOLOGY_NICD: u8 = 5;

    pub const POWER_SUPPLY_TECHNOLOGY_LIMN: u8 = 6;
}

/// A single range reading from a sensor with a cone of view (ultrasound, infrared).
///
/// Layout: 104 bytes, align 4, hash 0x758d31728b2b6725.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct Range {
    pub header: Header,
    /// ULTRASOUND or INFRARED.
    pub radiation_type: u8,
    /// Padding inserted by the schema compiler (always zero).
    pub _pad0: [u8; 3],
    /// Width of the cone, rad.
    pub field_of_view: f32,
    /// m.
    pub min_range: f32,
    /// m.
    pub max_range: f32,
    /// m; -Inf or +Inf when below or above the limits.
    pub range: f32,
    /// Variance of `range`, m^2; 0 if unknown.
    pub variance: f32,
}

impl Range {
    pub const ULTRASOUND: u8 = 0;

    pub const INFRARED: u8 = 1;
}

/// A temperature reading.
///
/// Layout: 96 bytes, align 8, hash 0x94c3c0a7fc57399a.
#[derive(ShmMessage, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
#[shm(crate = "crate")]
pub struct Temperature {
    pub header: Header,
    /// Degrees Celsius.
    pub temperature: f64,
    /// 0 if unknown.
    pub variance: f64,
}

/// The layout descriptors of every message of this module, in the order of the module.
pub fn all_layouts() -> Vec<&'static crate::LayoutDescriptor> {
    vec![
        Time::layout(),
        Duration::layout(),
        Header::layout(),
        Vector3::layout(),
        Point::layout(),
        Quaternion::layout(),
        Pose::layout(),
        PoseStamped::layout(),
        PoseWithCovariance::layout(),
        Twist::layout(),
        TwistStamped::layout(),
        TwistWithCovariance::layout(),
        Transform::layout(),
        TransformStamped::layout(),
        Wrench::layout(),
        WrenchStamped::layout(),
        Accel::layout(),
        AccelStamped::layout(),
        Odometry::layout(),
        ImageVga::layout(),
        ImageHd::layout(),
        ImageFullHd::layout(),
        Image4K::layout(),
        PointField::layout(),
        PointCloud64K::layout(),
        PointCloud256K::layout(),
        PointCloud1M::layout(),
        VarImage::var_layout(),
        VarPointCloud::var_layout(),
        Imu::layout(),
        MagneticField::layout(),
        JointState::layout(),
        LaserScan::layout(),
        NavSatStatus::layout(),
        NavSatFix::layout(),
        BatteryState::layout(),
        Range::layout(),
        Temperature::layout(),
    ]
}
