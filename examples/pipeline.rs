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

mod common;

use std::error::Error;
use std::time::{Duration, Instant};

use common::{CommandLine, Peer};
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

fn main() -> Result<(), Box<dyn Error>> {
    let line = CommandLine::parse(
        &["pusher", "worker"],
        &[("--count", "N"), ("--workers", "W"), ("--name", "NAME")],
    )?;
    let args = Args {
        count: line.get("--count", 500_000)?,
        workers: line.get("--workers", 4)?,
        name: line.get("--name", "demo/jobs".to_owned())?,
        role: line.role,
    };
    if args.workers == 0 {
        return Err("--workers must be at least 1".into());
    }
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

/// Waits for a worker process to exit; returns its `(jobs, id sum)`, read
/// from the line "worker PID | did N jobs (id sum S, ...)".
fn finish(worker: Peer) -> Result<(u64, u64), Box<dyn Error>> {
    let (_, lines) = worker.finish()?;
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

/// Both sides: creates the queue, starts this program again as each worker,
/// pushes, and checks that every job was done exactly once.
fn demo(args: &Args) -> Result<(), Box<dyn Error>> {
    let pusher = Pusher::<Job>::create(&args.name)?;
    println!(
        "pusher | created queue {:?}, starting {} worker processes",
        args.name, args.workers
    );
    let workers = (0..args.workers)
        .map(|_| Peer::spawn("a worker", &["worker", "--name", &args.name]))
        .collect::<Result<Vec<_>, _>>()?;
    push(args, &pusher)?;
    let (mut jobs, mut id_sum) = (0u64, 0u64);
    for w in workers {
        let (n, sum) = finish(w)?;
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
