//! Queues: jobs pushed on one host, pulled on another.
//!
//! On the host whose queue takes remote jobs, the bridge declares a
//! queryable on `D/@queue/<pattern>` for each exported pattern and pushes
//! every job it receives into the local queue (creating it with the job's
//! layout if no local process has yet), then acknowledges it. On a
//! producing host, the bridge is a puller of each forwarded local queue
//! and sends every job it pulls with a `get`, one at a time.
//!
//! # Delivery
//! Within a host a job is delivered exactly once, as with any queue: the
//! bridge is one puller among others on the producing host, and one
//! pusher on the consuming host. Across the network a job is delivered
//! **at most once**: once pulled it has left the producing host's queue,
//! and if the link fails, the remote queue stays full past its deadline,
//! or no bridge exports the queue, it is lost (counted in `job_errors`
//! and logged), never sent twice. A forwarding bridge waits until the
//! remote queue's bridge answers before it pulls its first job.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use shm_comm::pipeline::{DynPuller, DynPusher, PullerOptions, QueueOptions};
use shm_comm::segment;
use shm_comm::LayoutDescriptor;
use zenoh::handlers::FifoChannelHandler;
use zenoh::query::{ConsolidationMode, Query, Queryable};
use zenoh::Wait;

use crate::bridge::{lock, log, Shared, Stats, TICK};
use crate::services::{name_in, query_header};
use crate::wire::{Header, Kind};

/// How long a remote job may wait for room in the local queue.
const PUSH_WAIT: Duration = Duration::from_secs(1);
/// How long a forwarded job waits for its acknowledgement.
const ACK_WAIT: Duration = Duration::from_secs(5);
/// The largest dynamic job a bridge accepts, whatever a peer says.
const MAX_JOB: u32 = 64 << 20;

/// Pushes the jobs of one exported pattern into local queues until the
/// bridge stops.
pub(crate) fn serve(sh: &Shared, q: &Queryable<FifoChannelHandler<Query>>) {
    let mut pushers: HashMap<String, (DynPusher, u64)> = HashMap::new();
    while !sh.stopped() {
        let Ok(Some(query)) = q.recv_timeout(TICK) else {
            continue;
        };
        let key = query.key_expr().as_str().to_owned();
        let sent = match answer(sh, &mut pushers, &query, &key) {
            Ok(header) => query
                .reply(query.key_expr().clone(), Vec::<u8>::new())
                .attachment(header.encode().to_vec())
                .wait(),
            Err(why) => {
                Stats::bump(&sh.stats.job_errors);
                log(format!("{key}: {why}"));
                query.reply_err(why).wait()
            }
        };
        if let Err(e) = sent {
            log(format!("{key}: cannot answer: {e}"));
        }
    }
}

fn answer(
    sh: &Shared,
    pushers: &mut HashMap<String, (DynPusher, u64)>,
    query: &Query,
    key: &str,
) -> Result<Header, String> {
    let name = name_in(sh, "@queue", key).ok_or("not a queue name")?;
    let h = query_header(query)?;
    let local = segment::inspect(name, "queue").ok();
    let mut reply = Header::new(Kind::Reply, sh.id);
    match h.kind {
        Kind::Describe => {
            // `a` = 1: the queue exists here, with layout hash `hash`.
            if let Some(info) = &local {
                reply.a = 1;
                reply.hash = info.layout.as_ref().map_or(0, |l| l.hash());
            }
            Ok(reply)
        }
        Kind::Job => {
            if !pushers.contains_key(name) {
                let layout = match (&local, h.hash) {
                    (Some(info), _) => info.layout.clone(),
                    (None, 0) => None,
                    (None, hash) => Some(sh.layout(hash)?),
                };
                let opts = QueueOptions {
                    max_payload: h.b.clamp(1, MAX_JOB),
                    ..QueueOptions::default()
                };
                let p = DynPusher::create_for(name, opts, layout.as_ref())
                    .map_err(|e| e.to_string())?;
                lock(&sh.ours).insert(format!("queue-pusher/{name}"));
                pushers.insert(name.to_owned(), (p, layout.map_or(0, |l| l.hash())));
            }
            let (pusher, hash) = &pushers[name];
            if h.hash != *hash {
                return Err(format!(
                    "a job of layout {:016x} for a queue of layout {hash:016x}",
                    h.hash
                ));
            }
            let data = query.payload().map(|p| p.to_bytes()).unwrap_or_default();
            pusher
                .send_deadline(&data, h.codec, Some(Instant::now() + PUSH_WAIT))
                .map_err(|e| format!("`{name}`: {e}"))?;
            Stats::bump(&sh.stats.jobs_in);
            Ok(reply)
        }
        k => Err(format!("a {k:?} message on a queue key")),
    }
}

/// The header of the first answer to a `get` on `key`, or why none.
fn ask(sh: &Shared, key: &str, header: &Header, payload: Vec<u8>) -> Result<Header, String> {
    let replies = sh
        .session
        .get(key)
        .payload(payload)
        .attachment(header.encode().to_vec())
        .consolidation(ConsolidationMode::None)
        .timeout(ACK_WAIT)
        .wait()
        .map_err(|e| e.to_string())?;
    let reply = replies
        .recv()
        .map_err(|_| "no bridge exports it (no answer)".to_owned())?;
    match reply.result() {
        Ok(s) => s
            .attachment()
            .ok_or("no header".to_owned())
            .and_then(|a| Header::decode(&a.to_bytes()).map_err(|e| e.to_string())),
        Err(e) => Err(e
            .payload()
            .try_to_string()
            .map_or("an error".to_owned(), |s| s.into_owned())),
    }
}

/// Pulls the jobs of local queue `name` and sends them to the host that
/// exports it, until the bridge stops.
pub(crate) fn forward(sh: &Shared, name: &str) {
    let key = sh.key("@queue", name);
    let mut said = false;
    let mut wait = |why: String| {
        if !said {
            log(format!("`{name}`: waiting: {why}"));
            said = true;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // The local queue (made by its first pusher), then the remote bridge.
    let layout: Option<LayoutDescriptor> = loop {
        if sh.stopped() {
            return;
        }
        match segment::inspect(name, "queue") {
            Ok(info) => break info.layout,
            Err(e) => wait(format!("no local queue yet ({e})")),
        }
    };
    let hash = layout.as_ref().map_or(0, |l| l.hash());
    loop {
        if sh.stopped() {
            return;
        }
        match ask(sh, &key, &Header::new(Kind::Describe, sh.id), Vec::new()) {
            Ok(h) if h.a == 1 && h.hash != hash => {
                return log(format!(
                    "`{name}`: not forwarded: the remote queue carries layout {:016x}, this one {hash:016x}",
                    h.hash
                ));
            }
            Ok(_) => break,
            Err(e) => wait(format!("remote queue: {e}")),
        }
    }
    if let Some(l) = &layout {
        sh.offer_layout(l);
    }
    lock(&sh.ours).insert(format!("queue/{name}"));
    let puller = match DynPuller::connect_for(
        name,
        PullerOptions::with_timeout(Duration::from_secs(1)),
        layout.as_ref(),
    ) {
        Ok(p) => p,
        Err(e) => return log(format!("`{name}`: cannot pull: {e}")),
    };
    log(format!("forwarding queue `{name}`"));
    let mut header = Header::new(Kind::Job, sh.id);
    header.hash = hash;
    header.b = puller.max_payload() as u32;
    let mut buf = Vec::new();
    while !sh.stopped() {
        let codec = match puller.recv_into(&mut buf, Some(Instant::now() + TICK)) {
            Ok(c) => c,
            Err(shm_comm::RecvTimeoutError::Timeout) => continue,
            Err(e) => {
                log(format!("`{name}`: {e}"));
                continue;
            }
        };
        header.codec = codec;
        header.seq += 1;
        match ask(sh, &key, &header, buf.clone()) {
            Ok(_) => Stats::bump(&sh.stats.jobs_out),
            Err(why) => {
                Stats::bump(&sh.stats.job_errors);
                log(format!("`{name}`: job {} lost: {why}", header.seq));
            }
        }
    }
}
