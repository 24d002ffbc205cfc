//! The bridge's cost, against plain Zenoh over the same TCP link, in one
//! run (README, "Between hosts"):
//!
//! ```text
//! cargo build --release -p shm-comm-zenoh --bins
//! target/release/shmc-bridge-bench [--rounds N] [--seconds S] [--runs R]
//! ```
//!
//! Each of the `--runs` (3) runs measures plain Zenoh, then the bridged
//! path; the last line gives the medians over the runs (this VM's
//! wake-ups vary from run to run by more than the bridge costs).
//!
//! - **Bridged**: two simulated hosts (segment directories A and B), a
//!   bridge each, connected by `tcp/127.0.0.1`; a pinger on A publishes on
//!   `bench/ping`, a ponger on B echoes on `bench/pong`: shm -> bridge ->
//!   Zenoh TCP -> bridge -> shm, and back.
//! - **Plain Zenoh**: two processes with a Zenoh session each (peer mode,
//!   one listening, one connecting over `tcp/127.0.0.1`) doing the same
//!   ping-pong with `put` and a subscriber.
//!
//! One-way latency is half the round trip (p50, p99), for 64 B and 1 MiB
//! payloads. Throughput: for `--seconds` the sender keeps two 1 MiB
//! messages in flight, the receiver acknowledging each with its first 8
//! bytes (a window, because a shm publisher never blocks: flooding a
//! 2-slot ring would measure how much the rings drop, and burn a core);
//! messages acknowledged per second.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shm_comm::pubsub::{ConnectOptions, DynPublisher, DynSubscriber, PubOptions};
use shm_comm::Codec;
use zenoh::qos::CongestionControl;
use zenoh::Wait;

const SMALL: usize = 64;
const LARGE: usize = 1 << 20;

/// A child killed on drop.
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Kid {
    /// The child's next stdout line (it prints one result per line).
    fn line(&mut self) -> String {
        let out = self.0.stdout.as_mut().expect("piped");
        let mut l = String::new();
        let _ = BufReader::new(out).read_line(&mut l);
        l.trim().to_owned()
    }
}

fn me() -> PathBuf {
    std::env::current_exe().expect("own path")
}

fn spawn(args: &[&str], dir: Option<&Path>, piped: bool) -> Kid {
    let mut c = Command::new(me());
    c.args(args).stdin(Stdio::null());
    if piped {
        c.stdout(Stdio::piped());
    }
    if let Some(d) = dir {
        c.env("SHM_COMM_DIR", d);
    }
    Kid(c.spawn().expect("spawn"))
}

fn bridge(dir: &Path, args: &[String]) -> Kid {
    let exe = me().with_file_name("shmc-bridge");
    Kid(Command::new(exe)
        .arg("run")
        .args(args)
        .env("SHM_COMM_DIR", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("shmc-bridge next to the bench (cargo build --release -p shm-comm-zenoh --bins)"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn session(listen: Option<u16>, connect: Option<u16>) -> zenoh::Session {
    let mut c = zenoh::Config::default();
    let set = |c: &mut zenoh::Config, k: &str, v: String| c.insert_json5(k, &v).expect(k);
    set(&mut c, "mode", "\"peer\"".into());
    set(&mut c, "scouting/multicast/enabled", "false".into());
    if let Some(p) = listen {
        set(
            &mut c,
            "listen/endpoints",
            format!("[\"tcp/127.0.0.1:{p}\"]"),
        );
    }
    if let Some(p) = connect {
        set(
            &mut c,
            "connect/endpoints",
            format!("[\"tcp/127.0.0.1:{p}\"]"),
        );
    }
    zenoh::open(c).wait().expect("zenoh session")
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Round trips in microseconds, halved: one-way latencies, sorted.
fn one_way(mut rtts: Vec<f64>) -> Vec<f64> {
    for r in &mut rtts {
        *r /= 2.0;
    }
    rtts.sort_by(f64::total_cmp);
    rtts
}

fn stamp(buf: &mut [u8], seq: u64) {
    buf[..8].copy_from_slice(&seq.to_le_bytes());
}

fn seq_of(buf: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&buf[..8]);
    u64::from_le_bytes(b)
}

// ---- shm side (run inside a host's directory) -------------------------

fn shm_opts() -> PubOptions {
    PubOptions {
        max_payload: LARGE as u32,
        ..PubOptions::for_size(LARGE)
    }
}

/// On host B: echo `bench/ping` on `bench/pong` (only the first 8 bytes of
/// a throughput message: its acknowledgement), until 3 s without a ping.
fn shm_pong() {
    let mut pong = DynPublisher::create_with("bench/pong", shm_opts()).expect("pong");
    println!("ready");
    let wait = ConnectOptions::with_timeout(Duration::from_secs(30));
    let mut ping = DynSubscriber::connect_with("bench/ping", wait).expect("ping");
    let mut buf = Vec::new();
    while let Ok(c) = ping.recv_into(&mut buf, Some(Instant::now() + Duration::from_secs(3))) {
        pong.send_frame(echo(&buf), c).expect("send");
    }
}

/// What a ponger sends back for `msg`.
fn echo(msg: &[u8]) -> &[u8] {
    if msg.len() > 8 && msg[8] == ACK_ONLY {
        &msg[..8]
    } else {
        msg
    }
}

/// Byte 8 of a throughput message: answer with its first 8 bytes only.
const ACK_ONLY: u8 = 1;
/// Throughput messages in flight (unacknowledged) at most: the rings of
/// 1 MiB topics hold 2.
const WINDOW: u64 = 2;

/// Sends 1 MiB messages for `seconds` keeping at most `WINDOW`
/// unacknowledged (one lost after 1 s counts as acknowledged); prints
/// messages per second acknowledged.
fn window(
    seconds: f64,
    send: &mut dyn FnMut(&[u8]),
    ack: &mut dyn FnMut(Instant) -> Option<u64>,
    first: u64,
) {
    let mut msg = vec![7u8; LARGE];
    msg[8] = ACK_ONLY;
    let (mut sent, mut acked, mut lost) = (first, first, 0u64);
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(seconds);
    while Instant::now() < end {
        if sent - acked < WINDOW {
            sent += 1;
            stamp(&mut msg, sent);
            send(&msg);
            continue;
        }
        match ack(Instant::now() + Duration::from_secs(1)) {
            Some(n) if n > acked && n <= sent => acked = n,
            Some(_) => {}
            None => {
                lost += sent - acked;
                acked = sent;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{} {lost}", (acked - first - lost) as f64 / secs);
}

/// On host A: ping-pong, then the window; prints latencies and the rate.
fn shm_ping(rounds: usize, seconds: f64) {
    let mut ping = DynPublisher::create_with("bench/ping", shm_opts()).expect("ping");
    // Each host's copy of a remote topic appears with its first sample:
    // ping (sequence number 0, ignored) until the echo makes `bench/pong`.
    let short = ConnectOptions::with_timeout(Duration::from_millis(100));
    let end = Instant::now() + Duration::from_secs(30);
    let mut pong = loop {
        ping.send_frame(&[0u8; 8], Codec::Raw).expect("send");
        match DynSubscriber::connect_with("bench/pong", short) {
            Ok(s) => break s,
            Err(e) if Instant::now() > end => panic!("bench/pong: {e}"),
            Err(_) => {}
        }
    };
    let mut got = Vec::new();
    for size in [SMALL, LARGE] {
        let mut msg = vec![0u8; size];
        let mut rtts = Vec::with_capacity(rounds);
        let mut seq = 0u64;
        // Warm-up rounds, then the measured ones; a lost message is sent again.
        while rtts.len() < rounds {
            seq += 1;
            stamp(&mut msg, seq);
            let t0 = Instant::now();
            ping.send_frame(&msg, Codec::Raw).expect("send");
            let ok = loop {
                match pong.recv_into(&mut got, Some(t0 + Duration::from_secs(1))) {
                    Ok(_) if got.len() >= 8 && seq_of(&got) == seq => break true,
                    Ok(_) => continue,
                    Err(_) => break false,
                }
            };
            if ok && seq > 50 {
                rtts.push(t0.elapsed().as_secs_f64() * 1e6);
            }
        }
        let ow = one_way(rtts);
        println!("{size} {} {}", pct(&ow, 0.5), pct(&ow, 0.99));
    }
    window(
        seconds,
        &mut |m| ping.send_frame(m, Codec::Raw).expect("send"),
        &mut |d| {
            pong.recv_into(&mut got, Some(d))
                .ok()
                .filter(|_| got.len() >= 8)
                .map(|_| seq_of(&got))
        },
        1 << 40,
    );
}

// ---- plain Zenoh -------------------------------------------------------

fn zenoh_pong(port: u16) {
    let s = session(Some(port), None);
    let pong = s
        .declare_publisher("bench/pong")
        .congestion_control(CongestionControl::Block)
        .wait()
        .expect("pong");
    let ping = s.declare_subscriber("bench/ping").wait().expect("ping");
    println!("ready");
    while let Ok(Some(sample)) = ping.recv_timeout(Duration::from_secs(3)) {
        // Read the bytes, as a consumer does (a large sample arrives in
        // fragments: this copies it); echo without a copy.
        let bytes = sample.payload().to_bytes();
        let back = if echo(&bytes).len() == bytes.len() {
            sample.payload().clone()
        } else {
            bytes[..8].to_vec().into()
        };
        pong.put(back).wait().expect("put");
    }
}

fn zenoh_ping(port: u16, rounds: usize, seconds: f64) {
    let s = session(None, Some(port));
    let ping = s
        .declare_publisher("bench/ping")
        .congestion_control(CongestionControl::Block)
        .wait()
        .expect("ping");
    let pong = s.declare_subscriber("bench/pong").wait().expect("pong");
    std::thread::sleep(Duration::from_millis(500));
    for size in [SMALL, LARGE] {
        let mut msg = vec![0u8; size];
        let mut rtts = Vec::with_capacity(rounds);
        let mut seq = 0u64;
        while rtts.len() < rounds {
            seq += 1;
            stamp(&mut msg, seq);
            let t0 = Instant::now();
            ping.put(msg.clone()).wait().expect("put");
            let ok = loop {
                match pong.recv_deadline(t0 + Duration::from_secs(1)) {
                    Ok(Some(s)) if seq_of(&s.payload().to_bytes()) == seq => break true,
                    Ok(Some(_)) => continue,
                    _ => break false,
                }
            };
            if ok && seq > 50 {
                rtts.push(t0.elapsed().as_secs_f64() * 1e6);
            }
        }
        let ow = one_way(rtts);
        println!("{size} {} {}", pct(&ow, 0.5), pct(&ow, 0.99));
    }
    window(
        seconds,
        &mut |m| ping.put(m.to_vec()).wait().expect("put"),
        &mut |d| match pong.recv_deadline(d) {
            Ok(Some(s)) => Some(seq_of(&s.payload().to_bytes())),
            _ => None,
        },
        1 << 40,
    );
}

// ---- the orchestra -----------------------------------------------------

struct Run {
    /// (size, p50 us, p99 us)
    lat: Vec<(usize, f64, f64)>,
    /// 1 MiB messages per second acknowledged
    rate: f64,
    /// throughput messages lost (not acknowledged within 1 s)
    lost: u64,
}

fn collect(pinger: &mut Kid) -> Run {
    let mut lat = Vec::new();
    for _ in 0..2 {
        let l = pinger.line();
        let v: Vec<f64> = l.split(' ').filter_map(|x| x.parse().ok()).collect();
        assert_eq!(v.len(), 3, "pinger said {l:?}");
        lat.push((v[0] as usize, v[1], v[2]));
    }
    let l = pinger.line();
    let v: Vec<f64> = l.split(' ').filter_map(|x| x.parse().ok()).collect();
    assert_eq!(v.len(), 2, "pinger said {l:?}");
    Run {
        lat,
        rate: v[0],
        lost: v[1] as u64,
    }
}

fn bridged(rounds: usize, seconds: f64) -> Run {
    let base = Path::new("/dev/shm");
    let base = if base.is_dir() {
        base.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let a = base.join(format!("shmc-bridge-bench-{}-a", std::process::id()));
    let b = base.join(format!("shmc-bridge-bench-{}-b", std::process::id()));
    struct Rm(Vec<PathBuf>);
    impl Drop for Rm {
        fn drop(&mut self) {
            for d in &self.0 {
                let _ = std::fs::remove_dir_all(d);
            }
        }
    }
    let _rm = Rm(vec![a.clone(), b.clone()]);
    for d in [&a, &b] {
        std::fs::create_dir_all(d).expect("host directory");
    }
    let port = free_port();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let _ba = bridge(
        &a,
        &s(&[
            "--listen",
            &format!("tcp/127.0.0.1:{port}"),
            "--export",
            "bench/ping",
            "--import",
            "bench/pong",
            "--block",
            "bench/**",
        ]),
    );
    let _bb = bridge(
        &b,
        &s(&[
            "--connect",
            &format!("tcp/127.0.0.1:{port}"),
            "--export",
            "bench/pong",
            "--import",
            "bench/ping",
            "--block",
            "bench/**",
        ]),
    );
    let mut ponger = spawn(&["shm-pong"], Some(&b), true);
    assert_eq!(ponger.line(), "ready");
    let (r, sec) = (rounds.to_string(), seconds.to_string());
    let mut pinger = spawn(&["shm-ping", &r, &sec], Some(&a), true);
    {
        let r = collect(&mut pinger);
        drop(ponger);
        r
    }
}

fn plain(rounds: usize, seconds: f64) -> Run {
    let port = free_port();
    let p = port.to_string();
    let mut ponger = spawn(&["zenoh-pong", &p], None, true);
    assert_eq!(ponger.line(), "ready");
    let (r, sec) = (rounds.to_string(), seconds.to_string());
    let mut pinger = spawn(&["zenoh-ping", &p, &r, &sec], None, true);
    {
        let r = collect(&mut pinger);
        drop(ponger);
        r
    }
}

fn flag(args: &[String], name: &str, default: f64) -> f64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |i: usize| {
        args.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    match args.first().map(String::as_str) {
        Some("shm-pong") => return shm_pong(),
        Some("shm-ping") => return shm_ping(num(1) as usize, num(2)),
        Some("zenoh-pong") => return zenoh_pong(num(1) as u16),
        Some("zenoh-ping") => return zenoh_ping(num(1) as u16, num(2) as usize, num(3)),
        _ => {}
    }
    let rounds = flag(&args, "--rounds", 2000.0) as usize;
    let seconds = flag(&args, "--seconds", 3.0);
    let runs = (flag(&args, "--runs", 3.0) as usize).max(1);
    println!(
        "one-way latency (round trip / 2), {rounds} round trips; 1 MiB throughput over \
         {seconds} s; {runs} runs, each plain Zenoh then bridged"
    );
    println!(
        "{:<4} {:<6} {:>12} {:>12} {:>14} {:>14} {:>12} {:>18}",
        "run",
        "size",
        "zenoh p50 us",
        "zenoh p99 us",
        "bridged p50 us",
        "bridged p99 us",
        "added p50 us",
        "1 MiB msgs/s"
    );
    let (mut added, mut ratios) = ([Vec::new(), Vec::new()], Vec::new());
    for run in 1..=runs {
        let z = plain(rounds, seconds);
        let b = bridged(rounds, seconds);
        for (k, (zl, bl)) in z.lat.iter().zip(&b.lat).enumerate() {
            let name = if zl.0 == SMALL { "64 B" } else { "1 MiB" };
            let rate = if k == 1 {
                format!("{:.0} / {:.0}", z.rate, b.rate)
            } else {
                String::new()
            };
            println!(
                "{run:<4} {name:<6} {:>12.1} {:>12.1} {:>14.1} {:>14.1} {:>12.1} {rate:>18}",
                zl.1,
                zl.2,
                bl.1,
                bl.2,
                bl.1 - zl.1
            );
            added[k].push(bl.1 - zl.1);
        }
        ratios.push(100.0 * b.rate / z.rate.max(f64::MIN_POSITIVE));
        if z.lost + b.lost > 0 {
            println!(
                "     lost in the window: zenoh {}, bridged {}",
                z.lost, b.lost
            );
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let show = |v: &[f64], unit: &str| {
        v.iter()
            .map(|x| format!("{x:.0}{unit}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (small, large) = (median(&mut added[0]), median(&mut added[1]));
    let ratio = median(&mut ratios);
    println!(
        "median of {runs} runs: added p50 {small:.1} us at 64 B ({}), {large:.1} us at 1 MiB; \
         bridged 1 MiB msgs/s {ratio:.0}% of plain Zenoh ({})",
        show(&added[0], " us"),
        show(&ratios, "%")
    );
}
