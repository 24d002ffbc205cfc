//! Simulated hosts for the bridge tests: each a segment directory of its
//! own (`SHM_COMM_DIR`) with its bridge and peer processes. Everything is
//! removed and killed on drop, failed test or not, and every wait is
//! bounded.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BRIDGE: &str = env!("CARGO_BIN_EXE_shmc-bridge");
pub const PEER: &str = env!("CARGO_BIN_EXE_shmc-bridge-test-peer");

/// How long any one expected event may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A simulated host: a segment directory, removed on drop.
pub struct Host {
    pub dir: PathBuf,
    pub port: u16,
}

impl Host {
    pub fn new(tag: &str) -> Host {
        static N: AtomicU32 = AtomicU32::new(0);
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("shmc-bridge-test-{}-{n}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Host {
            dir,
            port: free_port(),
        }
    }

    /// The endpoint this host's bridge listens on.
    pub fn endpoint(&self) -> String {
        format!("tcp/127.0.0.1:{}", self.port)
    }

    /// Starts this host's bridge, listening on its port, with `args`
    /// after `run`.
    pub fn bridge(&self, args: &[&str]) -> Proc {
        let mut cmd = Command::new(BRIDGE);
        cmd.arg("run")
            .args(["--listen", &self.endpoint()])
            .args(args)
            .env("SHM_COMM_DIR", &self.dir);
        Proc::spawn(cmd)
    }

    /// Starts a test peer and waits for its `ready`.
    pub fn peer(&self, args: &[&str]) -> Proc {
        let mut cmd = Command::new(PEER);
        cmd.args(args).env("SHM_COMM_DIR", &self.dir);
        let mut p = Proc::spawn(cmd);
        let line = p.line(PATIENCE);
        assert_eq!(
            line.as_deref(),
            Some("ready"),
            "peer {args:?} said {line:?}"
        );
        p
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A child process whose stdout arrives line by line and whose stderr is
/// kept; killed and reaped on drop.
pub struct Proc {
    child: Child,
    lines: Receiver<String>,
    err: Receiver<String>,
    stderr: String,
}

impl Proc {
    pub fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let (etx, err) = mpsc::channel();
        let mut e = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = e.read(&mut buf) {
                if etx
                    .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                    .is_err()
                {
                    break;
                }
            }
        });
        Proc {
            child,
            lines,
            err,
            stderr: String::new(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line of stdout, or `None` after `timeout` or at its end.
    pub fn line(&mut self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// The next line as JSON; fails the test after `PATIENCE`.
    pub fn json(&mut self) -> Value {
        let line = self
            .line(PATIENCE)
            .unwrap_or_else(|| panic!("no line within {PATIENCE:?}; stderr: {}", self.stderr()));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
    }

    /// Everything written on stderr so far.
    pub fn stderr(&mut self) -> String {
        while let Ok(s) = self.err.try_recv() {
            self.stderr.push_str(&s);
        }
        self.stderr.clone()
    }

    /// Waits until stderr contains `what`, up to `PATIENCE`.
    pub fn wait_stderr(&mut self, what: &str) -> String {
        let end = Instant::now() + PATIENCE;
        while Instant::now() < end {
            if self.stderr().contains(what) {
                return self.stderr.clone();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no {what:?} on stderr: {}", self.stderr);
    }

    fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on the pid of our own child, not yet reaped (the
        // pid cannot have been reused); it touches no memory of ours.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, sig);
        }
    }

    /// SIGKILL, then reaps.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, waits up to `PATIENCE` for the exit (then SIGKILL), and
    /// returns the last JSON line of stdout (a bridge's counters).
    pub fn stop(&mut self) -> Value {
        // A bridge says so once it handles signals.
        self.wait_stderr("running as");
        self.signal(libc::SIGTERM);
        let end = Instant::now() + PATIENCE;
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        let mut last = None;
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(1)) {
            last = Some(l);
        }
        let last = last.unwrap_or_else(|| panic!("no output; stderr: {}", self.stderr()));
        serde_json::from_str(&last).unwrap_or_else(|e| panic!("{last:?}: {e}"))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}
