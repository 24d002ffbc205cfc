//! Services: a local REQ/REP service called from other hosts.
//!
//! On the host of the service, the bridge declares a queryable on
//! `D/@svc/<pattern>` for each exported pattern and forwards each query
//! to the local service as an ordinary requester. On a calling host, the
//! bridge is a replier of a local service of the same name and layout
//! (fetched from the service's host) and forwards each call with a Zenoh
//! `get`, then replies with the answer.
//!
//! # Timeouts
//! A caller's timeout is its own: it gets its reply or its timeout error
//! at its deadline, as with a local service (a late reply is discarded).
//! The bridges give a forwarded call `services.call_timeout` (default
//! 10 s) end to end. When the service's host has no live replier, its
//! bridge answers with an error at once; the calling bridge logs it and
//! does not reply, so the caller times out at its deadline (shared-memory
//! replies carry no error status).
//!
//! Calls to one service are forwarded one at a time, in order.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use shm_comm::reqrep::{RawReplier, RawRequester, RequesterOptions, ServiceOptions};
use shm_comm::segment;
use shm_comm::LayoutDescriptor;
use zenoh::handlers::FifoChannelHandler;
use zenoh::query::{ConsolidationMode, Query, Queryable};
use zenoh::Wait;

use crate::bridge::{lock, log, Shared, Stats, TICK};
use crate::wire::{Header, Kind};

/// The largest request or reply of a dynamic service a bridge serves,
/// whatever a peer says.
const MAX_PAYLOAD: u32 = 64 << 20;

/// The name of channel `key` under `D/<section>/`, if it is one.
pub(crate) fn name_in<'k>(sh: &Shared, section: &str, key: &'k str) -> Option<&'k str> {
    let name = key
        .strip_prefix(sh.cfg.domain.as_str())?
        .strip_prefix('/')?
        .strip_prefix(section)?
        .strip_prefix('/')?;
    segment::validate_name(name).ok().map(|()| name)
}

/// The header of a query, checked.
pub(crate) fn query_header(q: &Query) -> Result<Header, String> {
    let a = q.attachment().ok_or("no header")?;
    Header::decode(&a.to_bytes()).map_err(|e| e.to_string())
}

/// Serves the queries of one exported pattern until the bridge stops.
pub(crate) fn serve(sh: &Shared, q: &Queryable<FifoChannelHandler<Query>>) {
    let mut requesters: HashMap<String, (RawRequester, Option<LayoutDescriptor>)> = HashMap::new();
    let mut out = Vec::new();
    while !sh.stopped() {
        let Ok(Some(query)) = q.recv_timeout(TICK) else {
            continue;
        };
        let key = query.key_expr().as_str().to_owned();
        let answer = answer(sh, &mut requesters, &query, &key, &mut out);
        let sent = match answer {
            Ok((header, payload)) => query
                .reply(query.key_expr().clone(), payload)
                .attachment(header.encode().to_vec())
                .wait(),
            Err(why) => {
                Stats::bump(&sh.stats.call_errors);
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
    requesters: &mut HashMap<String, (RawRequester, Option<LayoutDescriptor>)>,
    query: &Query,
    key: &str,
    out: &mut Vec<u8>,
) -> Result<(Header, Vec<u8>), String> {
    let name = name_in(sh, "@svc", key).ok_or("not a service name")?;
    let h = query_header(query)?;
    if !requesters.contains_key(name) {
        let info = segment::inspect(name, "svc").map_err(|e| format!("no service here: {e}"))?;
        let r = RawRequester::connect_with(
            name,
            RequesterOptions::with_timeout(Duration::ZERO),
            info.layout.as_ref(),
        )
        .map_err(|e| e.to_string())?;
        if let Some(l) = &info.layout {
            sh.offer_layout(l);
        }
        lock(&sh.ours).insert(format!("svc-client/{name}"));
        requesters.insert(name.to_owned(), (r, info.layout));
    }
    let (requester, layout) = &requesters[name];
    let hash = layout.as_ref().map_or(0, |l| l.hash());
    let mut reply = Header::new(Kind::Reply, sh.id);
    reply.hash = hash;
    reply.b = requester.max_request() as u32;
    match h.kind {
        Kind::Describe => Ok((reply, layout.as_ref().map_or(Vec::new(), |l| l.encode()))),
        Kind::Call => {
            if h.hash != hash {
                return Err(format!(
                    "the caller's layout {:016x} is not this service's {hash:016x}",
                    h.hash
                ));
            }
            if requester.repliers() == 0 {
                return Err(format!("`{name}` has no live replier on this host"));
            }
            let wait = Duration::from_millis(u64::from(h.a)).min(sh.cfg.call_timeout());
            let data = query.payload().map(|p| p.to_bytes()).unwrap_or_default();
            let codec = requester
                .request_into(&data, h.codec, Some(Instant::now() + wait), out)
                .map_err(|e| format!("`{name}`: {e}"))?;
            Stats::bump(&sh.stats.calls_in);
            reply.codec = codec;
            Ok((reply, std::mem::take(out)))
        }
        k => Err(format!("a {k:?} message on a service key")),
    }
}

/// What a remote service carries: its layout (`None`: dynamic) and its
/// largest request.
fn describe(sh: &Shared, key: &str) -> Result<(Option<LayoutDescriptor>, u32), String> {
    let replies = sh
        .session
        .get(key)
        .attachment(Header::new(Kind::Describe, sh.id).encode().to_vec())
        .timeout(Duration::from_secs(1))
        .wait()
        .map_err(|e| e.to_string())?;
    let reply = replies.recv().map_err(|_| "no answer".to_owned())?;
    let sample = reply.result().map_err(|e| {
        e.payload()
            .try_to_string()
            .map_or("an error".to_owned(), |s| s.into_owned())
    })?;
    let h = sample
        .attachment()
        .ok_or("no header")
        .map_err(str::to_owned)
        .and_then(|a| Header::decode(&a.to_bytes()).map_err(|e| e.to_string()))?;
    let bytes = sample.payload().to_bytes();
    let layout = if bytes.is_empty() {
        None
    } else {
        let l = LayoutDescriptor::decode(&bytes).map_err(|e| e.to_string())?;
        if l.hash() != h.hash {
            return Err(format!("layout does not match its hash {:016x}", h.hash));
        }
        Some(l)
    };
    Ok((layout, h.b.clamp(1, MAX_PAYLOAD)))
}

/// Serves remote service `name` on this host until the bridge stops.
pub(crate) fn import(sh: &Shared, name: &str) {
    let key = sh.key("@svc", name);
    let mut said = false;
    let (layout, max) = loop {
        if sh.stopped() {
            return;
        }
        match describe(sh, &key) {
            Ok(d) => break d,
            Err(e) => {
                if !said {
                    log(format!("`{name}`: waiting for the remote service: {e}"));
                    said = true;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };
    lock(&sh.ours).insert(format!("svc/{name}"));
    let opts = ServiceOptions {
        max_payload: max,
        ..ServiceOptions::default()
    };
    let replier = match RawReplier::create_with(name, opts, layout.as_ref()) {
        Ok(r) => r,
        Err(e) => return log(format!("`{name}`: cannot serve it here: {e}")),
    };
    log(format!("serving remote service `{name}`"));
    let mut header = Header::new(Kind::Call, sh.id);
    header.hash = layout.as_ref().map_or(0, |l| l.hash());
    let limit = sh.cfg.call_timeout();
    header.a = limit.as_millis().min(u128::from(u32::MAX)) as u32;
    let mut buf = Vec::new();
    while !sh.stopped() {
        let (call, codec) = match replier.recv_into(&mut buf, Some(Instant::now() + TICK)) {
            Ok(c) => c,
            Err(shm_comm::RecvTimeoutError::Timeout) => continue,
            Err(e) => {
                log(format!("`{name}`: {e}"));
                continue;
            }
        };
        header.codec = codec;
        header.seq += 1;
        Stats::bump(&sh.stats.calls_out);
        let sent = sh
            .session
            .get(&key)
            .payload(buf.clone())
            .attachment(header.encode().to_vec())
            // The first answer, as soon as it comes.
            .consolidation(ConsolidationMode::None)
            .timeout(limit + Duration::from_secs(1))
            .wait();
        let answer =
            sent.map_err(|e| e.to_string())
                .and_then(|r| r.recv().map_err(|_| "no answer in time".to_owned()))
                .and_then(|reply| match reply.result() {
                    Ok(s) => {
                        let h = s.attachment().ok_or("no header".to_owned()).and_then(|a| {
                            Header::decode(&a.to_bytes()).map_err(|e| e.to_string())
                        })?;
                        Ok((s.payload().to_bytes().into_owned(), h.codec))
                    }
                    Err(e) => Err(e
                        .payload()
                        .try_to_string()
                        .map_or("an error".to_owned(), |s| s.into_owned())),
                });
        match answer {
            Ok((data, codec)) => {
                if let Err(e) = replier.reply(&call, &data, codec) {
                    Stats::bump(&sh.stats.call_errors);
                    log(format!("`{name}`: {e}"));
                }
            }
            Err(why) => {
                Stats::bump(&sh.stats.call_errors);
                log(format!("`{name}`: remote call failed: {why}"));
            }
        }
    }
}
