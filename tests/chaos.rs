//! The chaos suite: peers killed with SIGKILL at random moments, a hostile
//! writer scribbling on live segments, a shared-memory directory filled to
//! the last byte, and another user squatting channel names. Every scenario
//! prints one `chaos: ...` summary line and asserts the contracts of
//! DESIGN.md §4-5.
//!
//! The short version runs in the test command. The long version:
//!
//! ```text
//! SHM_COMM_CHAOS_ROUNDS=250 cargo test --release --test chaos -- --nocapture --test-threads=1
//! ```
//!
//! - `SHM_COMM_CHAOS_ROUNDS`: kill rounds per scenario (default 8: a few
//!   seconds in all for a debug build); the hostile-writer and Python
//!   scenarios run half as many (at least 3). On a busy 2-core machine,
//!   250 rounds take about 3 minutes in release, 1000 about 11.
//! - `SHM_COMM_CHAOS_SEED`: the seed (default: from the clock). Every
//!   scenario prints the seed it used; the same seed replays the same
//!   choices (victims, moments, bytes and offsets), though not the same
//!   timing of the processes.
//!
//! Children are the peer binaries (`tests/support/peer.rs`,
//! `tests/support/pattern_peer.rs`), Python pullers (skipped with a message
//! if `.venv/bin/python` with the `shm_comm` package is missing), and this
//! test binary started again (`SHM_COMM_CHAOS_CHILD` names the case) for
//! what changes process-wide state: the segment directory, a resource
//! limit, a mount namespace. The tmpfs and other-uid cases need root; they
//! say so and pass otherwise.

use std::collections::HashMap;
use std::os::unix::fs::FileExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shm_comm::pipeline::{DynPuller, DynPusher, PullerOptions, QueueOptions};
use shm_comm::pubsub::{ConnectOptions, DynPublisher, DynSubscriber, PubOptions, Subscriber};
use shm_comm::reqrep::{
    DynReplier, DynRequester, RequestError, Requester, RequesterOptions, ServiceOptions,
};
use shm_comm::{segment, Codec, CreateError, OpenError, RecvTimeoutError, ShmMessage};
use suite::{field, fields, monotonic_ns, Check, Peer, TestChannel};

const TEST_PEER: &str = env!("CARGO_BIN_EXE_shm-comm-test-peer");
const PATTERN_PEER: &str = env!("CARGO_BIN_EXE_shm-comm-pattern-peer");
/// How long to wait for a peer's line (generous: the machine may be loaded).
const T: Duration = Duration::from_secs(30);
/// How long a survivor may take to serve again after a kill before the
/// channel counts as dead.
const REVIVE: Duration = Duration::from_secs(10);
/// An operation returning this much later than its timeout is a hang.
const HANG: Duration = suite::pair::HANG;
const NOBODY: u32 = 65534;

// ---------------------------------------------------------------------------
// Rounds, seeds, a small PRNG, a watchdog.
// ---------------------------------------------------------------------------

fn rounds() -> u64 {
    std::env::var("SHM_COMM_CHAOS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8)
        .max(1)
}

/// splitmix64: small, fast, and good enough to pick moments and bytes.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A duration of `lo..=hi` milliseconds.
    fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_micros(lo * 1000 + self.below((hi - lo) * 1000 + 1))
    }
}

/// The seed of a scenario: `SHM_COMM_CHAOS_SEED` (or the clock) mixed with
/// the scenario's name, printed so that a failure can be replayed.
fn seeded(scenario: &str) -> (Rng, u64) {
    let seed = std::env::var("SHM_COMM_CHAOS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| monotonic_ns() ^ u64::from(std::process::id()) << 32);
    eprintln!("chaos: {scenario} seed {seed} (SHM_COMM_CHAOS_SEED={seed} replays it)");
    let mixed = seed ^ shm_comm::layout::fnv1a64(scenario.as_bytes());
    (Rng(mixed), seed)
}

/// Aborts the whole test binary (a hang must not stall the test command
/// forever) if not dropped within its limit.
struct Watchdog(Arc<AtomicBool>);

impl Watchdog {
    fn new(scenario: &'static str, seed: u64, limit: Duration) -> Watchdog {
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        std::thread::spawn(move || {
            let end = Instant::now() + limit;
            while Instant::now() < end {
                if d.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            eprintln!("chaos: {scenario} HANG: still running after {limit:?} (seed {seed})");
            std::process::abort();
        });
        Watchdog(done)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A whole-scenario time limit: generous per round, so that only a real
/// hang trips it.
fn limit_for(rounds: u64, per_round: Duration) -> Duration {
    Duration::from_secs(120) + per_round * rounds as u32
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `true` if `status` is a crash: a signal, or a failing exit code.
fn crashed(status: std::process::ExitStatus) -> bool {
    !status.success()
}

fn describe(status: std::process::ExitStatus) -> String {
    match status.signal() {
        Some(sig) => format!("killed by signal {sig}"),
        None => format!("exit code {:?}", status.code()),
    }
}

/// Kills `p` (SIGKILL) and checks that it was still running: a survivor or
/// a victim that had died by itself before the kill is a crash.
fn kill_checked(p: &mut Peer, what: &str, crashes: &mut u64) {
    if let Some(status) = p.try_status() {
        eprintln!(
            "chaos: {what} died by itself before its kill: {}",
            describe(status)
        );
        *crashes += 1;
    }
    p.kill();
}

/// Checks that a survivor is still running.
fn alive_checked(p: &mut Peer, what: &str, crashes: &mut u64) -> bool {
    match p.try_status() {
        None => true,
        Some(status) => {
            eprintln!("chaos: survivor {what} died: {}", describe(status));
            *crashes += 1;
            false
        }
    }
}

/// Waits for `p`, told to stop, to exit: an exit that is not a success is
/// a crash; still running after `T` (then killed), a hang.
fn ended_checked(p: &mut Peer, what: &str, crashes: &mut u64, hangs: &mut u64) {
    match p.wait_status(T) {
        Some(s) if !crashed(s) => {}
        Some(s) => {
            eprintln!("chaos: {what} ended with {}", describe(s));
            *crashes += 1;
        }
        None => {
            eprintln!("chaos: {what} did not exit within {T:?}");
            *hangs += 1;
            p.kill();
        }
    }
}

// ---------------------------------------------------------------------------
// PUB/SUB: publisher killed mid-burst, borrowing subscriber killed.
// ---------------------------------------------------------------------------

fn chaos_pub(name: &str, budget: u32, incarnation: u64) -> Peer {
    let mut p = Peer::spawn(
        TEST_PEER,
        &[
            "chaos-pub",
            name,
            "64",
            &budget.to_string(),
            &(incarnation << 32).to_string(),
        ],
    );
    p.expect("ready", T);
    p
}

fn chaos_borrower(name: &str) -> Peer {
    let mut p = Peer::spawn(TEST_PEER, &["chaos-borrow", name, "2"]);
    p.expect("ready", T);
    p
}

/// What the surviving subscriber saw.
#[derive(Default, Debug)]
struct SubTally {
    received: u64,
    torn: u64,
    /// Within one publisher's run: messages the sequence numbers say were
    /// skipped, and what `missed()` said.
    gaps: u64,
    missed_delta: u64,
    /// Times the gap and the `missed()` increase disagreed.
    missed_mismatch: u64,
    /// `missed()` went down.
    missed_backwards: u64,
    last: Option<u64>,
    last_missed: u64,
}

impl SubTally {
    fn take(&mut self, m: &Check, missed: u64) {
        self.received += 1;
        if !m.verify() {
            self.torn += 1;
            eprintln!("chaos: pubsub TORN message {m:?}");
        }
        if missed < self.last_missed {
            self.missed_backwards += 1;
        }
        let delta = missed.saturating_sub(self.last_missed);
        if let Some(last) = self.last {
            if last >> 32 == m.seq >> 32 {
                let gap = m.seq.wrapping_sub(last).wrapping_sub(1);
                self.gaps += gap;
                self.missed_delta += delta;
                if gap != delta {
                    self.missed_mismatch += 1;
                    eprintln!(
                        "chaos: pubsub missed() rose by {delta} across a gap of {gap} ({last:#x} -> {:#x})",
                        m.seq
                    );
                }
            }
        }
        self.last = Some(m.seq);
        self.last_missed = missed;
    }
}

/// Receives for `d` (in short waits, so that the subscriber reattaches to
/// a replaced publisher).
fn drain_for(sub: &mut Subscriber<Check>, tally: &mut SubTally, d: Duration, hangs: &mut u64) {
    let end = Instant::now() + d;
    while Instant::now() < end {
        let wait = Duration::from_millis(1);
        let t0 = Instant::now();
        let r = sub.recv_timeout(wait);
        if t0.elapsed() > wait + HANG {
            *hangs += 1;
        }
        match r {
            Ok(m) => tally.take(&m, sub.missed()),
            Err(RecvTimeoutError::Timeout) => {}
            Err(e) => panic!("subscriber: {e}"),
        }
    }
}

#[test]
fn chaos_pubsub_kills() {
    let rounds = rounds();
    let (mut rng, seed) = seeded("pubsub");
    let _wd = Watchdog::new("pubsub", seed, limit_for(rounds, Duration::from_secs(5)));
    let ch = TestChannel::new("chaos-pubsub");
    let budget = 4u32;
    let mut publisher = chaos_pub(ch.name(), budget, 0);
    let mut sub = Subscriber::<Check>::connect_with(
        ch.name(),
        ConnectOptions {
            timeout: T,
            max_borrows: budget,
            ..Default::default()
        },
    )
    .unwrap();
    let mut borrower = chaos_borrower(ch.name());
    let mut tally = SubTally::default();
    let (mut kills_pub, mut kills_borrow, mut crashes, mut hangs) = (0u64, 0u64, 0u64, 0u64);
    let (mut dead, mut budget_fail, mut replaced) = (0u64, 0u64, 0u64);
    for round in 1..=rounds {
        // Let it run, then kill one of them at a random moment.
        let victim_is_pub = rng.below(2) == 0;
        drain_for(&mut sub, &mut tally, rng.ms(0, 20), &mut hangs);
        if victim_is_pub {
            kill_checked(&mut publisher, "publisher", &mut crashes);
            kills_pub += 1;
            alive_checked(&mut borrower, "borrower", &mut crashes);
            // A new publisher replaces the dead one's segment; the
            // subscriber reattaches by itself.
            publisher = chaos_pub(ch.name(), budget, round);
            let end = Instant::now() + REVIVE;
            loop {
                drain_for(&mut sub, &mut tally, Duration::from_millis(5), &mut hangs);
                if tally.last.is_some_and(|l| l >> 32 == round) {
                    replaced += 1;
                    break;
                }
                if Instant::now() > end {
                    eprintln!("chaos: pubsub round {round}: no message from the new publisher");
                    dead += 1;
                    break;
                }
            }
        } else {
            kill_checked(&mut borrower, "borrower", &mut crashes);
            kills_borrow += 1;
            alive_checked(&mut publisher, "publisher", &mut crashes);
            // The dead borrower's pins are reclaimed: a live subscriber
            // borrows the whole budget.
            let mut fresh = Subscriber::<Check>::connect_with(
                ch.name(),
                ConnectOptions {
                    timeout: T,
                    max_borrows: budget,
                    ..Default::default()
                },
            )
            .unwrap();
            let mut held = Vec::new();
            while held.len() < budget as usize {
                match fresh.borrow_timeout(Duration::from_secs(2)) {
                    Ok(s) => {
                        if !s.verify() {
                            tally.torn += 1;
                        }
                        held.push(s);
                    }
                    Err(e) => {
                        eprintln!(
                            "chaos: pubsub round {round}: borrow {} of {budget} after the kill: {e}",
                            held.len()
                        );
                        budget_fail += 1;
                        break;
                    }
                }
            }
            drop(held);
            borrower = chaos_borrower(ch.name());
        }
    }
    drain_for(&mut sub, &mut tally, Duration::from_millis(20), &mut hangs);
    alive_checked(&mut publisher, "publisher", &mut crashes);
    alive_checked(&mut borrower, "borrower", &mut crashes);
    println!(
        "chaos: pubsub kills_publisher={kills_pub} kills_borrower={kills_borrow} crashes={crashes} \
         hangs={hangs} dead={dead} replaced={replaced} torn={}/{} missed={} gaps={} \
         missed_mismatch={} budget_reclaim_failures={budget_fail} seed={seed}",
        tally.torn,
        tally.received,
        tally.missed_delta,
        tally.gaps,
        tally.missed_mismatch
    );
    assert_eq!((crashes, hangs, dead), (0, 0, 0), "seed {seed}");
    assert_eq!(tally.torn, 0, "torn messages, seed {seed}");
    assert_eq!(tally.missed_backwards, 0, "seed {seed}");
    assert_eq!(tally.missed_mismatch, 0, "seed {seed}");
    assert_eq!(budget_fail, 0, "seed {seed}");
}

// ---------------------------------------------------------------------------
// REQ/REP: replier killed mid-reply, requester killed while waiting.
// ---------------------------------------------------------------------------

/// A request of the chaos service (the same type as in the pattern peer).
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Ask {
    client: u64,
    seq: u64,
}

/// Its reply (the same type as in the pattern peer).
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Answer {
    client: u64,
    seq: u64,
    double: u64,
    server: u64,
}

fn chaos_replier(name: &str, id: u64) -> Peer {
    let mut p = Peer::spawn(
        PATTERN_PEER,
        &["chaos-replier", name, &id.to_string(), "2000"],
    );
    p.expect("ready", T);
    p
}

/// Counters of the surviving requester's calls.
#[derive(Default, Debug)]
struct Calls {
    ok: AtomicU64,
    timeouts: AtomicU64,
    misdelivered: AtomicU64,
    errors: AtomicU64,
    hangs: AtomicU64,
}

#[test]
fn chaos_reqrep_kills() {
    let rounds = rounds();
    let (mut rng, seed) = seeded("reqrep");
    let _wd = Watchdog::new("reqrep", seed, limit_for(rounds, Duration::from_secs(12)));
    let ch = TestChannel::new("chaos-reqrep");
    let mut replier = chaos_replier(ch.name(), 1);
    let req = Requester::<Ask, Answer>::connect_with(ch.name(), RequesterOptions::with_timeout(T))
        .unwrap();
    let calls = Arc::new(Calls::default());
    let stop = Arc::new(AtomicBool::new(false));
    // The surviving requester calls without pause, each call with a 300 ms
    // timeout: a call whose replier dies must time out, never hang nor get
    // another call's reply.
    let caller = {
        let (calls, stop) = (calls.clone(), stop.clone());
        std::thread::spawn(move || {
            let timeout = Duration::from_millis(300);
            let mut seq = 0;
            while !stop.load(Ordering::Relaxed) {
                seq += 1;
                let ask = Ask { client: 1, seq };
                let t0 = Instant::now();
                let r = req.request(&ask, timeout);
                if t0.elapsed() > timeout + HANG {
                    calls.hangs.fetch_add(1, Ordering::Relaxed);
                }
                let c = match r {
                    Ok(a) if a.client == 1 && a.seq == seq && a.double == seq * 2 => &calls.ok,
                    Ok(a) => {
                        eprintln!("chaos: reqrep call {seq} got {a:?}");
                        &calls.misdelivered
                    }
                    Err(RequestError::Timeout { .. }) => &calls.timeouts,
                    Err(e) => {
                        eprintln!("chaos: reqrep call {seq}: {e}");
                        &calls.errors
                    }
                };
                c.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let (mut kills_rep, mut kills_req, mut crashes, mut dead) = (0u64, 0u64, 0u64, 0u64);
    let served_after = |calls: &Calls, round: u64, dead: &mut u64, want: u64| {
        let before = calls.ok.load(Ordering::Relaxed);
        let end = Instant::now() + REVIVE;
        while calls.ok.load(Ordering::Relaxed) < before + want {
            if Instant::now() > end {
                eprintln!("chaos: reqrep round {round}: no reply within {REVIVE:?}");
                *dead += 1;
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    let mut discarded = 0;
    for round in 1..=rounds {
        if rng.below(2) == 0 {
            // The replier dies mid-reply (it sleeps 2 ms before each reply).
            std::thread::sleep(rng.ms(0, 20));
            kill_checked(&mut replier, "replier", &mut crashes);
            kills_rep += 1;
            replier = chaos_replier(ch.name(), round + 1);
            served_after(&calls, round, &mut dead, 1);
        } else {
            // A requester dies while waiting for its reply.
            let mut doomed = Peer::spawn(
                PATTERN_PEER,
                &[
                    "requester",
                    ch.name(),
                    &(100 + round).to_string(),
                    "1000000",
                ],
            );
            doomed.expect("ready", T);
            doomed.say("go");
            std::thread::sleep(rng.ms(0, 20));
            kill_checked(&mut doomed, "requester", &mut crashes);
            kills_req += 1;
            alive_checked(&mut replier, "replier", &mut crashes);
            // The replier goes on: the survivor's calls are served.
            served_after(&calls, round, &mut dead, 3);
        }
        if !alive_checked(&mut replier, "replier", &mut crashes) {
            replier = chaos_replier(ch.name(), 1000 + round);
        }
    }
    stop.store(true, Ordering::Relaxed);
    caller.join().expect("the requester thread panicked");
    replier.try_say("stop");
    let mut hangs = 0;
    match replier.try_expect("served", T) {
        Some(line) => discarded = field(&format!("served {line}"), "discarded"),
        None => hangs += 1,
    }
    ended_checked(&mut replier, "the last replier", &mut crashes, &mut hangs);
    let c = |a: &AtomicU64| a.load(Ordering::Relaxed);
    println!(
        "chaos: reqrep kills_replier={kills_rep} kills_requester={kills_req} crashes={crashes} \
         hangs={} dead={dead} calls_ok={} timeouts={} misdelivered={} errors={} \
         replies_discarded_by_last_replier={discarded} seed={seed}",
        c(&calls.hangs) + hangs,
        c(&calls.ok),
        c(&calls.timeouts),
        c(&calls.misdelivered),
        c(&calls.errors),
    );
    assert_eq!(
        (crashes, c(&calls.hangs) + hangs, dead),
        (0, 0, 0),
        "seed {seed}"
    );
    assert_eq!(c(&calls.misdelivered), 0, "seed {seed}");
    assert_eq!(c(&calls.errors), 0, "seed {seed}");
}

// ---------------------------------------------------------------------------
// PUSH/PULL: pusher killed mid-send, puller killed mid-take.
// ---------------------------------------------------------------------------

/// Bytes before the per-job counters in a ledger file.
const LEDGER_HEADER: usize = 64;

/// An accounting file mapped shared by the peers: a `u64` count at offset
/// 0, then one byte per job id at `LEDGER_HEADER + id`, incremented
/// atomically (see `Ledger` in tests/support/pattern_peer.rs). Removed on drop.
struct Ledger {
    path: PathBuf,
    file: std::fs::File,
    jobs: usize,
}

impl Ledger {
    fn new(what: &str, jobs: usize) -> Ledger {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "shm-comm-chaos-{what}-{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            monotonic_ns() % 1_000_000
        ));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        file.set_len((LEDGER_HEADER + jobs) as u64).unwrap();
        Ledger { path, file, jobs }
    }

    fn path(&self) -> &str {
        self.path.to_str().expect("temp dir path is UTF-8")
    }

    fn recorded(&self) -> u64 {
        let mut word = [0u8; 8];
        self.file.read_exact_at(&mut word, 0).unwrap();
        u64::from_ne_bytes(word)
    }

    fn counts(&self) -> Vec<u8> {
        let mut counts = vec![0u8; self.jobs];
        self.file
            .read_exact_at(&mut counts, LEDGER_HEADER as u64)
            .unwrap();
        counts
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Waits until `count()` stops changing (100 ms without change), at most
/// `limit`; `false` at the limit.
fn quiesce(mut count: impl FnMut() -> u64, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    let (mut last, mut since) = (count(), Instant::now());
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
        let now = count();
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() > Duration::from_millis(100) {
            return true;
        }
    }
    false
}

/// Jobs of one pusher incarnation (its ids are `round * PER_PUSHER ..`).
const PER_PUSHER: u64 = 20_000;

#[test]
fn chaos_pipeline_kills() {
    let rounds = rounds();
    let (mut rng, seed) = seeded("pipeline");
    let _wd = Watchdog::new("pipeline", seed, limit_for(rounds, Duration::from_secs(40)));
    let ch = TestChannel::new("chaos-pipeline");
    let jobs = ((rounds + 1) * PER_PUSHER) as usize;
    let (sent, pulled) = (Ledger::new("sent", jobs), Ledger::new("pulled", jobs));
    let puller = || {
        let mut p = Peer::spawn(PATTERN_PEER, &["puller", ch.name(), pulled.path()]);
        p.expect("ready", T);
        p
    };
    let pusher = |round: u64| {
        let mut p = Peer::spawn(
            PATTERN_PEER,
            &[
                "chaos-pusher",
                ch.name(),
                &(round * PER_PUSHER).to_string(),
                &PER_PUSHER.to_string(),
                "64",
                sent.path(),
            ],
        );
        p.expect("ready", T);
        p
    };
    // The first pusher creates the queue; two pullers join it.
    let mut current = pusher(0);
    let mut pullers = vec![puller(), puller()];
    let (mut kills_push, mut kills_pull, mut crashes, mut hangs) = (0u64, 0u64, 0u64, 0u64);
    let mut bad = 0;
    for round in 1..=rounds {
        current.say("go");
        std::thread::sleep(rng.ms(0, 20));
        if rng.below(2) == 0 {
            kill_checked(&mut current, "pusher", &mut crashes);
            kills_push += 1;
        } else {
            let i = rng.below(pullers.len() as u64) as usize;
            kill_checked(&mut pullers[i], "puller", &mut crashes);
            kills_pull += 1;
            pullers[i] = puller();
            // The pusher finishes: a dead puller does not stall the queue.
            if current.try_expect("pushed", T).is_none() {
                eprintln!("chaos: pipeline round {round}: the pusher did not finish");
                hangs += 1;
            }
            current.try_say("stop");
            ended_checked(&mut current, "pusher", &mut crashes, &mut hangs);
        }
        for (k, p) in pullers.iter_mut().enumerate() {
            alive_checked(p, &format!("puller {k}"), &mut crashes);
        }
        current = pusher(round);
    }
    kill_checked(&mut current, "pusher", &mut crashes);
    // Let the pullers take everything left, then stop them.
    if !quiesce(|| pulled.recorded(), T) {
        hangs += 1;
    }
    for p in &mut pullers {
        p.try_say("stop");
        match p.try_expect("pulled", T) {
            Some(line) => bad += field(&format!("pulled {line}"), "bad"),
            None => hangs += 1,
        }
        ended_checked(p, "puller", &mut crashes, &mut hangs);
    }
    let (s, r) = (sent.counts(), pulled.counts());
    let duplicated = r.iter().filter(|&&c| c > 1).count() as u64;
    let lost = s.iter().zip(&r).filter(|&(&s, &r)| s > 0 && r == 0).count() as u64;
    // Delivered although its send never returned: the job a pusher was
    // killed right after queueing (at most one per killed pusher).
    let unacked = s.iter().zip(&r).filter(|&(&s, &r)| s == 0 && r > 0).count() as u64;
    let acked = s.iter().filter(|&&c| c > 0).count();
    // A killed puller loses at most the job it was taking; the test's own
    // accounting can add one more per killed puller (a job `recv` returned
    // that it had not yet recorded).
    let bound = 2 * kills_pull;
    println!(
        "chaos: pipeline kills_pusher={kills_push} kills_puller={kills_pull} crashes={crashes} \
         hangs={hangs} duplicated={duplicated} lost={lost} (bound {bound}) \
         sent_returned={acked} delivered_unacked={unacked} damaged={bad} seed={seed}"
    );
    assert_eq!((crashes, hangs), (0, 0), "seed {seed}");
    assert_eq!(duplicated, 0, "seed {seed}");
    assert_eq!(bad, 0, "seed {seed}");
    assert!(lost <= bound, "lost {lost} > {bound}, seed {seed}");
    assert!(unacked <= kills_push, "seed {seed}");
}

// ---------------------------------------------------------------------------
// Python pullers killed mid-take while a Rust pusher sends.
// ---------------------------------------------------------------------------

const PY_PULLER: &str = r#"
import os, select, sys
import shm_comm
name, out = sys.argv[1], sys.argv[2]
fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
n = 0
with shm_comm.Puller(name, timeout_connect=10) as pull:
    print("ready", flush=True)
    while True:
        job = pull.recv_bytes(timeout=0.05)
        if job is not None:
            os.write(fd, job[:8])
            n += 1
            continue
        if select.select([sys.stdin], [], [], 0)[0]:
            break
    while True:
        job = pull.recv_bytes(timeout=0.2)
        if job is None:
            break
        os.write(fd, job[:8])
        n += 1
print("pulled", n, flush=True)
"#;

fn python() -> Option<PathBuf> {
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let ok = py.exists()
        && Command::new(&py)
            .args(["-c", "import shm_comm"])
            .output()
            .is_ok_and(|o| o.status.success());
    ok.then_some(py)
}

#[test]
fn chaos_python_pullers_killed_mid_take() {
    let Some(py) = python() else {
        eprintln!("chaos: python skipped: .venv/bin/python with shm_comm is not built (./dev.sh)");
        return;
    };
    let py = py.to_str().unwrap().to_owned();
    let rounds = rounds().div_ceil(2).max(3);
    let (mut rng, seed) = seeded("python");
    let _wd = Watchdog::new("python", seed, limit_for(rounds, Duration::from_secs(40)));
    let ch = TestChannel::new("chaos-python");
    let dir = TempDir::new("py");
    let push = DynPusher::create_with(
        ch.name(),
        QueueOptions {
            capacity: 64,
            max_payload: 64,
        },
    )
    .unwrap();
    let mut n_pullers = 0;
    let mut puller = || {
        n_pullers += 1;
        let out = dir.0.join(format!("puller-{n_pullers}.ids"));
        let mut p = Peer::spawn(&py, &["-c", PY_PULLER, ch.name(), out.to_str().unwrap()]);
        p.expect("ready", T);
        p
    };
    let mut pullers = vec![puller(), puller()];
    let stop = AtomicBool::new(false);
    let (mut kills, mut crashes, mut hangs) = (0u64, 0u64, 0u64);
    let (sent, send_hangs) = std::thread::scope(|s| {
        let sender = s.spawn(|| {
            let (mut sent, mut hangs) = (Vec::new(), 0u64);
            let mut id = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let timeout = Duration::from_secs(20);
                let t0 = Instant::now();
                let mut job = id.to_le_bytes().to_vec();
                job.extend_from_slice(&(id ^ 0xa5a5).to_le_bytes());
                let r = push.send_deadline(&job, Codec::Raw, Some(t0 + timeout));
                if t0.elapsed() > timeout + HANG {
                    hangs += 1;
                }
                match r {
                    Ok(()) => sent.push(id),
                    Err(e) => eprintln!("chaos: python pusher, job {id}: {e:?}"),
                }
                id += 1;
                if id % 16 == 0 {
                    std::thread::sleep(Duration::from_micros(500));
                }
            }
            (sent, hangs)
        });
        for _ in 0..rounds {
            std::thread::sleep(rng.ms(0, 20));
            let i = rng.below(2) as usize;
            kill_checked(&mut pullers[i], "python puller", &mut crashes);
            kills += 1;
            pullers[i] = puller();
            alive_checked(&mut pullers[1 - i], "python puller", &mut crashes);
        }
        stop.store(true, Ordering::Relaxed);
        sender.join().expect("the pusher thread panicked")
    });
    hangs += send_hangs;
    let total = |dir: &Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len() / 8)
            .sum::<u64>()
    };
    if !quiesce(|| total(&dir.0), T) {
        hangs += 1;
    }
    for p in &mut pullers {
        p.try_say("stop");
        if p.try_expect("pulled", T).is_none() {
            hangs += 1;
        }
        ended_checked(p, "python puller", &mut crashes, &mut hangs);
    }
    let mut got: HashMap<u64, u32> = HashMap::new();
    for e in std::fs::read_dir(&dir.0).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        for id in bytes.chunks_exact(8) {
            *got.entry(u64::from_le_bytes(id.try_into().unwrap()))
                .or_default() += 1;
        }
    }
    let duplicated = got.values().filter(|&&c| c > 1).count() as u64;
    let lost = sent.iter().filter(|id| !got.contains_key(id)).count() as u64;
    let bound = 2 * kills;
    println!(
        "chaos: python kills_python_puller={kills} crashes={crashes} hangs={hangs} \
         duplicated={duplicated} lost={lost} (bound {bound}) sent={} seed={seed}",
        sent.len()
    );
    assert_eq!((crashes, hangs, duplicated), (0, 0, 0), "seed {seed}");
    assert!(lost <= bound, "lost {lost} > {bound}, seed {seed}");
}

/// A directory removed (with its contents) on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        TempDir::under(&std::env::temp_dir(), what)
    }

    fn under(parent: &Path, what: &str) -> TempDir {
        let p = parent.join(format!(
            "shm-comm-chaos-{what}-{}-{}",
            std::process::id(),
            monotonic_ns() % 1_000_000_000
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------
// The hostile writer.
// ---------------------------------------------------------------------------

fn shm_dir() -> PathBuf {
    std::env::var_os("SHM_COMM_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("/dev/shm"), PathBuf::from)
}

/// Regions of a segment file a hostile writer aims at.
#[derive(Debug)]
struct Target {
    what: &'static str,
    file: std::fs::File,
    len: u64,
    /// `(mode, start, end)` byte ranges of the file.
    areas: Vec<(&'static str, u64, u64)>,
    /// Offset and capacity (read before the attack) of the queue (work
    /// queue, or a service's request queue).
    queue: Option<(u64, u64)>,
}

impl Target {
    /// The queue's enqueue and dequeue positions, if they are more than a
    /// queue apart or the dequeue position is ahead (see the test of
    /// overwritten positions at the end of this file).
    fn queue_desynced(&self) -> Option<String> {
        let (q, cap) = self.queue?;
        let (enq, deq) = (u64_at(&self.file, q + 64), u64_at(&self.file, q + 128));
        let apart = enq.wrapping_sub(deq) as i64;
        (apart < 0 || apart > cap as i64).then(|| format!("enqueue {enq} dequeue {deq}"))
    }
}

fn u32_at(f: &std::fs::File, off: u64) -> u64 {
    let mut b = [0u8; 4];
    f.read_exact_at(&mut b, off).unwrap();
    u64::from(u32::from_ne_bytes(b))
}

fn u64_at(f: &std::fs::File, off: u64) -> u64 {
    let mut b = [0u8; 8];
    f.read_exact_at(&mut b, off).unwrap();
    u64::from_ne_bytes(b)
}

/// Maps out the segment of `name` with `role`, read before any attack.
/// The header's `region_off` is at byte 80 (see `segment::Header`).
fn target(name: &str, role: &str, what: &'static str) -> Target {
    let path = shm_dir().join(segment::file_name(name, role).unwrap());
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    let len = file.metadata().unwrap().len();
    let region = u64_at(&file, 80);
    let mut areas = vec![("header", 0, region), ("random", 0, len)];
    let mut queue = None;
    if role == "pub" {
        // The ring: control block, entries, then pins and chunks.
        let cap = u32_at(&file, region);
        areas.push(("ring-control", region, region + 256));
        areas.push(("ring-entries", region + 256, region + 256 + cap * 64));
        areas.push(("ring-chunks", region + 256 + cap * 64, len));
    } else {
        // The participant table, then the queue, then (services) mailboxes.
        let body = region + segment::TABLE_LEN as u64;
        let cap = u32_at(&file, body);
        queue = Some((body, cap));
        let max = u32_at(&file, body + 4);
        let stride = (16 + max.div_ceil(8) * 8).div_ceil(64) * 64;
        let qend = (body + 320 + cap * stride).div_ceil(64) * 64;
        areas.push(("participants", region, body));
        areas.push(("queue-control", body, body + 320));
        areas.push(("queue-cells", body + 320, qend.min(len)));
        if role == "svc" {
            areas.push(("mailboxes", qend, len));
        }
    }
    Target {
        what,
        file,
        len,
        areas,
        queue,
    }
}

/// One scribble: a random area, offset and kind of damage. Returns the
/// area and what was written where.
fn scribble(t: &Target, rng: &mut Rng) -> (&'static str, String) {
    let (mode, start, end) = t.areas[rng.below(t.areas.len() as u64) as usize];
    let end = end.min(t.len);
    if end <= start + 8 {
        return (mode, String::new());
    }
    let off = start + rng.below(end - start - 8);
    let word_at = off & !7;
    let old = u64_at(&t.file, word_at);
    // Plausible damage (a counter off by one, a lap ahead, a bit flipped)
    // hurts more than noise.
    let new = match rng.below(8) {
        0 => 0,
        1 => u64::MAX,
        2 => old.wrapping_add(1),
        3 => old.wrapping_sub(1),
        4 => old ^ (1 << rng.below(64)),
        5 => old.wrapping_add(1 << 32),
        6 => rng.below(4),
        _ => {
            let mut junk = vec![0u8; 1 + rng.below(16) as usize];
            junk.iter_mut().for_each(|b| *b = rng.next() as u8);
            let _ = t.file.write_all_at(&junk, off);
            return (mode, format!("{mode}@{off}:{} junk bytes", junk.len()));
        }
    };
    let _ = t.file.write_all_at(&new.to_ne_bytes(), word_at);
    (mode, format!("{mode}@{word_at}:{old:#x}->{new:#x}"))
}

#[test]
fn chaos_hostile_writer() {
    let rounds = rounds().div_ceil(2).max(3);
    let (mut rng, seed) = seeded("hostile");
    let _wd = Watchdog::new("hostile", seed, limit_for(rounds, Duration::from_secs(60)));
    let mut attacks: HashMap<&'static str, u64> = HashMap::new();
    let mut verdicts: HashMap<String, u64> = HashMap::new();
    let mut ops: HashMap<String, u64> = HashMap::new();
    let (mut crashes, mut hangs, mut dead) = (0u64, 0u64, 0u64);
    for round in 1..=rounds {
        let chans = [
            TestChannel::new("chaos-hostile"),
            TestChannel::new("chaos-hostile"),
            TestChannel::new("chaos-hostile"),
        ];
        let mut peers = [
            Peer::spawn(TEST_PEER, &["chaos-pair", chans[0].name()]),
            Peer::spawn(PATTERN_PEER, &["chaos-pair-queue", chans[1].name()]),
            Peer::spawn(PATTERN_PEER, &["chaos-pair-service", chans[2].name()]),
        ];
        for p in &mut peers {
            p.expect("ready", T);
        }
        let targets = [
            target(chans[0].name(), "pub", "pubsub"),
            target(chans[1].name(), "queue", "pipeline"),
            target(chans[2].name(), "svc", "reqrep"),
        ];
        let end = Instant::now() + rng.ms(100, 400);
        let mut log: [Vec<String>; 3] = Default::default();
        while Instant::now() < end {
            let i = rng.below(3) as usize;
            let (mode, what) = scribble(&targets[i], &mut rng);
            log[i].push(what);
            *attacks.entry(mode).or_default() += 1;
            std::thread::sleep(Duration::from_micros(100 + rng.below(400)));
        }
        // The attack is over: each pair reports and probes its channel.
        for ((p, t), log) in peers.iter_mut().zip(&targets).zip(&log) {
            p.try_say("probe");
            let Some(stats) = p.try_expect("stats", T) else {
                eprintln!(
                    "chaos: hostile round {round}: {} pair did not stop its operations \
                     within {T:?} (seed {seed})",
                    t.what
                );
                hangs += 1;
                continue;
            };
            for (k, v) in fields(&stats) {
                if let Ok(n) = v.parse::<u64>() {
                    *ops.entry(format!("{}_{k}", t.what)).or_default() += n;
                }
            }
            hangs += field(&stats, "a_slow") + field(&stats, "b_slow");
            match p.try_expect("probe", T) {
                Some(v) => {
                    let verdict = v.split_whitespace().next().unwrap_or("").to_owned();
                    if verdict == "dead" {
                        dead += 1;
                        eprintln!(
                            "chaos: hostile round {round}: {} channel dead after the attack \
                             (seed {seed}); queue positions: {}; probe: {v}; during the \
                             attack: {stats}; writes: {}",
                            t.what,
                            t.queue_desynced().unwrap_or_else(|| "possible".to_owned()),
                            log.join(" ")
                        );
                    } else if verdict == "typed" {
                        eprintln!("chaos: hostile round {round}: {} typed error: {v}", t.what);
                    }
                    *verdicts.entry(format!("{}_{verdict}", t.what)).or_default() += 1;
                }
                None => {
                    eprintln!("chaos: hostile round {round}: {} probe hung", t.what);
                    hangs += 1;
                }
            }
        }
        for (p, t) in peers.iter_mut().zip(&targets) {
            p.try_say("exit");
            match p.wait_status(T) {
                Some(s) if !crashed(s) => {}
                Some(s) => {
                    eprintln!(
                        "chaos: hostile round {round}: {} pair CRASHED: {} (seed {seed})",
                        t.what,
                        describe(s)
                    );
                    crashes += 1;
                }
                None => {
                    eprintln!("chaos: hostile round {round}: {} pair did not exit", t.what);
                    hangs += 1;
                }
            }
        }
    }
    let list = |m: &HashMap<String, u64>| {
        let mut v: Vec<_> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
        v.sort();
        v.join(" ")
    };
    let total: u64 = attacks.values().sum();
    let attacks = list(
        &attacks
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    );
    let recovered: u64 = verdicts
        .iter()
        .filter(|(k, _)| k.ends_with("_recovered"))
        .map(|(_, v)| v)
        .sum();
    let typed: u64 = verdicts
        .iter()
        .filter(|(k, _)| k.ends_with("_typed"))
        .map(|(_, v)| v)
        .sum();
    println!(
        "chaos: hostile rounds={rounds} attacks={total} crashes={crashes} hangs={hangs} \
         channels recovered={recovered} typed_error={typed} dead={dead} seed={seed}"
    );
    println!("chaos: hostile attacks by area: {attacks}");
    println!("chaos: hostile verdicts: {}", list(&verdicts));
    println!("chaos: hostile operations during attacks: {}", list(&ops));
    assert_eq!((crashes, hangs), (0, 0), "seed {seed}");
    assert_eq!(
        dead, 0,
        "channels silently dead after the attack, seed {seed}"
    );
}

// ---------------------------------------------------------------------------
// Cases that run in a child: this test binary started again.
// ---------------------------------------------------------------------------

const CHILD_ENV: &str = "SHM_COMM_CHAOS_CHILD";

/// Runs `case` in a fresh copy of this test binary, through `wrap` (a
/// program and its arguments put before it, e.g. `unshare -m ...`), with
/// extra `env`; returns its status and output.
fn run_child(
    case: &str,
    wrap: &[&str],
    env: &[(&str, &str)],
) -> (std::process::ExitStatus, String) {
    let exe = std::env::current_exe().unwrap();
    let exe = exe.to_str().unwrap();
    let mut argv: Vec<&str> = wrap.to_vec();
    argv.extend([
        exe,
        "--exact",
        "chaos_child",
        "--nocapture",
        "--test-threads=1",
    ]);
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..]).env(CHILD_ENV, case);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status, text)
}

/// The `CHILD-OK case ...` line of a child that succeeded; panics with its
/// output otherwise.
fn child_ok(case: &str, wrap: &[&str], env: &[(&str, &str)]) -> String {
    let (status, text) = run_child(case, wrap, env);
    let ok = text
        .lines()
        .find_map(|l| l.split_once(&format!("CHILD-OK {case}")))
        .map(|(_, rest)| rest.to_owned());
    match ok {
        Some(line) if status.success() => line,
        _ => panic!("child {case} ended with {}:\n{text}", describe(status)),
    }
}

/// The child's side.
#[test]
fn chaos_child() {
    let Ok(case) = std::env::var(CHILD_ENV) else {
        return; // not a child: nothing to do
    };
    let seed: u64 = std::env::var("SHM_COMM_CHAOS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let line = match case.as_str() {
        "exhaust" => exhaust(Rng(seed), None),
        "fsize" => {
            let lim = libc::rlimit {
                rlim_cur: 256 << 10,
                rlim_max: 256 << 10,
            };
            // SAFETY: `lim` is a valid rlimit.
            assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &lim) }, 0);
            exhaust(Rng(seed), Some(40))
        }
        "squat" => squat(),
        other => panic!("unknown child case {other}"),
    };
    println!("CHILD-OK {case} {line}");
}

// ---------------------------------------------------------------------------
// Exhaustion: channels created until the directory is full.
// ---------------------------------------------------------------------------

/// A live channel with both ends, in this process.
enum Live {
    Topic(DynPublisher, DynSubscriber),
    Queue(DynPusher, DynPuller),
    Service(DynReplier, DynRequester),
}

impl Live {
    /// One message end to end; `Err` says what failed.
    fn round_trip(&mut self, n: u64) -> Result<(), String> {
        let data = n.to_le_bytes();
        let t = Duration::from_secs(5);
        match self {
            Live::Topic(p, s) => {
                p.send_bytes(&data).map_err(|e| e.to_string())?;
                let f = s.recv_timeout(t).map_err(|e| e.to_string())?;
                (f.data == data).then_some(()).ok_or("wrong frame".into())
            }
            Live::Queue(p, s) => {
                p.try_send(&data, Codec::Raw)
                    .map_err(|e| format!("{e:?}"))?;
                let f = s.recv_timeout(t).map_err(|e| e.to_string())?;
                (f.data == data).then_some(()).ok_or("wrong job".into())
            }
            Live::Service(r, q) => std::thread::scope(|sc| {
                let server = sc.spawn(|| {
                    let (call, f) = r.recv_timeout(t).map_err(|e| e.to_string())?;
                    r.reply(&call, &f.data, f.codec)
                        .map(drop)
                        .map_err(|e| e.to_string())
                });
                let reply = q.request(&data, Codec::Raw, t).map_err(|e| e.to_string())?;
                server.join().unwrap()?;
                (reply.data == data)
                    .then_some(())
                    .ok_or("wrong reply".into())
            }),
        }
    }
}

/// Creates channels of random kinds and sizes until `limit` creates (or,
/// without a limit, until 20 in a row found the directory full); every
/// create either works or is `NoSpace`, and every channel that exists keeps
/// carrying messages.
fn exhaust(mut rng: Rng, limit: Option<u64>) -> String {
    let base = format!("chaos-exhaust/{}", std::process::id());
    let mut live = Vec::new();
    let (mut created, mut nospace, mut other, mut trips, mut failed_trips) = (0, 0, 0, 0, 0);
    let mut nospace_in_a_row = 0;
    let mut attempt = 0u64;
    let short = Duration::from_secs(2);
    let mut exercise = |live: &mut Vec<(String, Live)>, n: u64| {
        for (name, l) in live.iter_mut() {
            trips += 1;
            if let Err(e) = l.round_trip(n) {
                eprintln!("chaos: exhaust: {name}: {e}");
                failed_trips += 1;
            }
        }
    };
    loop {
        attempt += 1;
        if limit.is_some_and(|l| attempt > l) || nospace_in_a_row >= 20 {
            break;
        }
        let name = format!("{base}/{attempt}");
        let kind = rng.below(3);
        let r: Result<Live, CreateError> = match kind {
            0 => DynPublisher::create_with(
                &name,
                PubOptions {
                    capacity: 4 + rng.below(29) as u32,
                    max_payload: 1024 + rng.below(64 << 10) as u32,
                    borrow_budget: 2,
                },
            )
            .map(|p| {
                let s = DynSubscriber::connect_with(
                    &name,
                    ConnectOptions {
                        timeout: short,
                        ..Default::default()
                    },
                )
                .expect("subscriber of a created topic");
                Live::Topic(p, s)
            }),
            1 => DynPusher::create_with(
                &name,
                QueueOptions {
                    capacity: 4 + rng.below(29) as u32,
                    max_payload: 1024 + rng.below(64 << 10) as u32,
                },
            )
            .map(|p| {
                let s = DynPuller::connect_with(&name, PullerOptions::with_timeout(short))
                    .expect("puller of a created queue");
                Live::Queue(p, s)
            }),
            _ => DynReplier::create_with(
                &name,
                ServiceOptions {
                    capacity: 4 + rng.below(13) as u32,
                    max_payload: 64 + rng.below(2048) as u32,
                },
            )
            .map(|r| {
                let q = DynRequester::connect_with(&name, RequesterOptions::with_timeout(short))
                    .expect("requester of a service");
                Live::Service(r, q)
            }),
        };
        match r {
            Ok(l) => {
                created += 1;
                nospace_in_a_row = 0;
                live.push((name, l));
            }
            Err(CreateError::NoSpace { .. }) => {
                nospace += 1;
                nospace_in_a_row += 1;
                // Sends on the channels that exist keep working.
                exercise(&mut live, attempt);
            }
            Err(e) => {
                eprintln!("chaos: exhaust: create {name}: {e}");
                other += 1;
            }
        }
        if attempt % 8 == 0 {
            exercise(&mut live, attempt);
        }
    }
    exercise(&mut live, u64::MAX);
    // Space comes back: drop half the channels, and creating works again.
    let before = live.len();
    live.truncate(before / 2);
    let small = QueueOptions {
        capacity: 4,
        max_payload: 64,
    };
    let again = DynPusher::create_with(&format!("{base}/again"), small).is_ok();
    for (name, _) in &live {
        let _ = segment::force_unlink(name);
    }
    assert_eq!(other, 0, "creates failed with errors other than NoSpace");
    assert_eq!(failed_trips, 0, "messages failed on channels that exist");
    format!(
        "created {created} nospace {nospace} other_errors {other} round_trips {trips} \
         failed_round_trips {failed_trips} create_after_freeing {}",
        u8::from(again)
    )
}

#[test]
fn chaos_exhaustion() {
    let (_, seed) = seeded("exhaustion");
    let s = seed.to_string();
    let fsize = child_ok("fsize", &[], &[("SHM_COMM_CHAOS_SEED", &s)]);
    println!("chaos: exhaustion RLIMIT_FSIZE=256KiB{fsize} seed={seed}");
    assert!(field(&fsize, "nospace") > 0, "{fsize}");
    if !is_root() {
        eprintln!("chaos: exhaustion on a small tmpfs skipped: needs root (unshare -m, mount)");
        return;
    }
    let dir = TempDir::new("tmpfs");
    let d = dir.0.to_str().unwrap();
    // A private mount namespace: the 8 MiB tmpfs disappears with the child.
    let wrap = [
        "unshare",
        "-m",
        "sh",
        "-c",
        "mount -t tmpfs -o size=8m,mode=1777 tmpfs \"$1\" && shift && exec \"$@\"",
        "sh",
        d,
    ];
    let (status, text) = run_child(
        "exhaust",
        &wrap,
        &[("SHM_COMM_CHAOS_SEED", &s), ("SHM_COMM_DIR", d)],
    );
    let Some(line) = text
        .lines()
        .find_map(|l| l.split_once("CHILD-OK exhaust").map(|(_, rest)| rest))
    else {
        if status.code() == Some(1) && text.contains("unshare") && !text.contains("CHILD") {
            eprintln!("chaos: exhaustion on a small tmpfs skipped: unshare -m failed:\n{text}");
            return;
        }
        panic!(
            "child exhaust ended with {} (seed {seed}):\n{text}",
            describe(status)
        );
    };
    println!("chaos: exhaustion tmpfs=8MiB{line} sigbus=0 seed={seed}");
    assert!(
        field(line, "created") > 0 && field(line, "nospace") >= 20,
        "{line}"
    );
    assert_eq!(field(line, "create_after_freeing"), 1, "{line}");
}

// ---------------------------------------------------------------------------
// Another uid squatting names.
// ---------------------------------------------------------------------------

/// Runs `script` in `sh` as `nobody` (uid and gid 65534, no groups).
fn as_nobody(script: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script).arg("sh").args(args);
    // SAFETY: between fork and exec only async-signal-safe calls (setgroups,
    // setgid, setuid), and no allocation.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(NOBODY) != 0
                || libc::setuid(NOBODY) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.output().expect("run sh as nobody")
}

/// The child's side of the squatting case (root, `SHM_COMM_DIR` a
/// world-writable sticky directory): `nobody` creates files at the names a
/// root publisher, pusher and replier will use (empty, junk, or a real
/// segment image; mode 0600 or 0644) and tries to unlink or write root's
/// live segments. Every root create and open of a squatted name must fail
/// with `NotOwned` naming uid 65534, the squatted files stay, and root's
/// live channels keep working.
fn squat() -> String {
    let dir = shm_dir();
    let base = format!("chaos-squat/{}", std::process::id());
    // Root's live channels, which nobody will try to remove or write.
    let live_name = format!("{base}/live");
    let mut live = vec![
        Live::Topic(
            DynPublisher::create_with(&live_name, PubOptions::default()).unwrap(),
            DynSubscriber::connect_with(&live_name, ConnectOptions::default()).unwrap(),
        ),
        Live::Queue(
            DynPusher::create_with(&live_name, QueueOptions::default()).unwrap(),
            DynPuller::connect_with(
                &live_name,
                PullerOptions::with_timeout(Duration::from_secs(2)),
            )
            .unwrap(),
        ),
        Live::Service(
            DynReplier::create_with(&live_name, ServiceOptions::default()).unwrap(),
            DynRequester::connect_with(
                &live_name,
                RequesterOptions::with_timeout(Duration::from_secs(2)),
            )
            .unwrap(),
        ),
    ];
    let live_files: Vec<String> = ["pub", "queue", "svc"]
        .iter()
        .map(|r| {
            dir.join(segment::file_name(&live_name, r).unwrap())
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    // A real image for nobody to copy (world-readable, in the directory).
    let image = dir.join("chaos-squat-image");
    {
        let n = format!("{base}/image");
        let _p = DynPublisher::create_with(&n, PubOptions::default()).unwrap();
        std::fs::copy(dir.join(segment::file_name(&n, "pub").unwrap()), &image).unwrap();
        std::fs::set_permissions(&image, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
    }
    let mut victims = Vec::new();
    for content in ["empty", "junk", "image"] {
        for umask in ["077", "022"] {
            let name = format!("{base}/{content}-{umask}");
            for role in ["pub", "queue", "svc"] {
                let path = dir.join(segment::file_name(&name, role).unwrap());
                victims.push((name.clone(), role, content, umask, path));
            }
        }
    }
    let mut script = String::from("set -C\n");
    for (_, _, content, umask, path) in &victims {
        let path = path.to_str().unwrap();
        let what = match *content {
            "empty" => ": ".to_owned(),
            "junk" => "printf 'SHMCOMM junk' ".to_owned(),
            _ => format!("cat '{}' ", image.to_str().unwrap()),
        };
        script.push_str(&format!(
            "(umask {umask}; {what}> '{path}') || echo squat-failed {path}\n"
        ));
    }
    // Then try to take root's live segments away.
    script.push_str(
        "for f in \"$@\"; do\n\
         rm -f \"$f\" 2>/dev/null && echo unlinked \"$f\" || echo unlink-denied\n\
         (echo x >> \"$f\") 2>/dev/null && echo wrote \"$f\" || echo write-denied\n\
         done\n",
    );
    let args: Vec<&str> = live_files.iter().map(String::as_str).collect();
    let out = as_nobody(&script, &args);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("squat-failed"), "{text}");
    assert!(
        !text.contains("unlinked") && !text.contains("wrote "),
        "{text}"
    );
    let denied = text.lines().filter(|l| l.ends_with("-denied")).count();
    // Root refuses every squatted name, naming nobody, and leaves the file.
    let mut refused = 0;
    let t = Duration::from_millis(200);
    let copts = ConnectOptions {
        timeout: t,
        ..Default::default()
    };
    for (name, role, content, umask, path) in &victims {
        let mode = if *umask == "077" { 0o600 } else { 0o644 };
        let check = |e: &OpenError| match e {
            OpenError::NotOwned { owner, mode: m, .. } => {
                assert_eq!(*owner, NOBODY, "{e}");
                assert_eq!(m & 0o777, mode, "{e}");
                assert!(e.to_string().contains("uid 65534"), "{e}");
            }
            other => panic!("{content} {role} (umask {umask}): expected NotOwned, got {other:?}"),
        };
        let created = match *role {
            "pub" => DynPublisher::create_with(name, PubOptions::default()).map(drop),
            "queue" => DynPusher::create_with(name, QueueOptions::default()).map(drop),
            _ => DynReplier::create_with(name, ServiceOptions::default()).map(drop),
        };
        match created {
            Err(CreateError::Existing(e)) => check(&e),
            other => panic!("{content} {role}: expected Existing(NotOwned), got {other:?}"),
        }
        let opened = match *role {
            "pub" => DynSubscriber::connect_with(name, copts).map(drop),
            "queue" => DynPuller::connect_with(name, PullerOptions::with_timeout(t)).map(drop),
            _ => DynRequester::connect_with(name, RequesterOptions::with_timeout(t)).map(drop),
        };
        check(&opened.expect_err("opened a squatted name"));
        let meta = std::fs::symlink_metadata(path).expect("the squatted file is left in place");
        assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), NOBODY);
        refused += 2;
    }
    // Root's live channels still work.
    for (i, l) in live.iter_mut().enumerate() {
        l.round_trip(i as u64).unwrap();
    }
    let _ = std::fs::remove_file(&image);
    for (_, _, _, _, path) in &victims {
        let _ = std::fs::remove_file(path);
    }
    drop(live);
    format!(
        "squatted {} refused {refused} denied_to_nobody {denied} live_channels_ok 3",
        victims.len()
    )
}

#[test]
fn chaos_other_uid_squats_names() {
    if !is_root() {
        eprintln!("chaos: squatting skipped: needs root to run a child as nobody");
        return;
    }
    // A world-writable sticky directory like /dev/shm, on a tmpfs.
    let dir = TempDir::under(&shm_dir(), "squat");
    std::fs::set_permissions(&dir.0, std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
    let line = child_ok("squat", &[], &[("SHM_COMM_DIR", dir.0.to_str().unwrap())]);
    println!("chaos: squat uid=65534{line}");
}

/// Found by the hostile writer: a queue whose enqueue or dequeue position
/// was overwritten never healed. With the enqueue position laps ahead,
/// every later push succeeded (after one `Corrupt` per cell, which reset
/// the cell to the bogus position's lap), and the puller, laps behind,
/// skipped every such cell as `Corrupt`: every job sent afterwards was
/// lost. With the positions the other way round, the pusher found the
/// queue full and the puller found it empty, forever and without an error
/// (seed 118189620392906, rounds 42 and 54). Now typed errors for a lap
/// or a few, then jobs flow again.
#[test]
fn a_queue_whose_positions_were_overwritten_delivers_again() {
    // Offsets in the queue (after the participant table): 64 enqueue
    // position, 128 dequeue position. Each case: which, and its new value
    // from the old one.
    type Case = (&'static str, u64, fn(u64) -> u64);
    let cases: [Case; 5] = [
        ("enqueue 1000 laps ahead", 64, |p| p + 16 * 1000),
        ("enqueue a lap and one ahead", 64, |p| p + 17),
        ("enqueue back to 0", 64, |_| 0),
        ("dequeue 1000 laps ahead", 128, |p| p + 16 * 1000),
        ("dequeue back to 0", 128, |_| 0),
    ];
    for (what, at, new) in cases {
        let ch = TestChannel::new("chaos-positions");
        let opts = QueueOptions {
            capacity: 16,
            max_payload: 64,
        };
        let push = DynPusher::create_with(ch.name(), opts).unwrap();
        let pull = DynPuller::connect_with(ch.name(), PullerOptions::with_timeout(T)).unwrap();
        // Move the positions past 0 first, with 3 jobs left queued.
        for i in 0..40u64 {
            push.try_send(&i.to_le_bytes(), Codec::Raw).unwrap();
            if i < 37 {
                pull.recv_timeout(T).unwrap();
            }
        }
        let t = target(ch.name(), "queue", "pipeline");
        let off = t.queue.unwrap().0 + at;
        let old = u64_at(&t.file, off);
        t.file.write_all_at(&new(old).to_ne_bytes(), off).unwrap();
        let (mut delivered, mut errors, mut late) = (0, 0, 0);
        for i in 0..200u64 {
            let deadline = Instant::now() + Duration::from_millis(200);
            match push.send_deadline(&i.to_le_bytes(), Codec::Raw, Some(deadline)) {
                Ok(()) => {}
                Err(shm_comm::DynSendTimeoutError::Corrupt(..)) => errors += 1,
                Err(e) => panic!("{what}: send {i}: {e:?}"),
            }
            match pull.recv_timeout(Duration::from_millis(50)) {
                Ok(_) => {
                    delivered += 1;
                    late += u64::from(i >= 150);
                }
                Err(RecvTimeoutError::Corrupt(_)) => errors += 1,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        eprintln!("{what}: delivered {delivered} of 200 afterwards, {errors} typed errors");
        // Healed: the last 50 jobs all arrive.
        assert_eq!(
            late, 50,
            "{what}: delivered {delivered} of 200, {late} of the last 50"
        );
    }
}
