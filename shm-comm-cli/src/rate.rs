//! `shmc hz` and `shmc bw`: rate and bandwidth of a topic, from message
//! arrivals and the ring's loss count, without decoding (or copying)
//! payloads.
//!
//! By default they look at the ring every `--poll-ms` instead of waiting
//! on the topic's futex: a waiting reader makes its publisher pay a
//! wake-up (a system call, and often an inter-processor interrupt) for
//! every message, which doubled the median send time of a 1 kHz
//! publisher (`shmc-bench`). A poller costs the publisher nothing; the
//! rate still counts every message, and the period statistics come from
//! each message's `stamp` (or `header.stamp`) when the typed layout has
//! one. Without stamps the periods are arrival times, resolved to the
//! poll interval; `--wake` times every arrival exactly, at the
//! publisher's expense.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;
use shm_comm::pubsub::RawSubscriber;
use shm_comm::TryRecvError;
use shm_comm::{BorrowError, FieldDescriptor, Kind, LayoutDescriptor, Scalar, TypeDesc};

use crate::{print_json, Fail, Res};

#[derive(Args, Debug)]
pub(crate) struct RateArgs {
    /// The topic name.
    name: String,
    /// Messages in the statistics window.
    #[arg(long, default_value_t = 10_000)]
    window: usize,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    duration: Option<f64>,
    /// Seconds between reports.
    #[arg(long, default_value_t = 1.0)]
    every: f64,
    /// How long to wait for the topic to exist, in seconds.
    #[arg(long, default_value_t = 2.0)]
    wait: f64,
    /// One JSON object per report.
    #[arg(long)]
    json: bool,
    /// Milliseconds between looks at the ring.
    #[arg(long, default_value_t = 1.0)]
    poll_ms: f64,
    /// Be woken by every message instead of polling: exact arrival
    /// times, but the publisher pays a wake-up per message.
    #[arg(long)]
    wake: bool,
}

/// One received message: when it was seen, its size, how many were lost
/// just before it, and its stamp in seconds if it has one.
struct Item {
    at: Instant,
    len: usize,
    missed: u64,
    stamp: Option<f64>,
}

/// What the window holds: the last `cap` messages received.
struct Window {
    cap: usize,
    items: VecDeque<Item>,
    total: u64,
    missed: u64,
    /// How finely arrival times are known (the poll interval), in seconds.
    resolution: f64,
}

impl Window {
    fn push(&mut self, item: Item) {
        if self.items.len() == self.cap {
            self.items.pop_front();
        }
        self.missed += item.missed;
        self.total += 1;
        self.items.push_back(item);
    }

    /// Period of each pair of messages received back to back: from their
    /// stamps if every message of the window has one and they never go
    /// back (publish times), else from arrival times.
    fn periods(&self) -> (Vec<f64>, &'static str) {
        let pairs = || self.items.iter().zip(self.items.iter().skip(1));
        let stamped = pairs().all(|(a, b)| match (a.stamp, b.stamp) {
            (Some(x), Some(y)) => y >= x,
            _ => false,
        });
        let back_to_back = pairs().filter(|(_, b)| b.missed == 0);
        if stamped {
            let p = back_to_back.map(|(a, b)| b.stamp.unwrap_or(0.0) - a.stamp.unwrap_or(0.0));
            (p.collect(), "stamp")
        } else {
            let p = back_to_back.map(|(a, b)| b.at.duration_since(a.at).as_secs_f64());
            (p.collect(), "arrival")
        }
    }

    /// Rate and period statistics (seconds) over the window: the rate
    /// counts lost messages too (from the ring's sequence numbers); the
    /// periods only between messages received back to back.
    fn report(&self) -> Option<serde_json::Value> {
        let (first, last) = (self.items.front()?, self.items.back()?);
        let span = last.at.duration_since(first.at).as_secs_f64();
        if self.items.len() < 2 || span <= 0.0 {
            return None;
        }
        let arrived: u64 = self.items.iter().skip(1).map(|i| 1 + i.missed).sum();
        let (periods, source) = self.periods();
        let n = periods.len().max(1) as f64;
        let mean = periods.iter().sum::<f64>() / n;
        let var = periods.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / n;
        let bytes: usize = self.items.iter().skip(1).map(|i| i.len).sum();
        let sizes = self.items.iter().map(|i| i.len);
        Some(json!({
            "rate_hz": arrived as f64 / span,
            "period_mean_s": mean,
            "period_min_s": periods.iter().copied().fold(f64::INFINITY, f64::min),
            "period_max_s": periods.iter().copied().fold(0.0, f64::max),
            "period_std_s": var.sqrt(),
            "period_source": source,
            "arrival_resolution_s": self.resolution,
            "bandwidth_bytes_per_s": bytes as f64 / span,
            "size_mean_bytes": bytes as f64 / (self.items.len() - 1) as f64,
            "size_min_bytes": sizes.clone().min(),
            "size_max_bytes": sizes.max(),
            "window": self.items.len(),
            "received": self.total,
            "missed": self.missed,
            "span_s": span,
        }))
    }
}

/// Where a typed message keeps its stamp: a `Time`-shaped field (`sec:
/// i32` then `nanosec: u32`) named `stamp`, at the top level or in a
/// top-level `header`. The offset of its first byte.
fn stamp_offset(l: &LayoutDescriptor) -> Option<usize> {
    fn plain<'a>(l: &'a LayoutDescriptor, name: &str) -> Option<&'a FieldDescriptor> {
        l.fields
            .iter()
            .find(|f| f.name == name && f.ty.shape.is_empty())
    }
    fn time_shaped(f: &FieldDescriptor) -> bool {
        let Kind::Struct(t) = &f.ty.kind else {
            return false;
        };
        matches!(t.fields.as_slice(), [s, n]
            if s.name == "sec" && s.offset == 0 && s.ty == TypeDesc::scalar(Scalar::I32)
            && n.name == "nanosec" && n.offset == 4 && n.ty == TypeDesc::scalar(Scalar::U32))
    }
    if let Some(f) = plain(l, "stamp").filter(|f| time_shaped(f)) {
        return Some(f.offset as usize);
    }
    let header = plain(l, "header")?;
    let Kind::Struct(h) = &header.ty.kind else {
        return None;
    };
    let stamp = plain(h, "stamp").filter(|f| time_shaped(f))?;
    Some(header.offset as usize + stamp.offset as usize)
}

/// The stamp at `off` in `bytes`, in seconds; `None` if it is not there
/// or unset (zero).
fn read_stamp(bytes: &[u8], off: usize) -> Option<f64> {
    let b = bytes.get(off..off.checked_add(8)?)?;
    let sec = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let nsec = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    (sec != 0 || nsec != 0).then(|| f64::from(sec) + f64::from(nsec) * 1e-9)
}

/// The next message's length and stamp, if there is one. Only the stamp's
/// 8 bytes are read, from the slot in place.
fn next(
    sub: &mut RawSubscriber,
    stamp_at: Option<usize>,
) -> Result<Option<(usize, Option<f64>)>, String> {
    if let Some(off) = stamp_at {
        match sub.try_borrow() {
            Ok(s) => return Ok(Some((s.len(), read_stamp(s.as_bytes(), off)))),
            Err(BorrowError::Empty) => return Ok(None),
            Err(BorrowError::Corrupt(c)) => return Err(c),
            // Other readers hold the topic's borrow budget: fall back to
            // the length alone for this message.
            Err(BorrowError::Limit { .. }) => {}
        }
    }
    match sub.try_recv_with(|len, _copy| Ok::<usize, ()>(len)) {
        Ok(Ok((len, _))) => Ok(Some((len, None))),
        Ok(Err(())) | Err(TryRecvError::Empty) => Ok(None),
        Err(TryRecvError::Corrupt(c)) => Err(c),
    }
}

fn measure(a: &RateArgs, show: impl Fn(&serde_json::Value)) -> Res {
    let mut sub = crate::echo::connect(&a.name, a.wait)?;
    let stamp_at = sub.layout().as_ref().and_then(stamp_offset);
    let poll = Duration::from_secs_f64(a.poll_ms.clamp(0.01, 1e4) / 1e3);
    let mut w = Window {
        cap: a.window.max(2),
        items: VecDeque::new(),
        total: 0,
        missed: 0,
        resolution: if a.wake { 0.0 } else { poll.as_secs_f64() },
    };
    let start = Instant::now();
    let end = a
        .duration
        .map(|d| start + Duration::from_secs_f64(d.clamp(0.0, 1e7)));
    let every = Duration::from_secs_f64(a.every.clamp(0.01, 3600.0));
    let mut next_report = start + every;
    let mut missed_seen = sub.missed();
    loop {
        let until = end.map_or(next_report, |e| e.min(next_report));
        match next(&mut sub, stamp_at) {
            Ok(Some((len, stamp))) => {
                let missed = sub.missed() - missed_seen;
                missed_seen += missed;
                w.push(Item {
                    at: Instant::now(),
                    len,
                    missed,
                    stamp,
                });
                continue;
            }
            Ok(None) => {}
            Err(e) => return Err(Fail::new(format!("`{}`: {e}", a.name))),
        }
        let now = Instant::now();
        if now >= until {
            if end.is_some_and(|e| now >= e) {
                break;
            }
            if let Some(r) = w.report() {
                show(&r);
            }
            next_report += every;
            continue;
        }
        if a.wake {
            sub.wait(Some(until));
        } else {
            std::thread::sleep(poll.min(until - now));
            // A wait that is already over: no sleep, but it follows a
            // publisher that was replaced, as a blocking wait would.
            sub.wait(Some(Instant::now()));
        }
    }
    match w.report() {
        Some(r) => {
            show(&r);
            Ok(())
        }
        None => Err(Fail::new(format!(
            "`{}`: fewer than 2 messages in {:.1} s",
            a.name,
            start.elapsed().as_secs_f64()
        ))),
    }
}

pub(crate) fn hz(a: &RateArgs) -> Res {
    measure(a, |r| {
        if a.json {
            return print_json(r);
        }
        let ms = |k: &str| r[k].as_f64().unwrap_or(0.0) * 1e3;
        println!(
            "average rate: {:.3} Hz\n\tmin: {:.3} ms max: {:.3} ms std dev: {:.4} ms window: {} missed: {}",
            r["rate_hz"].as_f64().unwrap_or(0.0),
            ms("period_min_s"),
            ms("period_max_s"),
            ms("period_std_s"),
            r["window"],
            r["missed"],
        );
    })
}

pub(crate) fn bw(a: &RateArgs) -> Res {
    measure(a, |r| {
        if a.json {
            return print_json(r);
        }
        let bw = r["bandwidth_bytes_per_s"].as_f64().unwrap_or(0.0);
        println!(
            "{}/s from {} messages\n\tmean: {:.0} B min: {} B max: {} B",
            human_bytes(bw),
            r["window"],
            r["size_mean_bytes"].as_f64().unwrap_or(0.0),
            r["size_min_bytes"],
            r["size_max_bytes"],
        );
    })
}

/// `b` bytes with a binary unit.
pub(crate) fn human_bytes(b: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB"];
    let mut v = b;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.2} {}", units[u])
}
