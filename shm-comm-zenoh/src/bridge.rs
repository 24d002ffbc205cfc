//! The bridge: one per host, between the host's segments and Zenoh.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::json;
use shm_comm::segment::{self, ChannelKind};
use shm_comm::LayoutDescriptor;
use zenoh::liveliness::LivelinessToken;
use zenoh::{Session, Wait};

use crate::config::{matches, Config};
use crate::wire::layout_key;

/// How often the bridge looks for new local channels.
const SCAN_EVERY: Duration = Duration::from_millis(200);
/// How long a blocking loop waits before it looks at the stop flag.
pub(crate) const TICK: Duration = Duration::from_millis(100);
/// How long a layout fetch waits for an answer.
const LAYOUT_WAIT: Duration = Duration::from_secs(2);

/// Counters of what a bridge did, for its report.
#[derive(Debug, Default)]
pub struct Stats {
    /// Samples read from local topics and put on Zenoh.
    pub exported: AtomicU64,
    /// Samples received from Zenoh and published locally.
    pub imported: AtomicU64,
    /// Samples this bridge sent itself, received back and ignored.
    pub own: AtomicU64,
    /// Samples received twice (same origin and sequence number), ignored.
    pub duplicates: AtomicU64,
    /// Samples refused: their layout differs from the local topic's, or
    /// another local process publishes the topic.
    pub refused: AtomicU64,
    /// Messages whose header or layout could not be read.
    pub bad: AtomicU64,
    /// Calls forwarded to a remote service.
    pub calls_out: AtomicU64,
    /// Remote calls served by a local service.
    pub calls_in: AtomicU64,
    /// Calls that failed (no replier, a timeout, no remote service).
    pub call_errors: AtomicU64,
    /// Jobs pulled here and sent to a remote queue.
    pub jobs_out: AtomicU64,
    /// Remote jobs pushed into a local queue.
    pub jobs_in: AtomicU64,
    /// Jobs lost on the way (not acknowledged by the remote queue).
    pub job_errors: AtomicU64,
}

impl Stats {
    /// Adds one to `counter`.
    pub(crate) fn bump(counter: &AtomicU64) {
        // Relaxed: a counter read only for reports; it orders nothing and
        // pairs with no other access.
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters as one JSON object.
    pub fn json(&self) -> serde_json::Value {
        // Relaxed: a snapshot for a report (see `bump`).
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        json!({
            "exported": g(&self.exported),
            "imported": g(&self.imported),
            "own": g(&self.own),
            "duplicates": g(&self.duplicates),
            "refused": g(&self.refused),
            "bad": g(&self.bad),
            "calls_out": g(&self.calls_out),
            "calls_in": g(&self.calls_in),
            "call_errors": g(&self.call_errors),
            "jobs_out": g(&self.jobs_out),
            "jobs_in": g(&self.jobs_in),
            "job_errors": g(&self.job_errors),
        })
    }
}

/// State shared by the bridge's threads.
#[derive(Debug)]
pub(crate) struct Shared {
    pub cfg: Config,
    pub id: u64,
    pub session: Session,
    pub stats: Stats,
    stop: AtomicBool,
    /// Encoded layouts by hash: those this bridge exports (served by its
    /// layout queryable) and those it fetched.
    layouts: Mutex<HashMap<u64, Vec<u8>>>,
    /// Local channels the bridge itself publishes or serves (`pub/NAME`,
    /// `svc/NAME`, `queue/NAME`): never exported.
    pub ours: Mutex<HashSet<String>>,
    /// Threads started after `start` (one exporter per topic), joined by
    /// `stop`.
    pub workers: Mutex<Vec<JoinHandle<()>>>,
}

/// Locks `m`, going on after a thread panicked with it held (the data are
/// sets and maps that a panic leaves consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Logs one line on stderr.
pub(crate) fn log(msg: impl std::fmt::Display) {
    eprintln!("shmc-bridge: {msg}");
}

impl Shared {
    pub(crate) fn stopped(&self) -> bool {
        // Relaxed: pairs with the store in `Bridge::stop`; a flag polled
        // by loops, ordering no other data.
        self.stop.load(Ordering::Relaxed)
    }

    /// The key of channel `name` in section `section` (`""` for topics,
    /// `@svc`, `@queue`).
    pub(crate) fn key(&self, section: &str, name: &str) -> String {
        if section.is_empty() {
            format!("{}/{name}", self.cfg.domain)
        } else {
            format!("{}/{section}/{name}", self.cfg.domain)
        }
    }

    /// Remembers layout `l` so that the layout queryable serves it.
    pub(crate) fn offer_layout(&self, l: &LayoutDescriptor) {
        lock(&self.layouts)
            .entry(l.hash())
            .or_insert_with(|| l.encode());
    }

    /// The layout of hash `hash`: known already, or fetched from the
    /// bridges that serve it. The answer is checked: it must decode and
    /// hash to `hash`.
    pub(crate) fn layout(&self, hash: u64) -> Result<LayoutDescriptor, String> {
        if let Some(bytes) = lock(&self.layouts).get(&hash) {
            return LayoutDescriptor::decode(bytes).map_err(|e| e.to_string());
        }
        let key = layout_key(&self.cfg.domain, hash);
        let replies = self
            .session
            .get(&key)
            .timeout(LAYOUT_WAIT)
            .wait()
            .map_err(|e| format!("{key}: {e}"))?;
        let mut why = format!("{key}: no bridge answered within {LAYOUT_WAIT:?}");
        while let Ok(reply) = replies.recv() {
            let Ok(sample) = reply.result() else {
                why = format!("{key}: the layout's owner answered with an error");
                continue;
            };
            let bytes = sample.payload().to_bytes();
            match LayoutDescriptor::decode(&bytes) {
                Ok(l) if l.hash() == hash => {
                    lock(&self.layouts).insert(hash, bytes.into_owned());
                    return Ok(l);
                }
                Ok(l) => why = format!("{key}: answered a layout of hash {:016x}", l.hash()),
                Err(e) => why = format!("{key}: {e}"),
            }
        }
        Err(why)
    }
}

/// A running bridge. [`Bridge::stop`] ends it; dropping it leaves its
/// threads running until the process exits.
#[derive(Debug)]
pub struct Bridge {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

/// A random, non-zero bridge id.
fn random_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    // splitmix64 over the time and the pid.
    let mut z = nanos ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)).max(1)
}

impl Bridge {
    /// Opens the Zenoh session `cfg` describes and starts bridging.
    pub fn start(cfg: Config) -> Result<Bridge, String> {
        cfg.check()?;
        let session = zenoh::open(cfg.zenoh()?)
            .wait()
            .map_err(|e| format!("cannot open the Zenoh session: {e}"))?;
        let id = if cfg.id == 0 { random_id() } else { cfg.id };
        let shared = Arc::new(Shared {
            cfg,
            id,
            session,
            stats: Stats::default(),
            stop: AtomicBool::new(false),
            layouts: Mutex::new(HashMap::new()),
            ours: Mutex::new(HashSet::new()),
            workers: Mutex::new(Vec::new()),
        });
        let mut threads = Vec::new();
        let spawn = |threads: &mut Vec<JoinHandle<()>>, name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(f)
                .map(|t| threads.push(t))
                .map_err(|e| format!("cannot start a thread: {e}"))
        };
        // Declared before anything is exported, so that a sample is never
        // seen before its layout can be fetched.
        let layouts = shared
            .session
            .declare_queryable(format!("{}/@layout/*", shared.cfg.domain))
            .wait()
            .map_err(|e| format!("layout queryable: {e}"))?;
        let sh = shared.clone();
        spawn(
            &mut threads,
            "layouts",
            Box::new(move || serve_layouts(&sh, &layouts)),
        )?;
        for pattern in shared.cfg.topics.import.clone() {
            let importer = Arc::new(crate::topics::Importer::default());
            let (sh, imp) = (shared.clone(), importer.clone());
            let sub = shared
                .session
                .declare_subscriber(shared.key("", &pattern))
                .callback(move |sample| imp.on_sample(&sh, sample))
                .wait()
                .map_err(|e| format!("subscriber on `{pattern}`: {e}"))?;
            let sh = shared.clone();
            spawn(
                &mut threads,
                "import",
                Box::new(move || {
                    importer.run(&sh);
                    drop(sub);
                }),
            )?;
        }
        for pattern in shared.cfg.services.export.clone() {
            let q = shared
                .session
                .declare_queryable(shared.key("@svc", &pattern))
                .wait()
                .map_err(|e| format!("service queryable on `{pattern}`: {e}"))?;
            let sh = shared.clone();
            spawn(
                &mut threads,
                "svc-export",
                Box::new(move || crate::services::serve(&sh, &q)),
            )?;
        }
        for name in shared.cfg.services.import.clone() {
            let sh = shared.clone();
            spawn(
                &mut threads,
                "svc-import",
                Box::new(move || crate::services::import(&sh, &name)),
            )?;
        }
        for pattern in shared.cfg.queues.export.clone() {
            let q = shared
                .session
                .declare_queryable(shared.key("@queue", &pattern))
                .wait()
                .map_err(|e| format!("queue queryable on `{pattern}`: {e}"))?;
            let sh = shared.clone();
            spawn(
                &mut threads,
                "queue-export",
                Box::new(move || crate::queues::serve(&sh, &q)),
            )?;
        }
        for name in shared.cfg.queues.forward.clone() {
            let sh = shared.clone();
            spawn(
                &mut threads,
                "queue-forward",
                Box::new(move || crate::queues::forward(&sh, &name)),
            )?;
        }
        let sh = shared.clone();
        spawn(&mut threads, "scan", Box::new(move || scan(&sh)))?;
        Ok(Bridge { shared, threads })
    }

    /// This bridge's id (the origin in the headers it writes).
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// What the bridge did so far.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// Stops every thread, closes the session and returns the counters.
    pub fn stop(self) -> serde_json::Value {
        // Relaxed: pairs with the loads in `Shared::stopped`; the threads
        // are joined below, which orders everything they did.
        self.shared.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        // The scanner is joined: no worker is added any more.
        for t in std::mem::take(&mut *lock(&self.shared.workers)) {
            let _ = t.join();
        }
        let stats = self.shared.stats.json();
        let _ = self.shared.session.close().wait();
        stats
    }
}

/// Answers layout queries with the layouts this bridge knows.
fn serve_layouts(
    sh: &Shared,
    q: &zenoh::query::Queryable<zenoh::handlers::FifoChannelHandler<zenoh::query::Query>>,
) {
    while !sh.stopped() {
        let Ok(Some(query)) = q.recv_timeout(TICK) else {
            continue;
        };
        let hex = query.key_expr().as_str().rsplit('/').next().unwrap_or("");
        let Ok(hash) = u64::from_str_radix(hex, 16) else {
            continue;
        };
        let bytes = lock(&sh.layouts).get(&hash).cloned();
        if let Some(bytes) = bytes {
            let _ = query.reply(query.key_expr().clone(), bytes).wait();
        }
    }
}

/// Finds the local channels to export, starts their exporters and keeps
/// a liveliness token for each.
fn scan(sh: &Arc<Shared>) {
    let mut exported: HashSet<String> = HashSet::new();
    let mut tokens: HashMap<String, LivelinessToken> = HashMap::new();
    let me = std::process::id();
    while !sh.stopped() {
        let mut seen = HashSet::new();
        for (name, role) in segment::list() {
            let (what, patterns) = match role.as_str() {
                "pub" => ("topic", &sh.cfg.topics.export),
                "svc" => ("service", &sh.cfg.services.export),
                "queue" => ("queue", &sh.cfg.queues.export),
                _ => continue,
            };
            if !matches(patterns, &name) || lock(&sh.ours).contains(&format!("{role}/{name}")) {
                continue;
            }
            let Ok(info) = segment::inspect(&name, &role) else {
                continue;
            };
            // A topic whose publisher died is not offered (it may be a
            // topic this bridge imported before a restart); an exporter
            // already running follows a publisher that replaces it.
            let live = info.creator_alive || info.participants.iter().any(|p| p.alive);
            if info.creator_pid == me || !live {
                continue;
            }
            let token_key = format!("{}/@live/{:016x}/{what}/{name}", sh.cfg.domain, sh.id);
            seen.insert(token_key.clone());
            if let std::collections::hash_map::Entry::Vacant(slot) = tokens.entry(token_key) {
                match sh.session.liveliness().declare_token(slot.key()).wait() {
                    Ok(t) => {
                        slot.insert(t);
                    }
                    Err(e) => log(format!("liveliness token {}: {e}", slot.key())),
                }
            }
            if info.kind == ChannelKind::PubSub && exported.insert(name.clone()) {
                let sh2 = sh.clone();
                let n = name.clone();
                let spawned = std::thread::Builder::new()
                    .name("export".into())
                    .spawn(move || crate::topics::export(&sh2, &n));
                match spawned {
                    Ok(t) => lock(&sh.workers).push(t),
                    Err(e) => {
                        log(format!("`{name}`: cannot start its exporter: {e}"));
                        exported.remove(&name);
                    }
                }
            }
        }
        // Tokens of channels that went away are withdrawn (dropped).
        tokens.retain(|k, _| seen.contains(k));
        let until = Instant::now() + SCAN_EVERY;
        while !sh.stopped() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
