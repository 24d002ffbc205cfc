//! `shmc`: list, inspect, echo and measure shm-comm channels.
//!
//! One implementation for two doors: the `shmc` binary and the Python
//! wheel's `shmc` console script both call [`run`] with the command line
//! and exit with the code it returns.
//!
//! Exit codes: 0 success, 1 a failure (no such channel, a bad value, a
//! check that failed), 2 a usage error (reported by the argument parser).

use std::ffi::OsString;

use clap::{Parser, Subcommand};

mod bag;
mod cdr;
mod channels;
mod clean;
mod doctor;
mod echo;
mod encode;
mod publish;
mod rate;
mod render;
mod top;
mod value;

/// See and measure shm-comm channels.
#[derive(Parser, Debug)]
#[command(name = "shmc", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Every live channel of this user: kind, type, owner, geometry, rate.
    List(channels::ListArgs),
    /// One channel: header, layout, participants, counters.
    Info(channels::InfoArgs),
    /// Print a topic's messages as they arrive, decoded.
    Echo(echo::EchoArgs),
    /// Rate of a topic (mean, min, max and std of the period).
    Hz(rate::RateArgs),
    /// Bandwidth of a topic.
    Bw(rate::RateArgs),
    /// A live table of every channel: rate, bandwidth, losses, peers.
    Top(top::TopArgs),
    /// Publish a JSON value on a topic (msgpack, or typed by a layout).
    Pub(publish::PubArgs),
    /// Call a service once with a JSON request; print the reply.
    Call(publish::CallArgs),
    /// Record topics into an MCAP file.
    Record(bag::RecordArgs),
    /// Publish an MCAP recording again, with its timing.
    Play(bag::PlayArgs),
    /// Remove segments whose owners are all dead.
    Clean(clean::CleanArgs),
    /// Check what breaks shared memory on this machine.
    Doctor(doctor::DoctorArgs),
}

/// A failure to report on stderr, with the exit code to return.
#[derive(Debug)]
pub(crate) struct Fail {
    message: String,
    code: i32,
}

impl Fail {
    /// A failure with exit code 1.
    pub(crate) fn new(message: impl Into<String>) -> Fail {
        Fail {
            message: message.into(),
            code: 1,
        }
    }
}

impl<E: std::error::Error> From<E> for Fail {
    fn from(e: E) -> Fail {
        Fail::new(e.to_string())
    }
}

pub(crate) type Res = Result<(), Fail>;

/// Runs `shmc` with `args` (the program name first, as in
/// `std::env::args_os`) and returns the process exit code. Output goes
/// to stdout, errors to stderr in one line.
pub fn run<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version are printed by clap and exit 0; usage
            // errors exit 2.
            let _ = e.print();
            return e.exit_code();
        }
    };
    let result = match cli.command {
        Command::List(a) => channels::list(&a),
        Command::Info(a) => channels::info(&a),
        Command::Echo(a) => echo::echo(&a),
        Command::Hz(a) => rate::hz(&a),
        Command::Bw(a) => rate::bw(&a),
        Command::Top(a) => top::top(&a),
        Command::Pub(a) => publish::publish(&a),
        Command::Call(a) => publish::call(&a),
        Command::Record(a) => bag::record(&a),
        Command::Play(a) => bag::play(&a),
        Command::Clean(a) => clean::clean(&a),
        Command::Doctor(a) => doctor::doctor(&a),
    };
    match result {
        Ok(()) => 0,
        Err(f) => {
            eprintln!("shmc: error: {}", f.message);
            f.code
        }
    }
}

/// Prints one JSON value on one line.
pub(crate) fn print_json(v: &serde_json::Value) {
    println!("{v}");
}
