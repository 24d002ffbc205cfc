//! What the Rust examples share, so that each example file keeps only its
//! pattern: the message type and the publish/subscribe, request/reply or
//! push/pull code.
//!
//! - [`CommandLine`]: a role word (`publisher`, `server`, ...; `demo` when
//!   none is given) and `--name value` options, with `--help`.
//! - [`PubSubArgs`]: the command line of the PUB/SUB examples, and their
//!   publisher side ([`PubSubArgs::run_publisher`]): in the one-terminal
//!   `demo` role it starts the subscriber as a second process first.
//! - [`Peer`]: this program started again in another role, its output
//!   relayed to ours; it is killed if the example stops early.
//! - [`monotonic_ns`], [`paced`] and [`latency_summary`]: stamping, sending
//!   at a rate, and reporting latencies.
//!
//! Cargo compiles this module into each example (a directory without a
//! `main.rs` is not an example of its own); each example says `mod common;`.

// Each example compiles its own copy of this module and uses only part of
// it (`pod_field` starts no second process, `pipeline` measures no
// latency), so what one example leaves unused is not dead code.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt::Display;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::str::FromStr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The error type of the examples: any error, shown by `main`.
pub type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// `CLOCK_MONOTONIC` in nanoseconds: one clock for every process on the
/// machine, so a stamp taken by the sender can be compared by the receiver.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec, and CLOCK_MONOTONIC is a
    // clock every Linux kernel has, so the call cannot fail.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// An example's command line: at most one role word and `--name value`
/// options; a later word or option overrides an earlier one.
#[derive(Debug)]
pub struct CommandLine {
    /// The role named on the command line, `"demo"` when none was.
    pub role: String,
    options: BTreeMap<String, String>,
}

impl CommandLine {
    /// Parses this program's arguments. `roles` are the role words it
    /// accepts (besides `demo`), `options` the options with the placeholder
    /// of their value, e.g. `("--count", "N")`. `-h`/`--help` prints the
    /// usage and exits.
    pub fn parse(roles: &[&str], options: &[(&str, &str)]) -> Result<CommandLine> {
        let mut args = std::env::args();
        let program = args.next().unwrap_or_default();
        let mut line = CommandLine {
            role: "demo".into(),
            options: BTreeMap::new(),
        };
        while let Some(arg) = args.next() {
            if arg == "demo" || roles.contains(&arg.as_str()) {
                line.role = arg;
            } else if options.iter().any(|(name, _)| *name == arg) {
                let value = args.next().ok_or(format!("{arg} needs a value"))?;
                line.options.insert(arg, value);
            } else if arg == "-h" || arg == "--help" {
                println!("{}", usage(&program, roles, options));
                std::process::exit(0);
            } else {
                return Err(format!("unknown argument {arg:?} (try --help)").into());
            }
        }
        Ok(line)
    }

    /// The value of option `name`, or `default` if it was not given.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> Result<T>
    where
        T::Err: Display,
    {
        Ok(self.optional(name)?.unwrap_or(default))
    }

    /// The value of option `name`, if it was given.
    pub fn optional<T: FromStr>(&self, name: &str) -> Result<Option<T>>
    where
        T::Err: Display,
    {
        self.options
            .get(name)
            .map(|v| v.parse().map_err(|e| format!("{name} {v:?}: {e}").into()))
            .transpose()
    }
}

/// `usage: typed_pubsub [publisher|subscriber] [--count N] ...`
fn usage(program: &str, roles: &[&str], options: &[(&str, &str)]) -> String {
    let name = std::path::Path::new(program)
        .file_name()
        .map_or(program.into(), |n| n.to_string_lossy());
    let mut usage = format!("usage: {name} [{}]", roles.join("|"));
    for (option, value) in options {
        usage += &format!(" [{option} {value}]");
    }
    usage + "\n(no role: demo, every side in one terminal)"
}

/// The command line of the PUB/SUB examples:
/// `[publisher|subscriber] [--count N] [--rate HZ] [--topic NAME]`.
#[derive(Clone, Debug)]
pub struct PubSubArgs {
    /// `publisher`, `subscriber` or `demo` (both).
    pub role: String,
    /// Messages to publish (and to expect).
    pub count: u64,
    /// Messages per second.
    pub rate: f64,
    pub topic: String,
}

impl PubSubArgs {
    /// Parses this program's arguments, with these defaults.
    pub fn parse(count: u64, rate: f64, topic: &str) -> Result<PubSubArgs> {
        let line = CommandLine::parse(
            &["publisher", "subscriber"],
            &[("--count", "N"), ("--rate", "HZ"), ("--topic", "NAME")],
        )?;
        let args = PubSubArgs {
            count: line.get("--count", count)?,
            rate: line.get("--rate", rate)?,
            topic: line.get("--topic", topic.to_owned())?,
            role: line.role,
        };
        if args.count == 0 || args.rate <= 0.0 {
            return Err("--count and --rate must be positive".into());
        }
        Ok(args)
    }

    /// The publisher's side, around `publish` (called once the topic is
    /// created). In the `demo` role it first starts this program again as
    /// the subscriber and waits until it has connected, so that every
    /// message reaches it, and afterwards waits for it to finish. In the
    /// `publisher` role it keeps the topic up a moment afterwards: a
    /// subscriber that joins late still gets the last message (dropping the
    /// publisher removes the topic).
    pub fn run_publisher(&self, publish: impl FnOnce() -> Result) -> Result {
        if self.role != "demo" {
            publish()?;
            println!("pub | keeping the topic up for 1 s, then exiting");
            std::thread::sleep(Duration::from_secs(1));
            return Ok(());
        }
        let (count, rate) = (self.count.to_string(), self.rate.to_string());
        let subscriber = Peer::spawn(
            "the subscriber",
            &[
                "subscriber",
                "--topic",
                &self.topic,
                "--count",
                &count,
                "--rate",
                &rate,
            ],
        )?;
        subscriber.wait_for("connected to", Duration::from_secs(30))?;
        publish()?;
        subscriber.finish()?;
        Ok(())
    }
}

/// Calls `send(seq)` for `seq` in `0..count`, `rate` times a second, and
/// returns how long that took. The deadlines are absolute (`seq / rate`
/// after the start), so the rate does not drift with the loop's own cost.
pub fn paced(count: u64, rate: f64, mut send: impl FnMut(u64) -> Result) -> Result<Duration> {
    let start = Instant::now();
    for seq in 0..count {
        let due = start + Duration::from_secs_f64(seq as f64 / rate);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        send(seq)?;
    }
    Ok(start.elapsed())
}

/// `p50 X µs, p99 Y µs, max Z µs` of latencies in nanoseconds (sorted in
/// place).
pub fn latency_summary(samples_ns: &mut [u64]) -> String {
    if samples_ns.is_empty() {
        return "no samples".into();
    }
    samples_ns.sort_unstable();
    let quantile_us = |q: f64| {
        let i = ((samples_ns.len() - 1) as f64 * q).round() as usize;
        samples_ns[i] as f64 / 1e3
    };
    format!(
        "p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        quantile_us(0.5),
        quantile_us(0.99),
        quantile_us(1.0)
    )
}

/// Another process of the same example: this program started again in
/// another role. Its stdout lines are relayed to ours as they come (each
/// role prefixes its own lines) and kept. Dropping a `Peer` that still runs
/// kills it, so an example that stops early leaves no process behind.
#[derive(Debug)]
pub struct Peer {
    /// What it is, for errors: `"the subscriber (pid 1234)"`.
    what: String,
    child: Child,
    /// Every line, as the relay reads it (for [`Peer::wait_for`]).
    lines: Receiver<String>,
    /// Relays the lines and returns them all at the end.
    relay: Option<JoinHandle<Vec<String>>>,
}

impl Peer {
    /// Starts this program with `args`; `what` names it in errors.
    pub fn spawn(what: &str, args: &[&str]) -> Result<Peer> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, lines) = mpsc::channel();
        let relay = std::thread::spawn(move || {
            let mut kept = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
                println!("{line}");
                // Nobody waiting for lines any more is fine.
                let _ = tx.send(line.clone());
                kept.push(line);
            }
            kept
        });
        Ok(Peer {
            what: format!("{what} (pid {})", child.id()),
            child,
            lines,
            relay: Some(relay),
        })
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until it prints a line containing `needle`; an error if it
    /// does not within `timeout`, or exits first.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Result {
        let deadline = Instant::now() + timeout;
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) if line.contains(needle) => return Ok(()),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    let s = timeout.as_secs();
                    return Err(
                        format!("{} did not print {needle:?} within {s} s", self.what).into(),
                    );
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("{} exited before printing {needle:?}", self.what).into())
                }
            }
        }
    }

    /// Waits for it to exit; returns its exit status and every line it
    /// printed, or an error if it failed.
    pub fn finish(mut self) -> Result<(ExitStatus, Vec<String>)> {
        let status = self.child.wait()?;
        let lines = match self.relay.take() {
            Some(relay) => relay.join().unwrap_or_default(),
            None => Vec::new(),
        };
        if !status.success() {
            return Err(format!("{} failed: {status}", self.what).into());
        }
        Ok((status, lines))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
