//! `shmc hz` and `shmc bw`: rate and bandwidth of a topic, from message
//! arrivals and the ring's loss count, without decoding (or copying)
//! payloads.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;
use shm_comm::TryRecvError;

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
}

/// What the window holds: arrival times and sizes of received messages,
/// and how many were lost before each.
struct Window {
    cap: usize,
    /// (arrival, bytes, messages missed just before this one)
    items: VecDeque<(Instant, usize, u64)>,
    total: u64,
    missed: u64,
}

impl Window {
    fn push(&mut self, at: Instant, len: usize, missed: u64) {
        if self.items.len() == self.cap {
            self.items.pop_front();
        }
        self.items.push_back((at, len, missed));
        self.total += 1;
        self.missed += missed;
    }

    /// Rate and period statistics (seconds) over the window: the rate
    /// counts lost messages too (from the ring's sequence numbers); the
    /// periods only between messages received back to back.
    fn report(&self) -> Option<serde_json::Value> {
        let (first, last) = (self.items.front()?, self.items.back()?);
        let span = last.0.duration_since(first.0).as_secs_f64();
        if self.items.len() < 2 || span <= 0.0 {
            return None;
        }
        let arrived: u64 = self.items.iter().skip(1).map(|i| 1 + i.2).sum();
        let periods: Vec<f64> = self
            .items
            .iter()
            .zip(self.items.iter().skip(1))
            .filter(|(_, b)| b.2 == 0)
            .map(|(a, b)| b.0.duration_since(a.0).as_secs_f64())
            .collect();
        let n = periods.len().max(1) as f64;
        let mean = periods.iter().sum::<f64>() / n;
        let var = periods.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / n;
        let bytes: usize = self.items.iter().skip(1).map(|i| i.1).sum();
        let sizes = self.items.iter().map(|i| i.1);
        Some(json!({
            "rate_hz": arrived as f64 / span,
            "period_mean_s": mean,
            "period_min_s": periods.iter().copied().fold(f64::INFINITY, f64::min),
            "period_max_s": periods.iter().copied().fold(0.0, f64::max),
            "period_std_s": var.sqrt(),
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

fn measure(a: &RateArgs, show: impl Fn(&serde_json::Value)) -> Res {
    let mut sub = crate::echo::connect(&a.name, a.wait)?;
    let mut w = Window {
        cap: a.window.max(2),
        items: VecDeque::new(),
        total: 0,
        missed: 0,
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
        // The length is all that is read: the payload is never copied.
        match sub.try_recv_with(|len, _copy| Ok::<usize, ()>(len)) {
            Ok(Ok((len, _))) => {
                let missed = sub.missed() - missed_seen;
                missed_seen += missed;
                w.push(Instant::now(), len, missed);
                continue;
            }
            Ok(Err(())) => {}
            Err(TryRecvError::Empty) => {}
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
        sub.wait(Some(until));
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
