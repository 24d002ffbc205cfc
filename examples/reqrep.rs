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

mod common;

use std::error::Error;
use std::time::{Duration, Instant};

use common::{latency_summary, CommandLine, Peer};
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

fn main() -> Result<(), Box<dyn Error>> {
    let line = CommandLine::parse(
        &["server", "client"],
        &[("--count", "N"), ("--name", "NAME")],
    )?;
    // Timed calls (client), or requests to serve before exiting (server).
    let count: Option<u64> = line.optional("--count")?;
    let name = line.get("--name", "demo/adder".to_owned())?;
    match line.role.as_str() {
        "server" => serve(&name, count),
        "client" => call(&name, count.unwrap_or(100_000)),
        _ => demo(&name, count.unwrap_or(100_000)),
    }
}

/// Both sides: starts this program again as the server, then calls it.
fn demo(name: &str, count: u64) -> Result<(), Box<dyn Error>> {
    let total = (count + SHOWN.len() as u64).to_string();
    let server = Peer::spawn("the server", &["server", "--name", name, "--count", &total])?;
    println!("demo | started the server (pid {})", server.pid());
    call(name, count)?;
    let (status, _) = server.finish()?;
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
                let _delivered = replier.reply(&call, &Sum { sum })?;
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
    println!(
        "cli | {count} calls in {:.3} s: {:.0} calls/s, round trip {}",
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64(),
        latency_summary(&mut round_trips),
    );
    Ok(())
}
