"""The standard message set (``schemas/`` -> ``shm_comm.msgs``) and the
schema compiler (``shm_comm.schema``).

- Agreement: for every message, the layout the schema compiler (the Rust
  crate ``shm-comm-schema``, which ``shm_comm.schema`` calls through the
  native module) computes from the TOML, the generated class and the layout
  Rust's ``#[derive(ShmMessage)]`` builds for the generated Rust type are
  identical field by field, with the same hash.
- Multi-process: a Rust node publishes ``Imu``, ``JointState`` and
  ``ImageVga``; Python receives the generated dataclasses with the same
  values (image data as a zero-copy view), and the reverse.
- A schema change (field renamed, reordered, retyped) makes the other side's
  open fail, naming the field.
- Bad schema files give ``file:line: reason`` (the same files as the Rust
  compiler's tests), and the commands ``gen`` and ``from-topic``.

The Rust side is ``shm-comm-schema/examples/msgs_peer.rs``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import types
import typing
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

import shm_comm
from shm_comm import Publisher, SHMLayoutError, Subscriber, _native, msgs, schema, typed

from support import ROOT

SCHEMAS = ROOT / "schemas"
BAD = ROOT / "shm-comm-schema" / "tests" / "bad_schemas"
FIXTURE = ROOT / "shm-comm-schema" / "tests" / "fixtures" / "robot.toml"
T = 20.0


def _std_sources() -> list[tuple[str, str]]:
    return [(f"schemas/{p.name}", p.read_text(encoding="utf-8")) for p in sorted(SCHEMAS.glob("*.toml"))]


#: The standard set compiled from the TOML files by the one schema compiler.
STD = schema.compile_sources(_std_sources(), std_set=True)
NAMES = [m.name for m in STD.generated()]


# ---------------------------------------------------------------------------
# The Rust side: built once per session
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def rust():
    """Paths of the Rust peer (``msgs_peer``) and compiler (``shm-comm-schema``)."""
    cmd = ["cargo", "build", "-q", "-p", "shm-comm-schema", "--bins", "--example", "msgs_peer"]
    try:
        r = subprocess.run(cmd, cwd=str(ROOT), capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as e:
        pytest.skip(f"cannot build the Rust peer ({' '.join(cmd)}): {e}")
    if r.returncode != 0:
        pytest.skip(f"cannot build the Rust peer ({' '.join(cmd)}): {r.stderr[-800:]}")
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug"
    return {"peer": target / "examples" / "msgs_peer", "compiler": target / "shm-comm-schema"}


@pytest.fixture(scope="session")
def derived(rust) -> dict:
    """The layouts ``#[derive(ShmMessage)]`` built for the generated Rust types."""
    out = subprocess.run([str(rust["peer"]), "describe"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


# ---------------------------------------------------------------------------
# Agreement
# ---------------------------------------------------------------------------


def same_layout(path: str, ours: dict, theirs: dict) -> None:
    """Field by field (name, kind, offset, size, shape), recursively."""
    assert ours["name"] == theirs["name"], f"{path}: type name"
    assert (ours["size"], ours["align"]) == (theirs["size"], theirs["align"]), f"{path}: size/align"
    assert len(ours["fields"]) == len(theirs["fields"]), f"{path}: number of fields"
    for a, b in zip(ours["fields"], theirs["fields"]):
        here = f"{path}.{a['name']}"
        assert a["name"] == b["name"], f"{here}: name"
        assert a["offset"] == b["offset"], f"{here}: offset"
        same_type(here, a, b)
    assert ours["hash"] == theirs["hash"], f"{path}: hash"


def same_type(path: str, a: dict, b: dict) -> None:
    assert a["kind"] == b["kind"], f"{path}: kind"
    assert a["size"] == b["size"], f"{path}: size"
    assert list(a.get("shape") or []) == list(b.get("shape") or []), f"{path}: shape"
    if a["kind"] == "struct":
        same_layout(path, a["layout"], b["layout"])
    elif a["kind"] in ("string", "vec"):
        assert a["capacity"] == b["capacity"], f"{path}: capacity"
        if a["kind"] == "vec":
            same_type(path + "[]", a["elem"], b["elem"])


@pytest.mark.parametrize("name", NAMES)
def test_schema_compiler_and_rust_derive_agree(name, derived):
    ours = STD.get(name).layout  # the compiler's layout, as Python sees it
    # The layout rustc gave the generated Rust type (through the derive), in
    # another process: field by field, and by hash.
    same_layout(name, ours, derived[name])
    # Python's view is a valid descriptor with its own structural hash.
    assert _native.layout_hash(ours) == ours["hash"] == schema.structural_hash(ours)
    same_layout(name, ours, _native.check_layout(ours))
    # The generated Python class.
    cls = getattr(msgs, name)
    assert cls.__shm_layout__ == ours
    assert cls.__shm_dtype__.itemsize == ours["size"]
    assert typed.first_difference(ours, derived[name]) is None


def test_the_whole_standard_set_is_there(derived):
    assert set(NAMES) == set(msgs.__all__)
    assert set(NAMES) | {"RobotStatus", "ImageThermal", "Telemetry", "ScanPoint", "Scan"} == set(derived)
    for name in ["Time", "Header", "Vector3", "Point", "Quaternion", "Pose", "PoseStamped", "Twist",
                 "TwistStamped", "Transform", "TransformStamped", "Wrench", "Accel", "Imu",
                 "JointState", "LaserScan", "NavSatFix", "BatteryState", "Range", "Temperature",
                 "ImageVga", "ImageHd", "ImageFullHd", "Image4K", "PointCloud64K"]:
        assert name in NAMES, name


def test_python_module_of_the_compiler_is_the_checked_in_one_byte_for_byte():
    """``shm_comm.schema`` regenerates the checked-in msgs.py exactly."""
    checked_in = (ROOT / "python" / "shm_comm" / "msgs.py").read_text(encoding="utf-8")
    assert schema.generate_python(STD) == checked_in
    # The embedded copy of the standard set is schemas/ itself.
    assert {f"schemas/{k}": v for k, v in msgs._SCHEMA_SOURCES.items()} == dict(_std_sources())


def test_classes_are_typed_documented_dataclasses():
    for name in NAMES:
        cls = getattr(msgs, name)
        assert dataclasses.is_dataclass(cls), name
        assert "Layout:" in cls.__doc__ and f"0x{cls.__shm_layout__['hash']:016x}" in cls.__doc__
        hints = typing.get_type_hints(cls, vars(msgs))
        for f in dataclasses.fields(cls):
            assert f.name in hints, (name, f.name)
        msg = cls()  # every field has a default: a zeroed message
        raw = typed.encode(cls.__shm_layout__, msg)
        assert raw == bytes(cls.__shm_layout__["size"]), name
        decoded = typed.decode(cls.__shm_layout__, raw)
        assert type(decoded) is cls
        # Array hints name the dtype that decoding gives (what mypy relies on).
        for f in dataclasses.fields(cls):
            if typing.get_origin(hints[f.name]) is np.ndarray:
                (scalar,) = typing.get_args(typing.get_args(hints[f.name])[1])
                assert getattr(decoded, f.name).dtype.type is scalar, (name, f.name)
    hints = typing.get_type_hints(msgs.Imu, vars(msgs))
    assert hints["header"] is msgs.Header
    assert hints["orientation_covariance"] == npt.NDArray[np.float64]
    assert typing.get_type_hints(msgs.JointState, vars(msgs))["name"] == list[str]
    assert msgs.NavSatStatus.STATUS_NO_FIX == -1 and msgs.JointState.MAX_JOINTS == 32
    # Explicit padding, in Python as in Rust.
    assert [f.name for f in dataclasses.fields(msgs.NavSatFix)][2] == "_pad0"


def test_received_messages_are_instances_of_the_generated_classes(chan):
    pose = msgs.PoseStamped(header=msgs.Header(seq=3, frame_id="map"),
                            pose=msgs.Pose(position=msgs.Point(1.0, 2.0, 3.0),
                                           orientation=msgs.Quaternion(0.0, 0.0, 0.0, 1.0)))
    with Publisher(chan, msg_type=msgs.PoseStamped) as pub, \
            Subscriber(chan, msg_type=msgs.PoseStamped) as sub, Subscriber(chan) as plain:
        pub.send(pose)
        for s in (sub, plain):
            got = s.recv(T)
            assert type(got) is msgs.PoseStamped
            assert got == pose
            # Point and Vector3 have the same hash but stay distinct classes.
            assert type(got.pose.position) is msgs.Point and type(got.header) is msgs.Header
        assert plain.msg_type is msgs.PoseStamped


# ---------------------------------------------------------------------------
# Values both languages compute from a sequence number (see msgs_peer.rs)
# ---------------------------------------------------------------------------


def header(k: int, frame: str) -> msgs.Header:
    return msgs.Header(stamp=msgs.Time(sec=1000 + k, nanosec=500 * k), seq=k, frame_id=frame)


def imu(k: int) -> msgs.Imu:
    i = np.arange(9.0)
    return msgs.Imu(
        header=header(k, "imu_link"),
        orientation=msgs.Quaternion(k + 0.25, -float(k), 0.5, 1.0),
        orientation_covariance=i + k * 0.5,
        angular_velocity=msgs.Vector3(k * 0.125, 1.5, -2.0),
        angular_velocity_covariance=i * k,
        linear_acceleration=msgs.Vector3(0.0, 0.0, 9.75),
        linear_acceleration_covariance=-i,
    )


def joints(k: int) -> msgs.JointState:
    n = 6 + k % 3
    return msgs.JointState(
        header=header(k, "base_link"),
        name=[f"joint_{j}" for j in range(n)],
        position=np.arange(n) + k * 0.25,
        velocity=-np.arange(float(n)),
        effort=np.zeros(0),
    )


def pixels(k: int) -> np.ndarray:
    return ((np.arange(640 * 480 * 3, dtype=np.int64) * 7 + k) % 251).astype(np.uint8)


def assert_same(got, want, path="msg"):
    if dataclasses.is_dataclass(want):
        assert type(got) is type(want), f"{path}: {type(got)} vs {type(want)}"
        for f in dataclasses.fields(want):
            if not f.name.startswith("_pad"):
                assert_same(getattr(got, f.name), getattr(want, f.name), f"{path}.{f.name}")
    elif isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray), f"{path}: {type(got)}"
        assert np.array_equal(got, want), f"{path}: {got} vs {want}"
    elif isinstance(want, list):
        assert len(got) == len(want), f"{path}: {got} vs {want}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{path}[{i}]")
    else:
        assert got == want, f"{path}: {got!r} vs {want!r}"


# ---------------------------------------------------------------------------
# Rust -> Python
# ---------------------------------------------------------------------------


def rust_pub(spawn, rust, kind: str, name: str, count: int):
    p = spawn.program([rust["peer"], "pub", kind, name, str(count)])
    p.expect("ready", T)
    return p


@pytest.mark.multiprocess
@pytest.mark.parametrize("kind, cls, make", [("imu", msgs.Imu, imu), ("joints", msgs.JointState, joints)])
def test_rust_publishes_python_receives_generated_classes(kind, cls, make, chan, spawn, rust):
    p = rust_pub(spawn, rust, kind, chan, 5)
    with Subscriber(chan, msg_type=cls) as sub:
        p.say("go")
        for k in range(5):
            got = sub.recv(T)
            assert got is not None, f"message {k} not received"
            assert type(got) is cls
            assert_same(got, make(k))
    p.expect("sent 5", T)
    p.say("exit")
    assert p.wait(T) == 0


@pytest.mark.multiprocess
def test_rust_publishes_an_image_python_reads_it_in_place(chan, spawn, rust):
    p = rust_pub(spawn, rust, "image", chan, 4)
    with Subscriber(chan, msg_type=msgs.ImageVga, max_borrows=2) as sub:
        p.say("go")
        for k in range(3):
            sample = sub.borrow(T)
            assert sample is not None
            img = typed.view(sample, msgs.ImageVga)
            assert type(img) is msgs.ImageVga
            assert_same(img.header, header(k, "camera"))
            assert (img.height, img.width, img.step, img.encoding) == (480, 640, 1920, "rgb8")
            # Zero copy: the pixels are a read-only view of the shared slot.
            assert isinstance(img.data, np.ndarray) and img.data.dtype == np.uint8
            assert not img.data.flags.owndata and not img.data.flags.writeable
            assert np.shares_memory(img.data, np.frombuffer(sample, dtype=np.uint8))
            assert np.array_equal(img.data, pixels(k))
            frame = img.data.reshape(img.height, img.width, 3)
            assert frame.shape == (480, 640, 3) and frame[0, 1, 0] == pixels(k)[3]
            del img, frame
            sample.release()
        # recv_view() is the same in one call; recv() copies.
        img = sub.recv_view(T)
        assert not img.data.flags.owndata and np.array_equal(img.data, pixels(3))
        del img
    p.expect("sent 4", T)
    p.say("exit")
    assert p.wait(T) == 0


# ---------------------------------------------------------------------------
# Python -> Rust
# ---------------------------------------------------------------------------


def rust_sub(spawn, rust, kind: str, name: str, count: int):
    s = spawn.program([rust["peer"], "sub", kind, name, str(count)])
    line = s.line(T)
    assert line == "ready", f"{line} {s.stderr}"
    return s


def expect_ok(s, kind: str, count: int) -> None:
    for k in range(count):
        line = s.line(T)
        assert line == f"ok {kind} {k}", line
    assert s.line(T) == f"done {count}"
    assert s.wait(T) == 0


@pytest.mark.multiprocess
@pytest.mark.parametrize("kind, cls, make", [("imu", msgs.Imu, imu), ("joints", msgs.JointState, joints)])
def test_python_publishes_rust_receives(kind, cls, make, chan, spawn, rust):
    with Publisher(chan, msg_type=cls) as pub:
        s = rust_sub(spawn, rust, kind, chan, 5)
        for k in range(5):
            pub.send(make(k))
        expect_ok(s, kind, 5)


@pytest.mark.multiprocess
def test_python_publishes_images_rust_receives(chan, spawn, rust):
    with Publisher(chan, num_slots=4, msg_type=msgs.ImageVga) as pub:
        s = rust_sub(spawn, rust, "image", chan, 2)
        # A dataclass, packed by send() ...
        pub.send(msgs.ImageVga(header=header(0, "camera"), height=480, width=640, encoding="rgb8",
                               step=1920, data=pixels(0)))
        # ... or written in place in a loaned slot (zero copy).
        loan = pub.loan()
        rec = typed.writable(loan, msgs.ImageVga)
        rec["header"]["stamp"]["sec"], rec["header"]["stamp"]["nanosec"] = 1001, 500
        rec["header"]["seq"] = 1
        rec["header"]["frame_id"]["len"] = 6
        rec["header"]["frame_id"]["bytes"][:6] = np.frombuffer(b"camera", np.uint8)
        rec["height"], rec["width"], rec["step"], rec["is_bigendian"] = 480, 640, 1920, 0
        rec["_pad0"] = 0
        rec["encoding"]["len"] = 4
        rec["encoding"]["bytes"][:4] = np.frombuffer(b"rgb8", np.uint8)
        rec["data"]["len"] = 640 * 480 * 3
        rec["data"]["items"][:] = pixels(1)
        del rec
        loan.send()
        expect_ok(s, "image", 2)


# ---------------------------------------------------------------------------
# A schema change on one side: the other side's open fails, naming the field
# ---------------------------------------------------------------------------


def edited_std(old: str, new: str) -> dict:
    """The standard set's classes, compiled from schemas/ with one edit."""
    sources = []
    done = False
    for path, text in _std_sources():
        if old in text and not done:
            text, done = text.replace(old, new, 1), True
        sources.append((path, text))
    assert done, old
    code = schema.generate_python(schema.compile_sources(sources, std_set=True))
    code = code.replace("from . import typed", "from shm_comm import typed")
    module = types.ModuleType("edited_msgs")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(code, "<edited msgs>", "exec"), module.__dict__)
    return module.__dict__


# Anchored on the next line: `Pose` has an `orientation` field too.
RENAMED = ('{ name = "orientation", type = "Quaternion" },\n    { name = "orientation_covariance"',
           '{ name = "attitude", type = "Quaternion" },\n    { name = "orientation_covariance"')
RETYPED = ('{ name = "orientation_covariance", type = "[f64; 9]"',
           '{ name = "orientation_covariance", type = "[f32; 9]"')
REORDERED = ('{ name = "angular_velocity", type = "Vector3", doc = "rad/s." },\n'
             '    { name = "angular_velocity_covariance", type = "[f64; 9]" },\n'
             '    { name = "linear_acceleration", type = "Vector3", doc = "m/s^2." },',
             '{ name = "linear_acceleration", type = "Vector3", doc = "m/s^2." },\n'
             '    { name = "angular_velocity_covariance", type = "[f64; 9]" },\n'
             '    { name = "angular_velocity", type = "Vector3", doc = "rad/s." },')


@pytest.mark.multiprocess
@pytest.mark.parametrize("edit, names", [
    (RENAMED, ["`orientation`", "`attitude`"]),
    (RETYPED, ["`orientation_covariance`", "[f32; 9]", "[f64; 9]"]),
    (REORDERED, ["`angular_velocity`", "`linear_acceleration`"]),
], ids=["renamed", "retyped", "reordered"])
def test_python_schema_changed_rust_topic_refused(edit, names, chan, spawn, rust):
    Edited = edited_std(*edit)["Imu"]
    assert Edited.__shm_layout__["hash"] != msgs.Imu.__shm_layout__["hash"]
    p = rust_pub(spawn, rust, "imu", chan, 1)
    with pytest.raises(SHMLayoutError) as e:
        Subscriber(chan, msg_type=Edited)
    for n in names:
        assert n in str(e.value), str(e.value)
    p.say("go")
    p.say("exit")
    assert p.wait(T) == 0


@pytest.mark.multiprocess
@pytest.mark.parametrize("edit, names", [
    (RENAMED, ["`orientation`", "`attitude`"]),
    (RETYPED, ["`orientation_covariance`", "[f32; 9]"]),
], ids=["renamed", "retyped"])
def test_python_schema_changed_rust_subscriber_refused(edit, names, chan, spawn, rust):
    Edited = edited_std(*edit)["Imu"]
    with Publisher(chan, msg_type=Edited):
        s = spawn.program([rust["peer"], "sub", "imu", chan, "1"])
        line = s.line(T)
        assert line.startswith("error: "), line
        assert "first difference" in line and all(n in line for n in names), line
        assert s.wait(T) == 3


# ---------------------------------------------------------------------------
# Bad schema files: file:line and the reason (the Rust compiler's test files)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(BAD.glob("*.toml")), ids=lambda p: p.stem)
def test_bad_schema_gives_file_line_and_reason(path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    line, reason = first.removeprefix("# error: ").split(": ", 1)
    with pytest.raises(schema.SchemaError) as e:
        schema.compile_files([str(path)])
    assert str(e.value).startswith(f"{path}:{line}: "), str(e.value)
    assert reason in str(e.value)
    assert (e.value.file, e.value.line) == (str(path), int(line))


def test_bad_schema_cases_required_by_the_format_are_covered():
    stems = {p.stem for p in BAD.glob("*.toml")}
    assert {"unknown_type", "duplicate_field", "cycle", "capacity_zero", "name_collision"} <= stems


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------


def run_schema(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "shm_comm.schema", *args], cwd=str(cwd),
                          capture_output=True, text=True, timeout=120)


def test_gen_command_from_a_users_schema(tmp_path, derived, rust):
    out = tmp_path / "robot_msgs.py"
    rel = FIXTURE.relative_to(ROOT)
    r = run_schema("gen", str(rel), "-o", str(out))
    assert r.returncode == 0, r.stderr
    text = out.read_text(encoding="utf-8")
    # The Rust compiler writes the same module.
    rs = subprocess.run([str(rust["compiler"]), "gen-python", str(rel)], cwd=str(ROOT),
                        capture_output=True, text=True, timeout=60)
    assert rs.returncode == 0, rs.stderr
    assert rs.stdout == text
    # The classes have the layouts of the Rust types generated from the same file.
    mod = schema.load(FIXTURE, "robot_msgs_test")
    for name in ("RobotStatus", "ImageThermal"):
        same_layout(name, getattr(mod, name).__shm_layout__, derived[name])
    status = mod.RobotStatus()
    assert type(status.header) is msgs.Header and type(status.pose) is msgs.Pose
    assert hasattr(status, "in_") and hasattr(status, "type")
    assert mod.RobotStatus.MODE_DRIVE == 1
    raw = typed.encode(mod.RobotStatus.__shm_layout__, mod.RobotStatus(mode=1, errors=["e1"]))
    back = typed.decode(mod.RobotStatus.__shm_layout__, raw)
    assert type(back) is mod.RobotStatus and back.errors == ["e1"] and back.mode == 1


def test_gen_command_reports_file_and_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('version = 1\n\n[[message]]\nname = "A"\nfields = [\n'
                   '    { name = "x", type = "Nope" },\n]\n', encoding="utf-8")
    r = run_schema("gen", str(bad))
    assert r.returncode == 1
    assert f"{bad}:6: unknown type `Nope` in field `x` of `A`" in r.stderr


@pytest.mark.multiprocess
def test_from_topic_writes_a_schema_with_the_topics_layout(tmp_path, chan, spawn, rust, derived):
    p = rust_pub(spawn, rust, "telemetry", chan, 1)
    out = tmp_path / "telemetry.toml"
    r = run_schema("from-topic", chan, "-o", str(out))
    assert r.returncode == 0, r.stderr
    text = out.read_text(encoding="utf-8")
    assert 'name = "Telemetry"' in text and 'type = "Pose"' in text  # standard types by name
    assert '{ name = "_pad", type = "[u8; 3]" }' in text
    mod = schema.load(out, "telemetry_msgs_test")
    same_layout("Telemetry", mod.Telemetry.__shm_layout__, derived["Telemetry"])
    with Subscriber(chan, msg_type=mod.Telemetry) as sub:
        p.say("go")
        got = sub.recv(T)
    assert type(got) is mod.Telemetry and type(got.pose) is msgs.Pose
    assert (got.stamp_ns, got.mode, got.label, got.ok) == (42, 2, "rover", True)
    assert len(got.samples) == 1 and np.array_equal(got.samples[0], [1.0, 2.0])
    p.say("exit")
    assert p.wait(T) == 0


@pytest.mark.multiprocess
def test_from_topic_on_a_standard_topic(tmp_path, chan, spawn, rust):
    p = rust_pub(spawn, rust, "imu", chan, 1)
    r = run_schema("from-topic", chan)
    assert r.returncode == 0, r.stderr
    assert "standard message `Imu`" in r.stdout and "[[message]]" not in r.stdout
    p.say("go")
    p.say("exit")
    assert p.wait(T) == 0


def test_user_variant_of_a_standard_template(tmp_path):
    """The documented way to choose an image bound per channel."""
    f = tmp_path / "cams.toml"
    f.write_text('version = 1\n\n[[variant]]\nname = "ImageMono1M"\ntemplate = "Image"\n'
                 'args = { CAPACITY = 1048576 }\ndoc = "1024 x 1024 mono8."\n', encoding="utf-8")
    mod = schema.load(f, "cams_test")
    lay = mod.ImageMono1M.__shm_layout__
    assert lay["size"] == 124 + 1048576
    # Same fields as the standard variants, only the capacity differs.
    std = msgs.ImageVga.__shm_layout__
    assert [x["name"] for x in lay["fields"]] == [x["name"] for x in std["fields"]]
    assert lay["fields"][-1]["capacity"] == 1048576
    assert _native.layout_hash(lay) == lay["hash"]
