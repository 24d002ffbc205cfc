//! Typed PUSH/PULL between processes: a job queue feeding a pool of worker
//! processes. The pusher queues `Job`s; every job is taken by exactly one
//! worker, whichever is free; when the queue is full the pusher waits
//! (backpressure). Each worker reports how many jobs it did, and the pusher
//! reports the throughput.
//!
//! One terminal (the pusher starts the workers as child processes):
//!     cargo run --release --example pipeline
//! Several terminals (start in any order; workers wait for the queue, the
//! pusher waits for `--workers` workers before it starts):
//!     cargo run --release --example pipeline -- worker      # in each of W terminals
//!     cargo run --release --example pipeline -- pusher --workers W
//! Options: `--count N` jobs (default 500000), `--workers W` (default 4),
//! `--name NAME` (default demo/jobs).

use std::error::Error;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use shm_comm::pipeline::{Puller, PullerOptions, Pusher};
use shm_comm::{RecvTimeoutError, ShmMessage};

/// A unit of work: which job, and the number to work on.
#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
struct Job {
    id: u64,
    input: u64,
}

/// The job that tells one worker to stop (one is sent per worker).
const STOP: u64 = u64::MAX;

/// Command-line settings.
#[derive(Clone, Debug)]
struct Args {
    role: String,
    count: u64,
    workers: u32,
    name: String,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args {
        role: "demo".into(),
        count: 500_000,
        workers: 4,
        name: "demo/jobs".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "pusher" | "worker" | "demo" => args.role = a.clone(),
            "--count" => args.count = value()?.parse()?,
            "--workers" => args.workers = value()?.parse()?,
            "--name" => args.name = value()?,
            "-h" | "--help" => {
                println!("usage: pipeline [pusher|worker] [--count N] [--workers W] [--name NAME]");
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument {a:?} (try --help)").into()),
        }
    }
    if args.workers == 0 {
        return Err("--workers must be at least 1".into());
    }
    Ok(args)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args = parse_args()?;
    match args.role.as_str() {
        "worker" => work(&args.name),
        "pusher" => {
            let pusher = Pusher::<Job>::create(&args.name)?;
            println!("pusher | created queue {:?}", args.name);
            push(&args, &pusher)
        }
        _ => demo(&args),
    }
}

/// The "work": the number of steps of the Collatz sequence from `n` to 1.
fn collatz_steps(mut n: u64) -> u64 {
    let mut steps = 0;
    while n > 1 {
        n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
        steps += 1;
    }
    steps
}

/// Takes jobs until a stop job arrives (or the pusher is gone and the queue
/// is empty), then reports what it did.
fn work(name: &str) -> Result<(), Box<dyn Error>> {
    let me = std::process::id();
    let puller =
        Puller::<Job>::connect_with(name, PullerOptions::with_timeout(Duration::from_secs(60)))?;
    println!("worker {me} | connected to {name:?}");
    let (mut done, mut id_sum, mut steps) = (0u64, 0u64, 0u64);
    loop {
        match puller.recv_timeout(Duration::from_millis(500)) {
            Ok(job) if job.id == STOP => break,
            Ok(job) => {
                steps += collatz_steps(job.input);
                id_sum = id_sum.wrapping_add(job.id);
                done += 1;
            }
            Err(RecvTimeoutError::Timeout) if puller.pushers() == 0 => {
                println!("worker {me} | the pusher is gone");
                break;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(e) => return Err(e.into()),
        }
    }
    println!(
        "worker {me} | did {done} job{} (id sum {id_sum}, {steps} Collatz steps)",
        if done == 1 { "" } else { "s" }
    );
    Ok(())
}

/// Waits for the workers, pushes the jobs and one stop job per worker, then
/// waits for the workers to finish and reports the throughput.
fn push(args: &Args, pusher: &Pusher<Job>) -> Result<(), Box<dyn Error>> {
    let want = args.workers;
    if pusher.pullers() < want {
        println!("pusher | waiting for {want} workers");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while pusher.pullers() < want {
        if Instant::now() >= deadline {
            return Err(format!("only {} of {want} workers came", pusher.pullers()).into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("pusher | pushing {} jobs to {want} workers", args.count);
    let start = Instant::now();
    for id in 0..args.count {
        // `send` waits while the queue is full.
        pusher
            .send(Job {
                id,
                input: id % 1000 + 1,
            })
            .map_err(|e| format!("job {id}: {e}"))?;
    }
    for _ in 0..want {
        pusher
            .send(Job { id: STOP, input: 0 })
            .map_err(|e| format!("stop job: {e}"))?;
    }
    let pushed = start.elapsed();
    // Every worker leaves after its stop job, which comes after every job.
    while pusher.pullers() > 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let took = start.elapsed();
    println!(
        "pusher | {} jobs pushed in {:.3} s and done in {:.3} s: {:.0} jobs/s with {want} worker{}",
        args.count,
        pushed.as_secs_f64(),
        took.as_secs_f64(),
        args.count as f64 / took.as_secs_f64(),
        if want == 1 { "" } else { "s" }
    );
    Ok(())
}

/// A worker process: its lines are relayed to our stdout, and kept.
struct Worker {
    child: Child,
    relay: Option<JoinHandle<Vec<String>>>,
}

impl Worker {
    fn spawn(name: &str) -> Result<Worker, Box<dyn Error>> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["worker", "--name", name])
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let relay = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                println!("{line}");
                lines.push(line);
            }
            lines
        });
        Ok(Worker {
            child,
            relay: Some(relay),
        })
    }

    /// Waits for the worker to exit; returns its `(jobs, id sum)`.
    fn finish(mut self) -> Result<(u64, u64), Box<dyn Error>> {
        let status = self.child.wait()?;
        let lines = self
            .relay
            .take()
            .ok_or("no relay")?
            .join()
            .unwrap_or_default();
        if !status.success() {
            return Err(format!("worker {} failed: {status}", self.child.id()).into());
        }
        // "worker PID | did N jobs (id sum S, ...)"
        let did = lines
            .iter()
            .find_map(|l| l.split_once("| did "))
            .ok_or("a worker did not report")?
            .1;
        let mut words = did.split([' ', ',', '(', ')']).filter(|w| !w.is_empty());
        let jobs = words.next().ok_or("no job count")?.parse()?;
        let sum = words
            .skip_while(|w| *w != "sum")
            .nth(1)
            .ok_or("no id sum")?
            .parse()?;
        Ok((jobs, sum))
    }
}

impl Drop for Worker {
    /// On an early return, do not leave the worker running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Both sides: creates the queue, starts this program again as each worker,
/// pushes, and checks that every job was done exactly once.
fn demo(args: &Args) -> Result<(), Box<dyn Error>> {
    let pusher = Pusher::<Job>::create(&args.name)?;
    println!(
        "pusher | created queue {:?}, starting {} worker processes",
        args.name, args.workers
    );
    let workers = (0..args.workers)
        .map(|_| Worker::spawn(&args.name))
        .collect::<Result<Vec<_>, _>>()?;
    push(args, &pusher)?;
    let (mut jobs, mut id_sum) = (0u64, 0u64);
    for w in workers {
        let (n, sum) = w.finish()?;
        jobs += n;
        id_sum = id_sum.wrapping_add(sum);
    }
    let want_sum = (0..args.count).fold(0u64, u64::wrapping_add);
    if jobs != args.count || id_sum != want_sum {
        return Err(format!(
            "workers did {jobs} jobs with id sum {id_sum}; expected {} and {want_sum}",
            args.count
        )
        .into());
    }
    println!("pusher | all {jobs} jobs were done, each exactly once (id sum {id_sum})");
    Ok(())
}
