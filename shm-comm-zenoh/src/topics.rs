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

use std::collections::HashMap;
use std::time::{Duration, Instant};

use shm_comm::pubsub::{ConnectOptions, Expect, PubOptions, RawPublisher, RawSubscriber};
use shm_comm::segment::{self, Payload};
use shm_comm::{Codec, RecvTimeoutError, TryRecvError};
use zenoh::bytes::ZBytes;
use zenoh::handlers::FifoChannelHandler;
use zenoh::pubsub::Subscriber;
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

/// Receives remote samples from `sub` and publishes them locally.
pub(crate) fn import(sh: &Shared, sub: &Subscriber<FifoChannelHandler<Sample>>) {
    let mut imports = Imports::default();
    while !sh.stopped() {
        if let Ok(Some(sample)) = sub.recv_timeout(TICK) {
            import_one(sh, &mut imports, &sample);
        }
    }
}

fn import_one(sh: &Shared, imports: &mut Imports, sample: &Sample) {
    let header = sample
        .attachment()
        .ok_or_else(|| "no attachment".to_owned())
        .and_then(|a| Header::decode(&a.to_bytes()).map_err(|e| e.to_string()));
    let key = sample.key_expr().as_str();
    let h = match header {
        Ok(h) if h.kind == Kind::Sample => h,
        Ok(h) => return bad(sh, key, &format!("a {:?} message on a topic key", h.kind)),
        Err(e) => return bad(sh, key, &e),
    };
    if h.origin == sh.id {
        return Stats::bump(&sh.stats.own);
    }
    let Some(name) = key
        .strip_prefix(sh.cfg.domain.as_str())
        .and_then(|k| k.strip_prefix('/'))
    else {
        return bad(sh, key, "outside the domain");
    };
    if segment::validate_name(name).is_err() {
        return bad(sh, key, "not a channel name");
    }
    if !matches(&sh.cfg.topics.import, name) {
        return;
    }
    let stale = imports.topics.get(name).is_some_and(|t| t.hash != h.hash);
    if stale || !imports.topics.contains_key(name) {
        if let Some((hash, at)) = imports.refused.get(name) {
            if *hash == h.hash && at.elapsed() < RECHECK {
                return Stats::bump(&sh.stats.refused);
            }
        }
        match open(sh, name, &h) {
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
            }
            Err(why) => {
                let again = imports.refused.get(name).is_some_and(|r| r.0 == h.hash);
                if !again {
                    log(format!("refused `{name}`: {why}"));
                }
                imports
                    .refused
                    .insert(name.to_owned(), (h.hash, Instant::now()));
                return Stats::bump(&sh.stats.refused);
            }
        }
    }
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
        Err(e) => bad(sh, key, &e),
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
