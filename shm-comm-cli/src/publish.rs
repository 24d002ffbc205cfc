//! `shmc pub` and `shmc call`: a JSON value onto a topic, or as one
//! request to a service.
//!
//! Dynamic channels get the value as msgpack. Typed channels get it
//! encoded by a layout ([`crate::encode`]): the topic's own (a stale
//! segment of it), a live topic's (`--like`), or a schema's (`--schema
//! FILE --type NAME`); a service's from its segment (the request half).

use std::time::{Duration, Instant};

use clap::Args;
use serde_json::Value;
use shm_comm::pubsub::{PubOptions, RawPublisher};
use shm_comm::reqrep::{RawRequester, RequesterOptions};
use shm_comm::segment::{self, ChannelKind, Payload};
use shm_comm::{Codec, Kind, LayoutDescriptor, OpenError};

use crate::value::{self, Show};
use crate::{print_json, Fail, Res};

#[derive(Args, Debug)]
pub(crate) struct PubArgs {
    /// The topic name.
    name: String,
    /// The value, as JSON (an object of fields for a typed topic).
    value: String,
    /// Publish at this rate, in messages per second (default: once).
    #[arg(long, value_name = "HZ")]
    rate: Option<f64>,
    /// Publish N messages (default: 1, or until interrupted with --rate).
    #[arg(short = 'n', long = "count", value_name = "N")]
    count: Option<u64>,
    /// A typed topic with the layout of this live topic.
    #[arg(long, value_name = "TOPIC", conflicts_with = "schema")]
    like: Option<String>,
    /// A typed topic with a type of this schema file (with --type).
    #[arg(long, value_name = "FILE", requires = "type_name")]
    schema: Option<std::path::PathBuf>,
    /// The type in --schema.
    #[arg(long = "type", value_name = "NAME", requires = "schema")]
    type_name: Option<String>,
    /// Seconds to keep the topic open after the last message, for late
    /// subscribers that ask for the last value.
    #[arg(long, default_value_t = 0.5)]
    linger: f64,
    /// No summary line.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args, Debug)]
pub(crate) struct CallArgs {
    /// The service name.
    name: String,
    /// The request, as JSON (an object of fields for a typed service).
    value: String,
    /// Seconds to wait for the service to exist and for the reply.
    #[arg(long, default_value_t = 5.0)]
    timeout: f64,
    /// Summarize arrays longer than this in the reply.
    #[arg(long, default_value_t = 64)]
    max_array: usize,
    /// The reply as one JSON value.
    #[arg(long)]
    json: bool,
}

fn parse_json(s: &str) -> Result<Value, Fail> {
    serde_json::from_str(s).map_err(|e| Fail::new(format!("VALUE is not valid JSON: {e}")))
}

/// The layout `pub` encodes by, or `None` for msgpack.
fn pub_layout(a: &PubArgs) -> Result<Option<LayoutDescriptor>, Fail> {
    if let Some(like) = &a.like {
        segment::validate_name(like)?;
        let info = segment::inspect(like, "pub").map_err(|e| match e {
            OpenError::NotFound { .. } => Fail::new(format!(
                "--like {like}: no such topic (`shmc list` shows the channels there are)"
            )),
            e => Fail::new(format!("--like {like}: {e}")),
        })?;
        return match info.layout {
            Some(l) => Ok(Some(l)),
            None => Err(Fail::new(format!(
                "--like {like}: a dynamic topic has no layout (leave --like out to publish msgpack)"
            ))),
        };
    }
    if let (Some(file), Some(ty)) = (&a.schema, &a.type_name) {
        let sources = shm_comm_schema::read_sources(&[file])?;
        let schema = shm_comm_schema::compile_user(&sources)?;
        return match schema.get(ty) {
            Some(m) => Ok(Some(m.layout.clone())),
            None => {
                let names: Vec<&str> = schema.generated().map(|m| m.name.as_str()).collect();
                Err(Fail::new(format!(
                    "--type {ty}: no such message in {} (it has: {})",
                    file.display(),
                    names.join(", ")
                )))
            }
        };
    }
    // A topic that exists (its publisher gone) keeps its layout.
    Ok(segment::inspect(&a.name, "pub").ok().and_then(|i| i.layout))
}

pub(crate) fn publish(a: &PubArgs) -> Res {
    segment::validate_name(&a.name)?;
    let v = parse_json(&a.value)?;
    if let Some(r) = a.rate {
        if !(r > 0.0 && r.is_finite()) {
            return Err(Fail::new(format!("--rate {r}: must be above 0")));
        }
    }
    let layout = pub_layout(a)?;
    let (payload, data, codec) = match &layout {
        Some(l) => (
            Payload::of_layout(l),
            crate::encode::encode_typed(l, &v)
                .map_err(|e| Fail::new(format!("value does not fit `{}`: {e}", l.name)))?,
            Codec::Typed,
        ),
        None => (
            Payload::Dynamic,
            shm_comm::codec::to_msgpack(&v).map_err(Fail::new)?,
            Codec::MsgPack,
        ),
    };
    // A topic has one publisher: refuse a live one rather than replace it.
    if let Ok(info) = segment::inspect(&a.name, "pub") {
        if crate::channels::in_use(&info) {
            return Err(Fail::new(format!(
                "`{}` already has a live publisher (pid {}); a topic has one publisher",
                a.name, info.creator_pid
            )));
        }
    }
    let opts = match &layout {
        Some(l) => PubOptions::for_size(l.size as usize),
        None => PubOptions {
            max_payload: PubOptions::default()
                .max_payload
                .max(u32::try_from(data.len()).unwrap_or(u32::MAX)),
            ..PubOptions::default()
        },
    };
    let mut publ = RawPublisher::create(&a.name, &payload, opts)?;
    crate::bag::catch_interrupt();
    let count = a.count.or(if a.rate.is_some() { None } else { Some(1) });
    let period = a.rate.map(|r| Duration::from_secs_f64(1.0 / r));
    let start = Instant::now();
    let mut sent = 0u64;
    while count.is_none_or(|n| sent < n) && !crate::bag::stopped() {
        publ.send(&data, codec)
            .map_err(|e| Fail::new(format!("`{}`: {e}", a.name)))?;
        sent += 1;
        if count.is_some_and(|n| sent >= n) {
            break;
        }
        if let Some(p) = period {
            let next = start + p.mul_f64(sent as f64);
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
        }
    }
    let linger = Instant::now() + Duration::from_secs_f64(a.linger.clamp(0.0, 3600.0));
    while Instant::now() < linger && !crate::bag::stopped() {
        std::thread::sleep(Duration::from_millis(10).min(linger - Instant::now()));
    }
    if !a.quiet {
        let what = layout
            .as_ref()
            .map_or("msgpack".to_owned(), |l| l.name.clone());
        eprintln!("published {sent} {what} messages to {}", a.name);
    }
    Ok(())
}

/// The request and reply layouts of a typed service's descriptor.
fn halves(l: &LayoutDescriptor) -> Option<(&LayoutDescriptor, &LayoutDescriptor)> {
    match l.fields.as_slice() {
        [req, rep] => match (&req.ty.kind, &rep.ty.kind) {
            (Kind::Struct(q), Kind::Struct(p)) => Some((q, p)),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn call(a: &CallArgs) -> Res {
    segment::validate_name(&a.name)?;
    let v = parse_json(&a.value)?;
    let timeout = Duration::from_secs_f64(a.timeout.clamp(0.0, 3600.0));
    let not_found = || {
        Fail::new(format!(
            "no service `{}` (waited {} s; `shmc list` shows the channels there are)",
            a.name, a.timeout
        ))
    };
    // The service's layout, waiting for the service to exist.
    let start = Instant::now();
    let info = loop {
        match segment::inspect(&a.name, "svc") {
            Ok(i) => break i,
            Err(OpenError::NotFound { .. } | OpenError::NotReady { .. })
                if start.elapsed() < timeout =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(OpenError::NotFound { .. }) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        }
    };
    if info.kind != ChannelKind::Request {
        return Err(Fail::new(format!("`{}` is not a service", a.name)));
    }
    let (data, codec, reply_layout) = match &info.layout {
        Some(l) => {
            let (req, rep) = halves(l).ok_or_else(|| {
                Fail::new(format!("`{}`: `{}` is no service layout", a.name, l.name))
            })?;
            let data = crate::encode::encode_typed(req, &v)
                .map_err(|e| Fail::new(format!("request does not fit `{}`: {e}", req.name)))?;
            (data, Codec::Typed, Some(rep.clone()))
        }
        None => (
            shm_comm::codec::to_msgpack(&v).map_err(Fail::new)?,
            Codec::MsgPack,
            None,
        ),
    };
    let left = timeout.saturating_sub(start.elapsed());
    let req = RawRequester::connect_with(
        &a.name,
        RequesterOptions::with_timeout(left),
        info.layout.as_ref(),
    )
    .map_err(|e| match e {
        OpenError::NotFound { .. } => not_found(),
        e => e.into(),
    })?;
    let mut out = Vec::new();
    let deadline = Instant::now() + timeout.saturating_sub(start.elapsed());
    let got = req
        .request_into(&data, codec, Some(deadline), &mut out)
        .map_err(|e| Fail::new(format!("`{}`: {e}", a.name)))?;
    let show = Show {
        max_array: a.max_array,
        no_arr: false,
        allow_pickle: false,
    };
    let reply = match &reply_layout {
        Some(l) => value::decode_typed(l, &out, &show),
        None => value::decode_frame(got, &out, &show),
    };
    if a.json {
        print_json(&reply);
    } else {
        print!("{}", crate::render::human(&reply));
    }
    Ok(())
}
