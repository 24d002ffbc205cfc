//! The two processes of a scenario: the parent measures, the peer (a copy of
//! this binary started with a hidden role argument) echoes or counts.
//!
//! Control traffic never goes through shared memory: the peer prints `key
//! value` lines on its stdout, and treats the end of its stdin as "the parent
//! is gone" (the parent closes it when it finishes a scenario, and the kernel
//! closes it if the parent dies), so a peer never outlives its parent.

use std::fmt::Display;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// First argument that turns the binary into a peer.
pub const ROLE_ARG: &str = "__shm-comm-bench-peer";

/// How long the parent waits for a peer to start, report or exit.
pub const CONTROL_TIMEOUT: Duration = Duration::from_secs(20);

/// Adds context to an error, as a `String`.
pub trait Context<T> {
    /// `Err(e)` becomes `Err("{what}: {e}")`.
    fn ctx(self, what: &str) -> Result<T, String>;
}

impl<T, E: Display> Context<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

/// The parent's handle on a peer process. Dropping it closes the peer's
/// stdin, gives it a moment to exit on its own (and drop its publishers,
/// removing their segments), then kills it.
#[derive(Debug)]
pub struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    reaped: bool,
}

impl Peer {
    /// Starts `current_exe() ROLE_ARG args...`.
    pub fn spawn(args: &[String]) -> Result<Peer, String> {
        let exe = std::env::current_exe().ctx("locating the benchmark binary")?;
        let mut child = Command::new(exe)
            .arg(ROLE_ARG)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .ctx("starting the peer process")?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("peer has no stdout")?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Peer {
            child,
            stdin,
            lines,
            reaped: false,
        })
    }

    /// Waits for a line starting with `key` and returns the rest of it.
    pub fn expect(&mut self, key: &str) -> Result<String, String> {
        let deadline = Instant::now() + CONTROL_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => match line.strip_prefix(key) {
                    Some(rest) => return Ok(rest.trim().to_owned()),
                    None => eprintln!("  peer said: {line}"),
                },
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!(
                        "peer did not say `{key}` within {CONTROL_TIMEOUT:?}"
                    ))
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ctx("waiting for the peer")?;
                    self.reaped = true;
                    return Err(format!("peer exited ({status}) before saying `{key}`"));
                }
            }
        }
    }

    /// The next line the peer printed, if one is there already (never
    /// waits); an error once the peer has exited and said everything.
    pub fn try_line(&mut self) -> Result<Option<String>, String> {
        match self.lines.try_recv() {
            Ok(line) => Ok(Some(line)),
            Err(mpsc::TryRecvError::Empty) => Ok(None),
            Err(mpsc::TryRecvError::Disconnected) => {
                let status = self.child.wait().ctx("waiting for the peer")?;
                self.reaped = true;
                Err(format!("peer exited ({status})"))
            }
        }
    }

    /// Closes the peer's stdin and waits for it to exit successfully.
    pub fn finish(mut self) -> Result<(), String> {
        self.stdin = None;
        let deadline = Instant::now() + CONTROL_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().ctx("waiting for the peer")? {
                self.reaped = true;
                return if status.success() {
                    Ok(())
                } else {
                    Err(format!("peer exited with {status}"))
                };
            }
            if Instant::now() >= deadline {
                return Err(format!("peer still running after {CONTROL_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        self.stdin = None;
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        eprintln!("  peer {} did not exit; killing it", self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Set (in the peer) once the parent has closed our stdin or died.
static PARENT_GONE: AtomicBool = AtomicBool::new(false);

/// In the peer: watches stdin on a thread and sets [`parent_gone`] at its end.
pub fn watch_parent() {
    std::thread::spawn(|| {
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin().lock();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
        // Relaxed: a lone flag that publishes no other data; pairs with the
        // Relaxed load in `parent_gone`.
        PARENT_GONE.store(true, Ordering::Relaxed);
    });
}

/// In the peer: `true` once the parent has gone away.
pub fn parent_gone() -> bool {
    // Relaxed: pairs with the Relaxed store in `watch_parent`; only the flag
    // itself matters.
    PARENT_GONE.load(Ordering::Relaxed)
}

/// In the peer: one control line to the parent.
pub fn say(line: &str) {
    println!("{line}");
}

/// How a busy-poll loop waits between two polls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spin {
    /// Poll again at once (no pause instruction, no system call).
    Hot,
    /// `std::thread::yield_now()` between polls: needed when both processes
    /// share one core, or the poller burns its whole time slice.
    Yield,
}

impl Spin {
    /// The command-line spelling.
    pub fn as_arg(self) -> &'static str {
        match self {
            Spin::Hot => "hot",
            Spin::Yield => "yield",
        }
    }

    /// Parses [`as_arg`](Self::as_arg).
    pub fn from_arg(s: &str) -> Option<Spin> {
        match s {
            "hot" => Some(Spin::Hot),
            "yield" => Some(Spin::Yield),
            _ => None,
        }
    }
}

/// Polls between which the waiter looks at the clock and the parent flag.
const CHECK_EVERY: u32 = 1 << 14;
/// A wait without progress for this long is a failure (a dead or stuck peer).
const STALL: Duration = Duration::from_secs(10);

/// The pause between two polls of a busy loop, with a cheap watchdog: every
/// [`CHECK_EVERY`] polls it checks that the wait has not lasted [`STALL`]
/// and (in the peer) that the parent is still there.
#[derive(Debug)]
pub struct Waiter {
    spin: Spin,
    polls: u32,
    since: Option<Instant>,
}

impl Waiter {
    /// A waiter pausing the `spin` way.
    pub fn new(spin: Spin) -> Waiter {
        Waiter {
            spin,
            polls: 0,
            since: None,
        }
    }

    /// Call after progress: restarts the stall clock.
    #[inline]
    pub fn reset(&mut self) {
        self.polls = 0;
        self.since = None;
    }

    /// Call after a poll that found nothing.
    #[inline]
    pub fn pause(&mut self) -> Result<(), String> {
        if self.spin == Spin::Yield {
            std::thread::yield_now();
        }
        self.polls = self.polls.wrapping_add(1);
        if self.polls % CHECK_EVERY == 0 {
            self.check()
        } else {
            Ok(())
        }
    }

    #[cold]
    fn check(&mut self) -> Result<(), String> {
        if parent_gone() {
            return Err("the parent went away".into());
        }
        if crate::sys::interrupted() {
            return Err("interrupted".into());
        }
        let now = Instant::now();
        match self.since {
            None => self.since = Some(now),
            Some(s) if now.duration_since(s) > STALL => {
                return Err(format!("no progress for {STALL:?} (peer dead or stuck?)"))
            }
            Some(_) => {}
        }
        Ok(())
    }
}
