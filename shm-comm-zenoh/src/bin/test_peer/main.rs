//! The other processes of the bridge tests: one role per run, on the
//! host whose segment directory `SHM_COMM_DIR` names. Prints `ready`
//! once its channel exists, then one JSON line per message.
//!
//! ```text
//! pub-imu NAME PERIOD_US COUNT     Imu i = 0.. (COUNT 0: until killed)
//! sub-imu NAME COUNT WAIT_S        {"seq", "debug"} per message
//! pub-mag NAME                     MagneticField (another layout) until killed
//! pub-bytes NAME PERIOD_US COUNT   msgpack strings "msg-i"
//! sub-bytes NAME COUNT WAIT_S      {"codec", "value"} per message
//! replier-add NAME COUNT           answers Add with Sum
//! call-add NAME A B TIMEOUT_MS     {"sum"} or {"error", "ms"}
//! push-job NAME ID                 one Job, then exits
//! pull-jobs NAME WAIT_S            {"id"} per job until WAIT_S idle
//! ```

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;
use shm_comm::msgs::{Imu, MagneticField};
use shm_comm::pipeline::{PullerOptions, Pusher};
use shm_comm::pubsub::{ConnectOptions, DynPublisher, DynSubscriber, Publisher, Subscriber};
use shm_comm::reqrep::{Replier, Requester, RequesterOptions};

mod fixture;
use fixture::{imu, Add, Job, Sum};

fn say(v: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn ready() {
    println!("ready");
    let _ = std::io::stdout().flush();
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize) -> T {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("argument {i} missing or malformed: {args:?}"))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("");
    let name: String = arg(&args, 1);
    match mode {
        "pub-imu" => {
            let period = Duration::from_micros(arg(&args, 2));
            let count: u32 = arg(&args, 3);
            let mut p = Publisher::<Imu>::create(&name).unwrap();
            ready();
            let mut i = 0;
            while count == 0 || i < count {
                p.send(&imu(i)).unwrap();
                i += 1;
                std::thread::sleep(period);
            }
            // Stay until killed, so that the topic stays live.
            std::thread::sleep(Duration::from_secs(3600));
        }
        "sub-imu" => {
            let count: u32 = arg(&args, 2);
            let wait = Duration::from_secs_f64(arg(&args, 3));
            let mut s =
                Subscriber::<Imu>::connect_with(&name, ConnectOptions::with_timeout(wait)).unwrap();
            ready();
            for _ in 0..count {
                match s.recv_timeout(wait) {
                    Ok(m) => say(&json!({ "seq": m.header.seq, "debug": format!("{m:?}") })),
                    Err(e) => return say(&json!({ "error": e.to_string() })),
                }
            }
        }
        "pub-mag" => {
            let mut p = Publisher::<MagneticField>::create(&name).unwrap();
            ready();
            loop {
                p.send(&MagneticField::default()).unwrap();
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        "pub-bytes" => {
            let period = Duration::from_micros(arg(&args, 2));
            let count: u32 = arg(&args, 3);
            let mut p = DynPublisher::create(&name).unwrap();
            ready();
            for i in 0..count {
                p.send_msgpack(&format!("msg-{i}")).unwrap();
                std::thread::sleep(period);
            }
            std::thread::sleep(Duration::from_secs(3600));
        }
        "sub-bytes" => {
            let count: u32 = arg(&args, 2);
            let wait = Duration::from_secs_f64(arg(&args, 3));
            let mut s =
                DynSubscriber::connect_with(&name, ConnectOptions::with_timeout(wait)).unwrap();
            ready();
            for _ in 0..count {
                match s.recv_timeout(wait) {
                    Ok(f) => {
                        let v: String = rmp_serde::from_slice(&f.data).unwrap_or_default();
                        say(&json!({ "codec": f.codec.name(), "value": v }));
                    }
                    Err(e) => return say(&json!({ "error": e.to_string() })),
                }
            }
        }
        "replier-add" => {
            let count: u32 = arg(&args, 2);
            let r = Replier::<Add, Sum>::create(&name).unwrap();
            ready();
            for _ in 0..count {
                let (call, req) = r.recv_timeout(Duration::from_secs(30)).unwrap();
                let _ = r.reply(&call, &Sum { sum: req.a + req.b }).unwrap();
            }
        }
        "call-add" => {
            let (a, b): (i64, i64) = (arg(&args, 2), arg(&args, 3));
            let timeout = Duration::from_millis(arg(&args, 4));
            let r = Requester::<Add, Sum>::connect_with(
                &name,
                RequesterOptions::with_timeout(Duration::from_secs(10)),
            )
            .unwrap();
            ready();
            let t0 = Instant::now();
            match r.request(&Add { a, b }, timeout) {
                Ok(s) => say(&json!({ "sum": s.sum })),
                Err(e) => say(&json!({
                    "error": e.to_string(),
                    "ms": t0.elapsed().as_millis() as u64,
                })),
            }
        }
        "push-job" => {
            let id: u64 = arg(&args, 2);
            let p = Pusher::<Job>::create(&name).unwrap();
            ready();
            p.send(Job { id, weight: 0.5 }).unwrap();
            say(&json!({ "sent": id }));
        }
        "pull-jobs" => {
            let wait = Duration::from_secs_f64(arg(&args, 2));
            let p = shm_comm::pipeline::Puller::<Job>::connect_with(
                &name,
                PullerOptions::with_timeout(wait),
            )
            .unwrap();
            ready();
            while let Ok(j) = p.recv_timeout(wait) {
                say(&json!({ "id": j.id }));
            }
        }
        m => panic!("unknown mode {m:?}"),
    }
}
