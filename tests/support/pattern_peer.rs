//! The other process of the REQ/REP and PUSH/PULL tests (`tests/reqrep.rs`,
//! `tests/pipeline.rs`). Each role prints `key value` lines on stdout that the
//! test reads (`ready` once it has created or joined its channel) and takes
//! commands on stdin, one per line (`go`, `release`, `stop`); the end of
//! stdin counts as `stop`.
//!
//! The message types below are repeated, field for field, in the test files:
//! a typed channel checks the layout (names included) when it is joined.

use std::io::BufRead;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::{self, Receiver, TryRecvError as ChanError};
use std::time::{Duration, Instant};

use shm_comm::codec::{from_msgpack, to_msgpack};
use shm_comm::pipeline::{Puller, PullerOptions, Pusher, TypedQueueOptions};
use shm_comm::reqrep::{
    Delivery, DynReplier, Replier, RequestError, Requester, RequesterOptions, ServiceOptions,
};
use shm_comm::{Codec, RecvTimeoutError, SendTimeoutError, ShmMessage, TryRecvError};
use suite::pair::{self, Outcome};
use suite::process_cpu_us;

/// A request of the typed test service: who asks, and its call number.
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Ask {
    client: u64,
    seq: u64,
}

/// The reply: the request echoed, `seq * 2`, and which replier answered.
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Answer {
    client: u64,
    seq: u64,
    double: u64,
    server: u64,
}

/// A job of the test queue; `check` is derived from `id` so that a puller
/// can tell a damaged job.
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
struct Job {
    id: u64,
    check: u64,
}

fn job_check(id: u64) -> u64 {
    id.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5a5a_5a5a
}

/// Bytes before the per-job counters in a ledger file (see [`Ledger`]).
const LEDGER_HEADER: usize = 64;

/// How long a role waits for its channel to appear, or for a request.
const CONNECT: Duration = Duration::from_secs(10);
/// How often a serving loop looks at stdin for `stop`.
const POLL: Duration = Duration::from_millis(50);

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> T {
    args.get(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| die(&format!("argument {i} ({what}) missing or invalid")))
}

fn die(msg: &str) -> ! {
    eprintln!("pattern peer: {msg}");
    std::process::exit(2)
}

fn say(line: &str) {
    println!("{line}");
}

/// Lines of stdin, read by a thread so that serving loops can poll them.
fn commands() -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line.trim().to_owned()).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for the line `word` on stdin.
fn wait_for(cmds: &Receiver<String>, word: &str) {
    loop {
        match cmds.recv() {
            Ok(line) if line == word => return,
            Ok(_) => {}
            Err(_) => die(&format!("stdin closed while waiting for `{word}`")),
        }
    }
}

/// `true` once stdin said `stop` (or closed).
fn stop_requested(cmds: &Receiver<String>) -> bool {
    loop {
        match cmds.try_recv() {
            Ok(line) if line == "stop" => return true,
            Ok(_) => {}
            Err(ChanError::Empty) => return false,
            Err(ChanError::Disconnected) => return true,
        }
    }
}

/// The test's accounting file, mapped shared by every puller: a `u64` count
/// of recorded jobs at offset 0, then one byte per job id at
/// `LEDGER_HEADER + id`, incremented atomically for every job received.
struct Ledger {
    base: *mut u8,
    len: usize,
}

impl Ledger {
    fn open(path: &str) -> Ledger {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| die(&format!("open {path}: {e}")));
        let len = file.metadata().map(|m| m.len()).unwrap_or(0) as usize;
        if len <= LEDGER_HEADER {
            die(&format!("ledger {path} has only {len} bytes"));
        }
        // SAFETY: a fresh shared mapping of `len` bytes of an open file; the
        // kernel picks the address. The mapping outlives the file descriptor
        // (closed when `file` drops) and is never unmapped.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            die(&format!("mmap {path}: {}", std::io::Error::last_os_error()));
        }
        Ledger {
            base: base.cast(),
            len,
        }
    }

    /// Records job `id`; `false` if the id is outside the ledger.
    fn record(&self, id: u64) -> bool {
        let Some(i) = usize::try_from(id)
            .ok()
            .and_then(|id| id.checked_add(LEDGER_HEADER))
            .filter(|&i| i < self.len)
        else {
            return false;
        };
        // SAFETY: `i < len`: the byte is inside the mapping, which is never
        // unmapped; every process touches these bytes only atomically.
        unsafe { AtomicU8::from_ptr(self.base.add(i)) }.fetch_add(1, Ordering::Relaxed);
        // SAFETY: offset 0 of a page-aligned mapping of more than
        // LEDGER_HEADER bytes holds an aligned u64, only accessed atomically.
        unsafe { AtomicU64::from_ptr(self.base.cast()) }.fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// The answer every typed replier gives.
fn answer(ask: &Ask, server: u64) -> Answer {
    Answer {
        client: ask.client,
        seq: ask.seq,
        double: ask.seq.wrapping_mul(2),
        server,
    }
}

/// What the dynamic replier answers: raw bytes reversed, a msgpack
/// `(n, text)` as `(2n, TEXT)`, anything else echoed with its codec.
fn dyn_answer(codec: Codec, data: Vec<u8>) -> (Vec<u8>, Codec) {
    match codec {
        Codec::Raw => (data.into_iter().rev().collect(), Codec::Raw),
        Codec::MsgPack => match from_msgpack::<(u64, String)>(&data) {
            Ok((n, text)) => (
                to_msgpack(&(n.wrapping_mul(2), text.to_uppercase()))
                    .unwrap_or_else(|e| die(&format!("encode: {e}"))),
                Codec::MsgPack,
            ),
            Err(e) => (format!("cannot decode: {e}").into_bytes(), Codec::Raw),
        },
        other => (data, other),
    }
}

/// Blocks in `wait` on an idle channel and prints the CPU time it used.
fn measure_idle<E: PartialEq>(ms: u64, wait: impl FnOnce(Duration) -> Option<E>, timeout: E) {
    let cpu0 = process_cpu_us();
    let t0 = Instant::now();
    let r = wait(Duration::from_millis(ms));
    let wall = t0.elapsed();
    let cpu = process_cpu_us() - cpu0;
    say(&format!(
        "cpu_us {cpu} wall_us {} timeout {}",
        wall.as_micros(),
        u8::from(r == Some(timeout))
    ));
}

/// Marker ids and call numbers of the hostile-writer probes.
const MARK: u64 = 1 << 62;

/// The PUSH/PULL pair of the hostile-writer scenario: a pusher (50 ms send
/// timeout, a job every 200 us) and a puller (20 ms receive timeout) on a
/// queue of 16. The probe sends marker jobs until one comes out intact.
fn chaos_pair_queue(name: &str) {
    let push = Pusher::<Job>::create_with(name, TypedQueueOptions { capacity: 16 })
        .unwrap_or_else(|e| die(&format!("create {name}: {e}")));
    let pull = Puller::<Job>::connect_with(name, PullerOptions::with_timeout(CONNECT))
        .unwrap_or_else(|e| die(&format!("connect {name}: {e}")));
    let (send_t, recv_t) = (Duration::from_millis(50), Duration::from_millis(20));
    let job = |id| Job {
        id,
        check: job_check(id),
    };
    pair::run(
        (push, 0u64),
        pull,
        |(p, id), st| {
            st.time(send_t, || match p.send_timeout(job(*id), send_t) {
                Ok(()) => Outcome::Ok,
                Err(SendTimeoutError::Timeout(_)) => Outcome::Timeout,
                Err(e) => Outcome::Typed(e.to_string()),
            });
            *id += 1;
            std::thread::sleep(Duration::from_micros(200));
        },
        |p, st| {
            st.time(recv_t, || match p.recv_timeout(recv_t) {
                Ok(j) if j.check == job_check(j.id) => Outcome::Ok,
                Ok(_) => Outcome::Bad,
                Err(RecvTimeoutError::Timeout) => Outcome::Timeout,
                Err(e) => Outcome::Typed(e.to_string()),
            })
        },
        |(push, _), pull| {
            let mut mark = MARK;
            pair::probe(Duration::from_secs(3), || {
                match push.send_timeout(job(mark), recv_t) {
                    Ok(()) => mark += 1,
                    Err(SendTimeoutError::Timeout(_)) => {}
                    Err(e) => return Outcome::Typed(e.to_string()),
                }
                loop {
                    match pull.recv_timeout(recv_t) {
                        Ok(j) if j.id >= MARK && j.check == job_check(j.id) => return Outcome::Ok,
                        Ok(_) => {}
                        Err(RecvTimeoutError::Timeout) => return Outcome::Timeout,
                        Err(e) => return Outcome::Typed(e.to_string()),
                    }
                }
            })
        },
    );
}

/// The REQ/REP pair of the hostile-writer scenario: a replier (20 ms
/// receive timeout) and a requester (100 ms call timeout). The probe calls
/// while the replier serves in a thread, until one call gets its reply.
fn chaos_pair_service(name: &str) {
    let rep = Replier::<Ask, Answer>::create(name)
        .unwrap_or_else(|e| die(&format!("create {name}: {e}")));
    let req = Requester::<Ask, Answer>::connect_with(name, RequesterOptions::with_timeout(CONNECT))
        .unwrap_or_else(|e| die(&format!("connect {name}: {e}")));
    let (recv_t, call_t) = (Duration::from_millis(20), Duration::from_millis(100));
    let serve = |r: &Replier<Ask, Answer>| match r.recv_timeout(recv_t) {
        Ok((call, ask)) => match r.reply(&call, &answer(&ask, 1)) {
            Ok(Delivery::Delivered) => Outcome::Ok,
            // The requester no longer waits for this call.
            Ok(Delivery::Discarded) => Outcome::Bad,
            Err(e) => Outcome::Typed(e.to_string()),
        },
        Err(RecvTimeoutError::Timeout) => Outcome::Timeout,
        Err(e) => Outcome::Typed(e.to_string()),
    };
    let call = |q: &Requester<Ask, Answer>, seq: u64| {
        let ask = Ask { client: 1, seq };
        match q.request(&ask, call_t) {
            Ok(a) if a == answer(&ask, 1) => Outcome::Ok,
            Ok(_) => Outcome::Bad,
            Err(RequestError::Timeout { .. }) => Outcome::Timeout,
            Err(e) => Outcome::Typed(e.to_string()),
        }
    };
    pair::run(
        rep,
        (req, 0u64),
        |r, st| st.time(recv_t, || serve(r)),
        |(q, seq), st| {
            st.time(call_t, || call(q, *seq));
            *seq += 1;
        },
        |r, (q, _)| {
            // The requester may see only timeouts while the replier sees
            // the damage: the replier's outcomes count in the verdict.
            let done = AtomicBool::new(false);
            let served = pair::OpStats::default();
            let verdict = std::thread::scope(|s| {
                s.spawn(|| {
                    while !done.load(Ordering::Relaxed) {
                        served.time(recv_t, || serve(r));
                    }
                });
                let mut seq = MARK;
                let verdict = pair::probe(Duration::from_secs(3), || {
                    seq += 1;
                    call(q, seq)
                });
                done.store(true, Ordering::Relaxed);
                verdict
            });
            let replier = served.line("replier");
            if verdict == "dead" && !served.last_error().is_empty() {
                format!("typed replier:{} {replier}", served.last_error())
            } else {
                format!("{verdict} {replier}")
            }
        },
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let role = args.first().map(String::as_str).unwrap_or("");
    let name = args.get(1).cloned().unwrap_or_default();
    match role {
        // Serves the typed service (creating or joining it), answering with
        // `server` = ID, until `stop`; then prints `served N discarded D`
        // (D: replies whose requester no longer waited). With HOLD 1, the
        // first request is held: `holding client C seq S` is printed, the
        // reply is sent after `release`, then `late delivered 0|1`.
        "replier" => {
            let id: u64 = arg(&args, 2, "id");
            let hold: u8 = arg(&args, 3, "hold");
            let r = Replier::<Ask, Answer>::create(&name)
                .unwrap_or_else(|e| die(&format!("create {name}: {e}")));
            let cmds = commands();
            say("ready");
            let (mut served, mut discarded) = (0u64, 0u64);
            if hold != 0 {
                let (call, ask) = r
                    .recv_timeout(Duration::from_secs(60))
                    .unwrap_or_else(|e| die(&format!("recv the request to hold: {e}")));
                say(&format!("holding client {} seq {}", ask.client, ask.seq));
                wait_for(&cmds, "release");
                let delivered = r
                    .reply(&call, &answer(&ask, id))
                    .unwrap_or_else(|e| die(&format!("reply: {e}")));
                say(&format!(
                    "late delivered {}",
                    u8::from(delivered.is_delivered())
                ));
                served += 1;
                discarded += u64::from(!delivered.is_delivered());
            }
            loop {
                match r.recv_timeout(POLL) {
                    Ok((call, ask)) => {
                        served += 1;
                        let delivered = r
                            .reply(&call, &answer(&ask, id))
                            .unwrap_or_else(|e| die(&format!("reply: {e}")));
                        discarded += u64::from(!delivered.is_delivered());
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(e) => die(&format!("recv: {e}")),
                }
                if stop_requested(&cmds) {
                    break;
                }
            }
            say(&format!("served {served} discarded {discarded}"));
        }
        // Calls the typed service COUNT times as client ID after `go`, each
        // with a 30 s timeout, and prints `done client C replies R
        // mismatches M errors E`: a mismatch is a reply for another client
        // or call, or with a wrong value.
        "requester" => {
            let client: u64 = arg(&args, 2, "client");
            let count: u64 = arg(&args, 3, "count");
            let q = Requester::<Ask, Answer>::connect_with(
                &name,
                RequesterOptions::with_timeout(CONNECT),
            )
            .unwrap_or_else(|e| die(&format!("connect {name}: {e}")));
            let cmds = commands();
            say("ready");
            wait_for(&cmds, "go");
            let (mut replies, mut mismatches, mut errors) = (0u64, 0u64, 0u64);
            for seq in 0..count {
                let ask = Ask { client, seq };
                match q.request(&ask, Duration::from_secs(30)) {
                    Ok(a) => {
                        replies += 1;
                        if a != answer(&ask, a.server) {
                            mismatches += 1;
                            eprintln!("client {client} call {seq}: got {a:?}");
                        }
                    }
                    Err(e) => {
                        errors += 1;
                        eprintln!("client {client} call {seq}: {e}");
                    }
                }
            }
            say(&format!(
                "done client {client} replies {replies} mismatches {mismatches} errors {errors}"
            ));
        }
        // Creates the typed service, blocks in recv for MS milliseconds with
        // no request and prints the CPU time used meanwhile.
        "idle-replier" => {
            let ms: u64 = arg(&args, 2, "ms");
            let r = Replier::<Ask, Answer>::create(&name)
                .unwrap_or_else(|e| die(&format!("create {name}: {e}")));
            say("ready");
            measure_idle(ms, |t| r.recv_timeout(t).err(), RecvTimeoutError::Timeout);
        }
        // Serves a dynamic service of MAX_PAYLOAD bytes (see `dyn_answer`)
        // until `stop`; then prints `served N`.
        "dyn-replier" => {
            let max_payload: u32 = arg(&args, 2, "max_payload");
            let r = DynReplier::create_with(
                &name,
                ServiceOptions {
                    max_payload,
                    ..Default::default()
                },
            )
            .unwrap_or_else(|e| die(&format!("create {name}: {e}")));
            let cmds = commands();
            say("ready");
            let mut served = 0u64;
            loop {
                match r.recv_timeout(POLL) {
                    Ok((call, frame)) => {
                        served += 1;
                        let (data, codec) = dyn_answer(frame.codec, frame.data);
                        // Whether it arrived is checked by the requester.
                        let _ = r
                            .reply(&call, &data, codec)
                            .unwrap_or_else(|e| die(&format!("reply: {e}")));
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(e) => die(&format!("recv: {e}")),
                }
                if stop_requested(&cmds) {
                    break;
                }
            }
            say(&format!("served {served}"));
        }
        // Creates (or joins) the typed queue with CAPACITY slots, and after
        // `go` sends jobs FROM..FROM+COUNT (blocking send), prints `pushed
        // COUNT` and exits (or, with a fifth argument `hold`, waits for `stop`).
        "pusher" => {
            let from: u64 = arg(&args, 2, "from");
            let count: u64 = arg(&args, 3, "count");
            let capacity: u32 = arg(&args, 4, "capacity");
            let p = Pusher::<Job>::create_with(&name, TypedQueueOptions { capacity })
                .unwrap_or_else(|e| die(&format!("create {name}: {e}")));
            let cmds = commands();
            say("ready");
            wait_for(&cmds, "go");
            for id in from..from + count {
                let job = Job {
                    id,
                    check: job_check(id),
                };
                if let Err(e) = p.send(job) {
                    die(&format!("send {id}: {e}"));
                }
            }
            say(&format!("pushed {count}"));
            // With a fifth argument `hold`, stays (joined) until `stop`, so
            // that the test can kill it right after its sends returned.
            if args.get(5).map(String::as_str) == Some("hold") {
                wait_for(&cmds, "stop");
            }
        }
        // Joins the typed queue and records every job it receives in the
        // ledger file LEDGER until `stop`; then drains the queue with
        // try_recv until it is empty and prints `pulled N bad B` (B: jobs
        // whose check word is wrong or whose id is outside the ledger).
        "puller" => {
            let ledger = Ledger::open(&arg::<String>(&args, 2, "ledger"));
            let p = Puller::<Job>::connect_with(&name, PullerOptions::with_timeout(CONNECT))
                .unwrap_or_else(|e| die(&format!("connect {name}: {e}")));
            let cmds = commands();
            say("ready");
            let (mut pulled, mut bad) = (0u64, 0u64);
            let mut take = |job: Job| {
                pulled += 1;
                if job.check != job_check(job.id) || !ledger.record(job.id) {
                    bad += 1;
                }
            };
            loop {
                match p.recv_timeout(POLL) {
                    Ok(job) => take(job),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(e) => die(&format!("recv: {e}")),
                }
                if stop_requested(&cmds) {
                    break;
                }
            }
            loop {
                match p.try_recv() {
                    Ok(job) => take(job),
                    Err(TryRecvError::Empty) => break,
                    Err(e) => die(&format!("try_recv: {e}")),
                }
            }
            say(&format!("pulled {pulled} bad {bad}"));
        }
        // Joins the typed queue, blocks in recv for MS milliseconds with no
        // job and prints the CPU time used meanwhile.
        "idle-puller" => {
            let ms: u64 = arg(&args, 2, "ms");
            let p = Puller::<Job>::connect_with(&name, PullerOptions::with_timeout(CONNECT))
                .unwrap_or_else(|e| die(&format!("connect {name}: {e}")));
            say("ready");
            measure_idle(ms, |t| p.recv_timeout(t).err(), RecvTimeoutError::Timeout);
        }
        // Chaos: creates (or joins) the typed queue with CAPACITY slots,
        // and after `go` sends jobs FROM..FROM+COUNT, recording each job
        // whose send returned in the ledger file SENT; prints `pushed COUNT`
        // and waits for `stop` (it is usually killed long before).
        "chaos-pusher" => {
            let from: u64 = arg(&args, 2, "from");
            let count: u64 = arg(&args, 3, "count");
            let capacity: u32 = arg(&args, 4, "capacity");
            let sent = Ledger::open(&arg::<String>(&args, 5, "sent"));
            let p = Pusher::<Job>::create_with(&name, TypedQueueOptions { capacity })
                .unwrap_or_else(|e| die(&format!("create {name}: {e}")));
            let cmds = commands();
            say("ready");
            wait_for(&cmds, "go");
            for id in from..from + count {
                let job = Job {
                    id,
                    check: job_check(id),
                };
                if let Err(e) = p.send(job) {
                    die(&format!("send {id}: {e}"));
                }
                if !sent.record(id) {
                    die(&format!("job {id} is outside the ledger"));
                }
            }
            say(&format!("pushed {count}"));
            wait_for(&cmds, "stop");
        }
        // Chaos: serves the typed service as replier ID, sleeping DELAY_US
        // between taking a request and replying (so that a kill lands
        // mid-reply), until `stop`; then prints `served N discarded D`.
        "chaos-replier" => {
            let id: u64 = arg(&args, 2, "id");
            let delay = Duration::from_micros(arg(&args, 3, "delay_us"));
            let r = Replier::<Ask, Answer>::create(&name)
                .unwrap_or_else(|e| die(&format!("create {name}: {e}")));
            let cmds = commands();
            say("ready");
            let (mut served, mut discarded) = (0u64, 0u64);
            loop {
                match r.recv_timeout(POLL) {
                    Ok((call, ask)) => {
                        served += 1;
                        std::thread::sleep(delay);
                        let delivered = r
                            .reply(&call, &answer(&ask, id))
                            .unwrap_or_else(|e| die(&format!("reply: {e}")));
                        discarded += u64::from(!delivered.is_delivered());
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(e) => die(&format!("recv: {e}")),
                }
                if stop_requested(&cmds) {
                    break;
                }
            }
            say(&format!("served {served} discarded {discarded}"));
        }
        // Chaos (hostile writer): both ends of a queue or a service.
        "chaos-pair-queue" => chaos_pair_queue(&name),
        "chaos-pair-service" => chaos_pair_service(&name),
        _ => die(&format!("unknown role {role:?}")),
    }
}
