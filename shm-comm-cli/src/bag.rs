//! `shmc record` and `shmc play`: topics into an MCAP file and back.
//!
//! # Format
//! One MCAP channel per topic and codec, zstd-compressed chunks, CRCs on.
//! - Typed topics: an `omgidl` schema generated from the layout, and
//!   `cdr` messages (see [`crate::cdr`]), which Foxglove decodes. Where
//!   the layout is already laid out as CDR (every layout the derive or
//!   the schema compiler makes), a message is the CDR header and the
//!   slot's bytes, read from the ring straight after the header: no copy
//!   but the one out of shared memory and the one into the file. The
//!   channel metadata holds the layout (hex) and its hash, so that
//!   `play` rebuilds byte-identical slots of the same topic and refuses
//!   a mismatched live one. A layout CDR cannot express (fields outside
//!   the message, overlapping ones) is recorded as before: schema
//!   encoding `shm-comm-layout`, message encoding `shm-comm`, the slot's
//!   bytes as they were.
//! - Dynamic topics: no schema; message encoding `msgpack`,
//!   `shm-comm-raw` or `shm-comm-pickle` after the frame's codec.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Args;
use shm_comm::pubsub::RawSubscriber;
use shm_comm::pubsub::{PubOptions, RawPublisher};
use shm_comm::segment::{self, ChannelKind, Payload};
use shm_comm::{Codec, LayoutDescriptor, RecvTimeoutError, TryRecvError};

use crate::cdr::{self, CdrPlan};
use crate::value::hex;
use crate::{Fail, Res};

#[derive(Args, Debug)]
pub(crate) struct RecordArgs {
    /// The MCAP file to write.
    #[arg(short = 'o', long = "output")]
    output: std::path::PathBuf,
    /// Topics to record.
    names: Vec<String>,
    /// Record every topic there is now.
    #[arg(long, conflicts_with = "names")]
    all: bool,
    /// Stop after this many seconds (default: at Ctrl-C).
    #[arg(long)]
    duration: Option<f64>,
    /// Stop after this many messages in all.
    #[arg(short = 'n', long = "count")]
    count: Option<u64>,
    /// How long to wait for the named topics to exist, in seconds.
    #[arg(long, default_value_t = 2.0)]
    wait: f64,
    /// Chunk compression: `zstd` (smaller files) or `none` (the least
    /// CPU: zstd takes most of the recorder's time on camera streams).
    #[arg(long, default_value = "zstd", value_parser = ["zstd", "none"])]
    compression: String,
    /// zstd level (1 fastest; 0 zstd's default, 3).
    #[arg(long, default_value_t = 0)]
    level: u32,
    /// No progress line.
    #[arg(short, long)]
    quiet: bool,
    /// Milliseconds between looks at each topic's ring. A topic's ring
    /// must hold what arrives in that time (its capacity is in `shmc
    /// info`); drops are counted and shown.
    #[arg(long, default_value_t = 1.0)]
    poll_ms: f64,
    /// Be woken by every message instead of polling: the publisher pays a
    /// wake-up per message, so only for rings too small for the poll.
    #[arg(long)]
    wake: bool,
}

#[derive(Args, Debug)]
pub(crate) struct PlayArgs {
    /// The MCAP file to play.
    file: std::path::PathBuf,
    /// Speed factor: 2 plays twice as fast.
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Start over at the end, until interrupted.
    #[arg(long = "loop")]
    repeat: bool,
    /// Publish topic FROM as TO (repeatable): `--remap robot/pose=sim/pose`.
    #[arg(long, value_name = "FROM=TO")]
    remap: Vec<String>,
    /// Seconds between creating the topics and the first message, for
    /// subscribers to connect.
    #[arg(long, default_value_t = 0.5)]
    delay: f64,
    /// No progress line.
    #[arg(short, long)]
    quiet: bool,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP.store(true, Ordering::Relaxed);
}

/// `true` once Ctrl-C was pressed (after [`catch_interrupt`]).
pub(crate) fn stopped() -> bool {
    // Relaxed: pairs with the store in `on_interrupt`; a flag polled in
    // a loop, ordering no other data.
    STOP.load(Ordering::Relaxed)
}

/// Makes Ctrl-C stop the recording (the file is then finished properly)
/// instead of killing the process.
pub(crate) fn catch_interrupt() {
    // SAFETY: `on_interrupt` is an `extern "C" fn(c_int)`, the handler
    // type `signal` expects, and does nothing but an atomic store, which
    // is async-signal-safe.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A message taken from a topic by a recording thread.
struct Taken {
    topic: usize,
    codec: Codec,
    time: u64,
    data: Vec<u8>,
    missed: u64,
}

fn message_encoding(codec: Codec) -> String {
    match codec {
        Codec::Typed => "shm-comm".into(),
        Codec::MsgPack => "msgpack".into(),
        other => format!("shm-comm-{}", other.name().replace(' ', "-")),
    }
}

pub(crate) fn record(a: &RecordArgs) -> Res {
    let names: Vec<String> = if a.all {
        let mut v: Vec<String> = segment::list()
            .into_iter()
            .filter(|(n, role)| {
                role == "pub"
                    && segment::inspect(n, role)
                        .is_ok_and(|i| i.kind == ChannelKind::PubSub && i.creator_alive)
            })
            .map(|(n, _)| n)
            .collect();
        v.sort();
        v
    } else {
        a.names.clone()
    };
    if names.is_empty() {
        return Err(Fail::new("nothing to record: name topics, or --all"));
    }
    let mut subs = Vec::new();
    for n in &names {
        subs.push(crate::echo::connect(n, a.wait)?);
    }
    let file = std::fs::File::create(&a.output)
        .map_err(|e| Fail::new(format!("{}: {e}", a.output.display())))?;
    let mut w = mcap::WriteOptions::new()
        .compression((a.compression == "zstd").then_some(mcap::Compression::Zstd))
        .compression_level(a.level)
        .profile("")
        .library(concat!("shmc ", env!("CARGO_PKG_VERSION")))
        .create(std::io::BufWriter::new(file))?;
    // Channel metadata shared by the channels of each topic, and the CDR
    // plan of each typed topic.
    let mut base: Vec<(Option<u16>, BTreeMap<String, String>)> = Vec::new();
    let mut plans: Vec<Option<CdrPlan>> = Vec::new();
    for s in &subs {
        let geo = s.geometry();
        let mut meta = BTreeMap::from([
            ("shm_comm.capacity".to_owned(), geo.capacity.to_string()),
            (
                "shm_comm.max_payload".to_owned(),
                geo.max_payload.to_string(),
            ),
        ]);
        let (schema, plan) = match s.layout() {
            Some(l) => {
                meta.insert("shm_comm.layout".into(), hex(&l.encode(), usize::MAX));
                meta.insert("shm_comm.layout_hash".into(), format!("{:#018x}", l.hash()));
                match CdrPlan::new(&l) {
                    Ok(plan) => {
                        let (name, text) = cdr::idl(&l);
                        (
                            Some(w.add_schema(&name, "omgidl", text.as_bytes())?),
                            Some(plan),
                        )
                    }
                    Err(why) => {
                        if !a.quiet {
                            eprintln!("shmc: `{}` recorded as raw slots, not CDR: {why}", s.name());
                        }
                        (
                            Some(w.add_schema(&l.name, "shm-comm-layout", &l.encode())?),
                            None,
                        )
                    }
                }
            }
            None => (None, None),
        };
        base.push((schema, meta));
        plans.push(plan);
    }
    catch_interrupt();
    let poll = (!a.wake).then(|| Duration::from_secs_f64(a.poll_ms.clamp(0.01, 1e4) / 1e3));
    let (tx, rx) = mpsc::sync_channel::<Taken>(4096);
    let threads: Vec<_> = subs
        .into_iter()
        .enumerate()
        .map(|(topic, mut sub)| {
            let tx = tx.clone();
            // Memcpy-able CDR: the slot is read straight after the header.
            let prefix: &[u8] = match &plans[topic] {
                Some(p) if p.is_memcpy() => &cdr::HEADER,
                _ => &[],
            };
            // Named, so that the tests can tell these readers' sleeps
            // from the other threads'.
            let spawn = std::thread::Builder::new().name(format!("shmc-take-{topic}"));
            spawn.spawn(move || {
                let mut missed_seen = sub.missed();
                while !STOP.load(Ordering::Relaxed) {
                    let deadline = Some(Instant::now() + Duration::from_millis(100));
                    match take(&mut sub, prefix, deadline, poll) {
                        Ok((data, codec)) => {
                            let missed = sub.missed() - missed_seen;
                            missed_seen += missed;
                            let time = now_ns();
                            let t = Taken {
                                topic,
                                codec,
                                time,
                                data,
                                missed,
                            };
                            if tx.send(t).is_err() {
                                return;
                            }
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(_) => return,
                    }
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    drop(tx);
    let start = Instant::now();
    let end = a
        .duration
        .map(|d| start + Duration::from_secs_f64(d.clamp(0.0, 1e7)));
    let mut channels: HashMap<(usize, u32), u16> = HashMap::new();
    let (mut msgs, mut bytes, mut drops) = (0u64, 0u64, 0u64);
    let mut last_progress = Instant::now();
    let mut seq: HashMap<u16, u32> = HashMap::new();
    let encoding = |topic: usize, codec: Codec| match (&plans[topic], codec) {
        (Some(_), Codec::Typed) => "cdr".to_owned(),
        _ => message_encoding(codec),
    };
    loop {
        if end.is_some_and(|e| Instant::now() >= e) || a.count.is_some_and(|c| msgs >= c) {
            STOP.store(true, Ordering::Relaxed);
        }
        let mut taken = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(t) => t,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if STOP.load(Ordering::Relaxed) {
                    break;
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        if a.count.is_some_and(|c| msgs >= c) {
            continue; // taken after the stop: left out
        }
        let key = (taken.topic, taken.codec.tag());
        let channel = match channels.get(&key) {
            Some(&c) => c,
            None => {
                let (schema, meta) = &base[taken.topic];
                let mut meta = meta.clone();
                meta.insert("shm_comm.codec".into(), taken.codec.tag().to_string());
                let c = w.add_channel(
                    schema.unwrap_or(0),
                    &names[taken.topic],
                    &encoding(taken.topic, taken.codec),
                    &meta,
                )?;
                channels.insert(key, c);
                c
            }
        };
        if let (Some(p), Codec::Typed) = (&plans[taken.topic], taken.codec) {
            if !p.is_memcpy() {
                taken.data = p
                    .encode(&taken.data)
                    .map_err(|e| Fail::new(format!("`{}`: {e}", names[taken.topic])))?;
            }
        }
        let s = seq.entry(channel).or_insert(0);
        *s += 1;
        w.write_to_known_channel(
            &mcap::records::MessageHeader {
                channel_id: channel,
                sequence: *s,
                log_time: taken.time,
                publish_time: taken.time,
            },
            &taken.data,
        )?;
        msgs += 1;
        bytes += taken.data.len() as u64;
        drops += taken.missed;
        if !a.quiet && last_progress.elapsed() >= Duration::from_secs(1) {
            last_progress = Instant::now();
            eprint!("\rrecording: {msgs} messages, {bytes} bytes, {drops} dropped   ");
        }
    }
    STOP.store(true, Ordering::Relaxed);
    drop(rx);
    for t in threads {
        let _ = t.join();
    }
    w.finish()?;
    if !a.quiet {
        eprintln!(
            "\rrecorded {msgs} messages, {bytes} bytes, {drops} dropped into {}",
            a.output.display()
        );
    }
    Ok(())
}

/// The next message of `sub` after `prefix`, in one buffer made to
/// measure, waiting until `deadline`: woken by the message, or, with
/// `poll`, looking again after each `poll` so that the publisher never
/// has a waiter to wake (a wake-up per message doubled a 1 kHz
/// publisher's median send time in `shmc-bench`).
fn take(
    sub: &mut RawSubscriber,
    prefix: &[u8],
    deadline: Option<Instant>,
    poll: Option<Duration>,
) -> Result<(Vec<u8>, Codec), RecvTimeoutError> {
    loop {
        let got = sub.try_recv_with(|len, copy| {
            let mut v = Vec::with_capacity(prefix.len() + len);
            v.extend_from_slice(prefix);
            v.resize(prefix.len() + len, 0);
            copy(&mut v[prefix.len()..]);
            Ok::<_, std::convert::Infallible>(v)
        });
        match got {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(never)) => match never {},
            Err(TryRecvError::Empty) => {}
            Err(TryRecvError::Corrupt(c)) => return Err(RecvTimeoutError::Corrupt(c)),
        }
        match (poll, deadline) {
            (Some(p), Some(d)) => {
                let now = Instant::now();
                if now >= d {
                    return Err(RecvTimeoutError::Timeout);
                }
                std::thread::sleep(p.min(d - now));
                // A wait that is already over: no sleep, but it follows a
                // publisher that was replaced, as a blocking wait would.
                sub.wait(Some(Instant::now()));
            }
            _ => {
                if !sub.wait(deadline) {
                    return Err(RecvTimeoutError::Timeout);
                }
            }
        }
    }
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What `play` needs of a recorded channel.
struct Plan {
    topic: String,
    layout: Option<LayoutDescriptor>,
    codec: Codec,
    opts: PubOptions,
    /// Set for `cdr` messages: how to rebuild the slot.
    cdr: Option<CdrPlan>,
}

fn plan(ch: &mcap::Channel<'_>, remap: &HashMap<String, String>) -> Result<Plan, Fail> {
    let bad = |what: &str| Fail::new(format!("channel `{}`: {what}", ch.topic));
    let meta = |k: &str| ch.metadata.get(k).map(String::as_str);
    let num = |k: &str| -> Result<u32, Fail> {
        meta(k)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad(&format!("metadata `{k}` missing or not a number")))
    };
    let layout = match meta("shm_comm.layout") {
        Some(h) => {
            let bytes = unhex(h).ok_or_else(|| bad("layout is not hex"))?;
            let l = LayoutDescriptor::decode(&bytes).map_err(|e| bad(&e.to_string()))?;
            let hash = format!("{:#018x}", l.hash());
            if meta("shm_comm.layout_hash") != Some(hash.as_str()) {
                return Err(bad("layout does not match its recorded hash"));
            }
            Some(l)
        }
        None => None,
    };
    let topic = remap
        .get(&ch.topic)
        .cloned()
        .unwrap_or_else(|| ch.topic.clone());
    segment::validate_name(&topic).map_err(|e| bad(&e.to_string()))?;
    let cdr = match (ch.message_encoding.as_str(), &layout) {
        ("cdr", Some(l)) => Some(CdrPlan::new(l).map_err(|e| bad(&e))?),
        ("cdr", None) => return Err(bad("cdr messages without a layout in the metadata")),
        _ => None,
    };
    Ok(Plan {
        cdr,
        topic,
        layout,
        codec: Codec::from_tag(num("shm_comm.codec")?),
        opts: PubOptions {
            capacity: num("shm_comm.capacity")?,
            max_payload: num("shm_comm.max_payload")?,
            ..PubOptions::default()
        },
    })
}

/// A publisher for `p`, refusing a topic that a live process owns (and
/// saying how its layout differs from the recording's).
fn publisher(p: &Plan) -> Result<RawPublisher, Fail> {
    if let Ok(info) = segment::inspect(&p.topic, "pub") {
        if crate::channels::in_use(&info) {
            let diff = match (&p.layout, &info.layout) {
                (Some(ours), Some(theirs)) => ours.first_difference(theirs),
                (None, None) => None,
                (Some(_), None) => Some("the recording is typed, the live topic dynamic".into()),
                (None, Some(_)) => Some("the recording is dynamic, the live topic typed".into()),
            };
            return Err(Fail::new(match diff {
                Some(d) => format!(
                    "`{}` is live (pid {}) with another layout: {d}",
                    p.topic, info.creator_pid
                ),
                None => format!(
                    "`{}` already has a live publisher (pid {}); --remap it to a free name",
                    p.topic, info.creator_pid
                ),
            }));
        }
    }
    let payload = p
        .layout
        .as_ref()
        .map_or(Payload::Dynamic, Payload::of_layout);
    Ok(RawPublisher::create(&p.topic, &payload, p.opts)?)
}

pub(crate) fn play(a: &PlayArgs) -> Res {
    let mut remap = HashMap::new();
    for r in &a.remap {
        let (from, to) = r
            .split_once('=')
            .ok_or_else(|| Fail::new(format!("--remap {r}: expected FROM=TO")))?;
        remap.insert(from.to_owned(), to.to_owned());
    }
    if !(a.rate > 0.0 && a.rate.is_finite()) {
        return Err(Fail::new(format!("--rate {}: must be above 0", a.rate)));
    }
    let what = a.file.display();
    let buf = std::fs::read(&a.file).map_err(|e| Fail::new(format!("{what}: {e}")))?;
    // Everything is read (and every CRC checked) before anything is
    // published: a corrupt file publishes nothing.
    let messages = mcap::MessageStream::new(&buf)
        .and_then(|s| s.collect::<Result<Vec<_>, _>>())
        .map_err(|e| Fail::new(format!("{what} is not a readable MCAP file: {e}")))?;
    let mut plans: BTreeMap<u16, Plan> = BTreeMap::new();
    for m in &messages {
        if let std::collections::btree_map::Entry::Vacant(e) = plans.entry(m.channel.id) {
            e.insert(plan(&m.channel, &remap)?);
        }
    }
    // CDR back into slots, all before anything is published.
    let slots: Vec<std::borrow::Cow<'_, [u8]>> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| match &plans[&m.channel.id].cdr {
            Some(p) => p.decode(&m.data).map(Into::into).map_err(|e| {
                Fail::new(format!("{what}: message {i} of `{}`: {e}", m.channel.topic))
            }),
            None => Ok(std::borrow::Cow::Borrowed(&m.data[..])),
        })
        .collect::<Result<_, _>>()?;
    let mut pubs: HashMap<String, RawPublisher> = HashMap::new();
    for p in plans.values() {
        if !pubs.contains_key(&p.topic) {
            pubs.insert(p.topic.clone(), publisher(p)?);
        }
    }
    catch_interrupt();
    std::thread::sleep(Duration::from_secs_f64(a.delay.clamp(0.0, 3600.0)));
    let mut sent = 0u64;
    loop {
        let t0 = messages.first().map_or(0, |m| m.log_time);
        let start = Instant::now();
        for (m, slot) in messages.iter().zip(&slots) {
            if STOP.load(Ordering::Relaxed) {
                return Ok(());
            }
            let at = start + Duration::from_nanos(m.log_time.saturating_sub(t0)).div_f64(a.rate);
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
            let p = &plans[&m.channel.id];
            if let Some(publ) = pubs.get_mut(&p.topic) {
                publ.send(slot, p.codec)
                    .map_err(|e| Fail::new(format!("`{}`: {e}", p.topic)))?;
            }
            sent += 1;
        }
        if !a.repeat {
            break;
        }
    }
    if !a.quiet {
        eprintln!("played {sent} messages");
    }
    Ok(())
}
