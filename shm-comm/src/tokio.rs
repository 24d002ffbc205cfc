//! Futures and streams for tokio (the `tokio` feature): [`Async<H>`] wraps
//! a handle with a [doorbell](crate::bells) registered with tokio's
//! reactor, so that a task waits on shm-comm channels next to sockets and
//! timers, and thousands of waits cost no thread.
//!
//! ```no_run
//! use shm_comm::pubsub::DynSubscriber;
//! use shm_comm::tokio::Async;
//!
//! // Inside a tokio runtime with IO and time enabled (`#[tokio::main]`).
//! async fn print_imu() -> Result<(), Box<dyn std::error::Error>> {
//!     let mut imu = Async::new(DynSubscriber::connect("robot/imu")?)?;
//!     loop {
//!         let frame = imu.recv_async().await?;
//!         println!("{} bytes", frame.data.len());
//!     }
//! }
//! ```
//! A node that waits on several topics and a service at once is
//! `examples/tokio_node.rs`: each channel is a future (`tokio::select!`) or
//! a [`Stream`] (subscribers and pullers).
//!
//! # What the futures do
//! - Each `Async` handle has its own bell and one slot on the doorbell
//!   board (at most 4,096 armed slots per user, shared with
//!   [`Poller`](crate::poll::Poller)s). A receive first tries to take a
//!   message; only when there is none does it arm the slot (which looks
//!   again, see [the re-check rule](crate::bells#the-re-check-rule-edge-triggered-one-shot))
//!   and wait for the bell. A publisher makes a system call only while
//!   such a receive sleeps.
//! - Cancellation: dropping a receive future consumes nothing (a message
//!   is taken only in the poll that returns it), so the next receive gets
//!   it. Dropping a [`request_async`](Async::request_async) future
//!   withdraws the call: a reply that comes later is discarded
//!   ([`Delivery::Discarded`](crate::reqrep::Delivery) for the replier).
//!   Dropping a `send_async` future sends nothing (the job is dropped).
//! - Receives wait without a deadline, as the blocking `recv` does: put
//!   them in `tokio::time::timeout` or `tokio::select!` for one. A
//!   request takes its timeout as the blocking one does.
//!
//! # Panics
//! [`Async::new`] must be called inside a tokio runtime whose IO driver is
//! enabled; [`request_async`](Async::request_async) also needs the time
//! driver (`#[tokio::main]` enables both).

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::Interest;
use ::tokio::time::Instant as TokioInstant;
use futures_core::Stream;

use crate::bells::{Bell, Watch};
use crate::codec::{Codec, Frame};
use crate::error::{
    BlockingSendError, DynSendTimeoutError, DynTrySendError, RecvError, RecvTimeoutError,
    TryRecvError, TrySendError,
};
use crate::message::{as_bytes, read_from_bytes, ByValue, ShmMessage};
use crate::multipub::{DynMultiSubscriber, MultiSubscriber, PublisherId};
use crate::pipeline::{DynPuller, DynPusher, Puller, Pusher};
use crate::pubsub::{DynSubscriber, Subscriber};
use crate::reqrep::{
    Call, Delivery, DynReplier, DynRequester, RawRequester, Replier, ReplyError, RequestError,
    Requester,
};

/// A handle of shm-comm made awaitable: `Async<Subscriber<T>>`,
/// `Async<DynSubscriber>`, `Async<MultiSubscriber<T>>`,
/// `Async<DynMultiSubscriber>`, `Async<Puller<T>>`, `Async<DynPuller>`
/// receive with `recv_async` and are [`Stream`]s; `Async<Pusher<T>>` and
/// `Async<DynPusher>` wait for room with `send_async`;
/// `Async<Requester<..>>` and `Async<DynRequester>` call with
/// `request_async`; `Async<Replier<..>>` and `Async<DynReplier>` take
/// requests with `recv_async`. See the [module docs](self).
#[derive(Debug)]
pub struct Async<H> {
    handle: H,
    watch: Watch,
    bell: AsyncFd<Bell>,
    /// When the current wait began (the first take that found nothing).
    wait_started: Option<Instant>,
    /// The last wait was shorter than `SPIN_PAYS`: messages come back to
    /// back, so spinning a little pays.
    streaming: bool,
    /// While set and not reached: yield to the runtime and look again
    /// instead of arming the bell.
    spin_until: Option<Instant>,
}

/// While messages come back to back (the last wait was shorter than
/// this), a take that finds nothing looks again for up to `SPIN`,
/// yielding to the other tasks between looks, before it arms its bell:
/// a ping-pong or a burst is then taken without a wake-up through the
/// kernel (about 20 us here), as the blocking receive spins for it. A
/// receive fed at 1 kHz waits about 1 ms each time, and never spins.
const SPIN_PAYS: Duration = Duration::from_micros(50);
const SPIN: Duration = Duration::from_micros(20);

// The handle is never pinned: `Async` moves freely whatever `H` is (a
// message type, through `PhantomData`, could otherwise make it `!Unpin`).
impl<H> Unpin for Async<H> {}

impl<H> Async<H> {
    /// Wraps `handle`, with a new bell registered with the current tokio
    /// runtime's reactor.
    ///
    /// # Panics
    /// Outside a tokio runtime, or in one without its IO driver.
    pub fn new(handle: H) -> io::Result<Async<H>> {
        let bell = Bell::new()?;
        let watch = bell.watch()?;
        // SAFETY: the bell owns its socket (a private `OwnedFd`, never
        // replaced), so `as_raw_fd` returns the same open descriptor until
        // the bell drops, and the `AsyncFd` owns the bell until it drops.
        let bell = unsafe { AsyncFd::register_with_interest(bell, Interest::READABLE) }?;
        Ok(Async {
            handle,
            watch,
            bell,
            wait_started: None,
            streaming: false,
            spin_until: None,
        })
    }

    /// The wrapped handle (for its non-waiting calls: `try_recv`,
    /// statistics, replies).
    pub fn get_ref(&self) -> &H {
        &self.handle
    }

    /// The wrapped handle, mutably.
    pub fn get_mut(&mut self) -> &mut H {
        &mut self.handle
    }

    /// Unwraps the handle (its bell and slot are freed).
    pub fn into_inner(self) -> H {
        self.handle
    }

    /// Takes what `take` finds, else arms the slot with `arm` and waits
    /// for the bell: the loop of the re-check rule.
    fn poll_take<R, E>(
        &mut self,
        cx: &mut Context<'_>,
        mut take: impl FnMut(&mut H) -> Result<Option<R>, E>,
        mut arm: impl FnMut(&mut H, &mut Watch) -> bool,
    ) -> Poll<Result<R, E>> {
        let mut raced = false;
        loop {
            match take(&mut self.handle) {
                Ok(Some(r)) => {
                    if let Some(w) = self.wait_started.take() {
                        self.streaming = w.elapsed() < SPIN_PAYS;
                    }
                    self.spin_until = None;
                    return Poll::Ready(Ok(r));
                }
                Ok(None) => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            let now = Instant::now();
            self.wait_started.get_or_insert(now);
            let streaming = self.streaming;
            let until = *self
                .spin_until
                .get_or_insert(if streaming { now + SPIN } else { now });
            if now < until {
                // Look again after the other tasks had a turn.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if arm(&mut self.handle, &mut self.watch) {
                // Something came between the take and the arming: take it.
                // Twice in a row (a slot still being written): let the
                // other tasks run first rather than spin here.
                if raced {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                raced = true;
                continue;
            }
            if poll_rung(&self.bell, cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

/// Polls the bell: ready once it rang (then drained, for the next arming).
fn poll_rung(bell: &AsyncFd<Bell>, cx: &mut Context<'_>) -> Poll<()> {
    match bell.poll_read_ready(cx) {
        Poll::Pending => Poll::Pending,
        Poll::Ready(Ok(mut guard)) => {
            // Clear tokio's readiness first, then take the rings: a ring
            // that comes between sets readiness again (at worst one
            // spurious wake-up), and every caller re-checks its channel
            // after this returns, so none is missed.
            guard.clear_ready();
            bell.get_ref().drain();
            Poll::Ready(())
        }
        Poll::Ready(Err(e)) => {
            panic!("shm-comm: the tokio reactor failed while waiting on a doorbell: {e}")
        }
    }
}

/// Waits for the bell until `deadline` (forever if `None`); `false` if
/// the deadline passed first.
async fn rung_until(bell: &AsyncFd<Bell>, deadline: Option<TokioInstant>) -> bool {
    let rung = poll_fn(|cx| poll_rung(bell, cx));
    match deadline {
        None => {
            rung.await;
            true
        }
        Some(d) => ::tokio::time::timeout_at(d, rung).await.is_ok(),
    }
}

/// Returns `Pending` once (waking itself): lets the other tasks run.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A receive's result as `poll_take` wants it: `None` when empty.
fn taken<R>(r: Result<R, TryRecvError>) -> Result<Option<R>, RecvError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(TryRecvError::Empty) => Ok(None),
        Err(TryRecvError::Corrupt(s)) => Err(RecvError::Corrupt(s)),
    }
}

impl<T: ShmMessage> Async<Subscriber<T>> {
    /// Polls for the next message (what [`recv_async`](Self::recv_async)
    /// and the [`Stream`] do).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        self.poll_take(cx, |s| taken(s.try_recv()), |s, w| s.raw_mut().arm(w))
    }

    /// Receives the next message. Cancel-safe: dropped before it
    /// completes, it has taken nothing.
    pub async fn recv_async(&mut self) -> Result<T, RecvError> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Receives the next message into `out` (any size, no stack used; see
    /// [`Subscriber::try_recv_into`]). Cancel-safe, as `recv_async`.
    pub async fn recv_into_async(&mut self, out: &mut T) -> Result<(), RecvError> {
        poll_fn(|cx| {
            self.poll_take(
                cx,
                |s| taken(s.try_recv_into(&mut *out)),
                |s, w| s.raw_mut().arm(w),
            )
        })
        .await
    }
}

impl Async<DynSubscriber> {
    /// Polls for the next frame.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Frame, RecvError>> {
        self.poll_take(cx, |s| taken(s.try_recv()), |s, w| s.raw_mut().arm(w))
    }

    /// Receives the next frame. Cancel-safe: dropped before it completes,
    /// it has taken nothing.
    pub async fn recv_async(&mut self) -> Result<Frame, RecvError> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }
}

impl<T: ShmMessage> Async<Puller<T>> {
    /// Polls for the next job.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        self.poll_take(cx, |p| taken(p.try_recv()), |p, w| p.arm(w))
    }

    /// Takes the next job. Cancel-safe: dropped before it completes, it
    /// has taken nothing (the job stays queued for any puller).
    pub async fn recv_async(&mut self) -> Result<T, RecvError> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Takes the next job into `out` (see [`Puller::try_recv_into`]).
    /// Cancel-safe, as `recv_async`.
    pub async fn recv_into_async(&mut self, out: &mut T) -> Result<(), RecvError> {
        poll_fn(|cx| self.poll_take(cx, |p| taken(p.try_recv_into(&mut *out)), |p, w| p.arm(w)))
            .await
    }
}

impl Async<DynPuller> {
    /// Polls for the next frame.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Frame, RecvError>> {
        self.poll_take(cx, |p| taken(p.try_recv()), |p, w| p.arm(w))
    }

    /// Takes the next frame. Cancel-safe: dropped before it completes, it
    /// has taken nothing.
    pub async fn recv_async(&mut self) -> Result<Frame, RecvError> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }
}

impl<T: ShmMessage> Async<MultiSubscriber<T>> {
    /// Polls for the next message of any publisher, with its sender.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<(PublisherId, T), RecvError>> {
        self.poll_take(cx, |s| taken(s.try_recv()), |s, w| s.raw_mut().arm(w))
    }

    /// Receives the next message of any publisher (see the merge order in
    /// [`crate::multipub`]). Cancel-safe: dropped before it completes, it
    /// has taken nothing.
    pub async fn recv_async(&mut self) -> Result<(PublisherId, T), RecvError> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }
}

impl Async<DynMultiSubscriber> {
    /// Polls for the next frame of any publisher, with its sender.
    pub fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(PublisherId, Frame), RecvError>> {
        self.poll_take(cx, |s| taken(s.try_recv()), |s, w| s.raw_mut().arm(w))
    }

    /// Receives the next frame of any publisher. Cancel-safe: dropped
    /// before it completes, it has taken nothing.
    pub async fn recv_async(&mut self) -> Result<(PublisherId, Frame), RecvError> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }
}

/// Messages as they come, with their senders; the stream never ends.
impl<T: ShmMessage> Stream for Async<MultiSubscriber<T>> {
    type Item = Result<(PublisherId, T), RecvError>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx).map(Some)
    }
}

/// Frames as they come, with their senders; the stream never ends.
impl Stream for Async<DynMultiSubscriber> {
    type Item = Result<(PublisherId, Frame), RecvError>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx).map(Some)
    }
}

/// Messages as they come; the stream never ends (a topic outlives its
/// publishers: a new one is followed).
impl<T: ShmMessage> Stream for Async<Subscriber<T>> {
    type Item = Result<T, RecvError>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx).map(Some)
    }
}

/// Frames as they come; the stream never ends.
impl Stream for Async<DynSubscriber> {
    type Item = Result<Frame, RecvError>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx).map(Some)
    }
}

/// Jobs as they come; the stream never ends.
impl<T: ShmMessage> Stream for Async<Puller<T>> {
    type Item = Result<T, RecvError>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx).map(Some)
    }
}

/// Frames as they come; the stream never ends.
impl Stream for Async<DynPuller> {
    type Item = Result<Frame, RecvError>;
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx).map(Some)
    }
}

impl<T: ShmMessage> Async<Pusher<T>> {
    /// Pushes `job`, waiting as long as the queue is full (backpressure).
    /// Dropped before it completes, it has sent nothing (and drops `job`).
    pub async fn send_async(&mut self, job: T) -> Result<(), BlockingSendError<T>> {
        let mut job = job;
        let mut raced = false;
        loop {
            match self.handle.try_send(job) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(j)) => job = j,
                Err(TrySendError::Corrupt(j, why)) => {
                    return Err(BlockingSendError::Corrupt(j, why))
                }
            }
            if self.handle.arm_room(&mut self.watch) {
                // Room came since the try (twice in a row: let others run).
                if std::mem::replace(&mut raced, true) {
                    YieldNow(false).await;
                    raced = false;
                }
                continue;
            }
            raced = false;
            rung_until(&self.bell, None).await;
        }
    }
}

impl Async<DynPusher> {
    /// Pushes a frame, waiting as long as the queue is full. Never
    /// [`Timeout`](DynSendTimeoutError::Timeout) (wrap it in
    /// `tokio::time::timeout` for one). Dropped before it completes, it
    /// has sent nothing.
    pub async fn send_async(
        &mut self,
        data: &[u8],
        codec: Codec,
    ) -> Result<(), DynSendTimeoutError> {
        let mut raced = false;
        loop {
            match self.handle.try_send(data, codec) {
                Ok(()) => return Ok(()),
                Err(DynTrySendError::Full) => {}
                Err(DynTrySendError::TooLarge { len, max }) => {
                    return Err(DynSendTimeoutError::TooLarge { len, max })
                }
                Err(DynTrySendError::Corrupt(why)) => {
                    return Err(DynSendTimeoutError::Corrupt(why))
                }
            }
            if self.handle.arm_room(&mut self.watch) {
                if std::mem::replace(&mut raced, true) {
                    YieldNow(false).await;
                    raced = false;
                }
                continue;
            }
            raced = false;
            rung_until(&self.bell, None).await;
        }
    }
}

/// How long a request waits before sending again when the queue has room
/// but its mailbox is still busy (a replier finishing a reply to a call
/// this requester withdrew: microseconds).
const BUSY_RETRY: Duration = Duration::from_micros(200);

/// Withdraws the call when dropped before its reply was taken: a future
/// dropped mid-call leaves no call behind.
struct Withdraw<'a> {
    raw: &'a RawRequester,
    pending: Option<crate::reqrep::Pending>,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.pending.take() {
            self.raw.cancel(p);
        }
    }
}

/// Sends a request through `raw` and waits for its reply into `out`,
/// until `timeout`, on `bell` with `watch`.
async fn call(
    raw: &RawRequester,
    watch: &mut Watch,
    bell: &AsyncFd<Bell>,
    (data, codec): (&[u8], Codec),
    timeout: Duration,
    out: &mut Vec<u8>,
) -> Result<Codec, RequestError> {
    let deadline = TokioInstant::now().checked_add(timeout);
    let past = || deadline.is_some_and(|d| TokioInstant::now() >= d);
    let pending = loop {
        // A deadline of now: `send` never blocks the runtime's thread.
        match raw.send(data, codec, Some(Instant::now())) {
            Ok(p) => break p,
            Err(RequestError::Timeout { replier_alive }) => {
                if past() {
                    return Err(RequestError::Timeout { replier_alive });
                }
                if raw.arm_room(watch) {
                    // Room, yet refused: our mailbox is busy a moment.
                    let retry = TokioInstant::now() + BUSY_RETRY;
                    ::tokio::time::sleep_until(deadline.map_or(retry, |d| d.min(retry))).await;
                } else {
                    rung_until(bell, deadline).await;
                }
            }
            Err(e) => return Err(e),
        }
    };
    let mut call = Withdraw {
        raw,
        pending: Some(pending),
    };
    loop {
        if raw.arm_reply(&pending, watch) {
            // There: `wait_reply` with a deadline of now takes it.
            match raw.wait_reply(&pending, Some(Instant::now()), out) {
                Ok(codec) => {
                    call.pending = None;
                    return Ok(codec);
                }
                // Said ready, then not (a peer's garbage): wait on.
                Err(RequestError::Timeout { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if !rung_until(bell, deadline).await {
            // `call` withdraws the request as it drops.
            return Err(RequestError::Timeout {
                replier_alive: raw.repliers() > 0,
            });
        }
    }
}

impl<Req: ShmMessage, Rep: ShmMessage> Async<Requester<Req, Rep>> {
    /// Calls the service and waits up to `timeout` for the reply (as
    /// [`Requester::request`] does). Dropped before it completes, the call
    /// is withdrawn: a reply that comes later is discarded.
    pub async fn request_async(
        &mut self,
        req: &Req,
        timeout: Duration,
    ) -> Result<Rep, RequestError> {
        let () = ByValue::<Rep>::CHECK;
        let mut out = Vec::new();
        let Async {
            handle,
            watch,
            bell,
            ..
        } = self;
        let data = (as_bytes(req), Codec::Typed);
        call(handle.raw(), watch, bell, data, timeout, &mut out).await?;
        read_from_bytes(&out)
            .ok_or_else(|| RequestError::Corrupt(format!("reply of {} bytes", out.len())))
    }
}

impl Async<DynRequester> {
    /// Calls the service with a frame and waits up to `timeout` for the
    /// reply. Dropped before it completes, the call is withdrawn.
    pub async fn request_async(
        &mut self,
        data: &[u8],
        codec: Codec,
        timeout: Duration,
    ) -> Result<Frame, RequestError> {
        let mut out = Vec::new();
        let Async {
            handle,
            watch,
            bell,
            ..
        } = self;
        let codec = call(handle.raw(), watch, bell, (data, codec), timeout, &mut out).await?;
        Ok(Frame { codec, data: out })
    }
}

/// A request taken with a deadline of now, as `poll_take` wants it.
fn request_taken(
    r: Result<(Call, Codec), RecvTimeoutError>,
) -> Result<Option<(Call, Codec)>, RecvError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(RecvTimeoutError::Timeout) => Ok(None),
        Err(RecvTimeoutError::Corrupt(s)) => Err(RecvError::Corrupt(s)),
    }
}

impl<Req: ShmMessage, Rep: ShmMessage> Async<Replier<Req, Rep>> {
    /// Polls for the next request.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<(Call, Req), RecvError>> {
        let () = ByValue::<Req>::CHECK;
        let mut buf = Vec::new();
        let got = self.poll_take(
            cx,
            |r| request_taken(r.raw().recv_into(&mut buf, Some(Instant::now()))),
            |r, w| r.raw().arm(w),
        );
        got.map(|r| {
            let (call, _) = r?;
            let req = read_from_bytes(&buf)
                .ok_or_else(|| RecvError::Corrupt(format!("request of {} bytes", buf.len())))?;
            Ok((call, req))
        })
    }

    /// Takes the next request. Cancel-safe: dropped before it completes,
    /// it has taken nothing.
    pub async fn recv_async(&mut self) -> Result<(Call, Req), RecvError> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Replies to `call` (never waits; see [`Replier::reply`]).
    pub fn reply(&self, call: &Call, rep: &Rep) -> Result<Delivery, ReplyError> {
        self.handle.reply(call, rep)
    }
}

impl Async<DynReplier> {
    /// Polls for the next request.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<(Call, Frame), RecvError>> {
        let mut data = Vec::new();
        let got = self.poll_take(
            cx,
            |r| request_taken(r.raw().recv_into(&mut data, Some(Instant::now()))),
            |r, w| r.raw().arm(w),
        );
        got.map(|r| {
            let (call, codec) = r?;
            Ok((call, Frame { codec, data }))
        })
    }

    /// Takes the next request. Cancel-safe: dropped before it completes,
    /// it has taken nothing.
    pub async fn recv_async(&mut self) -> Result<(Call, Frame), RecvError> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Replies to `call` (never waits; see [`DynReplier::reply`]).
    pub fn reply(&self, call: &Call, data: &[u8], codec: Codec) -> Result<Delivery, ReplyError> {
        self.handle.reply(call, data, codec)
    }
}
