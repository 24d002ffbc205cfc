"""The standard message set: time and header, geometry, sensors, images and
point clouds, as dataclasses with the layouts of the Rust types of
`shm_comm::msgs` (see the table in the README).

Generated from `schemas/` by `shm-comm-schema`: do not edit. After changing a
schema, run `cargo run -p shm-comm-schema -- gen-std` from the workspace root
(a test checks that the checked-in files are up to date).

Each class has `__shm_layout__` (its layout dict) and `__shm_dtype__` (its numpy
dtype): pass it as `msg_type=` to `shm_comm.Publisher` and `shm_comm.Subscriber`.
For large messages (images, point clouds), `Subscriber.recv_view()` and
`shm_comm.typed.view()` give numpy views into the shared slot, without a copy.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from . import typed

__all__ = [
    "Time",
    "Duration",
    "Header",
    "Vector3",
    "Point",
    "Quaternion",
    "Pose",
    "PoseStamped",
    "PoseWithCovariance",
    "Twist",
    "TwistStamped",
    "TwistWithCovariance",
    "Transform",
    "TransformStamped",
    "Wrench",
    "WrenchStamped",
    "Accel",
    "AccelStamped",
    "Odometry",
    "ImageVga",
    "ImageHd",
    "ImageFullHd",
    "Image4K",
    "PointField",
    "PointCloud64K",
    "PointCloud256K",
    "PointCloud1M",
    "VarImage",
    "VarPointCloud",
    "Imu",
    "MagneticField",
    "JointState",
    "LaserScan",
    "NavSatStatus",
    "NavSatFix",
    "BatteryState",
    "Range",
    "Temperature",
]

#: The version of the schema format these classes were generated from.
SCHEMA_VERSION = 1


@typed.register
@dataclasses.dataclass
class Time:
    """A point in time: seconds and nanoseconds since an epoch (usually the Unix epoch, or CLOCK_MONOTONIC within one machine).

    Layout: 8 bytes, align 4, hash 0x3607c3d5a8b91f39.
    """

    sec: int = 0
    """Whole seconds."""
    nanosec: int = 0
    """Nanoseconds past `sec`, in 0..1_000_000_000."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "Time",
        "size": 8,
        "align": 4,
        "hash": 0x3607c3d5a8b91f39,
        "fields": [
            {"name": "sec", "offset": 0, "size": 4, "shape": [], "kind": "i32"},
            {"name": "nanosec", "offset": 4, "size": 4, "shape": [], "kind": "u32"},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class Duration:
    """A span of time: seconds and nanoseconds (negative durations have a negative `sec`).

    Layout: 8 bytes, align 4, hash 0x3607c3d5a8b91f39.
    """

    sec: int = 0
    """Whole seconds."""
    nanosec: int = 0
    """Nanoseconds added to `sec`, in 0..1_000_000_000."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "Duration",
        "size": 8,
        "align": 4,
        "hash": 0x3607c3d5a8b91f39,
        "fields": [
            {"name": "sec", "offset": 0, "size": 4, "shape": [], "kind": "i32"},
            {"name": "nanosec", "offset": 4, "size": 4, "shape": [], "kind": "u32"},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class Header:
    """Standard metadata of a stamped message: when it was measured, its sequence number and the coordinate frame it is expressed in.

    Layout: 80 bytes, align 4, hash 0x96a3f82de9d65e10.
    """

    stamp: Time = dataclasses.field(default_factory=Time)
    """Acquisition time of the data."""
    seq: int = 0
    """Sequence number, incremented by the publisher for each message."""
    frame_id: str = ""
    """Coordinate frame of the data (at most 64 bytes of UTF-8)."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "Header",
        "size": 80,
        "align": 4,
        "hash": 0x96a3f82de9d65e10,
        "fields": [
            {"name": "stamp", "offset": 0, "size": 8, "shape": [], "kind": "struct", "layout": Time.__shm_layout__},
            {"name": "seq", "offset": 8, "size": 4, "shape": [], "kind": "u32"},
            {"name": "frame_id", "offset": 12, "size": 68, "shape": [], "kind": "string", "capacity": 64},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class Vector3:
    """A vector in free space (a direction and magnitude, not a position).

    Layout: 24 bytes, align 8, hash 0xd5074248d74fd4ff.
    """

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "Vector3",
        "size": 24,
        "align": 8,
        "hash": 0xd5074248d74fd4ff,
        "fields": [
            {"name": "x", "offset": 0, "size": 8, "shape": [], "kind": "f64"},
            {"name": "y", "offset": 8, "size": 8, "shape": [], "kind": "f64"},
            {"name": "z", "offset": 16, "size": 8, "shape": [], "kind": "f64"},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class Point:
    """A position in space.

    Layout: 24 bytes, align 8, hash 0xd5074248d74fd4ff.
    """

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "Point",
        "size": 24,
        "align": 8,
        "hash": 0xd5074248d74fd4ff,
        "fields": [
            {"name": "x", "offset": 0, "size": 8, "shape": [], "kind": "f64"},
            {"name": "y", "offset": 8, "size": 8, "shape": [], "kind": "f64"},
            {"name": "z", "offset": 16, "size": 8, "shape": [], "kind": "f64"},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class Quaternion:
    """An orientation as a unit quaternion (x, y, z, w); the identity is w = 1.

    Layout: 32 bytes, align 8, hash 0x7ca95272ca376ad9.
    """

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    w: float = 0.0

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "Quaternion",
        "size": 32,
        "align": 8,
        "hash": 0x7ca95272ca376ad9,
        "fields": [
            {"name": "x", "offset": 0, "size": 8, "shape": [], "kind": "f64"},
            {"name": "y", "offset": 8, "size": 8, "shape": [], "kind": "f64"},
            {"name": "z", "offset": 16, "size": 8, "shape": [], "kind": "f64"},
            {"name": "w", "offset": 24, "size": 8, "shape": [], "kind": "f64"},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class Pose:
    """A position and an orientation.

    Layout: 56 bytes, align 8, hash 0xdef195e160b72f93.
    """

    position: Point = dataclasses.field(default_factory=Point)
    orientation: Quaternion = dataclasses.field(default_factory=Quaternion)

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "Pose",
        "size": 56,
        "align": 8,
        "hash": 0xdef195e160b72f93,
        "fields": [
            {"name": "position", "offset": 0, "size": 24, "shape": [], "kind": "struct", "layout": Point.__shm_layout__},
            {"name": "orientation", "offset": 24, "size": 32, "shape": [], "kind": "struct", "layout": Quaternion.__shm_layout__},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class PoseStamped:
    """A pose with a header (time and frame).

    Layout: 136 bytes, align 8, hash 0x66bb167fbb345702.
    """

    header: Header = dataclasses.field(default_factory=Header)
    pose: Pose = dataclasses.field(default_factory=Pose)

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "PoseStamped",
        "size": 136,
        "align": 8,
        "hash": 0x66bb167fbb345702,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "pose", "offset": 80, "size": 56, "shape": [], "kind": "struct", "layout": Pose.__shm_layout__},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class PoseWithCovariance:
    """A pose with its uncertainty.

    Layout: 344 bytes, align 8, hash 0x1d3884330b7c03c6.
    """

    pose: Pose = dataclasses.field(default_factory=Pose)
    covariance: npt.NDArray[np.float64] = dataclasses.field(default_factory=lambda: np.zeros((6, 6), dtype="<f8"))
    """6x6 covariance of (x, y, z, rotation about X, rotation about Y, rotation about Z), row by row."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "PoseWithCovariance",
        "size": 344,
        "align": 8,
        "hash": 0x1d3884330b7c03c6,
        "fields": [
            {"name": "pose", "offset": 0, "size": 56, "shape": [], "kind": "struct", "layout": Pose.__shm_layout__},
            {"name": "covariance", "offset": 56, "size": 288, "shape": [6, 6], "kind": "f64"},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class Twist:
    """Velocity in free space: linear and angular parts.

    Layout: 48 bytes, align 8, hash 0xb763a7cf680e700d.
    """

    linear: Vector3 = dataclasses.field(default_factory=Vector3)
    """Linear velocity, m/s."""
    angular: Vector3 = dataclasses.field(default_factory=Vector3)
    """Angular velocity, rad/s."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "Twist",
        "size": 48,
        "align": 8,
        "hash": 0xb763a7cf680e700d,
        "fields": [
            {"name": "linear", "offset": 0, "size": 24, "shape": [], "kind": "struct", "layout": Vector3.__shm_layout__},
            {"name": "angular", "offset": 24, "size": 24, "shape": [], "kind": "struct", "layout": Vector3.__shm_layout__},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class TwistStamped:
    """A twist with a header (time and frame).

    Layout: 128 bytes, align 8, hash 0xbf672d902313729f.
    """

    header: Header = dataclasses.field(default_factory=Header)
    twist: Twist = dataclasses.field(default_factory=Twist)

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "TwistStamped",
        "size": 128,
        "align": 8,
        "hash": 0xbf672d902313729f,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "twist", "offset": 80, "size": 48, "shape": [], "kind": "struct", "layout": Twist.__shm_layout__},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class TwistWithCovariance:
    """A twist with its uncertainty.

    Layout: 336 bytes, align 8, hash 0xc0d52ffe2115231b.
    """

    twist: Twist = dataclasses.field(default_factory=Twist)
    covariance: npt.NDArray[np.float64] = dataclasses.field(default_factory=lambda: np.zeros((6, 6), dtype="<f8"))
    """6x6 covariance of (vx, vy, vz, wx, wy, wz), row by row."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "TwistWithCovariance",
        "size": 336,
        "align": 8,
        "hash": 0xc0d52ffe2115231b,
        "fields": [
            {"name": "twist", "offset": 0, "size": 48, "shape": [], "kind": "struct", "layout": Twist.__shm_layout__},
            {"name": "covariance", "offset": 48, "size": 288, "shape": [6, 6], "kind": "f64"},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class Transform:
    """The transform between two coordinate frames: a translation then a rotation.

    Layout: 56 bytes, align 8, hash 0xdc254b9e6a7f589f.
    """

    translation: Vector3 = dataclasses.field(default_factory=Vector3)
    rotation: Quaternion = dataclasses.field(default_factory=Quaternion)

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "Transform",
        "size": 56,
        "align": 8,
        "hash": 0xdc254b9e6a7f589f,
        "fields": [
            {"name": "translation", "offset": 0, "size": 24, "shape": [], "kind": "struct", "layout": Vector3.__shm_layout__},
            {"name": "rotation", "offset": 24, "size": 32, "shape": [], "kind": "struct", "layout": Quaternion.__shm_layout__},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class TransformStamped:
    """The transform from frame `header.frame_id` to frame `child_frame_id`, at `header.stamp`.

    Layout: 208 bytes, align 8, hash 0xc410619d7c0561c9.
    """

    header: Header = dataclasses.field(default_factory=Header)
    child_frame_id: str = ""
    """The frame this transform maps from."""
    _pad0: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros((4,), dtype="<u1"), repr=False)
    """Padding inserted by the schema compiler (always zero)."""
    transform: Transform = dataclasses.field(default_factory=Transform)

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "TransformStamped",
        "size": 208,
        "align": 8,
        "hash": 0xc410619d7c0561c9,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "child_frame_id", "offset": 80, "size": 68, "shape": [], "kind": "string", "capacity": 64},
            {"name": "_pad0", "offset": 148, "size": 4, "shape": [4], "kind": "u8"},
            {"name": "transform", "offset": 152, "size": 56, "shape": [], "kind": "struct", "layout": Transform.__shm_layout__},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class Wrench:
    """Force and torque in free space.

    Layout: 48 bytes, align 8, hash 0x2df8d3ff57b0f61d.
    """

    force: Vector3 = dataclasses.field(default_factory=Vector3)
    """Force, N."""
    torque: Vector3 = dataclasses.field(default_factory=Vector3)
    """Torque, N m."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "Wrench",
        "size": 48,
        "align": 8,
        "hash": 0x2df8d3ff57b0f61d,
        "fields": [
            {"name": "force", "offset": 0, "size": 24, "shape": [], "kind": "struct", "layout": Vector3.__shm_layout__},
            {"name": "torque", "offset": 24, "size": 24, "shape": [], "kind": "struct", "layout": Vector3.__shm_layout__},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class WrenchStamped:
    """A wrench with a header (time and frame).

    Layout: 128 bytes, align 8, hash 0x66652ff7df21712a.
    """

    header: Header = dataclasses.field(default_factory=Header)
    wrench: Wrench = dataclasses.field(default_factory=Wrench)

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "WrenchStamped",
        "size": 128,
        "align": 8,
        "hash": 0x66652ff7df21712a,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "wrench", "offset": 80, "size": 48, "shape": [], "kind": "struct", "layout": Wrench.__shm_layout__},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class Accel:
    """Acceleration in free space: linear and angular parts.

    Layout: 48 bytes, align 8, hash 0xb763a7cf680e700d.
    """

    linear: Vector3 = dataclasses.field(default_factory=Vector3)
    """Linear acceleration, m/s^2."""
    angular: Vector3 = dataclasses.field(default_factory=Vector3)
    """Angular acceleration, rad/s^2."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "Accel",
        "size": 48,
        "align": 8,
        "hash": 0xb763a7cf680e700d,
        "fields": [
            {"name": "linear", "offset": 0, "size": 24, "shape": [], "kind": "struct", "layout": Vector3.__shm_layout__},
            {"name": "angular", "offset": 24, "size": 24, "shape": [], "kind": "struct", "layout": Vector3.__shm_layout__},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class AccelStamped:
    """An acceleration with a header (time and frame).

    Layout: 128 bytes, align 8, hash 0xd957f503bc3c390c.
    """

    header: Header = dataclasses.field(default_factory=Header)
    accel: Accel = dataclasses.field(default_factory=Accel)

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "AccelStamped",
        "size": 128,
        "align": 8,
        "hash": 0xd957f503bc3c390c,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "accel", "offset": 80, "size": 48, "shape": [], "kind": "struct", "layout": Accel.__shm_layout__},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class Odometry:
    """An estimate of position and velocity: the pose in `header.frame_id`, the twist in `child_frame_id`.

    Layout: 832 bytes, align 8, hash 0x9b8dadf8cb6a8c57.
    """

    header: Header = dataclasses.field(default_factory=Header)
    child_frame_id: str = ""
    """The frame of the twist (usually the robot's base)."""
    _pad0: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros((4,), dtype="<u1"), repr=False)
    """Padding inserted by the schema compiler (always zero)."""
    pose: PoseWithCovariance = dataclasses.field(default_factory=PoseWithCovariance)
    twist: TwistWithCovariance = dataclasses.field(default_factory=TwistWithCovariance)

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "Odometry",
        "size": 832,
        "align": 8,
        "hash": 0x9b8dadf8cb6a8c57,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "child_frame_id", "offset": 80, "size": 68, "shape": [], "kind": "string", "capacity": 64},
            {"name": "_pad0", "offset": 148, "size": 4, "shape": [4], "kind": "u8"},
            {"name": "pose", "offset": 152, "size": 344, "shape": [], "kind": "struct", "layout": PoseWithCovariance.__shm_layout__},
            {"name": "twist", "offset": 496, "size": 336, "shape": [], "kind": "struct", "layout": TwistWithCovariance.__shm_layout__},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class ImageVga:
    """An image of up to 640 x 480 x 3 bytes (VGA RGB8).

    An uncompressed image: `height` rows of `step` bytes each, in `data`.

    Variant of `Image` with CAPACITY = 921600.

    Layout: 921724 bytes, align 4, hash 0x63684e128d5e1cd6.
    """

    header: Header = dataclasses.field(default_factory=Header)
    """`stamp` is the acquisition time; `frame_id` the camera's optical frame."""
    height: int = 0
    """Rows."""
    width: int = 0
    """Columns."""
    encoding: str = ""
    """Pixel encoding, as in ROS: rgb8, bgr8, mono8, mono16, 16UC1, 32FC1, bayer_rggb8, ..."""
    is_bigendian: int = 0
    """Byte order of multi-byte pixels."""
    _pad0: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros((3,), dtype="<u1"), repr=False)
    """Padding inserted by the schema compiler (always zero)."""
    step: int = 0
    """Bytes per row."""
    data: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros(0, dtype="<u1"))
    """`height * step` bytes of pixels, row by row."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "ImageVga",
        "size": 921724,
        "align": 4,
        "hash": 0x63684e128d5e1cd6,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "height", "offset": 80, "size": 4, "shape": [], "kind": "u32"},
            {"name": "width", "offset": 84, "size": 4, "shape": [], "kind": "u32"},
            {"name": "encoding", "offset": 88, "size": 20, "shape": [], "kind": "string", "capacity": 16},
            {"name": "is_bigendian", "offset": 108, "size": 1, "shape": [], "kind": "u8"},
            {"name": "_pad0", "offset": 109, "size": 3, "shape": [3], "kind": "u8"},
            {"name": "step", "offset": 112, "size": 4, "shape": [], "kind": "u32"},
            {"name": "data", "offset": 116, "size": 921608, "shape": [], "kind": "vec", "capacity": 921600, "elem": {"size": 1, "shape": [], "kind": "u8"}},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class ImageHd:
    """An image of up to 1280 x 720 x 3 bytes (HD RGB8).

    An uncompressed image: `height` rows of `step` bytes each, in `data`.

    Variant of `Image` with CAPACITY = 2764800.

    Layout: 2764924 bytes, align 4, hash 0x7b0793672ca24c52.
    """

    header: Header = dataclasses.field(default_factory=Header)
    """`stamp` is the acquisition time; `frame_id` the camera's optical frame."""
    height: int = 0
    """Rows."""
    width: int = 0
    """Columns."""
    encoding: str = ""
    """Pixel encoding, as in ROS: rgb8, bgr8, mono8, mono16, 16UC1, 32FC1, bayer_rggb8, ..."""
    is_bigendian: int = 0
    """Byte order of multi-byte pixels."""
    _pad0: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros((3,), dtype="<u1"), repr=False)
    """Padding inserted by the schema compiler (always zero)."""
    step: int = 0
    """Bytes per row."""
    data: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros(0, dtype="<u1"))
    """`height * step` bytes of pixels, row by row."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "ImageHd",
        "size": 2764924,
        "align": 4,
        "hash": 0x7b0793672ca24c52,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "height", "offset": 80, "size": 4, "shape": [], "kind": "u32"},
            {"name": "width", "offset": 84, "size": 4, "shape": [], "kind": "u32"},
            {"name": "encoding", "offset": 88, "size": 20, "shape": [], "kind": "string", "capacity": 16},
            {"name": "is_bigendian", "offset": 108, "size": 1, "shape": [], "kind": "u8"},
            {"name": "_pad0", "offset": 109, "size": 3, "shape": [3], "kind": "u8"},
            {"name": "step", "offset": 112, "size": 4, "shape": [], "kind": "u32"},
            {"name": "data", "offset": 116, "size": 2764808, "shape": [], "kind": "vec", "capacity": 2764800, "elem": {"size": 1, "shape": [], "kind": "u8"}},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class ImageFullHd:
    """An image of up to 1920 x 1080 x 3 bytes (Full HD RGB8).

    An uncompressed image: `height` rows of `step` bytes each, in `data`.

    Variant of `Image` with CAPACITY = 6220800.

    Layout: 6220924 bytes, align 4, hash 0x77c2460894155822.
    """

    header: Header = dataclasses.field(default_factory=Header)
    """`stamp` is the acquisition time; `frame_id` the camera's optical frame."""
    height: int = 0
    """Rows."""
    width: int = 0
    """Columns."""
    encoding: str = ""
    """Pixel encoding, as in ROS: rgb8, bgr8, mono8, mono16, 16UC1, 32FC1, bayer_rggb8, ..."""
    is_bigendian: int = 0
    """Byte order of multi-byte pixels."""
    _pad0: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros((3,), dtype="<u1"), repr=False)
    """Padding inserted by the schema compiler (always zero)."""
    step: int = 0
    """Bytes per row."""
    data: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros(0, dtype="<u1"))
    """`height * step` bytes of pixels, row by row."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "ImageFullHd",
        "size": 6220924,
        "align": 4,
        "hash": 0x77c2460894155822,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "height", "offset": 80, "size": 4, "shape": [], "kind": "u32"},
            {"name": "width", "offset": 84, "size": 4, "shape": [], "kind": "u32"},
            {"name": "encoding", "offset": 88, "size": 20, "shape": [], "kind": "string", "capacity": 16},
            {"name": "is_bigendian", "offset": 108, "size": 1, "shape": [], "kind": "u8"},
            {"name": "_pad0", "offset": 109, "size": 3, "shape": [3], "kind": "u8"},
            {"name": "step", "offset": 112, "size": 4, "shape": [], "kind": "u32"},
            {"name": "data", "offset": 116, "size": 6220808, "shape": [], "kind": "vec", "capacity": 6220800, "elem": {"size": 1, "shape": [], "kind": "u8"}},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class Image4K:
    """An image of up to 3840 x 2160 x 3 bytes (4K UHD RGB8): 25 MB per slot.

    An uncompressed image: `height` rows of `step` bytes each, in `data`.

    Variant of `Image` with CAPACITY = 24883200.

    Layout: 24883324 bytes, align 4, hash 0xd8524d9c3b977efc.
    """

    header: Header = dataclasses.field(default_factory=Header)
    """`stamp` is the acquisition time; `frame_id` the camera's optical frame."""
    height: int = 0
    """Rows."""
    width: int = 0
    """Columns."""
    encoding: str = ""
    """Pixel encoding, as in ROS: rgb8, bgr8, mono8, mono16, 16UC1, 32FC1, bayer_rggb8, ..."""
    is_bigendian: int = 0
    """Byte order of multi-byte pixels."""
    _pad0: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros((3,), dtype="<u1"), repr=False)
    """Padding inserted by the schema compiler (always zero)."""
    step: int = 0
    """Bytes per row."""
    data: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros(0, dtype="<u1"))
    """`height * step` bytes of pixels, row by row."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "Image4K",
        "size": 24883324,
        "align": 4,
        "hash": 0xd8524d9c3b977efc,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "height", "offset": 80, "size": 4, "shape": [], "kind": "u32"},
            {"name": "width", "offset": 84, "size": 4, "shape": [], "kind": "u32"},
            {"name": "encoding", "offset": 88, "size": 20, "shape": [], "kind": "string", "capacity": 16},
            {"name": "is_bigendian", "offset": 108, "size": 1, "shape": [], "kind": "u8"},
            {"name": "_pad0", "offset": 109, "size": 3, "shape": [3], "kind": "u8"},
            {"name": "step", "offset": 112, "size": 4, "shape": [], "kind": "u32"},
            {"name": "data", "offset": 116, "size": 24883208, "shape": [], "kind": "vec", "capacity": 24883200, "elem": {"size": 1, "shape": [], "kind": "u8"}},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class PointField:
    """How one field of a point is stored in `PointCloud.data`.

    Layout: 28 bytes, align 4, hash 0xa13914f77cba9cd3.
    """

    INT8: ClassVar[int] = 1

    UINT8: ClassVar[int] = 2

    INT16: ClassVar[int] = 3

    UINT16: ClassVar[int] = 4

    INT32: ClassVar[int] = 5

    UINT32: ClassVar[int] = 6

    FLOAT32: ClassVar[int] = 7

    FLOAT64: ClassVar[int] = 8

    name: str = ""
    """Field name: x, y, z, intensity, rgb, ring, ..."""
    offset: int = 0
    """Byte offset in a point."""
    datatype: int = 0
    """One of the type constants."""
    _pad0: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros((3,), dtype="<u1"), repr=False)
    """Padding inserted by the schema compiler (always zero)."""
    count: int = 0
    """Elements in the field (1 for a scalar)."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "PointField",
        "size": 28,
        "align": 4,
        "hash": 0xa13914f77cba9cd3,
        "fields": [
            {"name": "name", "offset": 0, "size": 16, "shape": [], "kind": "string", "capacity": 12},
            {"name": "offset", "offset": 16, "size": 4, "shape": [], "kind": "u32"},
            {"name": "datatype", "offset": 20, "size": 1, "shape": [], "kind": "u8"},
            {"name": "_pad0", "offset": 21, "size": 3, "shape": [3], "kind": "u8"},
            {"name": "count", "offset": 24, "size": 4, "shape": [], "kind": "u32"},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class PointCloud64K:
    """A point cloud of up to 1 MiB: 65536 points of 16 bytes (x, y, z, intensity as f32).

    A point cloud: `height * width` points of `point_step` bytes each, described by `fields`. An unordered cloud has `height` 1.

    Variant of `PointCloud` with CAPACITY = 1048576.

    Layout: 1048916 bytes, align 4, hash 0xac31ae5a4f36cabd.
    """

    MAX_FIELDS: ClassVar[int] = 8
    """Capacity of `fields`."""

    header: Header = dataclasses.field(default_factory=Header)
    height: int = 0
    """Rows of an organized cloud, or 1."""
    width: int = 0
    """Points per row."""
    fields: list[PointField] = dataclasses.field(default_factory=list)
    """The layout of a point."""
    is_bigendian: bool = False
    is_dense: bool = False
    """True if there are no invalid points."""
    _pad0: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros((2,), dtype="<u1"), repr=False)
    """Padding inserted by the schema compiler (always zero)."""
    point_step: int = 0
    """Bytes per point."""
    row_step: int = 0
    """Bytes per row."""
    data: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros(0, dtype="<u1"))
    """`height * row_step` bytes of points."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "PointCloud64K",
        "size": 1048916,
        "align": 4,
        "hash": 0xac31ae5a4f36cabd,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "height", "offset": 80, "size": 4, "shape": [], "kind": "u32"},
            {"name": "width", "offset": 84, "size": 4, "shape": [], "kind": "u32"},
            {"name": "fields", "offset": 88, "size": 232, "shape": [], "kind": "vec", "capacity": 8, "elem": {"size": 28, "shape": [], "kind": "struct", "layout": PointField.__shm_layout__}},
            {"name": "is_bigendian", "offset": 320, "size": 1, "shape": [], "kind": "flag"},
            {"name": "is_dense", "offset": 321, "size": 1, "shape": [], "kind": "flag"},
            {"name": "_pad0", "offset": 322, "size": 2, "shape": [2], "kind": "u8"},
            {"name": "point_step", "offset": 324, "size": 4, "shape": [], "kind": "u32"},
            {"name": "row_step", "offset": 328, "size": 4, "shape": [], "kind": "u32"},
            {"name": "data", "offset": 332, "size": 1048584, "shape": [], "kind": "vec", "capacity": 1048576, "elem": {"size": 1, "shape": [], "kind": "u8"}},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class PointCloud256K:
    """A point cloud of up to 4 MiB: 262144 points of 16 bytes (a 128 x 2048 lidar).

    A point cloud: `height * width` points of `point_step` bytes each, described by `fields`. An unordered cloud has `height` 1.

    Variant of `PointCloud` with CAPACITY = 4194304.

    Layout: 4194644 bytes, align 4, hash 0x4e38838efa76ee0d.
    """

    MAX_FIELDS: ClassVar[int] = 8
    """Capacity of `fields`."""

    header: Header = dataclasses.field(default_factory=Header)
    height: int = 0
    """Rows of an organized cloud, or 1."""
    width: int = 0
    """Points per row."""
    fields: list[PointField] = dataclasses.field(default_factory=list)
    """The layout of a point."""
    is_bigendian: bool = False
    is_dense: bool = False
    """True if there are no invalid points."""
    _pad0: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros((2,), dtype="<u1"), repr=False)
    """Padding inserted by the schema compiler (always zero)."""
    point_step: int = 0
    """Bytes per point."""
    row_step: int = 0
    """Bytes per row."""
    data: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros(0, dtype="<u1"))
    """`height * row_step` bytes of points."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "PointCloud256K",
        "size": 4194644,
        "align": 4,
        "hash": 0x4e38838efa76ee0d,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "height", "offset": 80, "size": 4, "shape": [], "kind": "u32"},
            {"name": "width", "offset": 84, "size": 4, "shape": [], "kind": "u32"},
            {"name": "fields", "offset": 88, "size": 232, "shape": [], "kind": "vec", "capacity": 8, "elem": {"size": 28, "shape": [], "kind": "struct", "layout": PointField.__shm_layout__}},
            {"name": "is_bigendian", "offset": 320, "size": 1, "shape": [], "kind": "flag"},
            {"name": "is_dense", "offset": 321, "size": 1, "shape": [], "kind": "flag"},
            {"name": "_pad0", "offset": 322, "size": 2, "shape": [2], "kind": "u8"},
            {"name": "point_step", "offset": 324, "size": 4, "shape": [], "kind": "u32"},
            {"name": "row_step", "offset": 328, "size": 4, "shape": [], "kind": "u32"},
            {"name": "data", "offset": 332, "size": 4194312, "shape": [], "kind": "vec", "capacity": 4194304, "elem": {"size": 1, "shape": [], "kind": "u8"}},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class PointCloud1M:
    """A point cloud of up to 16 MiB: 1048576 points of 16 bytes.

    A point cloud: `height * width` points of `point_step` bytes each, described by `fields`. An unordered cloud has `height` 1.

    Variant of `PointCloud` with CAPACITY = 16777216.

    Layout: 16777556 bytes, align 4, hash 0x2a55c3143898cb64.
    """

    MAX_FIELDS: ClassVar[int] = 8
    """Capacity of `fields`."""

    header: Header = dataclasses.field(default_factory=Header)
    height: int = 0
    """Rows of an organized cloud, or 1."""
    width: int = 0
    """Points per row."""
    fields: list[PointField] = dataclasses.field(default_factory=list)
    """The layout of a point."""
    is_bigendian: bool = False
    is_dense: bool = False
    """True if there are no invalid points."""
    _pad0: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros((2,), dtype="<u1"), repr=False)
    """Padding inserted by the schema compiler (always zero)."""
    point_step: int = 0
    """Bytes per point."""
    row_step: int = 0
    """Bytes per row."""
    data: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros(0, dtype="<u1"))
    """`height * row_step` bytes of points."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "PointCloud1M",
        "size": 16777556,
        "align": 4,
        "hash": 0x2a55c3143898cb64,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "height", "offset": 80, "size": 4, "shape": [], "kind": "u32"},
            {"name": "width", "offset": 84, "size": 4, "shape": [], "kind": "u32"},
            {"name": "fields", "offset": 88, "size": 232, "shape": [], "kind": "vec", "capacity": 8, "elem": {"size": 28, "shape": [], "kind": "struct", "layout": PointField.__shm_layout__}},
            {"name": "is_bigendian", "offset": 320, "size": 1, "shape": [], "kind": "flag"},
            {"name": "is_dense", "offset": 321, "size": 1, "shape": [], "kind": "flag"},
            {"name": "_pad0", "offset": 322, "size": 2, "shape": [2], "kind": "u8"},
            {"name": "point_step", "offset": 324, "size": 4, "shape": [], "kind": "u32"},
            {"name": "row_step", "offset": 328, "size": 4, "shape": [], "kind": "u32"},
            {"name": "data", "offset": 332, "size": 16777224, "shape": [], "kind": "vec", "capacity": 16777216, "elem": {"size": 1, "shape": [], "kind": "u8"}},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class VarImage:
    """An uncompressed image of any size: `height` rows of `step` bytes each, in the `data` tail.

    Variable size: followed by `data`, a run-time number of `u8` from byte 116 (see `shm_comm::varsize`).

    `height * step` bytes of pixels, row by row.

    Layout: 116 bytes, align 4, hash 0xf595e7db45c1ecef.
    """

    header: Header = dataclasses.field(default_factory=Header)
    """`stamp` is the acquisition time; `frame_id` the camera's optical frame."""
    height: int = 0
    """Rows."""
    width: int = 0
    """Columns."""
    encoding: str = ""
    """Pixel encoding, as in ROS: rgb8, bgr8, mono8, mono16, 16UC1, 32FC1, bayer_rggb8, ..."""
    is_bigendian: int = 0
    """Byte order of multi-byte pixels."""
    _pad0: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros((3,), dtype="<u1"), repr=False)
    """Padding inserted by the schema compiler (always zero)."""
    step: int = 0
    """Bytes per row."""
    data: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros((0,), dtype="<u1"))
    """`height * step` bytes of pixels, row by row.

    The tail: as many elements as the message has, at most the topic's `max_len`.
    """

    __shm_tail__: ClassVar[str] = "data"
    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "VarImage",
        "size": 116,
        "align": 4,
        "hash": 0xf595e7db45c1ecef,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "height", "offset": 80, "size": 4, "shape": [], "kind": "u32"},
            {"name": "width", "offset": 84, "size": 4, "shape": [], "kind": "u32"},
            {"name": "encoding", "offset": 88, "size": 20, "shape": [], "kind": "string", "capacity": 16},
            {"name": "is_bigendian", "offset": 108, "size": 1, "shape": [], "kind": "u8"},
            {"name": "_pad0", "offset": 109, "size": 3, "shape": [3], "kind": "u8"},
            {"name": "step", "offset": 112, "size": 4, "shape": [], "kind": "u32"},
        ],
        "tail": {"offset": 116, "max_len": 0, "generation": 0, "base": 0, "elem": {"size": 1, "shape": [], "kind": "u8"}},
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class VarPointCloud:
    """A point cloud of any size, as ROS's PointCloud2: `height * width` points of `point_step` bytes each, described by `fields`, in the `data` tail. An unordered cloud has `height` 1.

    Variable size: followed by `data`, a run-time number of `u8` from byte 332 (see `shm_comm::varsize`).

    `height * row_step` bytes of points.

    Layout: 332 bytes, align 4, hash 0x68f5b877201a1b01.
    """

    MAX_FIELDS: ClassVar[int] = 8
    """Capacity of `fields`."""

    header: Header = dataclasses.field(default_factory=Header)
    height: int = 0
    """Rows of an organized cloud, or 1."""
    width: int = 0
    """Points per row."""
    fields: list[PointField] = dataclasses.field(default_factory=list)
    """The layout of a point."""
    is_bigendian: bool = False
    is_dense: bool = False
    """True if there are no invalid points."""
    _pad0: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros((2,), dtype="<u1"), repr=False)
    """Padding inserted by the schema compiler (always zero)."""
    point_step: int = 0
    """Bytes per point."""
    row_step: int = 0
    """Bytes per row."""
    data: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros((0,), dtype="<u1"))
    """`height * row_step` bytes of points.

    The tail: as many elements as the message has, at most the topic's `max_len`.
    """

    __shm_tail__: ClassVar[str] = "data"
    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "VarPointCloud",
        "size": 332,
        "align": 4,
        "hash": 0x68f5b877201a1b01,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "height", "offset": 80, "size": 4, "shape": [], "kind": "u32"},
            {"name": "width", "offset": 84, "size": 4, "shape": [], "kind": "u32"},
            {"name": "fields", "offset": 88, "size": 232, "shape": [], "kind": "vec", "capacity": 8, "elem": {"size": 28, "shape": [], "kind": "struct", "layout": PointField.__shm_layout__}},
            {"name": "is_bigendian", "offset": 320, "size": 1, "shape": [], "kind": "flag"},
            {"name": "is_dense", "offset": 321, "size": 1, "shape": [], "kind": "flag"},
            {"name": "_pad0", "offset": 322, "size": 2, "shape": [2], "kind": "u8"},
            {"name": "point_step", "offset": 324, "size": 4, "shape": [], "kind": "u32"},
            {"name": "row_step", "offset": 328, "size": 4, "shape": [], "kind": "u32"},
        ],
        "tail": {"offset": 332, "max_len": 0, "generation": 0, "base": 0, "elem": {"size": 1, "shape": [], "kind": "u8"}},
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class Imu:
    """An inertial measurement: orientation, angular velocity and linear acceleration, each with a 3x3 covariance (row by row). A covariance of all zeros means unknown; element 0 set to -1 means the quantity is not provided.

    Layout: 376 bytes, align 8, hash 0x93083b9a5babdb51.
    """

    header: Header = dataclasses.field(default_factory=Header)
    orientation: Quaternion = dataclasses.field(default_factory=Quaternion)
    orientation_covariance: npt.NDArray[np.float64] = dataclasses.field(default_factory=lambda: np.zeros((9,), dtype="<f8"))
    """Covariance of the orientation, about X, Y, Z axes (rad^2)."""
    angular_velocity: Vector3 = dataclasses.field(default_factory=Vector3)
    """rad/s."""
    angular_velocity_covariance: npt.NDArray[np.float64] = dataclasses.field(default_factory=lambda: np.zeros((9,), dtype="<f8"))
    linear_acceleration: Vector3 = dataclasses.field(default_factory=Vector3)
    """m/s^2."""
    linear_acceleration_covariance: npt.NDArray[np.float64] = dataclasses.field(default_factory=lambda: np.zeros((9,), dtype="<f8"))

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "Imu",
        "size": 376,
        "align": 8,
        "hash": 0x93083b9a5babdb51,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "orientation", "offset": 80, "size": 32, "shape": [], "kind": "struct", "layout": Quaternion.__shm_layout__},
            {"name": "orientation_covariance", "offset": 112, "size": 72, "shape": [9], "kind": "f64"},
            {"name": "angular_velocity", "offset": 184, "size": 24, "shape": [], "kind": "struct", "layout": Vector3.__shm_layout__},
            {"name": "angular_velocity_covariance", "offset": 208, "size": 72, "shape": [9], "kind": "f64"},
            {"name": "linear_acceleration", "offset": 280, "size": 24, "shape": [], "kind": "struct", "layout": Vector3.__shm_layout__},
            {"name": "linear_acceleration_covariance", "offset": 304, "size": 72, "shape": [9], "kind": "f64"},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class MagneticField:
    """A magnetometer reading.

    Layout: 176 bytes, align 8, hash 0x76ac2eca16c4f69e.
    """

    header: Header = dataclasses.field(default_factory=Header)
    magnetic_field: Vector3 = dataclasses.field(default_factory=Vector3)
    """Field vector, tesla."""
    magnetic_field_covariance: npt.NDArray[np.float64] = dataclasses.field(default_factory=lambda: np.zeros((9,), dtype="<f8"))
    """Row by row; all zeros means unknown."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "MagneticField",
        "size": 176,
        "align": 8,
        "hash": 0x76ac2eca16c4f69e,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "magnetic_field", "offset": 80, "size": 24, "shape": [], "kind": "struct", "layout": Vector3.__shm_layout__},
            {"name": "magnetic_field_covariance", "offset": 104, "size": 72, "shape": [9], "kind": "f64"},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class JointState:
    """The state of up to MAX_JOINTS joints. Each sequence holds either one entry per joint (in the order of `name`) or none at all when not measured.

    Layout: 2032 bytes, align 8, hash 0x87679a4166cb1888.
    """

    MAX_JOINTS: ClassVar[int] = 32
    """Capacity of each sequence."""

    header: Header = dataclasses.field(default_factory=Header)
    name: list[str] = dataclasses.field(default_factory=list)
    """Joint names."""
    position: npt.NDArray[np.float64] = dataclasses.field(default_factory=lambda: np.zeros(0, dtype="<f8"))
    """rad or m."""
    velocity: npt.NDArray[np.float64] = dataclasses.field(default_factory=lambda: np.zeros(0, dtype="<f8"))
    """rad/s or m/s."""
    effort: npt.NDArray[np.float64] = dataclasses.field(default_factory=lambda: np.zeros(0, dtype="<f8"))
    """N m or N."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "JointState",
        "size": 2032,
        "align": 8,
        "hash": 0x87679a4166cb1888,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "name", "offset": 80, "size": 1160, "shape": [], "kind": "vec", "capacity": 32, "elem": {"size": 36, "shape": [], "kind": "string", "capacity": 32}},
            {"name": "position", "offset": 1240, "size": 264, "shape": [], "kind": "vec", "capacity": 32, "elem": {"size": 8, "shape": [], "kind": "f64"}},
            {"name": "velocity", "offset": 1504, "size": 264, "shape": [], "kind": "vec", "capacity": 32, "elem": {"size": 8, "shape": [], "kind": "f64"}},
            {"name": "effort", "offset": 1768, "size": 264, "shape": [], "kind": "vec", "capacity": 32, "elem": {"size": 8, "shape": [], "kind": "f64"}},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class LaserScan:
    """One scan of a planar laser range finder: up to MAX_RANGES beams, counter-clockwise from `angle_min` with zero along the X axis.

    Layout: 16508 bytes, align 4, hash 0xce885b3d74f4542e.
    """

    MAX_RANGES: ClassVar[int] = 2048
    """Capacity of `ranges` and `intensities`."""

    header: Header = dataclasses.field(default_factory=Header)
    """`stamp` is the time of the first beam."""
    angle_min: float = 0.0
    """Angle of the first beam, rad."""
    angle_max: float = 0.0
    """Angle of the last beam, rad."""
    angle_increment: float = 0.0
    """Angle between beams, rad."""
    time_increment: float = 0.0
    """Time between beams, s."""
    scan_time: float = 0.0
    """Time between scans, s."""
    range_min: float = 0.0
    """Shortest valid range, m."""
    range_max: float = 0.0
    """Longest valid range, m."""
    ranges: npt.NDArray[np.float32] = dataclasses.field(default_factory=lambda: np.zeros(0, dtype="<f4"))
    """Ranges, m; values outside range_min..range_max are invalid."""
    intensities: npt.NDArray[np.float32] = dataclasses.field(default_factory=lambda: np.zeros(0, dtype="<f4"))
    """Device-specific intensities, one per range, or empty."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "LaserScan",
        "size": 16508,
        "align": 4,
        "hash": 0xce885b3d74f4542e,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "angle_min", "offset": 80, "size": 4, "shape": [], "kind": "f32"},
            {"name": "angle_max", "offset": 84, "size": 4, "shape": [], "kind": "f32"},
            {"name": "angle_increment", "offset": 88, "size": 4, "shape": [], "kind": "f32"},
            {"name": "time_increment", "offset": 92, "size": 4, "shape": [], "kind": "f32"},
            {"name": "scan_time", "offset": 96, "size": 4, "shape": [], "kind": "f32"},
            {"name": "range_min", "offset": 100, "size": 4, "shape": [], "kind": "f32"},
            {"name": "range_max", "offset": 104, "size": 4, "shape": [], "kind": "f32"},
            {"name": "ranges", "offset": 108, "size": 8200, "shape": [], "kind": "vec", "capacity": 2048, "elem": {"size": 4, "shape": [], "kind": "f32"}},
            {"name": "intensities", "offset": 8308, "size": 8200, "shape": [], "kind": "vec", "capacity": 2048, "elem": {"size": 4, "shape": [], "kind": "f32"}},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class NavSatStatus:
    """The fix status of a satellite navigation receiver.

    Layout: 4 bytes, align 2, hash 0x9e03a6d8270f7399.
    """

    STATUS_NO_FIX: ClassVar[int] = -1
    """Unable to fix position."""

    STATUS_FIX: ClassVar[int] = 0
    """Unaugmented fix."""

    STATUS_SBAS_FIX: ClassVar[int] = 1
    """Fix with satellite-based augmentation."""

    STATUS_GBAS_FIX: ClassVar[int] = 2
    """Fix with ground-based augmentation."""

    SERVICE_GPS: ClassVar[int] = 1

    SERVICE_GLONASS: ClassVar[int] = 2

    SERVICE_COMPASS: ClassVar[int] = 4
    """Includes BeiDou."""

    SERVICE_GALILEO: ClassVar[int] = 8

    status: int = 0
    """One of the STATUS_ constants."""
    _pad0: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros((1,), dtype="<u1"), repr=False)
    """Padding inserted by the schema compiler (always zero)."""
    service: int = 0
    """Bit mask of the SERVICE_ constants."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "NavSatStatus",
        "size": 4,
        "align": 2,
        "hash": 0x9e03a6d8270f7399,
        "fields": [
            {"name": "status", "offset": 0, "size": 1, "shape": [], "kind": "i8"},
            {"name": "_pad0", "offset": 1, "size": 1, "shape": [1], "kind": "u8"},
            {"name": "service", "offset": 2, "size": 2, "shape": [], "kind": "u16"},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class NavSatFix:
    """A position from a satellite navigation receiver (WGS 84).

    Layout: 192 bytes, align 8, hash 0xf25323d997f68f7d.
    """

    COVARIANCE_TYPE_UNKNOWN: ClassVar[int] = 0

    COVARIANCE_TYPE_APPROXIMATED: ClassVar[int] = 1

    COVARIANCE_TYPE_DIAGONAL_KNOWN: ClassVar[int] = 2

    COVARIANCE_TYPE_KNOWN: ClassVar[int] = 3

    header: Header = dataclasses.field(default_factory=Header)
    """`frame_id` is the antenna's frame."""
    status: NavSatStatus = dataclasses.field(default_factory=NavSatStatus)
    _pad0: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros((4,), dtype="<u1"), repr=False)
    """Padding inserted by the schema compiler (always zero)."""
    latitude: float = 0.0
    """Degrees, positive north."""
    longitude: float = 0.0
    """Degrees, positive east."""
    altitude: float = 0.0
    """Metres above the WGS 84 ellipsoid; NaN if unknown."""
    position_covariance: npt.NDArray[np.float64] = dataclasses.field(default_factory=lambda: np.zeros((9,), dtype="<f8"))
    """East, north, up covariance (m^2), row by row."""
    position_covariance_type: int = 0
    """One of the COVARIANCE_TYPE_ constants."""
    _pad1: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros((7,), dtype="<u1"), repr=False)
    """Padding inserted by the schema compiler (always zero)."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "NavSatFix",
        "size": 192,
        "align": 8,
        "hash": 0xf25323d997f68f7d,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "status", "offset": 80, "size": 4, "shape": [], "kind": "struct", "layout": NavSatStatus.__shm_layout__},
            {"name": "_pad0", "offset": 84, "size": 4, "shape": [4], "kind": "u8"},
            {"name": "latitude", "offset": 88, "size": 8, "shape": [], "kind": "f64"},
            {"name": "longitude", "offset": 96, "size": 8, "shape": [], "kind": "f64"},
            {"name": "altitude", "offset": 104, "size": 8, "shape": [], "kind": "f64"},
            {"name": "position_covariance", "offset": 112, "size": 72, "shape": [9], "kind": "f64"},
            {"name": "position_covariance_type", "offset": 184, "size": 1, "shape": [], "kind": "u8"},
            {"name": "_pad1", "offset": 185, "size": 7, "shape": [7], "kind": "u8"},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class BatteryState:
    """The state of a battery. Unmeasured values are NaN.

    Layout: 456 bytes, align 4, hash 0x0231a588f851c179.
    """

    MAX_CELLS: ClassVar[int] = 32
    """Capacity of the per-cell sequences."""

    POWER_SUPPLY_STATUS_UNKNOWN: ClassVar[int] = 0

    POWER_SUPPLY_STATUS_CHARGING: ClassVar[int] = 1

    POWER_SUPPLY_STATUS_DISCHARGING: ClassVar[int] = 2

    POWER_SUPPLY_STATUS_NOT_CHARGING: ClassVar[int] = 3

    POWER_SUPPLY_STATUS_FULL: ClassVar[int] = 4

    POWER_SUPPLY_HEALTH_UNKNOWN: ClassVar[int] = 0

    POWER_SUPPLY_HEALTH_GOOD: ClassVar[int] = 1

    POWER_SUPPLY_HEALTH_OVERHEAT: ClassVar[int] = 2

    POWER_SUPPLY_HEALTH_DEAD: ClassVar[int] = 3

    POWER_SUPPLY_HEALTH_OVERVOLTAGE: ClassVar[int] = 4

    POWER_SUPPLY_HEALTH_UNSPEC_FAILURE: ClassVar[int] = 5

    POWER_SUPPLY_HEALTH_COLD: ClassVar[int] = 6

    POWER_SUPPLY_HEALTH_WATCHDOG_TIMER_EXPIRE: ClassVar[int] = 7

    POWER_SUPPLY_HEALTH_SAFETY_TIMER_EXPIRE: ClassVar[int] = 8

    POWER_SUPPLY_TECHNOLOGY_UNKNOWN: ClassVar[int] = 0

    POWER_SUPPLY_TECHNOLOGY_NIMH: ClassVar[int] = 1

    POWER_SUPPLY_TECHNOLOGY_LION: ClassVar[int] = 2

    POWER_SUPPLY_TECHNOLOGY_LIPO: ClassVar[int] = 3

    POWER_SUPPLY_TECHNOLOGY_LIFE: ClassVar[int] = 4

    POWER_SUPPLY_TECHNOLOGY_NICD: ClassVar[int] = 5

    POWER_SUPPLY_TECHNOLOGY_LIMN: ClassVar[int] = 6

    header: Header = dataclasses.field(default_factory=Header)
    voltage: float = 0.0
    """V."""
    temperature: float = 0.0
    """Degrees Celsius."""
    current: float = 0.0
    """A; negative while discharging."""
    charge: float = 0.0
    """Ah."""
    capacity: float = 0.0
    """Capacity at full charge, Ah."""
    design_capacity: float = 0.0
    """Capacity when new, Ah."""
    percentage: float = 0.0
    """Charge as a fraction, 0 to 1."""
    power_supply_status: int = 0
    """One of the POWER_SUPPLY_STATUS_ constants."""
    power_supply_health: int = 0
    """One of the POWER_SUPPLY_HEALTH_ constants."""
    power_supply_technology: int = 0
    """One of the POWER_SUPPLY_TECHNOLOGY_ constants."""
    present: bool = False
    """Whether a battery is present."""
    cell_voltage: npt.NDArray[np.float32] = dataclasses.field(default_factory=lambda: np.zeros(0, dtype="<f4"))
    """Per-cell voltages, V, or empty."""
    cell_temperature: npt.NDArray[np.float32] = dataclasses.field(default_factory=lambda: np.zeros(0, dtype="<f4"))
    """Per-cell temperatures, degrees Celsius, or empty."""
    location: str = ""
    """Where the battery is (slot or connector)."""
    serial_number: str = ""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "BatteryState",
        "size": 456,
        "align": 4,
        "hash": 0x0231a588f851c179,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "voltage", "offset": 80, "size": 4, "shape": [], "kind": "f32"},
            {"name": "temperature", "offset": 84, "size": 4, "shape": [], "kind": "f32"},
            {"name": "current", "offset": 88, "size": 4, "shape": [], "kind": "f32"},
            {"name": "charge", "offset": 92, "size": 4, "shape": [], "kind": "f32"},
            {"name": "capacity", "offset": 96, "size": 4, "shape": [], "kind": "f32"},
            {"name": "design_capacity", "offset": 100, "size": 4, "shape": [], "kind": "f32"},
            {"name": "percentage", "offset": 104, "size": 4, "shape": [], "kind": "f32"},
            {"name": "power_supply_status", "offset": 108, "size": 1, "shape": [], "kind": "u8"},
            {"name": "power_supply_health", "offset": 109, "size": 1, "shape": [], "kind": "u8"},
            {"name": "power_supply_technology", "offset": 110, "size": 1, "shape": [], "kind": "u8"},
            {"name": "present", "offset": 111, "size": 1, "shape": [], "kind": "flag"},
            {"name": "cell_voltage", "offset": 112, "size": 136, "shape": [], "kind": "vec", "capacity": 32, "elem": {"size": 4, "shape": [], "kind": "f32"}},
            {"name": "cell_temperature", "offset": 248, "size": 136, "shape": [], "kind": "vec", "capacity": 32, "elem": {"size": 4, "shape": [], "kind": "f32"}},
            {"name": "location", "offset": 384, "size": 36, "shape": [], "kind": "string", "capacity": 32},
            {"name": "serial_number", "offset": 420, "size": 36, "shape": [], "kind": "string", "capacity": 32},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class Range:
    """A single range reading from a sensor with a cone of view (ultrasound, infrared).

    Layout: 104 bytes, align 4, hash 0x758d31728b2b6725.
    """

    ULTRASOUND: ClassVar[int] = 0

    INFRARED: ClassVar[int] = 1

    header: Header = dataclasses.field(default_factory=Header)
    radiation_type: int = 0
    """ULTRASOUND or INFRARED."""
    _pad0: npt.NDArray[np.uint8] = dataclasses.field(default_factory=lambda: np.zeros((3,), dtype="<u1"), repr=False)
    """Padding inserted by the schema compiler (always zero)."""
    field_of_view: float = 0.0
    """Width of the cone, rad."""
    min_range: float = 0.0
    """m."""
    max_range: float = 0.0
    """m."""
    range: float = 0.0
    """m; -Inf or +Inf when below or above the limits."""
    variance: float = 0.0
    """Variance of `range`, m^2; 0 if unknown."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "Range",
        "size": 104,
        "align": 4,
        "hash": 0x758d31728b2b6725,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "radiation_type", "offset": 80, "size": 1, "shape": [], "kind": "u8"},
            {"name": "_pad0", "offset": 81, "size": 3, "shape": [3], "kind": "u8"},
            {"name": "field_of_view", "offset": 84, "size": 4, "shape": [], "kind": "f32"},
            {"name": "min_range", "offset": 88, "size": 4, "shape": [], "kind": "f32"},
            {"name": "max_range", "offset": 92, "size": 4, "shape": [], "kind": "f32"},
            {"name": "range", "offset": 96, "size": 4, "shape": [], "kind": "f32"},
            {"name": "variance", "offset": 100, "size": 4, "shape": [], "kind": "f32"},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


@typed.register
@dataclasses.dataclass
class Temperature:
    """A temperature reading.

    Layout: 96 bytes, align 8, hash 0x94c3c0a7fc57399a.
    """

    header: Header = dataclasses.field(default_factory=Header)
    temperature: float = 0.0
    """Degrees Celsius."""
    variance: float = 0.0
    """0 if unknown."""

    __shm_layout__: ClassVar[dict[str, Any]] = {
        "name": "Temperature",
        "size": 96,
        "align": 8,
        "hash": 0x94c3c0a7fc57399a,
        "fields": [
            {"name": "header", "offset": 0, "size": 80, "shape": [], "kind": "struct", "layout": Header.__shm_layout__},
            {"name": "temperature", "offset": 80, "size": 8, "shape": [], "kind": "f64"},
            {"name": "variance", "offset": 88, "size": 8, "shape": [], "kind": "f64"},
        ],
    }
    __shm_dtype__: ClassVar[np.dtype[Any]]


#: The schema files these classes were generated from: the standard set that
#: `python -m shm_comm.schema gen` compiles along with a user's files.
_SCHEMA_SOURCES = {
    "builtins.toml": '''\
# Time and header: the metadata that most standard messages start with.
# Modelled on ROS builtin_interfaces/Time, Duration and std_msgs/Header.

version = 1
doc = "Time, duration and the common message header."

[[message]]
name = "Time"
doc = "A point in time: seconds and nanoseconds since an epoch (usually the Unix epoch, or CLOCK_MONOTONIC within one machine)."
fields = [
    { name = "sec", type = "i32", doc = "Whole seconds." },
    { name = "nanosec", type = "u32", doc = "Nanoseconds past `sec`, in 0..1_000_000_000." },
]

[[message]]
name = "Duration"
doc = "A span of time: seconds and nanoseconds (negative durations have a negative `sec`)."
fields = [
    { name = "sec", type = "i32", doc = "Whole seconds." },
    { name = "nanosec", type = "u32", doc = "Nanoseconds added to `sec`, in 0..1_000_000_000." },
]

[[message]]
name = "Header"
doc = "Standard metadata of a stamped message: when it was measured, its sequence number and the coordinate frame it is expressed in."
fields = [
    { name = "stamp", type = "Time", doc = "Acquisition time of the data." },
    { name = "seq", type = "u32", doc = "Sequence number, incremented by the publisher for each message." },
    { name = "frame_id", type = "string<64>", doc = "Coordinate frame of the data (at most 64 bytes of UTF-8)." },
]
''',
    "geometry.toml": '''\
# Geometry primitives, modelled on ROS geometry_msgs (and nav_msgs/Odometry).
# Units are SI: metres, radians, seconds, newtons.

version = 1
doc = "Geometry: points, vectors, rotations, poses, velocities, transforms and forces."

[[message]]
name = "Vector3"
doc = "A vector in free space (a direction and magnitude, not a position)."
fields = [
    { name = "x", type = "f64" },
    { name = "y", type = "f64" },
    { name = "z", type = "f64" },
]

[[message]]
name = "Point"
doc = "A position in space."
fields = [
    { name = "x", type = "f64" },
    { name = "y", type = "f64" },
    { name = "z", type = "f64" },
]

[[message]]
name = "Quaternion"
doc = "An orientation as a unit quaternion (x, y, z, w); the identity is w = 1."
fields = [
    { name = "x", type = "f64" },
    { name = "y", type = "f64" },
    { name = "z", type = "f64" },
    { name = "w", type = "f64" },
]

[[message]]
name = "Pose"
doc = "A position and an orientation."
fields = [
    { name = "position", type = "Point" },
    { name = "orientation", type = "Quaternion" },
]

[[message]]
name = "PoseStamped"
doc = "A pose with a header (time and frame)."
fields = [
    { name = "header", type = "Header" },
    { name = "pose", type = "Pose" },
]

[[message]]
name = "PoseWithCovariance"
doc = "A pose with its uncertainty."
fields = [
    { name = "pose", type = "Pose" },
    { name = "covariance", type = "[[f64; 6]; 6]", doc = "6x6 covariance of (x, y, z, rotation about X, rotation about Y, rotation about Z), row by row." },
]

[[message]]
name = "Twist"
doc = "Velocity in free space: linear and angular parts."
fields = [
    { name = "linear", type = "Vector3", doc = "Linear velocity, m/s." },
    { name = "angular", type = "Vector3", doc = "Angular velocity, rad/s." },
]

[[message]]
name = "TwistStamped"
doc = "A twist with a header (time and frame)."
fields = [
    { name = "header", type = "Header" },
    { name = "twist", type = "Twist" },
]

[[message]]
name = "TwistWithCovariance"
doc = "A twist with its uncertainty."
fields = [
    { name = "twist", type = "Twist" },
    { name = "covariance", type = "[[f64; 6]; 6]", doc = "6x6 covariance of (vx, vy, vz, wx, wy, wz), row by row." },
]

[[message]]
name = "Transform"
doc = "The transform between two coordinate frames: a translation then a rotation."
fields = [
    { name = "translation", type = "Vector3" },
    { name = "rotation", type = "Quaternion" },
]

[[message]]
name = "TransformStamped"
doc = "The transform from frame `header.frame_id` to frame `child_frame_id`, at `header.stamp`."
fields = [
    { name = "header", type = "Header" },
    { name = "child_frame_id", type = "string<64>", doc = "The frame this transform maps from." },
    { name = "transform", type = "Transform" },
]

[[message]]
name = "Wrench"
doc = "Force and torque in free space."
fields = [
    { name = "force", type = "Vector3", doc = "Force, N." },
    { name = "torque", type = "Vector3", doc = "Torque, N m." },
]

[[message]]
name = "WrenchStamped"
doc = "A wrench with a header (time and frame)."
fields = [
    { name = "header", type = "Header" },
    { name = "wrench", type = "Wrench" },
]

[[message]]
name = "Accel"
doc = "Acceleration in free space: linear and angular parts."
fields = [
    { name = "linear", type = "Vector3", doc = "Linear acceleration, m/s^2." },
    { name = "angular", type = "Vector3", doc = "Angular acceleration, rad/s^2." },
]

[[message]]
name = "AccelStamped"
doc = "An acceleration with a header (time and frame)."
fields = [
    { name = "header", type = "Header" },
    { name = "accel", type = "Accel" },
]

[[message]]
name = "Odometry"
doc = "An estimate of position and velocity: the pose in `header.frame_id`, the twist in `child_frame_id`."
fields = [
    { name = "header", type = "Header" },
    { name = "child_frame_id", type = "string<64>", doc = "The frame of the twist (usually the robot\'s base)." },
    { name = "pose", type = "PoseWithCovariance" },
    { name = "twist", type = "TwistWithCovariance" },
]
''',
    "large_data.toml": '''\
# Large data: images and point clouds, modelled on ROS sensor_msgs/Image and
# PointCloud2. A fixed-layout message reserves its full capacity in every
# slot, so the capacity is a parameter: each `[[variant]]` below is one
# concrete type. Declare your own in your own schema file, e.g.
#
#   version = 1
#   [[variant]]
#   name = "ImageThermal"
#   template = "Image"
#   args = { CAPACITY = 655360 }   # 640 x 512 x 16-bit
#
# and generate it with `shm-comm-schema gen-rust` / `python -m shm_comm.schema gen`.

version = 1
doc = "Large data: images and point clouds, with the capacity chosen per type."

[[message]]
name = "Image"
doc = "An uncompressed image: `height` rows of `step` bytes each, in `data`."
params = ["CAPACITY"]
fields = [
    { name = "header", type = "Header", doc = "`stamp` is the acquisition time; `frame_id` the camera\'s optical frame." },
    { name = "height", type = "u32", doc = "Rows." },
    { name = "width", type = "u32", doc = "Columns." },
    { name = "encoding", type = "string<16>", doc = "Pixel encoding, as in ROS: rgb8, bgr8, mono8, mono16, 16UC1, 32FC1, bayer_rggb8, ..." },
    { name = "is_bigendian", type = "u8", doc = "Byte order of multi-byte pixels." },
    { name = "step", type = "u32", doc = "Bytes per row." },
    { name = "data", type = "vec<u8, CAPACITY>", doc = "`height * step` bytes of pixels, row by row." },
]

[[variant]]
name = "ImageVga"
template = "Image"
args = { CAPACITY = 921600 }
doc = "An image of up to 640 x 480 x 3 bytes (VGA RGB8)."

[[variant]]
name = "ImageHd"
template = "Image"
args = { CAPACITY = 2764800 }
doc = "An image of up to 1280 x 720 x 3 bytes (HD RGB8)."

[[variant]]
name = "ImageFullHd"
template = "Image"
args = { CAPACITY = 6220800 }
doc = "An image of up to 1920 x 1080 x 3 bytes (Full HD RGB8)."

[[variant]]
name = "Image4K"
template = "Image"
args = { CAPACITY = 24883200 }
doc = "An image of up to 3840 x 2160 x 3 bytes (4K UHD RGB8): 25 MB per slot."

[[message]]
name = "PointField"
doc = "How one field of a point is stored in `PointCloud.data`."
constants = [
    { name = "INT8", type = "u8", value = 1 },
    { name = "UINT8", type = "u8", value = 2 },
    { name = "INT16", type = "u8", value = 3 },
    { name = "UINT16", type = "u8", value = 4 },
    { name = "INT32", type = "u8", value = 5 },
    { name = "UINT32", type = "u8", value = 6 },
    { name = "FLOAT32", type = "u8", value = 7 },
    { name = "FLOAT64", type = "u8", value = 8 },
]
fields = [
    { name = "name", type = "string<12>", doc = "Field name: x, y, z, intensity, rgb, ring, ..." },
    { name = "offset", type = "u32", doc = "Byte offset in a point." },
    { name = "datatype", type = "u8", doc = "One of the type constants." },
    { name = "count", type = "u32", doc = "Elements in the field (1 for a scalar)." },
]

[[message]]
name = "PointCloud"
doc = "A point cloud: `height * width` points of `point_step` bytes each, described by `fields`. An unordered cloud has `height` 1."
params = ["CAPACITY"]
constants = [
    { name = "MAX_FIELDS", type = "u32", value = 8, doc = "Capacity of `fields`." },
]
fields = [
    { name = "header", type = "Header" },
    { name = "height", type = "u32", doc = "Rows of an organized cloud, or 1." },
    { name = "width", type = "u32", doc = "Points per row." },
    { name = "fields", type = "vec<PointField, MAX_FIELDS>", doc = "The layout of a point." },
    { name = "is_bigendian", type = "flag" },
    { name = "is_dense", type = "flag", doc = "True if there are no invalid points." },
    { name = "point_step", type = "u32", doc = "Bytes per point." },
    { name = "row_step", type = "u32", doc = "Bytes per row." },
    { name = "data", type = "vec<u8, CAPACITY>", doc = "`height * row_step` bytes of points." },
]

[[variant]]
name = "PointCloud64K"
template = "PointCloud"
args = { CAPACITY = 1048576 }
doc = "A point cloud of up to 1 MiB: 65536 points of 16 bytes (x, y, z, intensity as f32)."

[[variant]]
name = "PointCloud256K"
template = "PointCloud"
args = { CAPACITY = 4194304 }
doc = "A point cloud of up to 4 MiB: 262144 points of 16 bytes (a 128 x 2048 lidar)."

[[variant]]
name = "PointCloud1M"
template = "PointCloud"
args = { CAPACITY = 16777216 }
doc = "A point cloud of up to 16 MiB: 1048576 points of 16 bytes."

# Variable-size messages: the fixed part, then a run-time number of
# elements (`tail`). A topic of them reserves its current maximum per slot,
# set when it is created and grown at run time (see `shm_comm::varsize`),
# instead of a compile-time capacity per variant.

[[message]]
name = "VarImage"
doc = "An uncompressed image of any size: `height` rows of `step` bytes each, in the `data` tail."
fields = [
    { name = "header", type = "Header", doc = "`stamp` is the acquisition time; `frame_id` the camera\'s optical frame." },
    { name = "height", type = "u32", doc = "Rows." },
    { name = "width", type = "u32", doc = "Columns." },
    { name = "encoding", type = "string<16>", doc = "Pixel encoding, as in ROS: rgb8, bgr8, mono8, mono16, 16UC1, 32FC1, bayer_rggb8, ..." },
    { name = "is_bigendian", type = "u8", doc = "Byte order of multi-byte pixels." },
    { name = "step", type = "u32", doc = "Bytes per row." },
]
tail = { name = "data", type = "u8", doc = "`height * step` bytes of pixels, row by row." }

[[message]]
name = "VarPointCloud"
doc = "A point cloud of any size, as ROS\'s PointCloud2: `height * width` points of `point_step` bytes each, described by `fields`, in the `data` tail. An unordered cloud has `height` 1."
constants = [
    { name = "MAX_FIELDS", type = "u32", value = 8, doc = "Capacity of `fields`." },
]
fields = [
    { name = "header", type = "Header" },
    { name = "height", type = "u32", doc = "Rows of an organized cloud, or 1." },
    { name = "width", type = "u32", doc = "Points per row." },
    { name = "fields", type = "vec<PointField, MAX_FIELDS>", doc = "The layout of a point." },
    { name = "is_bigendian", type = "flag" },
    { name = "is_dense", type = "flag", doc = "True if there are no invalid points." },
    { name = "point_step", type = "u32", doc = "Bytes per point." },
    { name = "row_step", type = "u32", doc = "Bytes per row." },
]
tail = { name = "data", type = "u8", doc = "`height * row_step` bytes of points." }
''',
    "sensors.toml": '''\
# Sensor readings, modelled on ROS sensor_msgs, with bounded sequences in
# place of unbounded arrays. Units are SI.

version = 1
doc = "Sensors: IMU, joints, laser scans, satellite navigation, batteries, range finders, thermometers."

[[message]]
name = "Imu"
doc = "An inertial measurement: orientation, angular velocity and linear acceleration, each with a 3x3 covariance (row by row). A covariance of all zeros means unknown; element 0 set to -1 means the quantity is not provided."
fields = [
    { name = "header", type = "Header" },
    { name = "orientation", type = "Quaternion" },
    { name = "orientation_covariance", type = "[f64; 9]", doc = "Covariance of the orientation, about X, Y, Z axes (rad^2)." },
    { name = "angular_velocity", type = "Vector3", doc = "rad/s." },
    { name = "angular_velocity_covariance", type = "[f64; 9]" },
    { name = "linear_acceleration", type = "Vector3", doc = "m/s^2." },
    { name = "linear_acceleration_covariance", type = "[f64; 9]" },
]

[[message]]
name = "MagneticField"
doc = "A magnetometer reading."
fields = [
    { name = "header", type = "Header" },
    { name = "magnetic_field", type = "Vector3", doc = "Field vector, tesla." },
    { name = "magnetic_field_covariance", type = "[f64; 9]", doc = "Row by row; all zeros means unknown." },
]

[[message]]
name = "JointState"
doc = "The state of up to MAX_JOINTS joints. Each sequence holds either one entry per joint (in the order of `name`) or none at all when not measured."
constants = [
    { name = "MAX_JOINTS", type = "u32", value = 32, doc = "Capacity of each sequence." },
]
fields = [
    { name = "header", type = "Header" },
    { name = "name", type = "vec<string<32>, MAX_JOINTS>", doc = "Joint names." },
    { name = "position", type = "vec<f64, MAX_JOINTS>", doc = "rad or m." },
    { name = "velocity", type = "vec<f64, MAX_JOINTS>", doc = "rad/s or m/s." },
    { name = "effort", type = "vec<f64, MAX_JOINTS>", doc = "N m or N." },
]

[[message]]
name = "LaserScan"
doc = "One scan of a planar laser range finder: up to MAX_RANGES beams, counter-clockwise from `angle_min` with zero along the X axis."
constants = [
    { name = "MAX_RANGES", type = "u32", value = 2048, doc = "Capacity of `ranges` and `intensities`." },
]
fields = [
    { name = "header", type = "Header", doc = "`stamp` is the time of the first beam." },
    { name = "angle_min", type = "f32", doc = "Angle of the first beam, rad." },
    { name = "angle_max", type = "f32", doc = "Angle of the last beam, rad." },
    { name = "angle_increment", type = "f32", doc = "Angle between beams, rad." },
    { name = "time_increment", type = "f32", doc = "Time between beams, s." },
    { name = "scan_time", type = "f32", doc = "Time between scans, s." },
    { name = "range_min", type = "f32", doc = "Shortest valid range, m." },
    { name = "range_max", type = "f32", doc = "Longest valid range, m." },
    { name = "ranges", type = "vec<f32, MAX_RANGES>", doc = "Ranges, m; values outside range_min..range_max are invalid." },
    { name = "intensities", type = "vec<f32, MAX_RANGES>", doc = "Device-specific intensities, one per range, or empty." },
]

[[message]]
name = "NavSatStatus"
doc = "The fix status of a satellite navigation receiver."
constants = [
    { name = "STATUS_NO_FIX", type = "i8", value = -1, doc = "Unable to fix position." },
    { name = "STATUS_FIX", type = "i8", value = 0, doc = "Unaugmented fix." },
    { name = "STATUS_SBAS_FIX", type = "i8", value = 1, doc = "Fix with satellite-based augmentation." },
    { name = "STATUS_GBAS_FIX", type = "i8", value = 2, doc = "Fix with ground-based augmentation." },
    { name = "SERVICE_GPS", type = "u16", value = 1 },
    { name = "SERVICE_GLONASS", type = "u16", value = 2 },
    { name = "SERVICE_COMPASS", type = "u16", value = 4, doc = "Includes BeiDou." },
    { name = "SERVICE_GALILEO", type = "u16", value = 8 },
]
fields = [
    { name = "status", type = "i8", doc = "One of the STATUS_ constants." },
    { name = "service", type = "u16", doc = "Bit mask of the SERVICE_ constants." },
]

[[message]]
name = "NavSatFix"
doc = "A position from a satellite navigation receiver (WGS 84)."
constants = [
    { name = "COVARIANCE_TYPE_UNKNOWN", type = "u8", value = 0 },
    { name = "COVARIANCE_TYPE_APPROXIMATED", type = "u8", value = 1 },
    { name = "COVARIANCE_TYPE_DIAGONAL_KNOWN", type = "u8", value = 2 },
    { name = "COVARIANCE_TYPE_KNOWN", type = "u8", value = 3 },
]
fields = [
    { name = "header", type = "Header", doc = "`frame_id` is the antenna\'s frame." },
    { name = "status", type = "NavSatStatus" },
    { name = "latitude", type = "f64", doc = "Degrees, positive north." },
    { name = "longitude", type = "f64", doc = "Degrees, positive east." },
    { name = "altitude", type = "f64", doc = "Metres above the WGS 84 ellipsoid; NaN if unknown." },
    { name = "position_covariance", type = "[f64; 9]", doc = "East, north, up covariance (m^2), row by row." },
    { name = "position_covariance_type", type = "u8", doc = "One of the COVARIANCE_TYPE_ constants." },
]

[[message]]
name = "BatteryState"
doc = "The state of a battery. Unmeasured values are NaN."
constants = [
    { name = "MAX_CELLS", type = "u32", value = 32, doc = "Capacity of the per-cell sequences." },
    { name = "POWER_SUPPLY_STATUS_UNKNOWN", type = "u8", value = 0 },
    { name = "POWER_SUPPLY_STATUS_CHARGING", type = "u8", value = 1 },
    { name = "POWER_SUPPLY_STATUS_DISCHARGING", type = "u8", value = 2 },
    { name = "POWER_SUPPLY_STATUS_NOT_CHARGING", type = "u8", value = 3 },
    { name = "POWER_SUPPLY_STATUS_FULL", type = "u8", value = 4 },
    { name = "POWER_SUPPLY_HEALTH_UNKNOWN", type = "u8", value = 0 },
    { name = "POWER_SUPPLY_HEALTH_GOOD", type = "u8", value = 1 },
    { name = "POWER_SUPPLY_HEALTH_OVERHEAT", type = "u8", value = 2 },
    { name = "POWER_SUPPLY_HEALTH_DEAD", type = "u8", value = 3 },
    { name = "POWER_SUPPLY_HEALTH_OVERVOLTAGE", type = "u8", value = 4 },
    { name = "POWER_SUPPLY_HEALTH_UNSPEC_FAILURE", type = "u8", value = 5 },
    { name = "POWER_SUPPLY_HEALTH_COLD", type = "u8", value = 6 },
    { name = "POWER_SUPPLY_HEALTH_WATCHDOG_TIMER_EXPIRE", type = "u8", value = 7 },
    { name = "POWER_SUPPLY_HEALTH_SAFETY_TIMER_EXPIRE", type = "u8", value = 8 },
    { name = "POWER_SUPPLY_TECHNOLOGY_UNKNOWN", type = "u8", value = 0 },
    { name = "POWER_SUPPLY_TECHNOLOGY_NIMH", type = "u8", value = 1 },
    { name = "POWER_SUPPLY_TECHNOLOGY_LION", type = "u8", value = 2 },
    { name = "POWER_SUPPLY_TECHNOLOGY_LIPO", type = "u8", value = 3 },
    { name = "POWER_SUPPLY_TECHNOLOGY_LIFE", type = "u8", value = 4 },
    { name = "POWER_SUPPLY_TECHNOLOGY_NICD", type = "u8", value = 5 },
    { name = "POWER_SUPPLY_TECHNOLOGY_LIMN", type = "u8", value = 6 },
]
fields = [
    { name = "header", type = "Header" },
    { name = "voltage", type = "f32", doc = "V." },
    { name = "temperature", type = "f32", doc = "Degrees Celsius." },
    { name = "current", type = "f32", doc = "A; negative while discharging." },
    { name = "charge", type = "f32", doc = "Ah." },
    { name = "capacity", type = "f32", doc = "Capacity at full charge, Ah." },
    { name = "design_capacity", type = "f32", doc = "Capacity when new, Ah." },
    { name = "percentage", type = "f32", doc = "Charge as a fraction, 0 to 1." },
    { name = "power_supply_status", type = "u8", doc = "One of the POWER_SUPPLY_STATUS_ constants." },
    { name = "power_supply_health", type = "u8", doc = "One of the POWER_SUPPLY_HEALTH_ constants." },
    { name = "power_supply_technology", type = "u8", doc = "One of the POWER_SUPPLY_TECHNOLOGY_ constants." },
    { name = "present", type = "flag", doc = "Whether a battery is present." },
    { name = "cell_voltage", type = "vec<f32, MAX_CELLS>", doc = "Per-cell voltages, V, or empty." },
    { name = "cell_temperature", type = "vec<f32, MAX_CELLS>", doc = "Per-cell temperatures, degrees Celsius, or empty." },
    { name = "location", type = "string<32>", doc = "Where the battery is (slot or connector)." },
    { name = "serial_number", type = "string<32>" },
]

[[message]]
name = "Range"
doc = "A single range reading from a sensor with a cone of view (ultrasound, infrared)."
constants = [
    { name = "ULTRASOUND", type = "u8", value = 0 },
    { name = "INFRARED", type = "u8", value = 1 },
]
fields = [
    { name = "header", type = "Header" },
    { name = "radiation_type", type = "u8", doc = "ULTRASOUND or INFRARED." },
    { name = "field_of_view", type = "f32", doc = "Width of the cone, rad." },
    { name = "min_range", type = "f32", doc = "m." },
    { name = "max_range", type = "f32", doc = "m." },
    { name = "range", type = "f32", doc = "m; -Inf or +Inf when below or above the limits." },
    { name = "variance", type = "f32", doc = "Variance of `range`, m^2; 0 if unknown." },
]

[[message]]
name = "Temperature"
doc = "A temperature reading."
fields = [
    { name = "header", type = "Header" },
    { name = "temperature", type = "f64", doc = "Degrees Celsius." },
    { name = "variance", type = "f64", doc = "0 if unknown." },
]
''',
}
