//! Helpers shared by the cross-crate tests and the examples: a self-checking
//! message type, unique channel names, child processes that are killed and
//! segments that are removed even when a test fails.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use shm_comm::ShmMessage;

/// Words of payload in a [`Check`] message.
pub const CHECK_WORDS: usize = 30;

/// A message that proves its own integrity: every word is derived from `seq`,
/// and `sum` covers them all. A torn copy (half old, half new) fails [`Check::verify`].
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct Check {
    /// Sequence number.
    pub seq: u64,
    /// Send time, `CLOCK_MONOTONIC` nanoseconds.
    pub stamp_ns: u64,
    /// `seq`-derived words.
    pub data: [u64; CHECK_WORDS],
    /// Checksum of everything above.
    pub sum: u64,
}

fn mix(seq: u64, i: u64) -> u64 {
    (seq ^ 0x9e37_79b9_7f4a_7c15)
        .wrapping_mul(i + 1)
        .rotate_left(17)
}

impl Check {
    /// The message with sequence number `seq`.
    pub fn new(seq: u64) -> Check {
        let mut c = Check {
            seq,
            stamp_ns: monotonic_ns(),
            data: [0; CHECK_WORDS],
            sum: 0,
        };
        for (i, w) in c.data.iter_mut().enumerate() {
            *w = mix(seq, i as u64);
        }
        c.sum = c.checksum();
        c
    }

    fn checksum(&self) -> u64 {
        self.data
            .iter()
            .fold(self.seq.wrapping_add(self.stamp_ns), |acc, w| {
                acc.rotate_left(5) ^ w
            })
    }

    /// `true` if the message is intact.
    pub fn verify(&self) -> bool {
        self.sum == self.checksum()
            && self
                .data
                .iter()
                .enumerate()
                .all(|(i, w)| *w == mix(self.seq, i as u64))
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds: comparable across processes.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CPU time (user + system) this process has used, in microseconds.
pub fn process_cpu_us() -> u64 {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: `ru` is valid for writes of a `rusage`.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr()) };
    // SAFETY: getrusage(RUSAGE_SELF) always fills the struct.
    let ru = unsafe { ru.assume_init() };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    us(ru.ru_utime) + us(ru.ru_stime)
}

/// A channel name no other test (or run) uses; its segments are removed when
/// the guard drops, even if the test panics.
#[derive(Debug)]
pub struct TestChannel {
    name: String,
}

impl TestChannel {
    /// A fresh name under `test/<what>/`.
    pub fn new(what: &str) -> TestChannel {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "test/{what}/{}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            monotonic_ns() % 1_000_000
        );
        TestChannel { name }
    }

    /// A fresh name under `test/<what>/`, padded to exactly `len` bytes (for
    /// testing the name length limit); panics if `len` is too short to hold a
    /// unique name.
    pub fn with_len(what: &str, len: usize) -> TestChannel {
        let mut ch = TestChannel::new(what);
        assert!(
            ch.name.len() < len,
            "{len} bytes cannot hold the unique name {:?} plus a suffix",
            ch.name
        );
        ch.name.push('-');
        while ch.name.len() < len {
            ch.name.push('x');
        }
        ch
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// `len` deterministic bytes derived from `seed`, different for every
/// position, length and seed: what the dynamic-channel tests send, so that the
/// receiver can check the exact contents.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed ^ (len as u64).rotate_left(32);
    (0..len)
        .map(|_| {
            // splitmix64
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

/// A 64-bit digest of `bytes` (FNV-1a), for printing a frame's contents on one line.
pub fn digest(bytes: &[u8]) -> u64 {
    shm_comm::layout::fnv1a64(bytes)
}

impl Drop for TestChannel {
    fn drop(&mut self) {
        let _ = shm_comm::segment::force_unlink(&self.name);
    }
}

/// A child process speaking lines on stdin/stdout; killed on drop.
#[derive(Debug)]
pub struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    what: String,
}

impl Peer {
    /// Starts `program` with `args`.
    pub fn spawn(program: &str, args: &[&str]) -> Peer {
        Peer::spawn_with_env(program, args, &[])
    }

    /// Starts `program` with `args` and extra environment variables `env`.
    pub fn spawn_with_env(program: &str, args: &[&str], env: &[(&str, &str)]) -> Peer {
        let mut child = Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Peer {
            stdin: child.stdin.take(),
            child,
            lines,
            what: format!("{program} {}", args.join(" ")),
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line the child prints, waiting at most `timeout`.
    pub fn line(&mut self, timeout: Duration) -> String {
        match self.lines.recv_timeout(timeout) {
            Ok(l) => l,
            Err(e) => panic!("no line from `{}` within {timeout:?}: {e}", self.what),
        }
    }

    /// Waits for a line starting with `prefix` (skipping others) and returns
    /// the rest of it.
    pub fn expect(&mut self, prefix: &str, timeout: Duration) -> String {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let l = self.line(left);
            if let Some(rest) = l.strip_prefix(prefix) {
                return rest.trim().to_owned();
            }
        }
    }

    /// Sends a line to the child.
    pub fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").expect("child stdin");
        stdin.flush().expect("child stdin");
    }

    /// SIGKILLs the child and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The child's exit status if it has exited, without waiting.
    pub fn try_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits up to `timeout` for the child to exit by itself; its status,
    /// or `None` (the child is still running) at the timeout.
    pub fn wait_status(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_status() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The next line starting with `prefix` (skipping others) within
    /// `timeout`, or `None` if none came (the child may be stuck or dead).
    pub fn try_expect(&mut self, prefix: &str, timeout: Duration) -> Option<String> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let l = self.lines.recv_timeout(left).ok()?;
            if let Some(rest) = l.strip_prefix(prefix) {
                return Some(rest.trim().to_owned());
            }
        }
    }

    /// Sends a line to the child; `false` if it no longer reads stdin.
    pub fn try_say(&mut self, line: &str) -> bool {
        let Some(stdin) = self.stdin.as_mut() else {
            return false;
        };
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .is_ok()
    }

    /// Waits for the child to exit by itself; returns `true` on success.
    pub fn wait_success(&mut self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.success();
            }
            if std::time::Instant::now() >= deadline {
                self.kill();
                panic!("`{}` did not exit within {timeout:?}", self.what);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Parses `key value key value ...` into pairs.
pub fn fields(line: &str) -> std::collections::HashMap<String, String> {
    let mut it = line.split_whitespace();
    let mut m = std::collections::HashMap::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        m.insert(k.to_owned(), v.to_owned());
    }
    m
}

/// A numeric field of [`fields`].
pub fn field(line: &str, key: &str) -> u64 {
    fields(line)
        .get(key)
        .unwrap_or_else(|| panic!("no `{key}` in {line:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("`{key}` not a number in {line:?}"))
}

/// The two-sided roles of the chaos suite's hostile-writer scenario
/// (`tests/chaos.rs`): both ends of one channel run in one child process,
/// in two threads, while the test scribbles on the channel's segment.
pub mod pair {
    use std::fmt::Write as _;
    use std::io::BufRead;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// How far past its own timeout an operation may return before it
    /// counts as a hang.
    pub const HANG: Duration = Duration::from_secs(5);

    /// What one operation did.
    #[derive(Debug)]
    pub enum Outcome {
        /// It did its work (sent, or received intact data).
        Ok,
        /// Nothing to do (an empty poll).
        Idle,
        /// It waited its timeout.
        Timeout,
        /// It returned a typed error.
        Typed(String),
        /// It "succeeded" with damaged data (a scribbled payload).
        Bad,
    }

    /// Outcome counters of one side.
    #[derive(Debug, Default)]
    pub struct OpStats {
        ok: AtomicU64,
        timeout: AtomicU64,
        typed: AtomicU64,
        bad: AtomicU64,
        slow: AtomicU64,
        last_error: Mutex<String>,
    }

    impl OpStats {
        /// Runs one operation whose own timeout is `limit`, and counts its
        /// outcome; one that returns more than [`HANG`] after `limit`
        /// counts as slow.
        pub fn time(&self, limit: Duration, op: impl FnOnce() -> Outcome) {
            let t0 = Instant::now();
            let out = op();
            if t0.elapsed() > limit + HANG {
                self.slow.fetch_add(1, Ordering::Relaxed);
            }
            let c = match out {
                Outcome::Ok => &self.ok,
                Outcome::Idle => return,
                Outcome::Timeout => &self.timeout,
                Outcome::Bad => &self.bad,
                Outcome::Typed(e) => {
                    *self.last_error.lock().unwrap() = e;
                    &self.typed
                }
            };
            c.fetch_add(1, Ordering::Relaxed);
        }

        /// `label_ok N label_timeout N ...` for the test to parse.
        pub fn line(&self, label: &str) -> String {
            let mut s = String::new();
            for (k, c) in [
                ("ok", &self.ok),
                ("timeout", &self.timeout),
                ("typed", &self.typed),
                ("bad", &self.bad),
                ("slow", &self.slow),
            ] {
                let _ = write!(s, "{label}_{k} {} ", c.load(Ordering::Relaxed));
            }
            s.trim_end().to_owned()
        }

        /// The text of the last typed error, spaces replaced.
        pub fn last_error(&self) -> String {
            self.last_error.lock().unwrap().replace(' ', "_")
        }
    }

    /// Repeats `attempt` (each bounded by its own timeout) for up to
    /// `within`: `recovered` at its first success, else `typed ERROR` if an
    /// attempt returned a typed error, else `dead` (only timeouts).
    pub fn probe(within: Duration, mut attempt: impl FnMut() -> Outcome) -> String {
        let end = Instant::now() + within;
        let mut typed = None;
        while Instant::now() < end {
            match attempt() {
                Outcome::Ok => return "recovered".to_owned(),
                Outcome::Typed(e) => typed = Some(e),
                Outcome::Idle | Outcome::Timeout | Outcome::Bad => {}
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        match typed {
            Some(e) => format!("typed {}", e.replace(' ', "_")),
            None => "dead".to_owned(),
        }
    }

    /// Runs side `a` and side `b` of a channel, one operation after another
    /// in a thread each, until stdin says `probe`; then prints `stats ...`
    /// (both sides' counters), runs `probe` on the two ends and prints
    /// `probe RESULT`, and returns at `exit` (or the end of stdin). A panic
    /// anywhere aborts the process, so that the test sees it as a signal.
    pub fn run<A: Send, B: Send>(
        mut a: A,
        mut b: B,
        op_a: impl Fn(&mut A, &OpStats) + Sync,
        op_b: impl Fn(&mut B, &OpStats) + Sync,
        check: impl FnOnce(&mut A, &mut B) -> String,
    ) {
        std::panic::set_hook(Box::new(|info| {
            eprintln!("chaos pair: {info}");
            std::process::abort();
        }));
        let stop = AtomicBool::new(false);
        let (sa, sb) = (OpStats::default(), OpStats::default());
        println!("ready");
        let mut lines = std::io::stdin().lock().lines();
        std::thread::scope(|s| {
            let (ra, rb) = (&mut a, &mut b);
            let (stop, sa, sb, op_a, op_b) = (&stop, &sa, &sb, &op_a, &op_b);
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    op_a(ra, sa);
                }
            });
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    op_b(rb, sb);
                }
            });
            loop {
                match lines.next() {
                    Some(Ok(l)) if l.trim() == "probe" => break,
                    Some(Ok(_)) => {}
                    _ => std::process::exit(0),
                }
            }
            stop.store(true, Ordering::Relaxed);
        });
        println!(
            "stats {} {} a_error {} b_error {}",
            sa.line("a"),
            sb.line("b"),
            sa.last_error(),
            sb.last_error()
        );
        println!("probe {}", check(&mut a, &mut b));
        for l in lines {
            if l.map_or(true, |l| l.trim() == "exit") {
                break;
            }
        }
    }
}

/// The fixed part of the variable-size frames of `tests/varsize.rs`: the
/// elements are `width * height` RGB pixels, each derived from `seq` and
/// its index ([`pixel`]), so a receiver checks every byte.
#[derive(ShmMessage, Clone, Copy, Debug, PartialEq)]
#[repr(C)]
pub struct FrameHead {
    /// Sequence number over the whole run.
    pub seq: u64,
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
}

/// Pixel `i` of frame `seq`.
#[inline]
pub fn pixel(seq: u64, i: usize) -> [u8; 3] {
    let x = (i as u64).wrapping_mul(0x9e37_79b9).wrapping_add(seq);
    [x as u8, (x >> 8) as u8, (x >> 16) as u8 ^ seq as u8]
}

/// Writes frame `seq` into a loan's parts.
pub fn paint_frame(head: &mut FrameHead, pixels: &mut [[u8; 3]], seq: u64, width: u32) {
    *head = FrameHead {
        seq,
        width,
        height: (pixels.len() / width.max(1) as usize) as u32,
    };
    for (i, p) in pixels.iter_mut().enumerate() {
        *p = pixel(seq, i);
    }
}

/// The index of the first pixel that is not frame `head.seq`'s, or a
/// length that does not match the header; `None` if the frame is intact.
pub fn frame_fault(head: &FrameHead, pixels: &[[u8; 3]]) -> Option<String> {
    let want = head.width as usize * head.height as usize;
    if pixels.len() != want {
        return Some(format!(
            "frame {}: {} pixels for {}x{}",
            head.seq,
            pixels.len(),
            head.width,
            head.height
        ));
    }
    let seq = head.seq;
    (0..pixels.len())
        .find(|&i| pixels[i] != pixel(seq, i))
        .map(|i| format!("frame {seq}: pixel {i} is {:?}", pixels[i]))
}
