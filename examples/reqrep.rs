//! Typed REQ/REP between two processes: an adder service. The server
//! answers `Add { a, b }` with `Sum { sum }`; the client makes a few calls,
//! then times many calls in a row and reports the round-trip latency and the
//! calls per second.
//!
//! One terminal (the client starts the server as a child process):
//!     cargo run --release --example reqrep
//! Two terminals (start either first; the client waits up to 10 s for the
//! service, the server serves until Ctrl-C):
//!     cargo run --release --example reqrep -- server
//!     cargo run --release --example reqrep -- client
//! Options: `--count N` timed calls (default 100000; a server given
//! `--count N` exits after N requests), `--name NAME` (default demo/adder).

use std::error::Error;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use shm_comm::reqrep::{Replier, Requester, RequesterOptions};
use shm_comm::{RecvTimeoutError, ShmMessage};

/// The request: two numbers to add.
#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
struct Add {
    a: i64,
    b: i64,
}

/// The reply.
#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
struct Sum {
    sum: i64,
}

/// How long a call may take before the client gives up.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// The calls the client shows before the timed run.
const SHOWN: [(i64, i64); 3] = [(2, 3), (-40, 2), (1_000_000_000_000, 1)];

/// Command-line settings.
#[derive(Clone, Debug)]
struct Args {
    role: String,
    /// Timed calls (client), or requests to serve before exiting (server).
    count: Option<u64>,
    name: String,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args {
        role: "demo".into(),
        count: None,
        name: "demo/adder".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "server" | "client" | "demo" => args.role = a.clone(),
            "--count" => args.count = Some(value()?.parse()?),
            "--name" => args.name = value()?,
            "-h" | "--help" => {
                println!("usage: reqrep [server|client] [--count N] [--name NAME]");
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {a:?} (try --help)").into()),
        }
    }
    Ok(args)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    match args.role.as_str() {
        "server" => serve(&args.name, args.count),
        "client" => call(&args.name, args.count.unwrap_or(100_000)),
        _ => demo(&args),
    }
}

/// Kills and reaps the child when dropped (if it has not exited by then),
/// so that an error in the client does not leave the server running.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// Both sides: starts this program again as the server, then calls it.
fn demo(args: &Args) -> Result<(), Box<dyn Error>> {
    let count = args.count.unwrap_or(100_000);
    let total = count + SHOWN.len() as u64;
    let mut server = Reap(
        Command::new(std::env::current_exe()?)
            .args(["server", "--name", &args.name])
            .args(["--count", &total.to_string()])
            .spawn()?,
    );
    println!("demo | started the server (pid {})", server.0.id());
    call(&args.name, count)?;
    let status = server.0.wait()?;
    if !status.success() {
        return Err(format!("the server failed: {status}").into());
    }
    println!("demo | the server exited ({status})");
    Ok(())
}

/// Serves `name` until `count` requests are answered (forever if `None`).
fn serve(name: &str, count: Option<u64>) -> Result<(), Box<dyn Error>> {
    let replier = Replier::<Add, Sum>::create(name)?;
    println!(
        "srv | serving {name:?} (pid {}): {} -> {}",
        std::process::id(),
        Add::layout().name,
        Sum::layout().name
    );
    let (mut served, mut idle_since) = (0u64, Instant::now());
    while count.is_none_or(|n| served < n) {
        match replier.recv_timeout(Duration::from_millis(500)) {
            Ok((call, req)) => {
                // Wrapping: a client may send any numbers.
                let sum = req.a.wrapping_add(req.b);
                // `Discarded`: the client gave up waiting; nothing to do.
                let _ = replier.reply(&call, &Sum { sum })?;
                served += 1;
                idle_since = Instant::now();
            }
            Err(RecvTimeoutError::Timeout) => {
                // Started for one client (`--count`): do not outlive it.
                let gone = replier.raw().requesters() == 0;
                if count.is_some() && gone && idle_since.elapsed() > Duration::from_secs(10) {
                    return Err("no client for 10 s, giving up".into());
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    println!("srv | served {served} requests, exiting");
    Ok(())
}

/// The `q` quantile of sorted nanoseconds `v`, in microseconds.
fn quantile_us(v: &[u64], q: f64) -> f64 {
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    v[i] as f64 / 1e3
}

/// Calls `name`: the shown examples, then `count` timed calls.
fn call(name: &str, count: u64) -> Result<(), Box<dyn Error>> {
    let requester = Requester::<Add, Sum>::connect_with(
        name,
        RequesterOptions::with_timeout(Duration::from_secs(10)),
    )?;
    println!(
        "cli | connected to {name:?} ({} replier)",
        requester.repliers()
    );
    for (a, b) in SHOWN {
        let Sum { sum } = requester.request(&Add { a, b }, CALL_TIMEOUT)?;
        println!("cli | {a} + {b} = {sum}");
    }
    if count == 0 {
        return Ok(());
    }
    println!("cli | timing {count} calls, one after the other");
    let mut round_trips = Vec::with_capacity(count as usize);
    let start = Instant::now();
    for i in 0..count as i64 {
        let t0 = Instant::now();
        let Sum { sum } = requester.request(&Add { a: i, b: 2 * i }, CALL_TIMEOUT)?;
        round_trips.push(t0.elapsed().as_nanos() as u64);
        if sum != 3 * i {
            return Err(format!("{i} + {} answered {sum}", 2 * i).into());
        }
    }
    let took = start.elapsed();
    round_trips.sort_unstable();
    println!(
        "cli | {count} calls in {:.3} s: {:.0} calls/s, round trip p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64(),
        quantile_us(&round_trips, 0.5),
        quantile_us(&round_trips, 0.99),
        quantile_us(&round_trips, 1.0),
    );
    Ok(())
}
