//! The other process of the multi-process tests. Each role prints
//! `key value` lines on stdout that the test reads; `ready` means connected.

use std::io::BufRead;
use std::time::{Duration, Instant};

use shm_comm::multipub::{MultiPublisher, MultiSubscriber, PublisherId};
use shm_comm::pubsub::{
    ConnectOptions, DynPublisher, DynSubscriber, PubOptions, Publisher, Subscriber, TypedPubOptions,
};
use shm_comm::varsize::{VarPubOptions, VarPublisher, VarSubscriber};
use shm_comm::{BorrowError, Codec, Frame, RecvTimeoutError, TryRecvError};
use suite::pair::{self, Outcome};
use suite::{digest, frame_fault, paint_frame, pattern, process_cpu_us, Check, FrameHead};

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> T {
    args.get(i)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| die(&format!("argument {i} ({what}) missing or invalid")))
}

fn die(msg: &str) -> ! {
    eprintln!("peer: {msg}");
    std::process::exit(2)
}

fn say(line: &str) {
    println!("{line}");
}

fn connect(name: &str) -> Subscriber<Check> {
    Subscriber::<Check>::connect_with(
        name,
        ConnectOptions {
            timeout: Duration::from_secs(10),
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| die(&format!("connect {name}: {e}")))
}

/// Connects a dynamic subscriber (waiting up to 10 s for the publisher).
fn connect_dyn(name: &str, last_value: bool) -> DynSubscriber {
    DynSubscriber::connect_with(
        name,
        ConnectOptions {
            timeout: Duration::from_secs(10),
            last_value,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| die(&format!("connect {name}: {e}")))
}

/// The line that describes a received frame: its codec tag, length and digest.
fn frame_line(f: &Frame) -> String {
    format!(
        "frame codec {} len {} digest {}",
        f.codec.tag(),
        f.data.len(),
        digest(&f.data)
    )
}

fn wait_stdin_line() {
    let mut s = String::new();
    let _ = std::io::stdin().lock().read_line(&mut s);
}

/// The PUB/SUB pair of the hostile-writer scenario: a publisher sending a
/// Check every 200 us, and a subscriber that alternately copies (waiting up
/// to 20 ms) and borrows. The probe sends marker messages until the
/// subscriber receives one intact.
fn chaos_pair(name: &str) {
    const MARK: u64 = 1 << 62;
    let p = Publisher::<Check>::create_with(
        name,
        TypedPubOptions {
            capacity: 16,
            borrow_budget: 4,
        },
    )
    .unwrap_or_else(|e| die(&format!("create: {e}")));
    let s = Subscriber::<Check>::connect_with(
        name,
        ConnectOptions {
            timeout: Duration::from_secs(10),
            max_borrows: 2,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| die(&format!("connect {name}: {e}")));
    let limit = Duration::from_millis(20);
    pair::run(
        (p, 0u64),
        (s, 0u64),
        |(p, seq), st| {
            st.time(Duration::ZERO, || match p.send(&Check::new(*seq)) {
                Ok(()) => Outcome::Ok,
                Err(e) => Outcome::Typed(e.to_string()),
            });
            *seq += 1;
            std::thread::sleep(Duration::from_micros(200));
        },
        |(s, i), st| {
            *i += 1;
            if *i % 2 == 0 {
                st.time(limit, || match s.recv_timeout(limit) {
                    Ok(m) if m.verify() => Outcome::Ok,
                    Ok(_) => Outcome::Bad,
                    Err(RecvTimeoutError::Timeout) => Outcome::Timeout,
                    Err(e) => Outcome::Typed(e.to_string()),
                });
            } else {
                st.time(Duration::ZERO, || match s.try_borrow() {
                    Ok(m) if m.verify() => Outcome::Ok,
                    Ok(_) => Outcome::Bad,
                    Err(BorrowError::Empty) | Err(BorrowError::Limit { .. }) => Outcome::Idle,
                    Err(e) => Outcome::Typed(e.to_string()),
                });
            }
        },
        |(p, _), (s, _)| {
            let mut mark = MARK;
            pair::probe(Duration::from_secs(3), || {
                if let Err(e) = p.send(&Check::new(mark)) {
                    return Outcome::Typed(e.to_string());
                }
                mark += 1;
                loop {
                    match s.recv_timeout(limit) {
                        Ok(m) if m.seq >= MARK && m.verify() => return Outcome::Ok,
                        Ok(_) => {}
                        Err(RecvTimeoutError::Timeout) => return Outcome::Timeout,
                        Err(e) => return Outcome::Typed(e.to_string()),
                    }
                }
            })
        },
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let role = args.first().map(String::as_str).unwrap_or("");
    let name = args.get(1).cloned().unwrap_or_default();
    match role {
        // Publishes `count` Check messages, one every `interval_us`, after a
        // line on stdin; then waits for another line before exiting (so the
        // topic stays up until the test says so).
        "pub" => {
            let count: u64 = arg(&args, 2, "count");
            let capacity: u32 = arg(&args, 3, "capacity");
            let interval = Duration::from_micros(arg(&args, 4, "interval_us"));
            let mut p = Publisher::<Check>::create_with(
                &name,
                TypedPubOptions {
                    capacity,
                    ..Default::default()
                },
            )
            .unwrap_or_else(|e| die(&format!("create: {e}")));
            say("ready");
            wait_stdin_line();
            for seq in 0..count {
                p.send(&Check::new(seq)).unwrap();
                if !interval.is_zero() {
                    std::thread::sleep(interval);
                }
            }
            say(&format!("sent {count}"));
            wait_stdin_line();
        }
        // Joins multi-publisher topic NAME as publisher number K (the high
        // 32 bits of each seq), says `ready`, waits for a line, publishes
        // `count` Check messages (seq low bits 0..count), one every
        // `interval_us`, says `sent`, and waits for a line before exiting.
        "mpub" => {
            let k: u64 = arg(&args, 2, "k");
            let count: u64 = arg(&args, 3, "count");
            let interval = Duration::from_micros(arg(&args, 4, "interval_us"));
            let capacity: u32 = arg(&args, 5, "capacity");
            let mut p = MultiPublisher::<Check>::create_with(
                &name,
                TypedPubOptions {
                    capacity,
                    ..Default::default()
                },
            )
            .unwrap_or_else(|e| die(&format!("create: {e}")));
            say("ready");
            wait_stdin_line();
            for n in 0..count {
                p.send(&Check::new((k << 32) | n)).unwrap();
                if !interval.is_zero() {
                    std::thread::sleep(interval);
                }
            }
            say(&format!("sent {count}"));
            wait_stdin_line();
        }
        // Subscribes to multi-publisher topic NAME (with the last value if
        // `last_value` is 1) and receives until it has had message
        // `count - 1` of `npubs` publishers. Checks each publisher's order
        // and that the gaps in its sequence are what `missed_from` says;
        // prints `done got G gaps X missed M corrupt C disorder D mismatch
        // Y gone Z pubs P` (`gone`: publishers heard that left since).
        "msub" => {
            let npubs: usize = arg(&args, 2, "npubs");
            let count: u64 = arg(&args, 3, "count");
            let last_value: u8 = arg(&args, 4, "last_value");
            let mut s = MultiSubscriber::<Check>::connect_with(
                &name,
                ConnectOptions {
                    last_value: last_value == 1,
                    ..Default::default()
                },
            )
            .unwrap_or_else(|e| die(&format!("connect: {e}")));
            say("ready");
            let mut last: std::collections::HashMap<PublisherId, (u64, u64)> = Default::default();
            let mut gaps: std::collections::HashMap<PublisherId, u64> = Default::default();
            let (mut got, mut corrupt, mut disorder, mut finished) = (0u64, 0u64, 0u64, 0usize);
            while finished < npubs {
                let (from, m) = match s.recv_timeout(Duration::from_secs(20)) {
                    Ok(r) => r,
                    Err(e) => die(&format!("recv after {got}: {e}")),
                };
                got += 1;
                if !m.verify() {
                    corrupt += 1;
                    continue;
                }
                let (k, n) = (m.seq >> 32, m.seq & 0xffff_ffff);
                match last.get(&from) {
                    Some(&(pk, pn)) if pk != k || n <= pn => disorder += 1,
                    Some(&(_, pn)) => *gaps.entry(from).or_default() += n - pn - 1,
                    // Read from its first message: those before were missed.
                    None => *gaps.entry(from).or_default() += n,
                }
                last.insert(from, (k, n));
                if n + 1 == count {
                    finished += 1;
                }
            }
            // Publishers that left (killed ones) are no longer counted
            // one by one: `gone` says how many.
            let (mut mismatch, mut gone) = (0, 0);
            for id in last.keys() {
                match s.raw().missed_from(*id) {
                    Some(m) if m == gaps.get(id).copied().unwrap_or(0) => {}
                    Some(_) => mismatch += 1,
                    None => gone += 1,
                }
            }
            say(&format!(
                "done got {got} gaps {} missed {} corrupt {corrupt} disorder {disorder} mismatch {mismatch} gone {gone} pubs {}",
                gaps.values().sum::<u64>(),
                s.missed(),
                last.len()
            ));
            wait_stdin_line();
        }
        // Receives `count` messages; prints how many, the missed count, a
        // digest of the sequence numbers and how many failed verification.
        "sub" => {
            let count: u64 = arg(&args, 2, "count");
            let mut s = connect(&name);
            say("ready");
            let (mut got, mut corrupt, mut digest) = (0u64, 0u64, 0u64);
            let deadline = Instant::now() + Duration::from_secs(30);
            while got < count {
                match s.recv_deadline(Some(deadline)) {
                    Ok(m) => {
                        corrupt += u64::from(!m.verify());
                        digest = digest.rotate_left(7) ^ m.seq;
                        got += 1;
                    }
                    Err(e) => die(&format!("recv after {got}: {e}")),
                }
            }
            say(&format!(
                "got {got} missed {} digest {digest} corrupt {corrupt}",
                s.missed()
            ));
        }
        // Connects, then waits for a line before draining with try_recv.
        "lagger" => {
            let mut s = connect(&name);
            say("ready");
            wait_stdin_line();
            let (mut got, mut first, mut last) = (0u64, u64::MAX, 0u64);
            while let Ok(m) = s.try_recv() {
                first = first.min(m.seq);
                last = m.seq;
                got += 1;
            }
            say(&format!(
                "got {got} first {first} last {last} missed {}",
                s.missed()
            ));
        }
        // Floods a ring of `capacity` slots for `secs` seconds.
        "flood" => {
            let secs: f64 = arg(&args, 2, "secs");
            let capacity: u32 = arg(&args, 3, "capacity");
            let mut p = Publisher::<Check>::create_with(
                &name,
                TypedPubOptions {
                    capacity,
                    ..Default::default()
                },
            )
            .unwrap_or_else(|e| die(&format!("create: {e}")));
            say("ready");
            wait_stdin_line();
            let end = Instant::now() + Duration::from_secs_f64(secs);
            let mut seq = 0;
            while Instant::now() < end {
                for _ in 0..64 {
                    p.send(&Check::new(seq)).unwrap();
                    seq += 1;
                }
            }
            say(&format!("sent {seq}"));
            wait_stdin_line();
        }
        // Reads (copying and borrowing alternately) for `secs` seconds and
        // verifies every message.
        "verify" => {
            let secs: f64 = arg(&args, 2, "secs");
            let mut s = connect(&name);
            say("ready");
            let end = Instant::now() + Duration::from_secs_f64(secs);
            let (mut ok, mut corrupt, mut borrowed, mut last) = (0u64, 0u64, 0u64, None);
            let (mut order_errors, mut changed) = (0u64, 0u64);
            let mut check = |m: &Check, last: &mut Option<u64>| {
                if m.verify() {
                    ok += 1;
                } else {
                    corrupt += 1;
                }
                if last.is_some_and(|l| m.seq <= l) {
                    order_errors += 1;
                }
                *last = Some(m.seq);
            };
            let mut i = 0u64;
            while Instant::now() < end {
                i += 1;
                if i % 2 == 0 {
                    match s.try_borrow() {
                        Ok(sample) => {
                            // Read it twice with a pause: a pinned slot must not change.
                            let first = *sample;
                            std::hint::spin_loop();
                            if *sample != first {
                                changed += 1;
                            }
                            check(&sample, &mut last);
                            borrowed += 1;
                        }
                        Err(BorrowError::Empty) | Err(BorrowError::Limit { .. }) => {}
                        Err(e) => die(&format!("borrow: {e}")),
                    }
                } else {
                    match s.recv_timeout(Duration::from_millis(10)) {
                        Ok(m) => check(&m, &mut last),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(e) => die(&format!("recv: {e}")),
                    }
                }
            }
            let corrupt = corrupt + changed;
            say(&format!(
                "ok {ok} corrupt {corrupt} borrowed {borrowed} missed {} order_errors {order_errors}",
                s.missed()
            ));
        }
        // Blocks in recv for `ms` milliseconds with nothing published and
        // reports the CPU time it used meanwhile.
        "idle" => {
            let ms: u64 = arg(&args, 2, "ms");
            let mut s = connect(&name);
            say("ready");
            let cpu0 = process_cpu_us();
            let t0 = Instant::now();
            let r = s.recv_timeout(Duration::from_millis(ms));
            let wall = t0.elapsed();
            let cpu = process_cpu_us() - cpu0;
            say(&format!(
                "cpu_us {cpu} wall_us {} timeout {}",
                wall.as_micros(),
                u8::from(r == Err(RecvTimeoutError::Timeout))
            ));
        }
        // As `idle`, blocked in a multi-publisher subscriber's receive.
        "midle" => {
            let ms: u64 = arg(&args, 2, "ms");
            let mut s = MultiSubscriber::<Check>::connect(&name)
                .unwrap_or_else(|e| die(&format!("connect: {e}")));
            say("ready");
            let cpu0 = process_cpu_us();
            let t0 = Instant::now();
            let r = s.recv_timeout(Duration::from_millis(ms));
            let wall = t0.elapsed();
            let cpu = process_cpu_us() - cpu0;
            say(&format!(
                "cpu_us {cpu} wall_us {} timeout {}",
                wall.as_micros(),
                u8::from(r.is_err_and(|e| e == RecvTimeoutError::Timeout))
            ));
        }
        // Variable-size frames: publishes one frame of `W H` pixels (up to
        // 3840x2160) for each `W H` line on stdin, says `sent SEQ`; exits
        // at `end`.
        "vframes" => {
            let mut p = VarPublisher::<FrameHead, [u8; 3]>::create(&name, 3840 * 2160)
                .unwrap_or_else(|e| die(&format!("create: {e}")));
            say("ready");
            for (seq, line) in (0u64..).zip(std::io::stdin().lock().lines()) {
                let line = line.unwrap_or_default();
                let Some((w, h)) = line.split_once(' ') else {
                    break;
                };
                let (w, h): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
                let mut loan = p
                    .loan_with_len(w as usize * h as usize)
                    .unwrap_or_else(|e| die(&format!("loan: {e}")));
                let (head, pixels) = loan.parts_mut();
                paint_frame(head, pixels, seq, w);
                loan.send().unwrap_or_else(|e| die(&format!("send: {e}")));
                say(&format!("sent {seq}"));
            }
        }
        // Borrows `count` frames, checking every byte; says `frame SEQ WxH
        // ok|FAULT` for each, then `missed N`.
        "vcheck" => {
            let count: u64 = arg(&args, 2, "count");
            let mut s = VarSubscriber::<FrameHead, [u8; 3]>::connect(&name)
                .unwrap_or_else(|e| die(&format!("connect: {e}")));
            say("ready");
            for _ in 0..count {
                let f = s
                    .borrow_timeout(Duration::from_secs(30))
                    .unwrap_or_else(|e| die(&format!("borrow: {e}")));
                let h = f.header();
                let verdict = frame_fault(h, f.elems()).unwrap_or_else(|| "ok".into());
                say(&format!(
                    "frame {} {}x{} {} {verdict}",
                    h.seq,
                    h.width,
                    h.height,
                    f.len()
                ));
            }
            say(&format!("missed {}", s.missed()));
        }
        // Connects as frames of 4-byte pixels (a wrong element type) and
        // says the error.
        "vwrong" => {
            let opts = ConnectOptions::with_timeout(Duration::from_secs(5));
            match VarSubscriber::<FrameHead, [u8; 4]>::connect_with(&name, opts) {
                Ok(_) => say("error none"),
                Err(e) => say(&format!("error {e}")),
            }
        }
        // Publishes `count` frames of `seq % 7 + 1` rows of the current
        // maximum / 8 pixels (so 1..=7 eighths of it), one every
        // `interval_us`, growing the maximum fourfold `grows` times at
        // even intervals (first at 16 pixels); says `sent N generation G`.
        "vgrow" => {
            let count: u64 = arg(&args, 2, "count");
            let grows: u64 = arg(&args, 3, "grows");
            let capacity: u32 = arg(&args, 4, "capacity");
            let interval = Duration::from_micros(arg(&args, 5, "interval_us"));
            let opts = VarPubOptions {
                ring: Some(TypedPubOptions {
                    capacity,
                    borrow_budget: 8,
                }),
                auto_grow: false,
            };
            let mut p = VarPublisher::<FrameHead, [u8; 3]>::create_with(&name, 16, opts)
                .unwrap_or_else(|e| die(&format!("create: {e}")));
            say("ready");
            wait_stdin_line();
            let every = count / (grows + 1);
            for seq in 0..count {
                if seq > 0 && seq % every == 0 && u64::from(p.generation()) < grows {
                    p.grow(p.max_len() * 4)
                        .unwrap_or_else(|e| die(&format!("grow: {e}")));
                }
                let width = (p.max_len() / 8) as u32;
                let rows = (seq % 7 + 1) as u32;
                let mut loan = p
                    .loan_with_len((width * rows) as usize)
                    .unwrap_or_else(|e| die(&format!("loan: {e}")));
                let (head, pixels) = loan.parts_mut();
                paint_frame(head, pixels, seq, width);
                loan.send().unwrap_or_else(|e| die(&format!("send: {e}")));
                if !interval.is_zero() {
                    std::thread::sleep(interval);
                }
            }
            say(&format!("sent {count} generation {}", p.generation()));
            wait_stdin_line();
        }
        // Reads `count` frames of `vgrow`; says `got N missed M torn T
        // gaps G generation X` (gaps: sequence numbers jumped over).
        "vfollow" => {
            let count: u64 = arg(&args, 2, "count");
            let mut s = VarSubscriber::<FrameHead, [u8; 3]>::connect(&name)
                .unwrap_or_else(|e| die(&format!("connect: {e}")));
            say("ready");
            let (mut got, mut torn, mut gaps, mut next) = (0u64, 0u64, 0u64, 0u64);
            while next < count {
                let f = match s.borrow_timeout(Duration::from_secs(30)) {
                    Ok(f) => f,
                    Err(e) => die(&format!("borrow after {got}: {e}")),
                };
                let h = f.header();
                torn += u64::from(frame_fault(h, f.elems()).is_some());
                gaps += h.seq.saturating_sub(next);
                next = h.seq + 1;
                got += 1;
            }
            say(&format!(
                "got {got} missed {} torn {torn} gaps {gaps} generation {}",
                s.missed(),
                s.generation()
            ));
        }
        // Owns a topic until killed.
        "hold" => {
            let _p =
                Publisher::<Check>::create(&name).unwrap_or_else(|e| die(&format!("create: {e}")));
            say("ready");
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        // Blocks in recv (sleeping on the futex) until killed.
        "block" => {
            let mut s = connect(&name);
            say("ready");
            loop {
                let _ = s.recv();
            }
        }
        // Borrows `n` messages, holds them until killed.
        "borrow-hold" => {
            let n: usize = arg(&args, 2, "n");
            let mut s = connect(&name);
            say("ready");
            let mut held = Vec::new();
            while held.len() < n {
                match s.borrow_timeout(Duration::from_secs(10)) {
                    Ok(sample) => held.push(sample),
                    Err(e) => die(&format!("borrow: {e}")),
                }
            }
            say(&format!("holding {}", held.len()));
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        // A dynamic publisher driven by commands on stdin, one per line:
        // `bytes LEN SEED` sends `pattern(LEN, SEED)` as raw bytes, `frame TAG
        // LEN SEED` sends it tagged with codec TAG; each answers `sent LEN` or
        // `error TEXT`. `exit` (or end of input) drops the publisher.
        // Creates `n` dynamic topics `NAME/0` .. `NAME/n-1`; then, for each
        // stdin line `send I J ...`, publishes one frame on each topic
        // listed and says `sent`; `exit` (or end of input) ends it.
        "multi-pub" => {
            let n: usize = arg(&args, 2, "n");
            let mut pubs: Vec<DynPublisher> = (0..n)
                .map(|i| {
                    DynPublisher::create(&format!("{name}/{i}"))
                        .unwrap_or_else(|e| die(&format!("create {i}: {e}")))
                })
                .collect();
            say("ready");
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                let mut words = line.split_whitespace();
                match words.next() {
                    Some("send") => {
                        for w in words {
                            let i: usize = w.parse().unwrap_or_else(|_| die("bad index"));
                            pubs[i]
                                .send_bytes(format!("frame for {i}").as_bytes())
                                .unwrap_or_else(|e| die(&format!("send {i}: {e}")));
                        }
                        say("sent");
                    }
                    _ => break,
                }
            }
        }
        // Publishes `count` frames on dynamic topic NAME after a line on
        // stdin, says `sent`, and exits after another line: the tests count
        // this process's system calls around it.
        "quiet-pub" => {
            let count: u64 = arg(&args, 2, "count");
            let mut p =
                DynPublisher::create(&name).unwrap_or_else(|e| die(&format!("create: {e}")));
            say("ready");
            wait_stdin_line();
            for i in 0..count {
                p.send_bytes(&i.to_le_bytes())
                    .unwrap_or_else(|e| die(&format!("send: {e}")));
            }
            say("sent");
            wait_stdin_line();
        }
        "dyn-pub" => {
            let max_payload: u32 = arg(&args, 2, "max_payload");
            let capacity: u32 = arg(&args, 3, "capacity");
            let mut p = DynPublisher::create_with(
                &name,
                PubOptions {
                    capacity,
                    max_payload,
                    ..Default::default()
                },
            )
            .unwrap_or_else(|e| die(&format!("create: {e}")));
            say("ready");
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                let cmd: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
                let r = match cmd.first().map(String::as_str) {
                    Some("bytes") => {
                        let data = pattern(arg(&cmd, 1, "len"), arg(&cmd, 2, "seed"));
                        p.send_bytes(&data).map(|()| data.len())
                    }
                    Some("frame") => {
                        let codec = Codec::from_tag(arg(&cmd, 1, "tag"));
                        let data = pattern(arg(&cmd, 2, "len"), arg(&cmd, 3, "seed"));
                        p.send_frame(&data, codec).map(|()| data.len())
                    }
                    Some("exit") => break,
                    _ => die(&format!("unknown command {line:?}")),
                };
                match r {
                    Ok(n) => say(&format!("sent {n}")),
                    Err(e) => say(&format!("error {e}")),
                }
            }
        }
        // Receives `count` dynamic frames (`last_value` 0 or 1), printing a
        // `frame codec TAG len LEN digest D` line for each, then `done missed M`.
        "dyn-sub" => {
            let count: u64 = arg(&args, 2, "count");
            let last_value: u8 = arg(&args, 3, "last_value");
            let mut s = connect_dyn(&name, last_value != 0);
            say("ready");
            let deadline = Instant::now() + Duration::from_secs(30);
            for got in 0..count {
                let mut buf = Vec::new();
                match s.recv_into(&mut buf, Some(deadline)) {
                    Ok(codec) => say(&frame_line(&Frame { codec, data: buf })),
                    Err(e) => die(&format!("recv after {got}: {e}")),
                }
            }
            say(&format!("done missed {}", s.missed()));
        }
        // A dynamic subscriber (`last_value` 0 or 1) that receives on command:
        // `try` calls try_recv, `recv MS` waits up to MS milliseconds; each
        // answers a frame line, `empty`, `timeout` or `corrupt REASON`,
        // followed by ` missed M` (the subscriber's missed count).
        "dyn-poll" => {
            let last_value: u8 = arg(&args, 2, "last_value");
            let mut s = connect_dyn(&name, last_value != 0);
            say("ready");
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                let cmd: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
                let out = match cmd.first().map(String::as_str) {
                    Some("try") => match s.try_recv() {
                        Ok(f) => frame_line(&f),
                        Err(TryRecvError::Empty) => "empty".to_owned(),
                        Err(TryRecvError::Corrupt(r)) => format!("corrupt {r}"),
                    },
                    Some("recv") => {
                        match s.recv_timeout(Duration::from_millis(arg(&cmd, 1, "ms"))) {
                            Ok(f) => frame_line(&f),
                            Err(RecvTimeoutError::Timeout) => "timeout".to_owned(),
                            Err(RecvTimeoutError::Corrupt(r)) => format!("corrupt {r}"),
                        }
                    }
                    Some("exit") => break,
                    _ => die(&format!("unknown command {line:?}")),
                };
                say(&format!("{out} missed {}", s.missed()));
            }
        }
        // Chaos: publishes Check messages `base`, `base + 1`, ... without
        // end (a short pause every 64), on a ring of `capacity` slots and
        // `budget` borrows, until killed; `ready` once created.
        "chaos-pub" => {
            let capacity: u32 = arg(&args, 2, "capacity");
            let borrow_budget: u32 = arg(&args, 3, "budget");
            let base: u64 = arg(&args, 4, "base");
            let mut p = Publisher::<Check>::create_with(
                &name,
                TypedPubOptions {
                    capacity,
                    borrow_budget,
                },
            )
            .unwrap_or_else(|e| die(&format!("create: {e}")));
            say("ready");
            for seq in base.. {
                p.send(&Check::new(seq)).unwrap();
                if seq % 64 == 63 {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
        // Chaos: borrows up to `n` samples at a time, verifies each and lets
        // them go in batches, until killed; `ready` once connected.
        "chaos-borrow" => {
            let n: usize = arg(&args, 2, "n");
            let mut s = connect(&name);
            say("ready");
            let mut held = Vec::new();
            loop {
                match s.borrow_timeout(Duration::from_millis(100)) {
                    Ok(sample) => {
                        if !sample.verify() {
                            die("borrowed a torn message");
                        }
                        held.push(sample);
                    }
                    Err(BorrowError::Empty) | Err(BorrowError::Limit { .. }) => {}
                    Err(e) => die(&format!("borrow: {e}")),
                }
                if held.len() >= n {
                    std::thread::sleep(Duration::from_millis(1));
                    held.clear();
                }
            }
        }
        // Chaos (hostile writer): a publisher and a subscriber of `name`
        // in two threads of this process; see `pair::run`.
        "chaos-pair" => chaos_pair(&name),
        _ => die(&format!("unknown role {role:?}")),
    }
}
