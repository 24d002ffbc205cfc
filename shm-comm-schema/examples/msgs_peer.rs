//! The Rust side of the Python tests of the standard message set
//! (`python/tests/test_msgs.py`): publishes and subscribes `shm_comm::msgs`
//! types with values both sides compute from a sequence number, and prints
//! the layouts `#[derive(ShmMessage)]` built.
//!
//! ```text
//! msgs_peer describe               JSON: every derive layout (standard set + robot fixture)
//! msgs_peer pub KIND NAME COUNT    "ready", waits for a line, sends COUNT, "sent N", waits for a line
//! msgs_peer sub KIND NAME COUNT    "ready", then "ok KIND SEQ" or "bad KIND SEQ: why" per message,
//!                                  "done N"; "error: ..." (exit 3) if it cannot connect
//! ```
//! KIND is `imu`, `joints`, `image` (an `ImageVga` of 640 x 480 x 3) or
//! `telemetry` (a struct of this program, not of a schema).

use std::fmt::Write as _;
use std::io::BufRead;
use std::time::Duration;

use shm_comm::msgs::{Header, ImageVga, Imu, JointState, Pose, Time};
use shm_comm::pubsub::{ConnectOptions, Publisher, Subscriber, TypedPubOptions};
use shm_comm::{
    FixedString, FixedVec, Flag, Kind, LayoutDescriptor, ShmMessage, ShmType, TypeDesc,
};

// The user fixture of the schema tests, for `describe`.
#[allow(dead_code)]
#[path = "../tests/fixtures/robot.rs"]
mod robot;

/// A message defined in Rust only (for `python -m shm_comm.schema from-topic`):
/// hand-written padding included.
#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
struct Telemetry {
    stamp_ns: u64,
    mode: u8,
    _pad: [u8; 3],
    battery: f32,
    pose: Pose,
    label: FixedString<12>,
    samples: FixedVec<[f32; 2], 4>,
    ok: Flag,
    _tail: [u8; 7],
}

fn die(msg: &str) -> ! {
    eprintln!("msgs_peer: {msg}");
    std::process::exit(2)
}

fn wait_line() {
    let mut s = String::new();
    let _ = std::io::stdin().lock().read_line(&mut s);
}

// ---------------------------------------------------------------------------
// The values, as functions of the sequence number k (the same in the tests)
// ---------------------------------------------------------------------------

fn header(k: u32, frame: &str) -> Header {
    Header {
        stamp: Time {
            sec: 1000 + k as i32,
            nanosec: 500 * k,
        },
        seq: k,
        frame_id: FixedString::try_from(frame).unwrap_or_default(),
    }
}

fn imu(k: u32) -> Imu {
    let kf = f64::from(k);
    let mut m = Imu::zeroed();
    m.header = header(k, "imu_link");
    m.orientation.x = kf + 0.25;
    m.orientation.y = -kf;
    m.orientation.z = 0.5;
    m.orientation.w = 1.0;
    m.angular_velocity.x = kf * 0.125;
    m.angular_velocity.y = 1.5;
    m.angular_velocity.z = -2.0;
    m.linear_acceleration.z = 9.75;
    for i in 0..9 {
        let f = i as f64;
        m.orientation_covariance[i] = f + kf * 0.5;
        m.angular_velocity_covariance[i] = f * kf;
        m.linear_acceleration_covariance[i] = -f;
    }
    m
}

fn joints(k: u32) -> JointState {
    let n = 6 + (k % 3) as usize;
    let mut m = JointState::zeroed();
    m.header = header(k, "base_link");
    for j in 0..n {
        let name = FixedString::try_from(format!("joint_{j}").as_str()).unwrap_or_default();
        let _ = m.name.push(name);
        let _ = m.position.push(j as f64 + f64::from(k) * 0.25);
        let _ = m.velocity.push(-(j as f64));
    }
    m
}

const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;

fn pixel(i: usize, k: u32) -> u8 {
    ((i * 7 + k as usize) % 251) as u8
}

/// Fills an image in place (it lives in a loaned slot, not on the stack).
fn fill_image(m: &mut ImageVga, k: u32) {
    m.header = header(k, "camera");
    m.height = HEIGHT;
    m.width = WIDTH;
    m.encoding = FixedString::try_from("rgb8").unwrap_or_default();
    m.is_bigendian = 0;
    m._pad0 = [0; 3];
    m.step = WIDTH * 3;
    let data: Vec<u8> = (0..(WIDTH * HEIGHT * 3) as usize)
        .map(|i| pixel(i, k))
        .collect();
    if m.data.set(&data).is_err() {
        die("image does not fit");
    }
}

fn check_image(m: &ImageVga, k: u32) -> Result<(), String> {
    let want = header(k, "camera");
    if format!("{:?}", m.header) != format!("{want:?}") {
        return Err(format!("header {:?} vs {want:?}", m.header));
    }
    if (m.height, m.width, m.step, m.is_bigendian) != (HEIGHT, WIDTH, WIDTH * 3, 0) {
        return Err(format!(
            "geometry {}x{} step {} bigendian {}",
            m.height, m.width, m.step, m.is_bigendian
        ));
    }
    if m.encoding.as_str() != Ok("rgb8") {
        return Err(format!("encoding {:?}", m.encoding));
    }
    if m.data.len() != (WIDTH * HEIGHT * 3) as usize {
        return Err(format!("{} bytes of data", m.data.len()));
    }
    if let Some(i) = (0..m.data.len()).find(|&i| m.data[i] != pixel(i, k)) {
        return Err(format!(
            "pixel byte {i} is {} not {}",
            m.data[i],
            pixel(i, k)
        ));
    }
    Ok(())
}

fn same<T: std::fmt::Debug>(got: &T, want: &T) -> Result<(), String> {
    let (g, w) = (format!("{got:?}"), format!("{want:?}"));
    if g == w {
        Ok(())
    } else {
        Err(format!("got {g} want {w}"))
    }
}

fn telemetry() -> Telemetry {
    let mut t = Telemetry::zeroed();
    t.stamp_ns = 42;
    t.mode = 2;
    t.battery = 0.5;
    t.pose.orientation.w = 1.0;
    t.label = FixedString::try_from("rover").unwrap_or_default();
    let _ = t.samples.push([1.0, 2.0]);
    t.ok = Flag::TRUE;
    t
}

// ---------------------------------------------------------------------------
// describe: the derive's layouts as JSON (the dict format of shm_comm.typed)
// ---------------------------------------------------------------------------

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_type(t: &TypeDesc, out: &mut String) {
    let shape: Vec<String> = t.shape.iter().map(u32::to_string).collect();
    let _ = write!(
        out,
        "\"size\": {}, \"shape\": [{}], ",
        t.size,
        shape.join(", ")
    );
    match &t.kind {
        Kind::Scalar(s) => {
            let _ = write!(out, "\"kind\": \"{}\"", s.name());
        }
        Kind::Struct(l) => {
            out.push_str("\"kind\": \"struct\", \"layout\": ");
            json_layout(l, out);
        }
        Kind::FixedString { capacity } => {
            let _ = write!(out, "\"kind\": \"string\", \"capacity\": {capacity}");
        }
        Kind::FixedVec { elem, capacity } => {
            let _ = write!(
                out,
                "\"kind\": \"vec\", \"capacity\": {capacity}, \"elem\": {{"
            );
            json_type(elem, out);
            out.push('}');
        }
        Kind::Opaque { align, .. } => {
            let _ = write!(out, "\"kind\": \"opaque\", \"align\": {align}");
        }
    }
}

fn json_layout(l: &LayoutDescriptor, out: &mut String) {
    let _ = write!(
        out,
        "{{\"name\": {}, \"size\": {}, \"align\": {}, \"hash\": {}, \"fields\": [",
        json_str(&l.name),
        l.size,
        l.align,
        l.hash()
    );
    for (i, f) in l.fields.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(
            out,
            "{{\"name\": {}, \"offset\": {}, ",
            json_str(&f.name),
            f.offset
        );
        json_type(&f.ty, out);
        out.push('}');
    }
    out.push(']');
    // A variable-size message's tail, in the binding's format.
    if let Some(t) = &l.tail {
        let _ = write!(
            out,
            ", \"tail\": {{\"offset\": {}, \"max_len\": {}, \"generation\": {}, \"base\": {}, \"elem\": {{",
            t.offset, t.max_len, t.generation, t.base
        );
        json_type(&t.elem, out);
        out.push_str("}}");
    }
    out.push('}');
}

fn describe() {
    let mut out = String::from("{");
    let all = shm_comm::msgs::all_layouts()
        .into_iter()
        .chain(robot::all_layouts())
        .chain([Telemetry::layout()]);
    for (i, l) in all.enumerate() {
        if i > 0 {
            out.push_str(",\n ");
        }
        let _ = write!(out, "{}: ", json_str(&l.name));
        json_layout(l, &mut out);
    }
    out.push('}');
    println!("{out}");
}

// ---------------------------------------------------------------------------
// pub / sub
// ---------------------------------------------------------------------------

fn create<T: ShmMessage>(name: &str, capacity: u32) -> Publisher<T> {
    Publisher::<T>::create_with(
        name,
        TypedPubOptions {
            capacity,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| die(&format!("create {name}: {e}")))
}

fn publish(kind: &str, name: &str, count: u32) {
    match kind {
        "imu" => {
            let mut p = create::<Imu>(name, 64);
            println!("ready");
            wait_line();
            for k in 0..count {
                p.send(&imu(k)).unwrap_or_else(|e| die(&e.to_string()));
            }
            println!("sent {count}");
            wait_line();
        }
        "joints" => {
            let mut p = create::<JointState>(name, 64);
            println!("ready");
            wait_line();
            for k in 0..count {
                p.send(&joints(k)).unwrap_or_else(|e| die(&e.to_string()));
            }
            println!("sent {count}");
            wait_line();
        }
        "image" => {
            let mut p = create::<ImageVga>(name, 8);
            println!("ready");
            wait_line();
            for k in 0..count {
                // Built in place in the slot: never on the stack.
                let mut loan = p.loan().unwrap_or_else(|e| die(&e.to_string()));
                fill_image(&mut loan, k);
                loan.send().unwrap_or_else(|e| die(&e.to_string()));
            }
            println!("sent {count}");
            wait_line();
        }
        "telemetry" => {
            let mut p = create::<Telemetry>(name, 4);
            println!("ready");
            wait_line();
            for _ in 0..count {
                p.send(&telemetry()).unwrap_or_else(|e| die(&e.to_string()));
            }
            println!("sent {count}");
            wait_line();
        }
        other => die(&format!("unknown kind {other:?}")),
    }
}

fn connect<T: ShmMessage>(name: &str) -> Subscriber<T> {
    let opts = ConnectOptions {
        timeout: Duration::from_secs(10),
        ..Default::default()
    };
    match Subscriber::<T>::connect_with(name, opts) {
        Ok(s) => s,
        Err(e) => {
            println!("error: {e}");
            std::process::exit(3)
        }
    }
}

const RECV: Duration = Duration::from_secs(20);

fn report(kind: &str, k: u32, r: Result<(), String>) {
    match r {
        Ok(()) => println!("ok {kind} {k}"),
        Err(why) => println!("bad {kind} {k}: {why}"),
    }
}

fn subscribe(kind: &str, name: &str, count: u32) {
    match kind {
        "imu" => {
            let mut s = connect::<Imu>(name);
            println!("ready");
            for _ in 0..count {
                let m = s.recv_timeout(RECV).unwrap_or_else(|e| die(&e.to_string()));
                let k = m.header.seq;
                report(kind, k, same(&m, &imu(k)));
            }
        }
        "joints" => {
            let mut s = connect::<JointState>(name);
            println!("ready");
            for _ in 0..count {
                let m = s.recv_timeout(RECV).unwrap_or_else(|e| die(&e.to_string()));
                let k = m.header.seq;
                report(kind, k, same(&m, &joints(k)));
            }
        }
        "image" => {
            let mut s = connect::<ImageVga>(name);
            println!("ready");
            for _ in 0..count {
                // Read in place in the slot: never copied to the stack.
                let m = s
                    .borrow_timeout(RECV)
                    .unwrap_or_else(|e| die(&e.to_string()));
                let k = m.header.seq;
                report(kind, k, check_image(&m, k));
            }
        }
        other => die(&format!("unknown kind {other:?}")),
    }
    println!("done {count}");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    let count = || {
        arg(3)
            .parse::<u32>()
            .unwrap_or_else(|_| die("COUNT missing or invalid"))
    };
    match arg(0) {
        "describe" => describe(),
        "pub" => publish(arg(1), arg(2), count()),
        "sub" => subscribe(arg(1), arg(2), count()),
        _ => die("usage: msgs_peer describe | pub KIND NAME COUNT | sub KIND NAME COUNT"),
    }
}
