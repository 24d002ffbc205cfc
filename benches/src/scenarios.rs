//! The scenarios: for each, the parent side (which measures) and the peer
//! side (which echoes, replies or counts).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use shm_comm::multipub::{MultiPublisher, MultiSubscriber};
use shm_comm::pipeline::{Puller, PullerOptions, Pusher, TypedQueueOptions};
use shm_comm::pubsub::{ConnectOptions, Publisher, Subscriber, TypedPubOptions};
use shm_comm::reqrep::{Replier, Requester, RequesterOptions};
use shm_comm::varsize::{VarPubOptions, VarPublisher, VarSubscriber};
use shm_comm::{BorrowError, RecvTimeoutError, ShmMessage, TryRecvError};

use crate::peer::{parent_gone, say, Context, Peer, Spin, Waiter, CONTROL_TIMEOUT};
use crate::sys::{interrupted, monotonic_ns, RawShm};
#[cfg(feature = "iceoryx2")]
use iceoryx2::prelude::ZeroCopySend;

/// Sequence number that tells the peer to stop.
pub(crate) const STOP: u64 = u64::MAX;
/// Sequence number that ends a stream's warm-up or round: the peer reports
/// what it counted since the previous one.
const MARK: u64 = u64::MAX - 1;

/// How long the peer's blocking receive waits before looking at the parent flag.
pub(crate) const PEER_POLL: Duration = Duration::from_millis(100);

/// Entries of the stream rings (typed and raw).
const STREAM_CAPACITY: u32 = 4096;

/// A 64-byte message (also the iceoryx2 rows' message of that size).
#[derive(ShmMessage, Clone, Copy, Debug)]
#[cfg_attr(
    feature = "iceoryx2",
    derive(ZeroCopySend),
    type_name("ShmCommBenchMsg64")
)]
#[repr(C)]
pub struct Msg64 {
    /// Sequence number.
    pub seq: u64,
    /// Spare timestamp (echoed back untouched).
    pub stamp: u64,
    /// Filler.
    pub payload: [u64; 6],
}

/// A 4 KiB message (also the iceoryx2 rows' message of that size).
#[derive(ShmMessage, Clone, Copy, Debug)]
#[cfg_attr(
    feature = "iceoryx2",
    derive(ZeroCopySend),
    type_name("ShmCommBenchMsg4K")
)]
#[repr(C)]
pub struct Msg4K {
    /// Sequence number.
    pub seq: u64,
    /// Spare timestamp (echoed back untouched).
    pub stamp: u64,
    /// Filler.
    pub payload: [u64; 510],
}

/// A 1 MiB message: only ever built in place (loaned) and read in place
/// (borrowed), never on the stack.
#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
pub struct Msg1M {
    /// Sequence number.
    pub seq: u64,
    /// Spare timestamp (echoed back untouched).
    pub stamp: u64,
    /// Filler (never written by the benchmark: the loan reuses stale bytes).
    pub payload: [u64; (1 << 17) - 2],
}

/// An 8 MiB message, loaned and borrowed like [`Msg1M`].
#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
pub struct Msg8M {
    /// Sequence number.
    pub seq: u64,
    /// Spare timestamp (echoed back untouched).
    pub stamp: u64,
    /// Filler (never written, as in [`Msg1M`]).
    pub payload: [u64; (1 << 20) - 2],
}

/// The fixed part of the variable-size loan rows: the same two words as
/// [`Msg1M`]'s, followed by `u64` elements up to the message's size.
#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
pub struct VarHead {
    /// Sequence number.
    pub seq: u64,
    /// Spare timestamp (echoed back untouched).
    pub stamp: u64,
}

/// A 16 MiB message: only ever built and received on the heap.
#[derive(ShmMessage, Clone, Copy)]
#[repr(C)]
pub struct Msg16M {
    /// Sequence number.
    pub seq: u64,
    /// Spare timestamp (echoed back untouched).
    pub stamp: u64,
    /// Filler.
    pub payload: [u64; (1 << 21) - 2],
}

const _: () = assert!(std::mem::size_of::<Msg64>() == 64);
const _: () = assert!(std::mem::size_of::<Msg16M>() == 16 << 20);
const _: () = assert!(std::mem::size_of::<Msg4K>() == 4096);
const _: () = assert!(std::mem::size_of::<Msg1M>() == 1 << 20);
const _: () = assert!(std::mem::size_of::<Msg8M>() == 8 << 20);

/// A small message type the copying scenarios can build and check.
pub(crate) trait Probe: ShmMessage + Copy + std::fmt::Debug {
    fn with_seq(seq: u64) -> Self;
    fn seq(&self) -> u64;
}

impl Probe for Msg64 {
    fn with_seq(seq: u64) -> Self {
        Msg64 {
            seq,
            stamp: 0,
            payload: [seq; 6],
        }
    }
    fn seq(&self) -> u64 {
        self.seq
    }
}

impl Probe for Msg4K {
    fn with_seq(seq: u64) -> Self {
        Msg4K {
            seq,
            stamp: 0,
            payload: [seq; 510],
        }
    }
    fn seq(&self) -> u64 {
        self.seq
    }
}

/// Which scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Cache-line ping-pong over a raw shm file.
    RawFloor,
    /// The same on one core without yielding (shows the time-slice cost).
    RawFloorPureSpin,
    /// 64 B typed ping-pong, `try_recv` busy-poll.
    Typed64Busy,
    /// 64 B typed ping-pong, `recv_timeout`.
    Typed64Blocking,
    /// 64 B typed ping-pong, `recv_async` on a current-thread tokio
    /// runtime on both sides (feature `tokio`).
    Typed64Tokio,
    /// 4 KiB typed ping-pong, `try_recv` busy-poll.
    Typed4KBusy,
    /// 64 B ping-pong over multi-publisher topics, `try_recv` busy-poll.
    Multi64Busy,
    /// The same with three more (silent) publishers on the ping topic, so
    /// the subscriber merges four rings.
    Multi64x4Busy,
    /// As `Multi64x4Busy` with `recv_timeout` on both sides (spin, then a
    /// doorbell poll over the four rings and the directory).
    Multi64x4Blocking,
    /// 64 B ping-pong through `loan` and `try_borrow` (the 1 MiB row's
    /// reference: zero copy costs the same at any size).
    Loan64Busy,
    /// 1 MiB ping-pong through `loan` and `try_borrow`.
    Loan1MBusy,
    /// 8 MiB loaned and borrowed, the peer of [`Kind::VarLoan8MBusy`].
    Loan8MBusy,
    /// 1 MiB variable-size messages (`loan_with_len`) loaned and borrowed.
    VarLoan1MBusy,
    /// 8 MiB variable-size messages loaned and borrowed.
    VarLoan8MBusy,
    /// One-way 64 B typed stream.
    StreamTyped,
    /// One-way SPSC ring of `u64` over a raw shm file.
    StreamRaw,
    /// iceoryx2 64 B ping-pong, `receive` busy-poll (feature `iceoryx2`).
    Iox64Busy,
    /// iceoryx2 64 B ping-pong, event `Listener::timed_wait` (feature `iceoryx2`).
    Iox64Blocking,
    /// iceoryx2 4 KiB ping-pong, `receive` busy-poll (feature `iceoryx2`).
    Iox4KBusy,
    /// iceoryx2 1 MiB ping-pong through `loan_uninit` and `receive` (feature
    /// `iceoryx2`).
    Iox1MLoan,
    /// REQ/REP: sequential 64 B calls, the peer replies.
    ReqRep64,
    /// PUSH/PULL: the parent pushes 64 B jobs, one puller process counts them.
    PushPull1,
    /// PUSH/PULL with four puller processes.
    PushPull4,
    /// The copy hand-off floor at 4 KiB: memcpy into a shm buffer, a flag,
    /// memcpy out (each direction).
    CopyFloor4K,
    /// The 4 KiB copy hand-off floor with each buffer mapped read-only
    /// (`mprotect`) by the side that reads it, as subscribers map a topic's
    /// chunks: what that mapping costs the floor itself (`--copy-paired`
    /// only).
    CopyFloorRo4K,
    /// The copy hand-off floor at 1 MiB.
    CopyFloor1M,
    /// The copy hand-off floor at 16 MiB.
    CopyFloor16M,
    /// 4 KiB typed ping-pong, copied in by `send` and out into a heap buffer.
    Copy4K,
    /// 1 MiB typed ping-pong, copied in and out (default options).
    Copy1M,
    /// 16 MiB typed ping-pong, copied in and out (default options).
    Copy16M,
}

impl Kind {
    /// Every scenario.
    pub const ALL: [Kind; 30] = [
        Kind::RawFloor,
        Kind::RawFloorPureSpin,
        Kind::Typed64Busy,
        Kind::Typed64Blocking,
        Kind::Typed64Tokio,
        Kind::Typed4KBusy,
        Kind::Multi64Busy,
        Kind::Multi64x4Busy,
        Kind::Multi64x4Blocking,
        Kind::Loan64Busy,
        Kind::Loan1MBusy,
        Kind::Loan8MBusy,
        Kind::VarLoan1MBusy,
        Kind::VarLoan8MBusy,
        Kind::StreamTyped,
        Kind::StreamRaw,
        Kind::Iox64Busy,
        Kind::Iox64Blocking,
        Kind::Iox4KBusy,
        Kind::Iox1MLoan,
        Kind::ReqRep64,
        Kind::PushPull1,
        Kind::PushPull4,
        Kind::CopyFloor4K,
        Kind::CopyFloorRo4K,
        Kind::CopyFloor1M,
        Kind::CopyFloor16M,
        Kind::Copy4K,
        Kind::Copy1M,
        Kind::Copy16M,
    ];

    /// Short name, used by `--only`, channel names and the JSON output.
    pub fn id(self) -> &'static str {
        match self {
            Kind::RawFloor => "raw-floor",
            Kind::RawFloorPureSpin => "raw-floor-spin",
            Kind::Typed64Busy => "typed-64B-busy",
            Kind::Typed64Blocking => "typed-64B-blocking",
            Kind::Typed64Tokio => "typed-64B-tokio",
            Kind::Typed4KBusy => "typed-4KiB-busy",
            Kind::Multi64Busy => "multipub-64B-x1-busy",
            Kind::Multi64x4Busy => "multipub-64B-x4-busy",
            Kind::Multi64x4Blocking => "multipub-64B-x4-blocking",
            Kind::Loan64Busy => "typed-64B-loan",
            Kind::Loan1MBusy => "typed-1MiB-loan",
            Kind::Loan8MBusy => "typed-8MiB-loan",
            Kind::VarLoan1MBusy => "var-1MiB-loan",
            Kind::VarLoan8MBusy => "var-8MiB-loan",
            Kind::StreamTyped => "stream-typed-64B",
            Kind::StreamRaw => "stream-raw",
            Kind::Iox64Busy => "iceoryx2-64B-busy",
            Kind::Iox64Blocking => "iceoryx2-64B-blocking",
            Kind::Iox4KBusy => "iceoryx2-4KiB-busy",
            Kind::Iox1MLoan => "iceoryx2-1MiB-loan",
            Kind::ReqRep64 => "reqrep-64B",
            Kind::PushPull1 => "pushpull-64B-x1",
            Kind::PushPull4 => "pushpull-64B-x4",
            Kind::CopyFloor4K => "copy-floor-4KiB",
            Kind::CopyFloorRo4K => "copy-floor-ro-4KiB",
            Kind::CopyFloor1M => "copy-floor-1MiB",
            Kind::CopyFloor16M => "copy-floor-16MiB",
            Kind::Copy4K => "copy-typed-4KiB",
            Kind::Copy1M => "copy-typed-1MiB",
            Kind::Copy16M => "copy-typed-16MiB",
        }
    }

    /// Parses [`id`](Self::id).
    pub fn from_id(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.id() == s)
    }

    /// `true` for the one-way throughput scenarios (their ratio is taken
    /// against `stream-raw`).
    pub fn is_stream(self) -> bool {
        matches!(
            self,
            Kind::StreamTyped | Kind::StreamRaw | Kind::PushPull1 | Kind::PushPull4
        )
    }

    /// Puller processes of a PUSH/PULL scenario (0 for the others).
    pub fn pullers(self) -> usize {
        match self {
            Kind::PushPull1 => 1,
            Kind::PushPull4 => 4,
            _ => 0,
        }
    }

    /// `true` for the iceoryx2 scenarios (built only with the `iceoryx2`
    /// feature).
    pub fn is_iceoryx2(self) -> bool {
        matches!(
            self,
            Kind::Iox64Busy | Kind::Iox64Blocking | Kind::Iox4KBusy | Kind::Iox1MLoan
        )
    }

    /// `true` for the scenarios built only with the `tokio` feature.
    pub fn is_tokio(self) -> bool {
        self == Kind::Typed64Tokio
    }

    /// `true` for the scenarios whose processes sleep in the kernel while they
    /// wait (their CPU share says nothing about other loads): the iceoryx2
    /// event wait, tokio's (epoll, no spin), and PUSH/PULL, whose pusher sleeps in `send` while the
    /// queue is full and whose pullers sleep in `recv_timeout` while it is
    /// empty (four pullers also share two CPUs with the pusher).
    pub fn sleeps(self) -> bool {
        matches!(
            self,
            Kind::Iox64Blocking | Kind::Typed64Tokio | Kind::PushPull1 | Kind::PushPull4
        )
    }

    /// `true` for the scenarios built on a raw shm file.
    pub fn is_raw(self) -> bool {
        matches!(
            self,
            Kind::RawFloor
                | Kind::RawFloorPureSpin
                | Kind::StreamRaw
                | Kind::CopyFloor4K
                | Kind::CopyFloorRo4K
                | Kind::CopyFloor1M
                | Kind::CopyFloor16M
        )
    }

    /// The copy hand-off floor of a typed copy scenario (its second ratio).
    pub fn copy_floor(self) -> Option<Kind> {
        match self {
            Kind::Copy4K => Some(Kind::CopyFloor4K),
            Kind::Copy1M => Some(Kind::CopyFloor1M),
            Kind::Copy16M => Some(Kind::CopyFloor16M),
            _ => None,
        }
    }
}

/// How long to warm up and to measure.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Excluded from the results.
    pub warmup: Duration,
    /// Measured.
    pub measure: Duration,
}

/// One scenario to run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Which scenario.
    pub kind: Kind,
    /// How busy loops pause (both processes).
    pub spin: Spin,
    /// Row label.
    pub label: String,
    /// The peer's CPU, if pinned.
    pub peer_cpu: Option<usize>,
    /// Every CPU the run may use (this process's affinity before it pinned
    /// itself): the pullers of `pushpull-64B x4` may run on any of them.
    /// Empty: peers are not pinned.
    pub cpus: Vec<usize>,
    /// Time budget.
    pub budget: Budget,
}

impl Plan {
    /// The name of the scenario's channels (typed) or shm file (raw): unique
    /// per run and scenario.
    pub fn channel(&self) -> String {
        let pid = std::process::id();
        if self.kind.is_raw() {
            format!("/shmc-bench-{pid}-{}", self.kind.id())
        } else {
            format!("bench/{pid}/{}", self.kind.id())
        }
    }

    /// Starts the peer process of this scenario, pinned to `peer_cpu`.
    pub(crate) fn spawn_peer(&self) -> Result<Peer, String> {
        self.spawn_peer_on(&self.peer_cpu.map_or("-".to_owned(), |c| c.to_string()))
    }

    /// Starts a peer process of this scenario that may run on `cpus` (a
    /// comma-separated list; `-`: the affinity it inherits from this process).
    pub(crate) fn spawn_peer_on(&self, cpus: &str) -> Result<Peer, String> {
        Peer::spawn(&[
            self.kind.id().to_owned(),
            self.channel(),
            cpus.to_owned(),
            self.spin.as_arg().to_owned(),
        ])
    }
}

/// Latency of a ping-pong scenario (one way) or of a REQ/REP one (round
/// trip), in nanoseconds.
#[derive(Debug)]
pub struct Latency {
    /// Each measured round trip: halved for ping-pong
    /// ([`Measured::PingPong`]), whole for calls ([`Measured::Calls`]).
    pub hist: Histogram<u64>,
    /// Measured round trips.
    pub round_trips: u64,
    /// Time the measured round trips took, in total.
    pub elapsed: Duration,
}

/// One measured round of a stream.
#[derive(Clone, Copy, Debug)]
pub struct Round {
    /// Data messages sent.
    pub sent: u64,
    /// Of those, received by the subscriber.
    pub received: u64,
    /// Of those, skipped (overwritten before being read).
    pub missed: u64,
    /// Messages received out of order (must be 0).
    pub order_errors: u64,
    /// Seconds from the round's first send to the subscriber seeing its end.
    pub delivered_secs: f64,
    /// Seconds the publisher spent sending.
    pub send_secs: f64,
}

impl Round {
    /// Messages delivered per second.
    pub fn rate(&self) -> f64 {
        self.received as f64 / self.delivered_secs
    }
}

/// What a PUSH/PULL scenario measured.
#[derive(Debug)]
pub struct Jobs {
    /// The measured rounds. The queue is lossless, so `received` is `sent`
    /// and `missed` is 0 (checked over the whole run: see `sent`).
    pub rounds: Vec<Round>,
    /// Jobs pushed over the whole run (warm-up included). The pullers
    /// received exactly these ids, each once: same count, same sum and same
    /// sum of squares, or the scenario fails.
    pub sent: u64,
    /// Jobs each puller received over the whole run.
    pub per_puller: Vec<u64>,
    /// Where the pullers ran, for the notes.
    pub placement: String,
}

/// What a scenario measured.
#[derive(Debug)]
pub enum Measured {
    /// A ping-pong scenario (one-way latency).
    PingPong(Latency),
    /// A REQ/REP scenario (round-trip latency of each call).
    Calls(Latency),
    /// A stream scenario: several rounds (the rate of a stream depends a lot
    /// on whether the subscriber keeps up, so one number hides too much).
    Stream(Vec<Round>),
    /// A PUSH/PULL scenario: several rounds, like a stream.
    Jobs(Jobs),
}

/// The median rate of `rounds`.
fn median_rate(rounds: &[Round]) -> f64 {
    let mut rates: Vec<f64> = rounds.iter().map(Round::rate).collect();
    rates.sort_by(f64::total_cmp);
    rates.get(rates.len() / 2).copied().unwrap_or(f64::NAN)
}

impl Measured {
    /// Messages per second: delivered one-way messages (2 per round trip
    /// for ping-pong), calls for REQ/REP, the median round for streams
    /// (messages) and PUSH/PULL (jobs).
    pub fn msgs_per_s(&self) -> f64 {
        match self {
            Measured::PingPong(l) => 2.0 * l.round_trips as f64 / l.elapsed.as_secs_f64(),
            Measured::Calls(l) => l.round_trips as f64 / l.elapsed.as_secs_f64(),
            Measured::Stream(rounds) => median_rate(rounds),
            Measured::Jobs(j) => median_rate(&j.rounds),
        }
    }

    /// The latency histogram and whether it holds whole round trips, for
    /// the scenarios that measure latency.
    pub fn latency(&self) -> Option<(&Latency, bool)> {
        match self {
            Measured::PingPong(l) => Some((l, false)),
            Measured::Calls(l) => Some((l, true)),
            Measured::Stream(_) | Measured::Jobs(_) => None,
        }
    }
}

/// Runs `plan` (parent side).
pub fn run(plan: &Plan) -> Result<Measured, String> {
    match plan.kind {
        Kind::RawFloor | Kind::RawFloorPureSpin => raw_floor(plan),
        Kind::Typed64Busy => typed_ping_pong::<Msg64>(plan, false),
        Kind::Typed64Blocking => typed_ping_pong::<Msg64>(plan, true),
        Kind::Typed64Tokio => tokio_run(plan),
        Kind::Typed4KBusy => typed_ping_pong::<Msg4K>(plan, false),
        Kind::Multi64Busy => multi_ping_pong(plan, 1, false),
        Kind::Multi64x4Busy => multi_ping_pong(plan, 4, false),
        Kind::Multi64x4Blocking => multi_ping_pong(plan, 4, true),
        Kind::Loan64Busy => loan_ping_pong::<Msg64>(plan),
        Kind::Loan1MBusy => loan_ping_pong::<Msg1M>(plan),
        Kind::Loan8MBusy => loan_ping_pong::<Msg8M>(plan),
        Kind::VarLoan1MBusy => var_loan_ping_pong(plan, 1 << 20),
        Kind::VarLoan8MBusy => var_loan_ping_pong(plan, 8 << 20),
        Kind::StreamTyped => stream_typed(plan),
        Kind::StreamRaw => stream_raw(plan),
        Kind::Iox64Busy | Kind::Iox64Blocking | Kind::Iox4KBusy | Kind::Iox1MLoan => {
            iceoryx2_run(plan)
        }
        Kind::ReqRep64 => req_rep(plan),
        Kind::PushPull1 | Kind::PushPull4 => push_pull(plan),
        Kind::CopyFloor4K | Kind::CopyFloorRo4K => copy_floor(plan, 4 << 10),
        Kind::CopyFloor1M => copy_floor(plan, 1 << 20),
        Kind::CopyFloor16M => copy_floor(plan, 16 << 20),
        Kind::Copy4K => copy_ping_pong::<Msg4K>(plan),
        Kind::Copy1M => copy_ping_pong::<Msg1M>(plan),
        Kind::Copy16M => copy_ping_pong::<Msg16M>(plan),
    }
}

/// Runs the peer side of scenario `kind` on `channel`.
pub fn serve(kind: Kind, channel: &str, spin: Spin) -> Result<(), String> {
    match kind {
        Kind::RawFloor | Kind::RawFloorPureSpin => raw_floor_peer(channel, spin),
        Kind::Typed64Busy => typed_echo::<Msg64>(channel, spin, false),
        Kind::Typed64Blocking => typed_echo::<Msg64>(channel, spin, true),
        Kind::Typed64Tokio => tokio_serve(channel),
        Kind::Typed4KBusy => typed_echo::<Msg4K>(channel, spin, false),
        Kind::Multi64Busy | Kind::Multi64x4Busy => multi_echo(channel, spin, false),
        Kind::Multi64x4Blocking => multi_echo(channel, spin, true),
        Kind::Loan64Busy => loan_echo::<Msg64>(channel, spin),
        Kind::Loan1MBusy => loan_echo::<Msg1M>(channel, spin),
        Kind::Loan8MBusy => loan_echo::<Msg8M>(channel, spin),
        Kind::VarLoan1MBusy => var_loan_echo(channel, spin, 1 << 20),
        Kind::VarLoan8MBusy => var_loan_echo(channel, spin, 8 << 20),
        Kind::StreamTyped => stream_typed_peer(channel, spin),
        Kind::StreamRaw => stream_raw_peer(channel, spin),
        Kind::Iox64Busy | Kind::Iox64Blocking | Kind::Iox4KBusy | Kind::Iox1MLoan => {
            iceoryx2_serve(kind, channel, spin)
        }
        Kind::ReqRep64 => replier_peer(channel),
        Kind::PushPull1 | Kind::PushPull4 => puller_peer(channel),
        Kind::CopyFloor4K => copy_floor_peer(channel, spin, 4 << 10, false),
        Kind::CopyFloorRo4K => copy_floor_peer(channel, spin, 4 << 10, true),
        Kind::CopyFloor1M => copy_floor_peer(channel, spin, 1 << 20, false),
        Kind::CopyFloor16M => copy_floor_peer(channel, spin, 16 << 20, false),
        Kind::Copy4K => copy_echo::<Msg4K>(channel, spin),
        Kind::Copy1M => copy_echo::<Msg1M>(channel, spin),
        Kind::Copy16M => copy_echo::<Msg16M>(channel, spin),
    }
}

#[cfg(feature = "iceoryx2")]
fn iceoryx2_run(plan: &Plan) -> Result<Measured, String> {
    crate::iox::run(plan)
}

#[cfg(feature = "iceoryx2")]
fn iceoryx2_serve(kind: Kind, channel: &str, spin: Spin) -> Result<(), String> {
    crate::iox::serve(kind, channel, spin)
}

/// Without the `iceoryx2` feature, the iceoryx2 rows are never planned.
#[cfg(not(feature = "iceoryx2"))]
fn iceoryx2_run(plan: &Plan) -> Result<Measured, String> {
    Err(format!(
        "{}: built without the `iceoryx2` feature",
        plan.kind.id()
    ))
}

#[cfg(not(feature = "iceoryx2"))]
fn iceoryx2_serve(kind: Kind, _channel: &str, _spin: Spin) -> Result<(), String> {
    Err(format!(
        "{}: built without the `iceoryx2` feature",
        kind.id()
    ))
}

/// The tokio row: the ping-pong of `typed-64B-blocking`, each side
/// waiting with `recv_async` on its own current-thread runtime (the
/// parent enters it once per round trip with `block_on`).
#[cfg(feature = "tokio")]
fn tokio_run(plan: &Plan) -> Result<Measured, String> {
    use shm_comm::tokio::Async;
    let rt = tokio_runtime()?;
    let base = plan.channel();
    let mut ping = Publisher::<Msg64>::create(&format!("{base}/ping")).ctx("creating ping")?;
    let mut peer = plan.spawn_peer()?;
    peer.expect("ready")?;
    let pong = connect::<Msg64>(&format!("{base}/pong"))?;
    let mut pong = rt.block_on(async { Async::new(pong) }).ctx("a bell")?;
    let lat = drive(&plan.budget, |seq| {
        ping.send(&Msg64::with_seq(seq)).ctx("send")?;
        let got = rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), pong.recv_async()).await
        });
        let got = match got {
            Ok(m) => m.ctx("recv_async")?,
            Err(_) => return Err("no echo within 10 s (peer dead or stuck?)".into()),
        };
        if Probe::seq(&got) != seq {
            return Err(format!("expected echo of {seq}, got {}", Probe::seq(&got)));
        }
        Ok(())
    })?;
    ping.send(&Msg64::with_seq(STOP)).ctx("send")?;
    if pong.get_ref().missed() != 0 {
        return Err(format!("{} pongs missed", pong.get_ref().missed()));
    }
    peer.finish()?;
    Ok(Measured::PingPong(lat))
}

#[cfg(feature = "tokio")]
fn tokio_serve(base: &str) -> Result<(), String> {
    use shm_comm::tokio::Async;
    let rt = tokio_runtime()?;
    let mut pong = Publisher::<Msg64>::create(&format!("{base}/pong")).ctx("creating pong")?;
    let ping = connect::<Msg64>(&format!("{base}/ping"))?;
    rt.block_on(async {
        let mut ping = Async::new(ping).ctx("a bell")?;
        say("ready");
        loop {
            let got = match tokio::time::timeout(PEER_POLL, ping.recv_async()).await {
                Ok(m) => m.ctx("recv_async")?,
                Err(_) if !parent_gone() => continue,
                Err(_) => return Err("the parent went away".into()),
            };
            if Probe::seq(&got) == STOP {
                return Ok(());
            }
            pong.send(&got).ctx("send")?;
        }
    })
}

#[cfg(feature = "tokio")]
fn tokio_runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ctx("a tokio runtime")
}

/// Without the `tokio` feature, the tokio row is never planned.
#[cfg(not(feature = "tokio"))]
fn tokio_run(plan: &Plan) -> Result<Measured, String> {
    Err(format!(
        "{}: built without the `tokio` feature",
        plan.kind.id()
    ))
}

#[cfg(not(feature = "tokio"))]
fn tokio_serve(_channel: &str) -> Result<(), String> {
    Err("typed-64B-tokio: built without the `tokio` feature".into())
}

/// Runs round trips `1, 2, ...`: unmeasured for the warm-up time, then
/// measured (one clock read before and after each) for the measure time.
/// Records half of each round trip (one-way latency).
pub(crate) fn drive(
    budget: &Budget,
    round_trip: impl FnMut(u64) -> Result<(), String>,
) -> Result<Latency, String> {
    time_round_trips(budget, 2, round_trip)
}

/// As [`drive`], recording each round trip divided by `divisor` (1: whole).
fn time_round_trips(
    budget: &Budget,
    divisor: u64,
    mut round_trip: impl FnMut(u64) -> Result<(), String>,
) -> Result<Latency, String> {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).ctx("histogram")?;
    let mut seq = 1;
    let start = Instant::now();
    while start.elapsed() < budget.warmup {
        round_trip(seq)?;
        seq += 1;
        if seq % 1024 == 0 && interrupted() {
            return Err("interrupted".into());
        }
    }
    let first = Instant::now();
    let mut last = first;
    let mut round_trips = 0u64;
    while last.duration_since(first) < budget.measure {
        let t0 = Instant::now();
        round_trip(seq)?;
        let t1 = Instant::now();
        hist.saturating_record(t1.duration_since(t0).as_nanos() as u64 / divisor);
        seq += 1;
        round_trips += 1;
        last = t1;
        if round_trips % 1024 == 0 && interrupted() {
            return Err("interrupted".into());
        }
    }
    Ok(Latency {
        hist,
        round_trips,
        elapsed: last.duration_since(first),
    })
}

// ---------------------------------------------------------------- raw floor

/// Bytes of the raw shm files.
const RAW_LEN: usize = 40960;
/// Ping word (written by the parent).
const OFF_PING: usize = 0;
/// Pong word (written by the peer): 128 bytes away, so that neither the
/// line nor the adjacent-line prefetcher's pair is shared with `OFF_PING`.
const OFF_PONG: usize = 128;

fn raw_floor(plan: &Plan) -> Result<Measured, String> {
    let name = plan.channel();
    let mut shm = RawShm::create(&name, RAW_LEN).ctx(&format!("creating {name}"))?;
    let mut peer = plan.spawn_peer()?;
    peer.expect("ready")?;
    // Both processes have it mapped: the name is no longer needed, and
    // unlinking now means nothing is left behind even if both get killed.
    shm.unlink();
    let ping = shm.u64_at(OFF_PING);
    let pong = shm.u64_at(OFF_PONG);
    let mut waiter = Waiter::new(plan.spin);
    let lat = drive(&plan.budget, |seq| {
        // Release: pairs with the peer's Acquire load of `ping` (the store is
        // the whole message).
        ping.store(seq, Ordering::Release);
        waiter.reset();
        // Acquire: pairs with the peer's Release store of `pong`.
        while pong.load(Ordering::Acquire) != seq {
            waiter.pause()?;
        }
        Ok(())
    })?;
    // Release: pairs with the peer's Acquire load of `ping`.
    ping.store(STOP, Ordering::Release);
    peer.finish()?;
    Ok(Measured::PingPong(lat))
}

fn raw_floor_peer(name: &str, spin: Spin) -> Result<(), String> {
    let shm = RawShm::open(name, RAW_LEN).ctx(&format!("opening {name}"))?;
    let ping = shm.u64_at(OFF_PING);
    let pong = shm.u64_at(OFF_PONG);
    say("ready");
    let mut waiter = Waiter::new(spin);
    let mut last = 0;
    loop {
        // Acquire: pairs with the parent's Release store of `ping`.
        let v = ping.load(Ordering::Acquire);
        if v == last {
            waiter.pause()?;
            continue;
        }
        if v == STOP {
            return Ok(());
        }
        // Release: pairs with the parent's Acquire load of `pong`.
        pong.store(v, Ordering::Release);
        last = v;
        waiter.reset();
    }
}

// ------------------------------------------------------------ typed, copied

fn connect<T: ShmMessage>(name: &str) -> Result<Subscriber<T>, String> {
    Subscriber::<T>::connect_with(
        name,
        ConnectOptions {
            timeout: CONTROL_TIMEOUT,
            ..Default::default()
        },
    )
    .ctx(&format!("connecting to {name}"))
}

fn typed_ping_pong<M: Probe>(plan: &Plan, blocking: bool) -> Result<Measured, String> {
    let base = plan.channel();
    let mut ping = Publisher::<M>::create(&format!("{base}/ping")).ctx("creating ping")?;
    let mut peer = plan.spawn_peer()?;
    peer.expect("ready")?;
    let mut pong = connect::<M>(&format!("{base}/pong"))?;
    let mut waiter = Waiter::new(plan.spin);
    let lat = drive(&plan.budget, |seq| {
        ping.send(&M::with_seq(seq)).ctx("send")?;
        let got = if blocking {
            match pong.recv_timeout(Duration::from_secs(10)) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) => {
                    return Err("no echo within 10 s (peer dead or stuck?)".into())
                }
                Err(e) => return Err(format!("recv: {e}")),
            }
        } else {
            waiter.reset();
            loop {
                match pong.try_recv() {
                    Ok(m) => break m,
                    Err(TryRecvError::Empty) => waiter.pause()?,
                    Err(e) => return Err(format!("try_recv: {e}")),
                }
            }
        };
        if got.seq() != seq {
            return Err(format!("expected echo of {seq}, got {}", got.seq()));
        }
        Ok(())
    })?;
    ping.send(&M::with_seq(STOP)).ctx("send")?;
    if pong.missed() != 0 {
        return Err(format!("{} pongs missed", pong.missed()));
    }
    peer.finish()?;
    Ok(Measured::PingPong(lat))
}

fn typed_echo<M: Probe>(base: &str, spin: Spin, blocking: bool) -> Result<(), String> {
    let mut pong = Publisher::<M>::create(&format!("{base}/pong")).ctx("creating pong")?;
    let mut ping = connect::<M>(&format!("{base}/ping"))?;
    say("ready");
    let mut waiter = Waiter::new(spin);
    loop {
        let got = if blocking {
            match ping.recv_timeout(PEER_POLL) {
                Ok(m) => m,
                Err(RecvTimeoutError::Timeout) if !parent_gone() => continue,
                Err(RecvTimeoutError::Timeout) => return Err("the parent went away".into()),
                Err(e) => return Err(format!("recv: {e}")),
            }
        } else {
            match ping.try_recv() {
                Ok(m) => m,
                Err(TryRecvError::Empty) => {
                    waiter.pause()?;
                    continue;
                }
                Err(e) => return Err(format!("try_recv: {e}")),
            }
        };
        if got.seq() == STOP {
            return Ok(());
        }
        pong.send(&got).ctx("send")?;
        waiter.reset();
    }
}

// ------------------------------------------------------- multi-publisher

/// The busy ping-pong of `typed-64B-busy` over multi-publisher topics
/// (`shm_comm::multipub`): the parent publishes pings with `publishers`
/// publishers on the ping topic (all but the first silent: the peer's
/// subscriber still looks at each of their rings on every receive).
fn multi_ping_pong(plan: &Plan, publishers: usize, blocking: bool) -> Result<Measured, String> {
    let base = plan.channel();
    let mut pings: Vec<MultiPublisher<Msg64>> = (0..publishers)
        .map(|_| MultiPublisher::<Msg64>::create(&format!("{base}/ping")).ctx("creating ping"))
        .collect::<Result<_, _>>()?;
    let mut peer = plan.spawn_peer()?;
    peer.expect("ready")?;
    let mut pong =
        MultiSubscriber::<Msg64>::connect(&format!("{base}/pong")).ctx("connecting to pong")?;
    let ping = &mut pings[0];
    let mut waiter = Waiter::new(plan.spin);
    let lat = drive(&plan.budget, |seq| {
        ping.send(&<Msg64 as Probe>::with_seq(seq)).ctx("send")?;
        let got = if blocking {
            match pong.recv_timeout(Duration::from_secs(10)) {
                Ok((_, m)) => m,
                Err(RecvTimeoutError::Timeout) => {
                    return Err("no echo within 10 s (peer dead or stuck?)".into())
                }
                Err(e) => return Err(format!("recv: {e}")),
            }
        } else {
            waiter.reset();
            loop {
                match pong.try_recv() {
                    Ok((_, m)) => break m,
                    Err(TryRecvError::Empty) => waiter.pause()?,
                    Err(e) => return Err(format!("try_recv: {e}")),
                }
            }
        };
        if Probe::seq(&got) != seq {
            return Err(format!("expected echo of {seq}, got {}", Probe::seq(&got)));
        }
        Ok(())
    })?;
    ping.send(&<Msg64 as Probe>::with_seq(STOP)).ctx("send")?;
    if pong.missed() != 0 {
        return Err(format!("{} pongs missed", pong.missed()));
    }
    peer.finish()?;
    Ok(Measured::PingPong(lat))
}

fn multi_echo(base: &str, spin: Spin, blocking: bool) -> Result<(), String> {
    let mut ping =
        MultiSubscriber::<Msg64>::connect(&format!("{base}/ping")).ctx("connecting to ping")?;
    let mut pong = MultiPublisher::<Msg64>::create(&format!("{base}/pong")).ctx("creating pong")?;
    say("ready");
    let mut waiter = Waiter::new(spin);
    loop {
        let got = if blocking {
            match ping.recv_timeout(PEER_POLL) {
                Ok((_, m)) => m,
                Err(RecvTimeoutError::Timeout) if !parent_gone() => continue,
                Err(RecvTimeoutError::Timeout) => return Err("the parent went away".into()),
                Err(e) => return Err(format!("recv: {e}")),
            }
        } else {
            match ping.try_recv() {
                Ok((_, m)) => m,
                Err(TryRecvError::Empty) => {
                    waiter.pause()?;
                    continue;
                }
                Err(e) => return Err(format!("try_recv: {e}")),
            }
        };
        if Probe::seq(&got) == STOP {
            return Ok(());
        }
        pong.send(&got).ctx("send")?;
        waiter.reset();
    }
}

// ------------------------------------------------------------ large copies

/// The copy hand-off floor: two buffers of `len` bytes in a shm file (one
/// per direction, each after a page of flags). The sender copies its private
/// message into the buffer with `copy_from_slice` (a plain memcpy) and
/// stores the sequence number in the flag; the receiver spins on the flag
/// and copies the buffer out into its private memory. The best any copying
/// transport can do: no slots, no checks, one buffer per direction.
fn copy_floor(plan: &Plan, len: usize) -> Result<Measured, String> {
    let mut side = FloorPinger::start(plan, len)?;
    let lat = drive(&plan.budget, |seq| side.round_trip(seq))?;
    side.finish()?;
    Ok(Measured::PingPong(lat))
}

/// The pinging side of the copy hand-off floor: memcpy into a shm buffer,
/// a flag, the peer's answer the same way back.
struct FloorPinger {
    shm: RawShm,
    ping_buf: *mut u8,
    pong_buf: *mut u8,
    len: usize,
    mine: Vec<u8>,
    waiter: Waiter,
    peer: Peer,
}

impl FloorPinger {
    fn start(plan: &Plan, len: usize) -> Result<FloorPinger, String> {
        let name = plan.channel();
        let mut shm =
            RawShm::create(&name, copy_floor_len(len)).ctx(&format!("creating {name}"))?;
        let mut peer = plan.spawn_peer()?;
        peer.expect("ready")?;
        shm.unlink();
        let (ping_buf, pong_buf) = copy_floor_bufs(&shm, len);
        if plan.kind == Kind::CopyFloorRo4K {
            // The reading side of each direction maps its buffer read-only:
            // the peer `ping_buf`, this side `pong_buf`.
            read_only(pong_buf, len)?;
        }
        Ok(FloorPinger {
            shm,
            ping_buf,
            pong_buf,
            len,
            mine: vec![1u8; len],
            waiter: Waiter::new(plan.spin),
            peer,
        })
    }

    fn round_trip(&mut self, seq: u64) -> Result<(), String> {
        let (ping, pong) = (self.shm.u64_at(OFF_PING), self.shm.u64_at(OFF_PONG));
        self.mine[..8].copy_from_slice(&seq.to_ne_bytes());
        // SAFETY: the peer reads `ping_buf` only after it sees `seq` in `ping`
        // (stored below, Release) and is done with it when it answers.
        unsafe { std::ptr::copy_nonoverlapping(self.mine.as_ptr(), self.ping_buf, self.len) };
        // Release: pairs with the peer's Acquire load of `ping`.
        ping.store(seq, Ordering::Release);
        self.waiter.reset();
        // Acquire: pairs with the peer's Release store of `pong`.
        while pong.load(Ordering::Acquire) != seq {
            self.waiter.pause()?;
        }
        // SAFETY: the peer wrote `pong_buf` before its Release store of `seq`
        // and does not touch it until our next ping.
        unsafe { std::ptr::copy_nonoverlapping(self.pong_buf, self.mine.as_mut_ptr(), self.len) };
        if self.mine[..8] != seq.to_ne_bytes() {
            return Err(format!("expected echo of {seq}"));
        }
        Ok(())
    }

    fn finish(self) -> Result<(), String> {
        // Release: pairs with the peer's Acquire load of `ping`.
        self.shm.u64_at(OFF_PING).store(STOP, Ordering::Release);
        self.peer.finish()
    }
}

/// Bytes of a copy floor file: a page of flags, then two buffers.
fn copy_floor_len(len: usize) -> usize {
    4096 + 2 * len.div_ceil(4096) * 4096
}

/// The two buffers (ping, pong) of a copy floor file.
fn copy_floor_bufs(shm: &RawShm, len: usize) -> (*mut u8, *mut u8) {
    let base = shm.base();
    let stride = len.div_ceil(4096) * 4096;
    // SAFETY: both offsets lie inside the mapping of `copy_floor_len(len)`.
    unsafe { (base.add(4096), base.add(4096 + stride)) }
}

/// Maps one of a copy floor file's buffers (`copy_floor_bufs`) read-only
/// in this process, as a subscriber maps a topic's chunks.
fn read_only(buf: *mut u8, len: usize) -> Result<(), String> {
    // SAFETY: `buf` is one of `copy_floor_bufs`' buffers: page-aligned, its
    // whole pages inside the mapping of `copy_floor_len(len)`. Its reader
    // calls this and only reads it from then on; changing the rights of
    // those pages touches no memory.
    let r = unsafe { libc::mprotect(buf.cast(), len.div_ceil(4096) * 4096, libc::PROT_READ) };
    if r != 0 {
        return Err(format!("mprotect: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// The echoing side of the copy hand-off floor; with `read_only`, it maps
/// the buffer it reads (`ping_buf`) read-only first.
fn copy_floor_peer(name: &str, spin: Spin, len: usize, read_only: bool) -> Result<(), String> {
    let shm = RawShm::open(name, copy_floor_len(len)).ctx(&format!("opening {name}"))?;
    let (ping, pong) = (shm.u64_at(OFF_PING), shm.u64_at(OFF_PONG));
    let (ping_buf, pong_buf) = copy_floor_bufs(&shm, len);
    if read_only {
        self::read_only(ping_buf, len)?;
    }
    let mut mine = vec![0u8; len];
    say("ready");
    let mut waiter = Waiter::new(spin);
    let mut last = 0;
    loop {
        // Acquire: pairs with the parent's Release store of `ping`.
        let v = ping.load(Ordering::Acquire);
        if v == last {
            waiter.pause()?;
            continue;
        }
        if v == STOP {
            return Ok(());
        }
        // SAFETY: the parent wrote `ping_buf` before its Release store of
        // `v` and waits for our answer before writing it again; it reads
        // `pong_buf` only after our Release store below.
        unsafe {
            std::ptr::copy_nonoverlapping(ping_buf, mine.as_mut_ptr(), len);
            std::ptr::copy_nonoverlapping(mine.as_ptr(), pong_buf, len);
        }
        // Release: pairs with the parent's Acquire load of `pong`.
        pong.store(v, Ordering::Release);
        last = v;
        waiter.reset();
    }
}

/// A message on the heap, zeroed (every bit pattern is a valid `M`).
fn boxed<M: ShmMessage>() -> Box<M> {
    let layout = std::alloc::Layout::new::<M>();
    // SAFETY: `M` is not zero-sized (it starts with `seq: u64`).
    let p = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<M>();
    if p.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // SAFETY: `p` was allocated with `M`'s layout by the global allocator,
    // and `M: ShmMessage` is plain data: all zeroes is a valid value.
    unsafe { Box::from_raw(p) }
}

/// The sequence number at the start of a copied message (all the copy rows'
/// messages start with `seq: u64`).
fn seq_of<M: ShmMessage>(m: &M) -> u64 {
    // SAFETY: `M` is at least 8 bytes, 8-aligned plain data starting with `seq`.
    unsafe { (m as *const M).cast::<u64>().read() }
}

fn set_seq<M: ShmMessage>(m: &mut M, seq: u64) {
    // SAFETY: as in `seq_of`.
    unsafe { (m as *mut M).cast::<u64>().write(seq) }
}

/// Receives a copy of the next message into `dst` (`Empty` if none).
fn recv_copy<M: ShmMessage>(sub: &mut Subscriber<M>, dst: &mut M) -> Result<(), TryRecvError> {
    let cap = std::mem::size_of::<M>();
    // SAFETY: `dst` is a valid `M`, so its `cap` bytes may be viewed as
    // `MaybeUninit<u8>` and written with any bytes: every bit pattern is a
    // valid `M` (a `ShmMessage`).
    let bytes = unsafe {
        std::slice::from_raw_parts_mut((dst as *mut M).cast::<std::mem::MaybeUninit<u8>>(), cap)
    };
    let (len, _) = sub.raw_mut().try_recv_uninit(bytes)?;
    if len != cap {
        return Err(TryRecvError::Corrupt(format!("{len} bytes")));
    }
    Ok(())
}

/// Typed ping-pong of a message copied in by `send` and out by the
/// subscriber into a heap buffer (no stack copy), with the topics' default
/// options (`Publisher::create`).
fn copy_ping_pong<M: ShmMessage>(plan: &Plan) -> Result<Measured, String> {
    let mut side = TypedPinger::<M>::start(plan)?;
    let lat = drive(&plan.budget, |seq| side.round_trip(seq))?;
    side.finish()?;
    Ok(Measured::PingPong(lat))
}

/// The pinging side of a typed copy ping-pong: `send` copies in, a copy
/// out of the echo into a heap buffer.
struct TypedPinger<M: ShmMessage> {
    ping: Publisher<M>,
    pong: Subscriber<M>,
    msg: Box<M>,
    got: Box<M>,
    waiter: Waiter,
    peer: Peer,
}

impl<M: ShmMessage> TypedPinger<M> {
    fn start(plan: &Plan) -> Result<TypedPinger<M>, String> {
        let base = plan.channel();
        let ping = Publisher::<M>::create(&format!("{base}/ping")).ctx("creating ping")?;
        let mut peer = plan.spawn_peer()?;
        peer.expect("ready")?;
        let pong = connect::<M>(&format!("{base}/pong"))?;
        Ok(TypedPinger {
            ping,
            pong,
            msg: boxed::<M>(),
            got: boxed::<M>(),
            waiter: Waiter::new(plan.spin),
            peer,
        })
    }

    fn round_trip(&mut self, seq: u64) -> Result<(), String> {
        set_seq(&mut *self.msg, seq);
        self.ping.send(&self.msg).ctx("send")?;
        self.waiter.reset();
        loop {
            match recv_copy(&mut self.pong, &mut self.got) {
                Ok(()) => break,
                Err(TryRecvError::Empty) => self.waiter.pause()?,
                Err(e) => return Err(format!("try_recv: {e}")),
            }
        }
        if seq_of(&*self.got) != seq {
            return Err(format!(
                "expected echo of {seq}, got {}",
                seq_of(&*self.got)
            ));
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), String> {
        set_seq(&mut *self.msg, STOP);
        self.ping.send(&self.msg).ctx("send")?;
        if self.pong.missed() != 0 {
            return Err(format!("{} pongs missed", self.pong.missed()));
        }
        self.peer.finish()
    }
}

/// One side of [`copy_paired`]: a pinger with its peer running.
enum Pinger<M: ShmMessage> {
    Floor(FloorPinger),
    Typed(Box<TypedPinger<M>>),
}

impl<M: ShmMessage> Pinger<M> {
    fn round_trip(&mut self, seq: u64) -> Result<(), String> {
        match self {
            Pinger::Floor(f) => f.round_trip(seq),
            Pinger::Typed(t) => t.round_trip(seq),
        }
    }

    fn finish(self) -> Result<(), String> {
        match self {
            Pinger::Floor(f) => f.finish(),
            Pinger::Typed(t) => t.finish(),
        }
    }
}

/// `--copy-paired`: the copy hand-off floor (`floors`, each with its own
/// peer: the plain floor, and the one whose readers map their buffers
/// read-only) and the typed copy of `M` (`typed`), all peers running,
/// measured in 50 ms windows taken in turn over the typed plan's budget,
/// so that a change of placement mid-run (this VM's vCPUs move between
/// cores that share a cache and cores that do not) hits all alike.
/// Returns the one-way latencies of each floor, then of the typed copy.
///
/// All peers run on the peer CPU and spin (`Spin::Hot`), the idle ones
/// too, so the scheduler splits that CPU between them: a window's round
/// trips run in the active peer's time slices, and the one that waits
/// out an idle peer's slice lands in the tail. The p50s match the
/// separate rows in the same placement; the tails are not comparable.
pub fn copy_paired<M: ShmMessage>(
    floors: &[Plan],
    typed: &Plan,
    len: usize,
) -> Result<Vec<Latency>, String> {
    let mut sides = Vec::new();
    for plan in floors {
        sides.push(Pinger::<M>::Floor(FloorPinger::start(plan, len)?));
    }
    sides.push(Pinger::Typed(Box::new(TypedPinger::<M>::start(typed)?)));
    let new = || Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).ctx("histogram");
    let mut stats = Vec::new();
    for _ in &sides {
        stats.push((new()?, 0u64, Duration::ZERO));
    }
    let window = Duration::from_millis(50);
    let start = Instant::now();
    let mut seq = 1u64;
    let mut round = 0usize;
    while start.elapsed() < typed.budget.warmup + typed.budget.measure {
        let measuring = start.elapsed() >= typed.budget.warmup;
        // Each round starts with the next side, so no side always follows
        // the same one.
        for k in 0..sides.len() {
            let i = (round + k) % sides.len();
            let w0 = Instant::now();
            while w0.elapsed() < window {
                let t0 = Instant::now();
                sides[i].round_trip(seq)?;
                let took = t0.elapsed();
                seq += 1;
                if measuring {
                    let (h, n, e) = &mut stats[i];
                    h.saturating_record(took.as_nanos() as u64 / 2);
                    *n += 1;
                    *e += took;
                }
            }
        }
        round += 1;
        if interrupted() {
            return Err("interrupted".into());
        }
    }
    for side in sides {
        side.finish()?;
    }
    Ok(stats
        .into_iter()
        .map(|(hist, round_trips, elapsed)| Latency {
            hist,
            round_trips,
            elapsed,
        })
        .collect())
}

fn copy_echo<M: ShmMessage>(base: &str, spin: Spin) -> Result<(), String> {
    let mut pong = Publisher::<M>::create(&format!("{base}/pong")).ctx("creating pong")?;
    let mut ping = connect::<M>(&format!("{base}/ping"))?;
    say("ready");
    let mut waiter = Waiter::new(spin);
    let mut got = boxed::<M>();
    loop {
        match recv_copy(&mut ping, &mut got) {
            Ok(()) => {}
            Err(TryRecvError::Empty) => {
                waiter.pause()?;
                continue;
            }
            Err(e) => return Err(format!("try_recv: {e}")),
        }
        if seq_of(&*got) == STOP {
            return Ok(());
        }
        pong.send(&got).ctx("send")?;
        waiter.reset();
    }
}

// ------------------------------------------------------------- loan + borrow

/// A message with a sequence number and a stamp at its start, built in place.
trait Loaned: ShmMessage {
    fn seq_mut(&mut self) -> (&mut u64, &mut u64);
    fn seq(&self) -> (u64, u64);
}

macro_rules! loaned {
    ($($t:ty),*) => {$(
        impl Loaned for $t {
            fn seq_mut(&mut self) -> (&mut u64, &mut u64) {
                (&mut self.seq, &mut self.stamp)
            }
            fn seq(&self) -> (u64, u64) {
                (self.seq, self.stamp)
            }
        }
    )*};
}
loaned!(Msg64, Msg1M, Msg8M);

/// Ring options for the loan topics: a pool of 4 + 1 + 2 chunks (7 MiB for
/// the 1 MiB message).
const LOAN_OPTIONS: TypedPubOptions = TypedPubOptions {
    capacity: 4,
    borrow_budget: 2,
};

fn loan_ping_pong<M: Loaned>(plan: &Plan) -> Result<Measured, String> {
    let base = plan.channel();
    let mut ping =
        Publisher::<M>::create_with(&format!("{base}/ping"), LOAN_OPTIONS).ctx("creating ping")?;
    let mut peer = plan.spawn_peer()?;
    peer.expect("ready")?;
    let mut pong = connect::<M>(&format!("{base}/pong"))?;
    let mut waiter = Waiter::new(plan.spin);
    let lat = drive(&plan.budget, |seq| {
        let mut loan = ping.loan().ctx("loan")?;
        *loan.seq_mut().0 = seq;
        loan.send().ctx("send")?;
        waiter.reset();
        loop {
            match pong.try_borrow() {
                Ok(sample) if sample.seq().0 == seq => return Ok(()),
                Ok(sample) => {
                    return Err(format!("expected echo of {seq}, got {}", sample.seq().0))
                }
                Err(BorrowError::Empty) => waiter.pause()?,
                Err(e) => return Err(format!("try_borrow: {e}")),
            }
        }
    })?;
    let mut loan = ping.loan().ctx("loan")?;
    *loan.seq_mut().0 = STOP;
    loan.send().ctx("send")?;
    if pong.missed() != 0 {
        return Err(format!("{} pongs missed", pong.missed()));
    }
    peer.finish()?;
    Ok(Measured::PingPong(lat))
}

fn loan_echo<M: Loaned>(base: &str, spin: Spin) -> Result<(), String> {
    let mut pong =
        Publisher::<M>::create_with(&format!("{base}/pong"), LOAN_OPTIONS).ctx("creating pong")?;
    let mut ping = connect::<M>(&format!("{base}/ping"))?;
    say("ready");
    let mut waiter = Waiter::new(spin);
    loop {
        let sample = match ping.try_borrow() {
            Ok(s) => s,
            Err(BorrowError::Empty) => {
                waiter.pause()?;
                continue;
            }
            Err(e) => return Err(format!("try_borrow: {e}")),
        };
        let (seq, stamp) = sample.seq();
        if seq == STOP {
            return Ok(());
        }
        let mut loan = pong.loan().ctx("loan")?;
        let (s, t) = loan.seq_mut();
        (*s, *t) = (seq, stamp);
        loan.send().ctx("send")?;
        drop(sample);
        waiter.reset();
    }
}

/// The loan rows' ring options for a variable-size topic of `bytes`-byte
/// messages (a `VarHead` and `u64` elements), and their element count.
fn var_options(bytes: usize) -> (VarPubOptions, usize) {
    let opts = VarPubOptions {
        ring: Some(LOAN_OPTIONS),
        auto_grow: false,
    };
    (opts, (bytes - std::mem::size_of::<VarHead>()) / 8)
}

/// As [`loan_ping_pong`], with messages of `bytes` bytes loaned by length
/// (`loan_with_len`) on a variable-size topic of exactly that maximum:
/// the same bytes move, so the difference is what the length costs.
fn var_loan_ping_pong(plan: &Plan, bytes: usize) -> Result<Measured, String> {
    let base = plan.channel();
    let (opts, n) = var_options(bytes);
    let mut ping = VarPublisher::<VarHead, u64>::create_with(&format!("{base}/ping"), n, opts)
        .ctx("creating ping")?;
    let mut peer = plan.spawn_peer()?;
    peer.expect("ready")?;
    let mut pong = var_connect(&format!("{base}/pong"))?;
    let mut waiter = Waiter::new(plan.spin);
    let lat = drive(&plan.budget, |seq| {
        let mut loan = ping.loan_with_len(n).ctx("loan")?;
        loan.header_mut().seq = seq;
        loan.send().ctx("send")?;
        waiter.reset();
        loop {
            match pong.try_borrow() {
                Ok(sample) if sample.header().seq == seq && sample.len() == n => return Ok(()),
                Ok(sample) => {
                    return Err(format!(
                        "expected echo of {seq} ({n} elements), got {} ({})",
                        sample.header().seq,
                        sample.len()
                    ))
                }
                Err(BorrowError::Empty) => waiter.pause()?,
                Err(e) => return Err(format!("try_borrow: {e}")),
            }
        }
    })?;
    let mut loan = ping.loan_with_len(0).ctx("loan")?;
    loan.header_mut().seq = STOP;
    loan.send().ctx("send")?;
    if pong.missed() != 0 {
        return Err(format!("{} pongs missed", pong.missed()));
    }
    peer.finish()?;
    Ok(Measured::PingPong(lat))
}

fn var_connect(name: &str) -> Result<VarSubscriber<VarHead, u64>, String> {
    VarSubscriber::connect_with(
        name,
        ConnectOptions {
            timeout: CONTROL_TIMEOUT,
            ..Default::default()
        },
    )
    .ctx(&format!("connecting to {name}"))
}

fn var_loan_echo(base: &str, spin: Spin, bytes: usize) -> Result<(), String> {
    let (opts, n) = var_options(bytes);
    let mut pong = VarPublisher::<VarHead, u64>::create_with(&format!("{base}/pong"), n, opts)
        .ctx("creating pong")?;
    let mut ping = var_connect(&format!("{base}/ping"))?;
    say("ready");
    let mut waiter = Waiter::new(spin);
    loop {
        let sample = match ping.try_borrow() {
            Ok(s) => s,
            Err(BorrowError::Empty) => {
                waiter.pause()?;
                continue;
            }
            Err(e) => return Err(format!("try_borrow: {e}")),
        };
        let (seq, stamp) = (sample.header().seq, sample.header().stamp);
        if seq == STOP {
            return Ok(());
        }
        let mut loan = pong.loan_with_len(sample.len()).ctx("loan")?;
        *loan.header_mut() = VarHead { seq, stamp };
        loan.send().ctx("send")?;
        drop(sample);
        waiter.reset();
    }
}

// ------------------------------------------------------------------ streams

/// Parses `key=value` fields of a peer's report line.
fn field(line: &str, key: &str) -> Result<u64, String> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no `{key}` in peer report `{line}`"))
}

/// Rounds of a stream's measured phase.
const ROUNDS: u32 = 5;

/// Reads the peer's report of a `MARK`.
fn expect_mark(peer: &mut Peer) -> Result<(u64, u64, u64, u64), String> {
    let line = peer.expect("mark")?;
    Ok((
        field(&line, "received")?,
        field(&line, "missed")?,
        field(&line, "order_errors")?,
        field(&line, "at_ns")?,
    ))
}

/// The parent side shared by both streams: warm up with `send`, then
/// [`ROUNDS`] rounds of sending as fast as possible, each ended by a `MARK`
/// (the newest message until the peer reports it, so even a lossy ring keeps
/// it), then `STOP`.
fn stream_drive(
    plan: &Plan,
    peer: &mut Peer,
    mut send: impl FnMut(u64) -> Result<(), String>,
) -> Result<Measured, String> {
    let mut seq = 1u64;
    let start = Instant::now();
    while start.elapsed() < plan.budget.warmup {
        for _ in 0..256 {
            send(seq)?;
            seq += 1;
        }
    }
    send(MARK)?;
    expect_mark(peer)?;
    let mut rounds = Vec::new();
    for _ in 0..ROUNDS {
        let first_ns = monotonic_ns();
        let end = Instant::now() + plan.budget.measure / ROUNDS;
        let mut sent = 0u64;
        loop {
            for _ in 0..256 {
                send(seq)?;
                seq += 1;
            }
            sent += 256;
            if Instant::now() >= end {
                break;
            }
        }
        let sent_ns = monotonic_ns();
        send(MARK)?;
        let (received, missed, order_errors, at_ns) = expect_mark(peer)?;
        if received + missed != sent {
            return Err(format!(
                "sent {sent} but received {received} + missed {missed}"
            ));
        }
        rounds.push(Round {
            sent,
            received,
            missed,
            order_errors,
            delivered_secs: at_ns.saturating_sub(first_ns) as f64 / 1e9,
            send_secs: sent_ns.saturating_sub(first_ns) as f64 / 1e9,
        });
        if interrupted() {
            return Err("interrupted".into());
        }
    }
    send(STOP)?;
    Ok(Measured::Stream(rounds))
}

/// The peer's bookkeeping for a stream.
#[derive(Debug, Default)]
struct Tally {
    received: u64,
    last: u64,
    order_errors: u64,
}

impl Tally {
    /// Counts message `seq`; at a `MARK`, reports (with `missed`, the
    /// messages skipped since the previous mark) and starts over. `false`
    /// for `STOP`.
    fn take(&mut self, seq: u64, missed: impl FnOnce() -> u64) -> bool {
        match seq {
            STOP => return false,
            MARK => {
                let at_ns = monotonic_ns();
                say(&format!(
                    "mark received={} missed={} order_errors={} at_ns={at_ns}",
                    self.received,
                    missed(),
                    self.order_errors
                ));
                self.received = 0;
                self.order_errors = 0;
            }
            s => {
                if s <= self.last {
                    self.order_errors += 1;
                }
                self.last = s;
                self.received += 1;
            }
        }
        true
    }
}

fn stream_typed(plan: &Plan) -> Result<Measured, String> {
    let base = plan.channel();
    let mut publisher = Publisher::<Msg64>::create_with(
        &format!("{base}/data"),
        TypedPubOptions {
            capacity: STREAM_CAPACITY,
            ..Default::default()
        },
    )
    .ctx("creating the stream")?;
    let mut peer = plan.spawn_peer()?;
    peer.expect("ready")?;
    let measured = stream_drive(plan, &mut peer, |seq| {
        publisher.send(&Msg64::with_seq(seq)).ctx("send")
    })?;
    peer.finish()?;
    Ok(measured)
}

fn stream_typed_peer(base: &str, spin: Spin) -> Result<(), String> {
    let mut sub = connect::<Msg64>(&format!("{base}/data"))?;
    say("ready");
    let mut waiter = Waiter::new(spin);
    let mut tally = Tally::default();
    let mut missed_before = 0;
    loop {
        match sub.try_recv() {
            Ok(m) => {
                let more = tally.take(m.seq, || {
                    let now = sub.missed();
                    now - std::mem::replace(&mut missed_before, now)
                });
                if !more {
                    return Ok(());
                }
                waiter.reset();
            }
            Err(TryRecvError::Empty) => waiter.pause()?,
            Err(e) => return Err(format!("try_recv: {e}")),
        }
    }
}

/// Raw stream layout: the producer's `head`, the consumer's `tail` (each on
/// its own pair of lines), then `STREAM_CAPACITY` slots of `u64`.
const OFF_HEAD: usize = 0;
const OFF_TAIL: usize = 128;
const OFF_SLOTS: usize = 256;
const _: () = assert!(OFF_SLOTS + 8 * STREAM_CAPACITY as usize <= RAW_LEN);
/// The raw producer publishes `head` once per this many messages (4 slot
/// lines), so the consumer never reads a line the producer is still filling
/// and the `head` line moves once per batch, not once per message.
const HEAD_BATCH: u64 = 32;

fn stream_raw(plan: &Plan) -> Result<Measured, String> {
    let name = plan.channel();
    let mut shm = RawShm::create(&name, RAW_LEN).ctx(&format!("creating {name}"))?;
    let mut peer = plan.spawn_peer()?;
    peer.expect("ready")?;
    shm.unlink();
    let head_word = shm.u64_at(OFF_HEAD);
    let tail_word = shm.u64_at(OFF_TAIL);
    let cap = u64::from(STREAM_CAPACITY);
    let (mut head, mut tail) = (0u64, 0u64);
    let mut waiter = Waiter::new(plan.spin);
    let measured = stream_drive(plan, &mut peer, |v| {
        if head - tail == cap {
            // Publish what we have first: the consumer may be waiting for it.
            // Release: pairs with the consumer's Acquire load of `head`.
            head_word.store(head, Ordering::Release);
            waiter.reset();
            loop {
                // Acquire: pairs with the consumer's Release store of `tail`
                // (its reads of the slots happen before we overwrite them).
                tail = tail_word.load(Ordering::Acquire);
                if head - tail < cap {
                    break;
                }
                waiter.pause()?;
            }
        }
        let slot = shm.u64_at(OFF_SLOTS + 8 * (head % cap) as usize);
        // Relaxed: published by the Release store of `head` below.
        slot.store(v, Ordering::Relaxed);
        head += 1;
        if head % HEAD_BATCH == 0 || v >= MARK {
            // Release: pairs with the consumer's Acquire load of `head`.
            head_word.store(head, Ordering::Release);
        }
        Ok(())
    })?;
    peer.finish()?;
    Ok(measured)
}

fn stream_raw_peer(name: &str, spin: Spin) -> Result<(), String> {
    let shm = RawShm::open(name, RAW_LEN).ctx(&format!("opening {name}"))?;
    let head_word = shm.u64_at(OFF_HEAD);
    let tail_word = shm.u64_at(OFF_TAIL);
    let cap = u64::from(STREAM_CAPACITY);
    say("ready");
    let mut waiter = Waiter::new(spin);
    let mut tally = Tally::default();
    let mut tail = 0u64;
    loop {
        // Acquire: pairs with the producer's Release stores of `head`.
        let head = head_word.load(Ordering::Acquire);
        if head == tail {
            waiter.pause()?;
            continue;
        }
        let mut more = true;
        while tail < head && more {
            let slot = shm.u64_at(OFF_SLOTS + 8 * (tail % cap) as usize);
            // Relaxed: ordered by the Acquire load of `head` above.
            more = tally.take(slot.load(Ordering::Relaxed), || 0);
            tail += 1;
        }
        // Release: pairs with the producer's Acquire load of `tail`.
        tail_word.store(tail, Ordering::Release);
        if !more {
            return Ok(());
        }
        waiter.reset();
    }
}

// ------------------------------------------------------------------ REQ/REP

/// How long a call may take before the scenario fails.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The parent calls the peer's service sequentially (one call in flight)
/// and times each `request`, round trip included.
fn req_rep(plan: &Plan) -> Result<Measured, String> {
    let name = format!("{}/svc", plan.channel());
    let mut peer = plan.spawn_peer()?;
    peer.expect("ready")?;
    let requester = Requester::<Msg64, Msg64>::connect_with(
        &name,
        RequesterOptions::with_timeout(CONTROL_TIMEOUT),
    )
    .ctx(&format!("connecting to {name}"))?;
    let lat = time_round_trips(&plan.budget, 1, |seq| {
        let reply = requester
            .request(&Msg64::with_seq(seq), CALL_TIMEOUT)
            .ctx("request")?;
        if reply.seq != seq {
            return Err(format!("expected the reply to {seq}, got {}", reply.seq));
        }
        Ok(())
    })?;
    requester
        .request(&Msg64::with_seq(STOP), CALL_TIMEOUT)
        .ctx("request (stop)")?;
    drop(requester);
    peer.finish()?;
    Ok(Measured::Calls(lat))
}

/// The replier: creates the service and echoes every request as its reply
/// (the `STOP` request too, then exits).
fn replier_peer(base: &str) -> Result<(), String> {
    let name = format!("{base}/svc");
    let replier =
        Replier::<Msg64, Msg64>::create(&name).ctx(&format!("creating service {name}"))?;
    say("ready");
    loop {
        let (call, req) = match replier.recv_timeout(PEER_POLL) {
            Ok(r) => r,
            Err(RecvTimeoutError::Timeout) if !parent_gone() => continue,
            Err(RecvTimeoutError::Timeout) => return Err("the parent went away".into()),
            Err(e) => return Err(format!("recv: {e}")),
        };
        // A discarded reply shows up as the requester's timeout.
        let _ = replier.reply(&call, &req).ctx("reply")?;
        if req.seq == STOP {
            return Ok(());
        }
    }
}

// ---------------------------------------------------------------- PUSH/PULL

/// Jobs the PUSH/PULL queue holds.
const JOB_CAPACITY: u32 = 1024;

/// A set of job ids: count, sum and sum of squares (wrapping). Two equal
/// sets mean that every id pushed was received exactly once (a loss and a
/// duplicate that leave all three unchanged are as good as impossible).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct IdSet {
    count: u64,
    sum: u64,
    squares: u64,
}

impl IdSet {
    #[inline]
    fn add(&mut self, id: u64) {
        self.count += 1;
        self.sum = self.sum.wrapping_add(id);
        self.squares = self.squares.wrapping_add(id.wrapping_mul(id));
    }

    fn merge(&mut self, other: &IdSet) {
        self.count += other.count;
        self.sum = self.sum.wrapping_add(other.sum);
        self.squares = self.squares.wrapping_add(other.squares);
    }
}

/// A control job: `MARK` (with its round in `stamp`) or `STOP`.
fn control_job(seq: u64, round: u64) -> Msg64 {
    Msg64 {
        seq,
        stamp: round,
        payload: [0; 6],
    }
}

/// Pushes `job` with the blocking `send` (it waits while the queue is full).
#[inline]
fn push(pusher: &Pusher<Msg64>, job: Msg64) -> Result<(), String> {
    pusher.send(job).map_err(|e| format!("send: {e}"))
}

/// Pushes one `MARK` of `round` per puller behind the jobs already queued,
/// and waits until the pullers have taken them all. A puller may take
/// several marks of a round and another none; either way every job pushed
/// before the marks has been taken once the last mark has. Returns when
/// that was (`CLOCK_MONOTONIC` ns, as seen by the puller that took it).
fn collect_marks(pusher: &Pusher<Msg64>, peers: &mut [Peer], round: u64) -> Result<u64, String> {
    for _ in 0..peers.len() {
        push(pusher, control_job(MARK, round))?;
    }
    let deadline = Instant::now() + CONTROL_TIMEOUT;
    let (mut seen, mut last_ns) = (0, 0);
    while seen < peers.len() {
        let mut idle = true;
        for peer in peers.iter_mut() {
            while let Some(line) = peer.try_line()? {
                idle = false;
                let Some(mark) = line.strip_prefix("mark ") else {
                    eprintln!("  peer said: {line}");
                    continue;
                };
                if field(mark, "round")? != round {
                    return Err(format!("expected marks of round {round}, got `{line}`"));
                }
                last_ns = last_ns.max(field(mark, "at_ns")?);
                seen += 1;
            }
        }
        if idle {
            if Instant::now() >= deadline {
                return Err(format!(
                    "the pullers took {seen} of {} marks within {CONTROL_TIMEOUT:?}",
                    peers.len()
                ));
            }
            if interrupted() {
                return Err("interrupted".into());
            }
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    Ok(last_ns)
}

/// How long the pusher may make no progress (blocked in `send` on a full
/// queue) before the scenario fails: the pullers are dead or stuck.
const JOB_STALL: Duration = Duration::from_secs(10);

/// The pusher's side of a PUSH/PULL scenario, shared with its watchdog.
#[derive(Debug, Default)]
struct Pushing {
    /// The last id pushed (the watchdog's sign of progress).
    progress: AtomicU64,
    /// The pusher is done pushing: the watchdog exits.
    done: AtomicBool,
    /// The watchdog saw no progress for [`JOB_STALL`] and drains the queue.
    stalled: AtomicBool,
}

/// Watches `state` while the pusher pushes. `send` blocks as long as the
/// queue is full, so if the pullers die, the pusher would wait forever: after
/// [`JOB_STALL`] without progress, the watchdog joins queue `name` as a
/// puller itself and takes every job (so that `send` returns), and the
/// pusher fails the scenario.
fn push_watchdog(name: &str, state: &Pushing) {
    // Relaxed everywhere: lone flags and a counter; no data is published
    // through them (the queue has its own synchronization).
    let mut last = (state.progress.load(Ordering::Relaxed), Instant::now());
    while !state.done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        let now = state.progress.load(Ordering::Relaxed);
        if now != last.0 {
            last = (now, Instant::now());
            continue;
        }
        if last.1.elapsed() < JOB_STALL {
            continue;
        }
        state.stalled.store(true, Ordering::Relaxed);
        let Ok(drain) = Puller::<Msg64>::connect_with(
            name,
            PullerOptions::with_timeout(Duration::from_secs(1)),
        ) else {
            return;
        };
        while !state.done.load(Ordering::Relaxed) {
            if drain.try_recv().is_err() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        return;
    }
}

/// The parent pushes jobs `1, 2, ...` with the blocking `send` as fast as
/// it can; the pullers take them with `recv_timeout` and count them. Like a
/// stream: a warm-up, then [`ROUNDS`] rounds, each ended by one `MARK` per
/// puller; then one `STOP` per puller (each puller exits at the first it
/// takes, so each takes one), and every puller reports the ids it received.
fn push_pull(plan: &Plan) -> Result<Measured, String> {
    let n = plan.kind.pullers();
    let name = format!("{}/jobs", plan.channel());
    let pusher = Pusher::<Msg64>::create_with(
        &name,
        TypedQueueOptions {
            capacity: JOB_CAPACITY,
        },
    )
    .ctx(&format!("creating queue {name}"))?;
    // One puller: on the peer's CPU, as the other rows. Several: not
    // pinned, free to run on every CPU of the run (the pusher's included).
    let (cpus, placement) = match (n, plan.peer_cpu) {
        (1, Some(c)) => (c.to_string(), format!("puller on CPU {c}")),
        (1, None) => ("-".to_owned(), "puller not pinned".to_owned()),
        _ if plan.cpus.is_empty() => ("-".to_owned(), format!("{n} pullers, not pinned")),
        _ => {
            let list: Vec<String> = plan.cpus.iter().map(ToString::to_string).collect();
            (
                list.join(","),
                format!("{n} pullers, not pinned (CPUs {})", list.join(",")),
            )
        }
    };
    let mut peers = (0..n)
        .map(|_| plan.spawn_peer_on(&cpus))
        .collect::<Result<Vec<Peer>, String>>()?;
    for peer in &mut peers {
        peer.expect("ready")?;
    }
    if pusher.pullers() as usize != n {
        return Err(format!(
            "{} pullers connected, {n} expected",
            pusher.pullers()
        ));
    }

    let state = Pushing::default();
    let (rounds, sent) = std::thread::scope(|scope| {
        scope.spawn(|| push_watchdog(&name, &state));
        let pushed = push_rounds(plan, &pusher, &mut peers, &state);
        // Relaxed: a lone flag (see `push_watchdog`).
        state.done.store(true, Ordering::Relaxed);
        pushed
    })?;

    let mut received = IdSet::default();
    let mut per_puller = Vec::with_capacity(n);
    let mut order_errors = 0;
    for peer in &mut peers {
        let line = peer.expect("done")?;
        let got = IdSet {
            count: field(&line, "received")?,
            sum: field(&line, "sum")?,
            squares: field(&line, "squares")?,
        };
        order_errors += field(&line, "order_errors")?;
        received.merge(&got);
        per_puller.push(got.count);
    }
    for peer in peers {
        peer.finish()?;
    }
    if received != sent {
        let (lost, duplicated) = (
            sent.count.saturating_sub(received.count),
            received.count.saturating_sub(sent.count),
        );
        return Err(format!(
            "jobs lost or duplicated: pushed {} (id sum {}), the pullers received {} (id sum {}): \
             at least {lost} lost, {duplicated} duplicated",
            sent.count, sent.sum, received.count, received.sum
        ));
    }
    if order_errors != 0 {
        return Err(format!(
            "{order_errors} jobs taken out of order by a puller"
        ));
    }
    Ok(Measured::Jobs(Jobs {
        rounds,
        sent: sent.count,
        per_puller,
        placement,
    }))
}

/// The pushing part of [`push_pull`]: the warm-up, the rounds and the
/// `STOP`s. Returns the rounds and the ids pushed.
fn push_rounds(
    plan: &Plan,
    pusher: &Pusher<Msg64>,
    peers: &mut [Peer],
    state: &Pushing,
) -> Result<(Vec<Round>, IdSet), String> {
    let mut sent = IdSet::default();
    let mut id = 0u64;
    let mut batch = |sent: &mut IdSet| -> Result<(), String> {
        for _ in 0..256 {
            id += 1;
            push(pusher, Msg64::with_seq(id))?;
            sent.add(id);
        }
        // Relaxed: see `push_watchdog`.
        state.progress.store(id, Ordering::Relaxed);
        if state.stalled.load(Ordering::Relaxed) {
            return Err(format!(
                "the queue stayed full for {JOB_STALL:?} (pullers dead or stuck?)"
            ));
        }
        Ok(())
    };
    let start = Instant::now();
    while start.elapsed() < plan.budget.warmup {
        batch(&mut sent)?;
    }
    collect_marks(pusher, peers, 0)?;
    let mut rounds = Vec::new();
    for round in 1..=u64::from(ROUNDS) {
        let first_ns = monotonic_ns();
        let end = Instant::now() + plan.budget.measure / ROUNDS;
        let before = sent.count;
        loop {
            batch(&mut sent)?;
            if Instant::now() >= end || interrupted() {
                break;
            }
        }
        let sent_ns = monotonic_ns();
        let taken_ns = collect_marks(pusher, peers, round)?;
        let count = sent.count - before;
        rounds.push(Round {
            sent: count,
            received: count,
            missed: 0,
            order_errors: 0,
            delivered_secs: taken_ns.saturating_sub(first_ns) as f64 / 1e9,
            send_secs: sent_ns.saturating_sub(first_ns) as f64 / 1e9,
        });
        if interrupted() {
            return Err("interrupted".into());
        }
    }
    for _ in 0..peers.len() {
        push(pusher, control_job(STOP, 0))?;
    }
    Ok((rounds, sent))
}

/// A puller: takes jobs with `recv_timeout`, counts their ids, reports each
/// `MARK` when it takes it and its ids at the `STOP`, then exits.
fn puller_peer(base: &str) -> Result<(), String> {
    let name = format!("{base}/jobs");
    let puller = Puller::<Msg64>::connect_with(&name, PullerOptions::with_timeout(CONTROL_TIMEOUT))
        .ctx(&format!("connecting to {name}"))?;
    say("ready");
    let mut got = IdSet::default();
    let (mut last, mut order_errors) = (0u64, 0u64);
    loop {
        let job = match puller.recv_timeout(PEER_POLL) {
            Ok(j) => j,
            Err(RecvTimeoutError::Timeout) if !parent_gone() => continue,
            Err(RecvTimeoutError::Timeout) => return Err("the parent went away".into()),
            Err(e) => return Err(format!("recv: {e}")),
        };
        match job.seq {
            STOP => {
                say(&format!(
                    "done received={} sum={} squares={} order_errors={order_errors}",
                    got.count, got.sum, got.squares
                ));
                return Ok(());
            }
            MARK => say(&format!(
                "mark round={} at_ns={}",
                job.stamp,
                monotonic_ns()
            )),
            id => {
                // One pusher pushes increasing ids, and a puller takes
                // increasing queue positions: each puller sees them rise.
                if id <= last {
                    order_errors += 1;
                }
                last = id;
                got.add(id);
            }
        }
    }
}
