//! The scenarios: for each, the parent side (which measures) and the peer
//! side (which echoes or counts).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use shm_comm::pubsub::{ConnectOptions, PubOptions, Publisher, Subscriber};
use shm_comm::{BorrowError, RecvTimeoutError, ShmMessage, TryRecvError};

use crate::peer::{parent_gone, say, Context, Peer, Spin, Waiter, CONTROL_TIMEOUT};
use crate::sys::{interrupted, monotonic_ns, RawShm};

/// Sequence number that tells the peer to stop.
pub(crate) const STOP: u64 = u64::MAX;
/// Sequence number that ends a stream's warm-up or round: the peer reports
/// what it counted since the previous one.
const MARK: u64 = u64::MAX - 1;

/// How long the peer's blocking receive waits before looking at the parent flag.
pub(crate) const PEER_POLL: Duration = Duration::from_millis(100);

/// Entries of the stream rings (typed and raw).
const STREAM_CAPACITY: u32 = 4096;

/// A 64-byte message.
#[derive(ShmMessage, Clone, Copy, Debug)]
#[repr(C)]
pub struct Msg64 {
    /// Sequence number.
    pub seq: u64,
    /// Spare timestamp (echoed back untouched).
    pub stamp: u64,
    /// Filler.
    pub payload: [u64; 6],
}

/// A 4 KiB message.
#[derive(ShmMessage, Clone, Copy, Debug)]
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

const _: () = assert!(std::mem::size_of::<Msg64>() == 64);
const _: () = assert!(std::mem::size_of::<Msg4K>() == 4096);
const _: () = assert!(std::mem::size_of::<Msg1M>() == 1 << 20);

/// A small message type the copying scenarios can build and check.
trait Probe: ShmMessage + Copy {
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
    /// 4 KiB typed ping-pong, `try_recv` busy-poll.
    Typed4KBusy,
    /// 1 MiB ping-pong through `loan` and `try_borrow`.
    Loan1MBusy,
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
}

impl Kind {
    /// Every scenario.
    pub const ALL: [Kind; 12] = [
        Kind::RawFloor,
        Kind::RawFloorPureSpin,
        Kind::Typed64Busy,
        Kind::Typed64Blocking,
        Kind::Typed4KBusy,
        Kind::Loan1MBusy,
        Kind::StreamTyped,
        Kind::StreamRaw,
        Kind::Iox64Busy,
        Kind::Iox64Blocking,
        Kind::Iox4KBusy,
        Kind::Iox1MLoan,
    ];

    /// Short name, used by `--only`, channel names and the JSON output.
    pub fn id(self) -> &'static str {
        match self {
            Kind::RawFloor => "raw-floor",
            Kind::RawFloorPureSpin => "raw-floor-spin",
            Kind::Typed64Busy => "typed-64B-busy",
            Kind::Typed64Blocking => "typed-64B-blocking",
            Kind::Typed4KBusy => "typed-4KiB-busy",
            Kind::Loan1MBusy => "typed-1MiB-loan",
            Kind::StreamTyped => "stream-typed-64B",
            Kind::StreamRaw => "stream-raw",
            Kind::Iox64Busy => "iceoryx2-64B-busy",
            Kind::Iox64Blocking => "iceoryx2-64B-blocking",
            Kind::Iox4KBusy => "iceoryx2-4KiB-busy",
            Kind::Iox1MLoan => "iceoryx2-1MiB-loan",
        }
    }

    /// Parses [`id`](Self::id).
    pub fn from_id(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.id() == s)
    }

    /// `true` for the one-way throughput scenarios.
    pub fn is_stream(self) -> bool {
        matches!(self, Kind::StreamTyped | Kind::StreamRaw)
    }

    /// `true` for the iceoryx2 scenarios (built only with the `iceoryx2`
    /// feature).
    pub fn is_iceoryx2(self) -> bool {
        matches!(
            self,
            Kind::Iox64Busy | Kind::Iox64Blocking | Kind::Iox4KBusy | Kind::Iox1MLoan
        )
    }

    /// `true` for the scenarios whose processes sleep in the kernel while they
    /// wait (their CPU share says nothing about other loads).
    pub fn sleeps(self) -> bool {
        self == Kind::Iox64Blocking
    }

    /// `true` for the scenarios built on a raw shm file.
    pub fn is_raw(self) -> bool {
        matches!(
            self,
            Kind::RawFloor | Kind::RawFloorPureSpin | Kind::StreamRaw
        )
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

    /// Starts the peer process of this scenario.
    pub(crate) fn spawn_peer(&self) -> Result<Peer, String> {
        Peer::spawn(&[
            self.kind.id().to_owned(),
            self.channel(),
            self.peer_cpu.map_or("-".to_owned(), |c| c.to_string()),
            self.spin.as_arg().to_owned(),
        ])
    }
}

/// One-way latency of a ping-pong scenario, in nanoseconds.
#[derive(Debug)]
pub struct Latency {
    /// Half of each measured round trip.
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

/// What a scenario measured.
#[derive(Debug)]
pub enum Measured {
    /// A ping-pong scenario.
    PingPong(Latency),
    /// A stream scenario: several rounds (the rate of a stream depends a lot
    /// on whether the subscriber keeps up, so one number hides too much).
    Stream(Vec<Round>),
}

impl Measured {
    /// Messages per second: delivered one-way messages (2 per round trip
    /// for ping-pong), the median round for streams.
    pub fn msgs_per_s(&self) -> f64 {
        match self {
            Measured::PingPong(l) => 2.0 * l.round_trips as f64 / l.elapsed.as_secs_f64(),
            Measured::Stream(rounds) => {
                let mut rates: Vec<f64> = rounds.iter().map(Round::rate).collect();
                rates.sort_by(f64::total_cmp);
                rates.get(rates.len() / 2).copied().unwrap_or(f64::NAN)
            }
        }
    }
}

/// Runs `plan` (parent side).
pub fn run(plan: &Plan) -> Result<Measured, String> {
    match plan.kind {
        Kind::RawFloor | Kind::RawFloorPureSpin => raw_floor(plan),
        Kind::Typed64Busy => typed_ping_pong::<Msg64>(plan, false),
        Kind::Typed64Blocking => typed_ping_pong::<Msg64>(plan, true),
        Kind::Typed4KBusy => typed_ping_pong::<Msg4K>(plan, false),
        Kind::Loan1MBusy => loan_ping_pong(plan),
        Kind::StreamTyped => stream_typed(plan),
        Kind::StreamRaw => stream_raw(plan),
        Kind::Iox64Busy | Kind::Iox64Blocking | Kind::Iox4KBusy | Kind::Iox1MLoan => {
            iceoryx2_run(plan)
        }
    }
}

/// Runs the peer side of scenario `kind` on `channel`.
pub fn serve(kind: Kind, channel: &str, spin: Spin) -> Result<(), String> {
    match kind {
        Kind::RawFloor | Kind::RawFloorPureSpin => raw_floor_peer(channel, spin),
        Kind::Typed64Busy => typed_echo::<Msg64>(channel, spin, false),
        Kind::Typed64Blocking => typed_echo::<Msg64>(channel, spin, true),
        Kind::Typed4KBusy => typed_echo::<Msg4K>(channel, spin, false),
        Kind::Loan1MBusy => loan_echo(channel, spin),
        Kind::StreamTyped => stream_typed_peer(channel, spin),
        Kind::StreamRaw => stream_raw_peer(channel, spin),
        Kind::Iox64Busy | Kind::Iox64Blocking | Kind::Iox4KBusy | Kind::Iox1MLoan => {
            iceoryx2_serve(kind, channel, spin)
        }
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

/// Runs round trips `1, 2, ...`: unmeasured for the warm-up time, then
/// measured (one clock read before and after each) for the measure time.
pub(crate) fn drive(
    budget: &Budget,
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
        hist.saturating_record(t1.duration_since(t0).as_nanos() as u64 / 2);
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

// ------------------------------------------------------ 1 MiB, loan + borrow

/// Ring options for the 1 MiB topics: a pool of 4 + 1 + 2 chunks (7 MiB).
const LOAN_OPTIONS: PubOptions = PubOptions {
    capacity: 4,
    max_payload: 4096,
    borrow_budget: 2,
};

fn loan_ping_pong(plan: &Plan) -> Result<Measured, String> {
    let base = plan.channel();
    let mut ping = Publisher::<Msg1M>::create_with(&format!("{base}/ping"), LOAN_OPTIONS)
        .ctx("creating ping")?;
    let mut peer = plan.spawn_peer()?;
    peer.expect("ready")?;
    let mut pong = connect::<Msg1M>(&format!("{base}/pong"))?;
    let mut waiter = Waiter::new(plan.spin);
    let lat = drive(&plan.budget, |seq| {
        let mut loan = ping.loan().ctx("loan")?;
        loan.seq = seq;
        loan.send().ctx("send")?;
        waiter.reset();
        loop {
            match pong.try_borrow() {
                Ok(sample) if sample.seq == seq => return Ok(()),
                Ok(sample) => return Err(format!("expected echo of {seq}, got {}", sample.seq)),
                Err(BorrowError::Empty) => waiter.pause()?,
                Err(e) => return Err(format!("try_borrow: {e}")),
            }
        }
    })?;
    let mut loan = ping.loan().ctx("loan")?;
    loan.seq = STOP;
    loan.send().ctx("send")?;
    if pong.missed() != 0 {
        return Err(format!("{} pongs missed", pong.missed()));
    }
    peer.finish()?;
    Ok(Measured::PingPong(lat))
}

fn loan_echo(base: &str, spin: Spin) -> Result<(), String> {
    let mut pong = Publisher::<Msg1M>::create_with(&format!("{base}/pong"), LOAN_OPTIONS)
        .ctx("creating pong")?;
    let mut ping = connect::<Msg1M>(&format!("{base}/ping"))?;
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
        if sample.seq == STOP {
            return Ok(());
        }
        let mut loan = pong.loan().ctx("loan")?;
        loan.seq = sample.seq;
        loan.stamp = sample.stamp;
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
        PubOptions {
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
