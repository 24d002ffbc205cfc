//! CPU cost of waiting, measured with the kernel's per-process scheduler
//! statistics (`/proc/<pid>/schedstat`: nanoseconds on a CPU, and the number
//! of times the process was scheduled in, i.e. its wake-ups when it sleeps).
//!
//! - `--idle-subs N`: N subscriber processes blocked in `recv()` on a topic
//!   whose publisher sends nothing, measured for 10 s.
//! - `--wake-cpu`: a subscriber process receiving 64 B messages sent at
//!   1 kHz (`recv()` in a loop), next to the futex-wake floor in the same
//!   run: a process sleeping in a bare `FUTEX_WAIT` on a shm word that the
//!   parent bumps and `FUTEX_WAKE`s at 1 kHz. Reported: CPU per message of
//!   the receiving process, and the ratio of the two.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use shm_comm::pubsub::{ConnectOptions, Publisher, Subscriber};

use crate::peer::{Context, ROLE_ARG};
use crate::scenarios::{Msg64, STOP};
use crate::sys::RawShm;

/// Role argument (after [`ROLE_ARG`]) of an idle subscriber.
pub const IDLE_SUB: &str = "idle-sub";
/// Role argument of the 1 kHz subscriber.
pub const RATE_SUB: &str = "rate-sub";
/// Role argument of the futex floor's sleeper.
pub const FUTEX_SUB: &str = "futex-sub";

/// `(ns on a CPU, times scheduled in)` of process `pid`.
fn schedstat(pid: u32) -> Option<(u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).ok()?;
    let mut f = s.split_whitespace().map(|v| v.parse::<u64>().ok());
    let run = f.next()??;
    let _wait = f.next()??;
    let slices = f.next()??;
    Some((run, slices))
}

/// Sums [`schedstat`] over `pids`.
fn schedstat_sum(pids: &[u32]) -> (u64, u64) {
    pids.iter()
        .filter_map(|&p| schedstat(p))
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

fn spawn(role: &str, arg: &str) -> Result<Child, String> {
    let exe = std::env::current_exe().ctx("locating the benchmark binary")?;
    Command::new(exe)
        .args([ROLE_ARG, role, arg])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .ctx("starting a subscriber process")
}

/// In a child: dies with the parent.
fn die_with_parent() {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
}

/// Receives until [`STOP`].
fn recv_until_stop(name: &str) -> Result<(), String> {
    die_with_parent();
    let mut sub = Subscriber::<Msg64>::connect_with(
        name,
        ConnectOptions {
            timeout: Duration::from_secs(30),
            ..Default::default()
        },
    )
    .ctx("connecting")?;
    loop {
        match sub.recv() {
            Ok(m) if m.seq == STOP => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(format!("recv: {e}")),
        }
    }
}

/// Runs the child side of `role`.
pub fn serve(role: &str, arg: &str) -> Result<(), String> {
    match role {
        IDLE_SUB | RATE_SUB => recv_until_stop(arg),
        FUTEX_SUB => futex_sleeper(arg),
        _ => Err(format!("unknown role {role}")),
    }
}

fn stop_all(p: &mut Publisher<Msg64>, children: &mut [Child]) -> Result<(), String> {
    p.send(&Msg64 {
        seq: STOP,
        stamp: 0,
        payload: [0; 6],
    })
    .ctx("send")?;
    for c in children.iter_mut() {
        let st = c.wait().ctx("waiting for a subscriber")?;
        if !st.success() {
            return Err(format!("a subscriber exited with {st}"));
        }
    }
    Ok(())
}

/// `--idle-subs N`.
pub fn idle_subs(n: usize) -> Result<(), String> {
    let name = format!("bench/{}/idle-subs", std::process::id());
    let mut p = Publisher::<Msg64>::create(&name).ctx("creating the topic")?;
    eprintln!("starting {n} idle subscriber processes ...");
    let mut children = Vec::with_capacity(n);
    for _ in 0..n {
        children.push(spawn(IDLE_SUB, &name)?);
    }
    let pids: Vec<u32> = children.iter().map(Child::id).collect();
    // Let them connect and block (start-up is not measured).
    std::thread::sleep(Duration::from_secs(2) + Duration::from_millis(5 * n as u64));
    let window = Duration::from_secs(10);
    let (r0, s0) = schedstat_sum(&pids);
    let t0 = Instant::now();
    std::thread::sleep(window);
    let (r1, s1) = schedstat_sum(&pids);
    let wall = t0.elapsed().as_secs_f64();
    stop_all(&mut p, &mut children)?;
    let cpu = (r1 - r0) as f64 / 1e9 / wall;
    let wakes = (s1 - s0) as f64 / wall;
    println!(
        "idle subscribers: {n} processes blocked in recv() for {wall:.1} s: \
         {:.4}% of a core together, {wakes:.1} wake-ups/s \
         (per 1,000 subscribers: {:.4}% of a core, {:.1} wake-ups/s)",
        100.0 * cpu,
        100.0 * cpu * 1000.0 / n as f64,
        wakes * 1000.0 / n as f64
    );
    Ok(())
}

// ------------------------------------------------------------- 1 kHz wake-ups

/// Bytes of the futex floor's shm file.
const FUTEX_LEN: usize = 4096;

fn futex_word(shm: &RawShm) -> &AtomicU32 {
    // SAFETY: the word is at the start of the page-aligned mapping, which
    // lives as long as `shm`; both processes access it atomically only.
    unsafe { AtomicU32::from_ptr(shm.base().cast()) }
}

fn futex_sleeper(name: &str) -> Result<(), String> {
    die_with_parent();
    let shm = RawShm::open(name, FUTEX_LEN).ctx("opening the futex file")?;
    let word = futex_word(&shm);
    let mut seen = 0;
    loop {
        // Acquire: pairs with the parent's Release increment.
        let v = word.load(Ordering::Acquire);
        if v == u32::MAX {
            return Ok(());
        }
        if v != seen {
            seen = v;
            continue;
        }
        // SAFETY: a shared (not private) FUTEX_WAIT on a valid, aligned
        // word of a shared mapping, no timeout.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT,
                seen,
                std::ptr::null::<libc::timespec>(),
            )
        };
    }
}

/// Messages per measured window of `--wake-cpu`.
const WAKE_MSGS: u64 = 5000;
/// Windows of `--wake-cpu`.
const WAKE_ROUNDS: u32 = 5;

/// `--wake-cpu`: the futex floor's sleeper and a subscriber in `recv()`,
/// both fed at 1 kHz in the same windows, their ticks interleaved half a
/// millisecond apart (so that both see the same machine: measured in
/// separate windows, the floor alone moved by 30% from one to the next).
pub fn wake_cpu() -> Result<(), String> {
    let futex_name = format!("/shmc-bench-{}-futex", std::process::id());
    let mut shm = RawShm::create(&futex_name, FUTEX_LEN).ctx("creating the futex file")?;
    let mut sleeper = spawn(FUTEX_SUB, &futex_name)?;
    let name = format!("bench/{}/rate-sub", std::process::id());
    let mut p = Publisher::<Msg64>::create(&name).ctx("creating the topic")?;
    let mut sub = spawn(RATE_SUB, &name)?;
    std::thread::sleep(Duration::from_millis(300));
    shm.unlink();
    let word = futex_word(&shm);
    let wake = |v: u32| {
        // Release: pairs with the sleeper's Acquire load.
        word.store(v, Ordering::Release);
        // SAFETY: a shared FUTEX_WAKE on a valid, aligned word.
        unsafe { libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX) };
    };
    let mut seq = 0u64;
    let mut tick = |count: u64| -> Result<(), String> {
        let half = Duration::from_micros(500);
        let start = Instant::now();
        for i in 0..count {
            let at = start + half * (2 * i as u32);
            sleep_until(at);
            seq += 1;
            wake(seq as u32);
            sleep_until(at + half);
            p.send(&Msg64 {
                seq,
                stamp: 0,
                payload: [0; 6],
            })
            .ctx("send")?;
        }
        Ok(())
    };
    let (fpid, lpid) = (sleeper.id(), sub.id());
    println!(
        "subscriber CPU per message at 1 kHz ({WAKE_MSGS} messages per window, \
         the floor's and the subscriber's ticks interleaved):"
    );
    tick(200)?;
    let mut ratios = Vec::new();
    for round in 1..=WAKE_ROUNDS {
        let (f0, l0) = (schedstat(fpid), schedstat(lpid));
        tick(WAKE_MSGS)?;
        std::thread::sleep(Duration::from_millis(5));
        let (f1, l1) = (schedstat(fpid), schedstat(lpid));
        let (Some(f0), Some(l0), Some(f1), Some(l1)) = (f0, l0, f1, l1) else {
            return Err("no schedstat".into());
        };
        let per = |a: u64, b: u64| (b - a) as f64 / WAKE_MSGS as f64;
        let (f, fs, l, ls) = (
            per(f0.0, f1.0),
            per(f0.1, f1.1),
            per(l0.0, l1.0),
            per(l0.1, l1.1),
        );
        println!(
            "  round {round}: futex-wake floor {:.1} us/msg ({fs:.2} wake-ups/msg), \
             recv() {:.1} us/msg ({ls:.2} wake-ups/msg): {:.2}x the floor",
            f / 1e3,
            l / 1e3,
            l / f
        );
        ratios.push(l / f);
    }
    wake(u32::MAX);
    sleeper.wait().ctx("waiting for the futex sleeper")?;
    stop_all(&mut p, std::slice::from_mut(&mut sub))?;
    ratios.sort_by(f64::total_cmp);
    println!(
        "  median {:.2}x the floor (range {:.2}-{:.2}x)",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1]
    );
    Ok(())
}

fn sleep_until(at: Instant) {
    let now = Instant::now();
    if at > now {
        std::thread::sleep(at - now);
    }
}
