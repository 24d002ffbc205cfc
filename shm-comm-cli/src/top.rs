//! `shmc top`: a live table of every channel, refreshed in place.
//!
//! For each topic, top keeps a reader that takes only the length of each
//! message (no payload is copied), polled every [`POLL`]: the rate comes
//! from the publisher's sequence counter (exact, whatever top reads), the
//! bandwidth from the sizes read, and LOST counts the messages that top's
//! own reader found overwritten before it could read them (what any
//! reader polling at that pace would lose; a topic's subscribers are not
//! registered, so their own losses cannot be read from outside). Services
//! and queues show their live participants.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{json, Value};
use shm_comm::pubsub::{ConnectOptions, Expect, RawSubscriber};
use shm_comm::segment::{self, ChannelKind};
use shm_comm::{pipeline, reqrep};

use crate::rate::human_bytes;
use crate::{print_json, Res};

/// How often top's readers look for new messages.
const POLL: Duration = Duration::from_millis(5);

#[derive(Args, Debug)]
pub(crate) struct TopArgs {
    /// Seconds between refreshes (and the window of each figure).
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// Print one table after one interval, then exit.
    #[arg(long)]
    once: bool,
    /// With --once: one JSON object per channel instead of a table.
    #[arg(long, requires = "once")]
    json: bool,
}

/// top's reader of one topic and what it counted since the last refresh.
struct Monitor {
    sub: RawSubscriber,
    creator_pid: u32,
    msgs: u64,
    bytes: u64,
    missed_before: u64,
}

impl Monitor {
    fn drain(&mut self) {
        // Only the length is read: the payload is never copied.
        while let Ok(Ok((len, _))) = self.sub.try_recv_with(|len, _| Ok::<usize, ()>(len)) {
            self.msgs += 1;
            self.bytes += len as u64;
        }
    }
}

/// One row of the table.
struct Row {
    name: String,
    kind: &'static str,
    ty: String,
    rate: Option<f64>,
    bandwidth: Option<f64>,
    peers: String,
    lost: Option<u64>,
    published: Option<u64>,
    alive: bool,
}

impl Row {
    fn json(&self) -> Value {
        json!({
            "name": self.name,
            "kind": self.kind,
            "type": self.ty,
            "rate_hz": self.rate,
            "bandwidth_bytes_per_s": self.bandwidth,
            "peers": self.peers,
            "lost": self.lost,
            "published": self.published,
            "alive": self.alive,
        })
    }
}

/// The live participants of a service or queue, by role.
fn peers(info: &segment::SegmentInfo) -> String {
    let live = |code: u32| {
        info.participants
            .iter()
            .filter(|p| p.alive && p.role == code)
            .count()
    };
    match info.kind {
        ChannelKind::Request => format!(
            "{} rep, {} req",
            live(reqrep::REPLIER),
            live(reqrep::REQUESTER)
        ),
        ChannelKind::Queue => format!(
            "{} push, {} pull",
            live(pipeline::PUSHER),
            live(pipeline::PULLER)
        ),
        _ => "-".into(),
    }
}

/// Every readable segment of this user, sorted.
fn infos() -> Vec<(String, String, segment::SegmentInfo)> {
    let mut out: Vec<_> = segment::list()
        .into_iter()
        .filter_map(|(name, role)| {
            let info = segment::inspect(&name, &role).ok()?;
            Some((name, role, info))
        })
        .collect();
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

/// Brings the monitors up to date with the topics there are: a reader
/// for each new live topic, none for a topic gone or re-created.
fn refresh(
    monitors: &mut HashMap<String, Monitor>,
    infos: &[(String, String, segment::SegmentInfo)],
) {
    let topics: HashMap<&str, &segment::SegmentInfo> = infos
        .iter()
        .filter(|(_, _, i)| i.kind == ChannelKind::PubSub)
        .map(|(n, _, i)| (n.as_str(), i))
        .collect();
    monitors.retain(|name, m| {
        topics
            .get(name.as_str())
            .is_some_and(|i| i.creator_pid == m.creator_pid)
    });
    for (name, info) in topics {
        if monitors.contains_key(name) || !info.creator_alive {
            continue;
        }
        let opts = ConnectOptions::with_timeout(Duration::ZERO);
        if let Ok(sub) = RawSubscriber::connect(name, Expect::Any, opts) {
            let missed_before = sub.missed();
            monitors.insert(
                name.to_owned(),
                Monitor {
                    sub,
                    creator_pid: info.creator_pid,
                    msgs: 0,
                    bytes: 0,
                    missed_before,
                },
            );
        }
    }
}

/// Watches every channel for `window`, then makes the rows.
fn sample(monitors: &mut HashMap<String, Monitor>, window: Duration) -> Vec<Row> {
    let before = infos();
    refresh(monitors, &before);
    for m in monitors.values_mut() {
        m.drain();
        m.msgs = 0;
        m.bytes = 0;
        m.missed_before = m.sub.missed();
    }
    let start = Instant::now();
    let end = start + window;
    while Instant::now() < end {
        std::thread::sleep(POLL.min(end.saturating_duration_since(Instant::now())));
        for m in monitors.values_mut() {
            m.drain();
        }
    }
    let dt = start.elapsed().as_secs_f64();
    let published_before: HashMap<(String, String), (u32, u64)> = before
        .iter()
        .filter_map(|(n, r, i)| Some(((n.clone(), r.clone()), (i.creator_pid, i.ring?.1))))
        .collect();
    infos()
        .into_iter()
        .map(|(name, role, info)| {
            let published = info.ring.map(|(_, p)| p);
            let rate = match (published, published_before.get(&(name.clone(), role))) {
                (Some(p), Some(&(pid, b))) if pid == info.creator_pid && dt > 0.0 => {
                    Some(p.saturating_sub(b) as f64 / dt)
                }
                _ => None,
            };
            let m = (info.kind == ChannelKind::PubSub)
                .then(|| monitors.get(&name))
                .flatten();
            Row {
                kind: info.kind.noun(),
                ty: info
                    .layout
                    .as_ref()
                    .map_or("dynamic".into(), |l| l.name.clone()),
                rate,
                bandwidth: m.map(|m| m.bytes as f64 / dt),
                lost: m.map(|m| m.sub.missed() - m.missed_before),
                peers: peers(&info),
                published,
                alive: crate::channels::in_use(&info),
                name,
            }
        })
        .collect()
}

fn table(rows: &[Row]) -> String {
    let mut s = format!(
        "{:<32} {:<8} {:<20} {:>10} {:>12} {:>8} {:>16}\n",
        "NAME", "KIND", "TYPE", "RATE", "BANDWIDTH", "LOST", "PEERS"
    );
    for r in rows {
        let rate = r.rate.map_or("-".into(), |r| format!("{r:.1} Hz"));
        let bw = r
            .bandwidth
            .map_or("-".into(), |b| format!("{}/s", human_bytes(b)));
        let lost = r.lost.map_or("-".into(), |l| l.to_string());
        let name = if r.alive {
            r.name.clone()
        } else {
            format!("{} (dead)", r.name)
        };
        s.push_str(&format!(
            "{name:<32} {:<8} {:<20} {rate:>10} {bw:>12} {lost:>8} {:>16}\n",
            r.kind, r.ty, r.peers
        ));
    }
    s
}

pub(crate) fn top(a: &TopArgs) -> Res {
    let window = Duration::from_secs_f64(a.interval.clamp(0.05, 3600.0));
    let mut monitors = HashMap::new();
    if a.once {
        let rows = sample(&mut monitors, window);
        if a.json {
            rows.iter().for_each(|r| print_json(&r.json()));
        } else {
            print!("{}", table(&rows));
        }
        return Ok(());
    }
    crate::bag::catch_interrupt();
    while !crate::bag::stopped() {
        let rows = sample(&mut monitors, window);
        // Home and clear the screen, then the table: refreshed in place.
        print!(
            "\x1b[H\x1b[2Jshmc top: {} channels, every {:.1} s (Ctrl-C quits)\n\n{}",
            rows.len(),
            window.as_secs_f64(),
            table(&rows)
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }
    Ok(())
}
