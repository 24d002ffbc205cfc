//! Topics: local samples out to Zenoh, remote samples into local topics.
//!
//! # Delivery
//! A sample crosses at most once per importing host, in order per
//! publisher. Congested links drop samples of topics not listed in
//! `topics.block` (sensors: the next sample supersedes); the listed ones
//! make the exporter wait for room (commands; TCP links are reliable
//! either way, so nothing of a blocking topic is lost while the link is
//! up). Like a local subscriber, an exporter that falls behind its ring
//! skips to the oldest sample still there.
//!
//! # No loops, no duplicates
//! A bridge exports only topics whose publisher is another live local
//! process: never one it publishes itself (an imported topic), so with any
//! number of bridges a sample leaves its host once. An importer ignores
//! samples whose origin is itself, and samples it has seen (same origin,
//! sequence number not above the last one).

use std::collections::{HashMap, VecDeque};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use shm_comm::pubsub::{ConnectOptions, Expect, PubOptions, RawPublisher, RawSubscriber};
use shm_comm::segment::{self, Payload};
use shm_comm::{Codec, RecvTimeoutError, TryRecvError};
use zenoh::bytes::ZBytes;
use zenoh::qos::CongestionControl;
use zenoh::sample::Sample;
use zenoh::Wait;

use crate::bridge::{lock, log, Shared, Stats, TICK};
use crate::config::matches;
use crate::wire::{Header, Kind};

/// The largest ring an importer creates (slots), whatever a peer says.
const MAX_CAPACITY: u32 = 1 << 16;
/// The largest dynamic frame an importer accepts, whatever a peer says.
const MAX_FRAME: u32 = 64 << 20;
/// How long a refused topic stays refused before it is checked again
/// (the local publisher may have gone).
const RECHECK: Duration = Duration::from_secs(2);

/// The next message of `sub` in a buffer of its own size (handed to
/// Zenoh without a copy), waiting until `deadline`.
pub(crate) fn take(
    sub: &mut RawSubscriber,
    deadline: Option<Instant>,
) -> Result<(Vec<u8>, Codec), RecvTimeoutError> {
    loop {
        let got = sub.try_recv_with(|len, copy| {
            let mut v = vec![0u8; len];
            copy(&mut v);
            Ok::<_, std::convert::Infallible>(v)
        });
        match got {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(never)) => match never {},
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Corrupt(c)) => return Err(RecvTimeoutError::Corrupt(c)),
        }
        if !sub.wait(deadline) {
            return Err(RecvTimeoutError::Timeout);
        }
    }
}

/// Reads local topic `name` and puts every sample on Zenoh, until the
/// bridge stops.
pub(crate) fn export(sh: &Shared, name: &str) {
    let mut sub = match RawSubscriber::connect(
        name,
        Expect::Any,
        ConnectOptions::with_timeout(Duration::from_secs(1)),
    ) {
        Ok(s) => s,
        Err(e) => return log(format!("`{name}`: cannot export: {e}")),
    };
    let layout = sub.layout();
    if let Some(l) = &layout {
        sh.offer_layout(l);
    }
    let block = matches(&sh.cfg.topics.block, name);
    let publisher = sh
        .session
        .declare_publisher(sh.key("", name))
        .congestion_control(if block {
            CongestionControl::Block
        } else {
            CongestionControl::Drop
        })
        .wait();
    let publisher = match publisher {
        Ok(p) => p,
        Err(e) => return log(format!("`{name}`: cannot declare its publisher: {e}")),
    };
    let geo = sub.geometry();
    let mut header = Header::new(Kind::Sample, sh.id);
    header.hash = layout.as_ref().map_or(0, |l| l.hash());
    header.a = geo.capacity;
    header.b = geo.max_payload;
    log(format!("exporting `{name}`"));
    while !sh.stopped() {
        match take(&mut sub, Some(Instant::now() + TICK)) {
            Ok((data, codec)) => {
                header.codec = codec;
                let put = publisher
                    .put(data)
                    .attachment(header.encode().to_vec())
                    .wait();
                match put {
                    Ok(()) => Stats::bump(&sh.stats.exported),
                    Err(e) => log(format!("`{name}`: put: {e}")),
                }
                header.seq += 1;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(e) => {
                log(format!("`{name}`: {e}"));
                std::thread::sleep(TICK);
            }
        }
    }
}

/// A topic this bridge publishes locally.
struct Import {
    publisher: RawPublisher,
    hash: u64,
    /// The last sequence number seen of each origin.
    last: HashMap<u64, u64>,
}

/// What an importer knows of each topic.
#[derive(Default)]
struct Imports {
    topics: HashMap<String, Import>,
    /// Topics refused (layout differs, or a local publisher), with the
    /// hash refused and when.
    refused: HashMap<String, (u64, Instant)>,
}

/// The importer of one subscribed key pattern. Zenoh's receiving thread
/// calls [`on_sample`](Self::on_sample), which publishes a sample of a
/// topic already open at once, whatever its size: a hand-over to another
/// thread adds a wake-up (with 1 MiB samples handed over, the bridged
/// rate was 85% of plain Zenoh's, against 99% published in place; medians
/// of 5 runs of `shmc-bridge-bench`). Everything else (a new topic, a new
/// layout) queues for the import thread ([`run`](Self::run)).
/// Opening a topic fetches its layout with a Zenoh query, which must not
/// wait on the receiving thread that would deliver the reply.
#[derive(Default)]
pub(crate) struct Importer {
    state: Mutex<ImportState>,
    queued: Condvar,
}

#[derive(Default)]
struct ImportState {
    imports: Imports,
    /// Samples for the import thread, in arrival order. While it is not
    /// empty every sample queues behind it: a topic's samples are
    /// published in the order they came.
    backlog: VecDeque<Sample>,
}

impl Importer {
    /// Zenoh's callback for a sample of the pattern.
    pub(crate) fn on_sample(&self, sh: &Shared, sample: Sample) {
        let Some((h, at)) = check(sh, &sample) else {
            return;
        };
        let name = &sample.key_expr().as_str()[at..];
        let mut st = lock(&self.state);
        if st.backlog.is_empty() {
            let open = st
                .imports
                .topics
                .get(name)
                .is_some_and(|t| t.hash == h.hash);
            if open {
                return deliver(sh, &mut st.imports, name, &h, &sample);
            }
            if st.imports.refused_now(name, h.hash) {
                return Stats::bump(&sh.stats.refused);
            }
        }
        st.backlog.push_back(sample);
        drop(st);
        self.queued.notify_one();
    }

    /// The import thread: opens new topics and publishes what queued,
    /// until the bridge stops.
    pub(crate) fn run(&self, sh: &Shared) {
        while !sh.stopped() {
            let mut st = lock(&self.state);
            if st.backlog.is_empty() {
                st = self
                    .queued
                    .wait_timeout(st, TICK)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            let Some(sample) = st.backlog.pop_front() else {
                continue;
            };
            // It passed `check` in `on_sample`: it passes again.
            let Some((h, at)) = check(sh, &sample) else {
                continue;
            };
            let name = &sample.key_expr().as_str()[at..];
            if st
                .imports
                .topics
                .get(name)
                .is_some_and(|t| t.hash == h.hash)
            {
                deliver(sh, &mut st.imports, name, &h, &sample);
                continue;
            }
            if st.imports.refused_now(name, h.hash) {
                Stats::bump(&sh.stats.refused);
                continue;
            }
            // Not locked while opening: the receiving thread goes on
            // publishing the topics already open, and queues the samples
            // of this one behind this sample.
            drop(st);
            let opened = open(sh, name, &h);
            let mut st = lock(&self.state);
            let imports = &mut st.imports;
            match opened {
                Ok(publisher) => {
                    imports.refused.remove(name);
                    imports.topics.insert(
                        name.to_owned(),
                        Import {
                            publisher,
                            hash: h.hash,
                            last: HashMap::new(),
                        },
                    );
                    deliver(sh, imports, name, &h, &sample);
                }
                Err(why) => {
                    let again = imports.refused.get(name).is_some_and(|r| r.0 == h.hash);
                    if !again {
                        log(format!("refused `{name}`: {why}"));
                    }
                    imports
                        .refused
                        .insert(name.to_owned(), (h.hash, Instant::now()));
                    Stats::bump(&sh.stats.refused);
                }
            }
        }
    }
}

impl Imports {
    /// `true` if topic `name` was refused with layout `hash` less than
    /// `RECHECK` ago.
    fn refused_now(&self, name: &str, hash: u64) -> bool {
        self.refused
            .get(name)
            .is_some_and(|(h, at)| *h == hash && at.elapsed() < RECHECK)
    }
}

/// The header of `sample` and where its channel name starts in its key,
/// if it is a sample to import (counted and logged if it is malformed).
fn check(sh: &Shared, sample: &Sample) -> Option<(Header, usize)> {
    let header = sample
        .attachment()
        .ok_or_else(|| "no attachment".to_owned())
        .and_then(|a| Header::decode(&a.to_bytes()).map_err(|e| e.to_string()));
    let key = sample.key_expr().as_str();
    let h = match header {
        Ok(h) if h.kind == Kind::Sample => h,
        Ok(h) => {
            bad(sh, key, &format!("a {:?} message on a topic key", h.kind));
            return None;
        }
        Err(e) => {
            bad(sh, key, &e);
            return None;
        }
    };
    if h.origin == sh.id {
        Stats::bump(&sh.stats.own);
        return None;
    }
    let Some(name) = key
        .strip_prefix(sh.cfg.domain.as_str())
        .and_then(|k| k.strip_prefix('/'))
    else {
        bad(sh, key, "outside the domain");
        return None;
    };
    if segment::validate_name(name).is_err() {
        bad(sh, key, "not a channel name");
        return None;
    }
    if !matches(&sh.cfg.topics.import, name) {
        return None;
    }
    Some((h, key.len() - name.len()))
}

/// Publishes `sample` on open topic `name`, unless it was seen already.
fn deliver(sh: &Shared, imports: &mut Imports, name: &str, h: &Header, sample: &Sample) {
    let Some(t) = imports.topics.get_mut(name) else {
        return;
    };
    if let Some(&last) = t.last.get(&h.origin) {
        if h.seq <= last {
            return Stats::bump(&sh.stats.duplicates);
        }
    }
    t.last.insert(h.origin, h.seq);
    match publish(&mut t.publisher, sample.payload(), h.codec) {
        Ok(()) => Stats::bump(&sh.stats.imported),
        Err(e) => bad(sh, sample.key_expr().as_str(), &e),
    }
}

/// Writes `payload` straight into a loaned slot, slice by slice (a large
/// sample arrives in fragments: no copy into a contiguous buffer first).
fn publish(p: &mut RawPublisher, payload: &ZBytes, codec: Codec) -> Result<(), String> {
    let len = payload.len();
    let mut loan = p.loan().map_err(|e| e.to_string())?;
    if len > loan.capacity() {
        return Err(format!("{len} bytes for slots of {}", loan.capacity()));
    }
    let slot = loan.as_mut_bytes();
    let mut at = 0;
    for s in payload.slices() {
        // `len` is the sum of the slices' lengths, checked above against
        // the slot: `at + s.len() <= len <= slot.len()`.
        slot[at..at + s.len()].copy_from_slice(s);
        at += s.len();
    }
    // A typed topic refuses a length other than its type's size.
    loan.send(len, codec).map_err(|e| e.to_string())
}

fn bad(sh: &Shared, key: &str, why: &str) {
    Stats::bump(&sh.stats.bad);
    log(format!("{key}: dropped: {why}"));
}

/// Creates local topic `name` for the remote samples `h` describes, or
/// says why not.
fn open(sh: &Shared, name: &str, h: &Header) -> Result<RawPublisher, String> {
    let layout = match h.hash {
        0 => None,
        hash => Some(sh.layout(hash)?),
    };
    if let Ok(info) = segment::inspect(name, "pub") {
        let live = info.creator_alive && info.creator_pid != std::process::id();
        if live {
            let diff = match (&layout, &info.layout) {
                (Some(remote), Some(local)) => remote.first_difference(local),
                (None, None) => None,
                (Some(_), None) => Some("remote typed, local dynamic".into()),
                (None, Some(_)) => Some("remote dynamic, local typed".into()),
            };
            return Err(match diff {
                Some(d) => format!(
                    "its remote layout differs from the local topic's (publisher pid {}): {d}",
                    info.creator_pid
                ),
                None => format!(
                    "a local process (pid {}) publishes it already",
                    info.creator_pid
                ),
            });
        }
    }
    // Marked before the segment exists, so that the scanner never sees
    // it as a local topic to export.
    lock(&sh.ours).insert(format!("pub/{name}"));
    let payload = layout.as_ref().map_or(Payload::Dynamic, Payload::of_layout);
    let opts = PubOptions {
        capacity: h.a.clamp(2, MAX_CAPACITY),
        max_payload: h.b.clamp(1, MAX_FRAME),
        ..PubOptions::default()
    };
    let p = RawPublisher::create(name, &payload, opts).map_err(|e| e.to_string())?;
    if let Some(l) = &layout {
        sh.offer_layout(l);
    }
    log(format!("importing `{name}`"));
    Ok(p)
}
