//! `shmc list` and `shmc info`: what the segments of this user say.

use std::time::{Duration, Instant};

use clap::Args;
use serde_json::{json, Value};
use shm_comm::segment::{self, ChannelKind, SegmentInfo};
use shm_comm::{multipub, pipeline, reqrep, Kind, LayoutDescriptor};

use crate::{print_json, Fail, Res};

#[derive(Args, Debug)]
pub(crate) struct ListArgs {
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    /// How long to watch the counters to compute rates, in seconds (0:
    /// no rate).
    #[arg(long, default_value_t = 0.5)]
    sample: f64,
}

#[derive(Args, Debug)]
pub(crate) struct InfoArgs {
    /// The channel name, e.g. `robot/pose`.
    name: String,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// How long to watch the counters to compute the rate, in seconds.
    #[arg(long, default_value_t = 0.5)]
    sample: f64,
}

/// What a participant code means on a segment of `kind`.
fn role_name(kind: ChannelKind, code: u32) -> String {
    match (kind, code) {
        (ChannelKind::Request, reqrep::REPLIER) => "replier".into(),
        (ChannelKind::Request, reqrep::REQUESTER) => "requester".into(),
        (ChannelKind::Queue, pipeline::PUSHER) => "pusher".into(),
        (ChannelKind::Queue, pipeline::PULLER) => "puller".into(),
        (ChannelKind::Directory, multipub::PUBLISHER) => "publisher".into(),
        (ChannelKind::Directory, multipub::SUBSCRIBER) => "subscriber".into(),
        (_, c) => format!("role #{c}"),
    }
}

/// `true` if a live process still uses the segment.
pub(crate) fn in_use(info: &SegmentInfo) -> bool {
    info.creator_alive || info.participants.iter().any(|p| p.alive)
}

/// Every segment of this user that can be read, with its rate (messages
/// per second over `sample` seconds, PUB/SUB only), and the ones that
/// cannot with the reason.
pub(crate) fn snapshot(sample: f64) -> Vec<(String, String, Result<Snap, String>)> {
    let mut out: Vec<_> = segment::list()
        .into_iter()
        .map(|(name, role)| {
            let info = segment::inspect(&name, &role).map_err(|e| e.to_string());
            (name, role, info)
        })
        .collect();
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let start = Instant::now();
    let window = Duration::from_secs_f64(sample.clamp(0.0, 60.0));
    if !window.is_zero() {
        std::thread::sleep(window);
    }
    let elapsed = start.elapsed().as_secs_f64();
    out.into_iter()
        .map(|(name, role, first)| {
            let snap = first.map(|first| {
                let rate = match (window.is_zero(), first.ring) {
                    (false, Some((_, before))) => segment::inspect(&name, &role)
                        .ok()
                        .filter(|now| now.creator_pid == first.creator_pid)
                        .and_then(|now| now.ring)
                        .map(|(_, after)| after.saturating_sub(before) as f64 / elapsed),
                    _ => None,
                };
                Snap { info: first, rate }
            });
            (name, role, snap)
        })
        .collect()
}

/// A segment and its measured rate.
pub(crate) struct Snap {
    pub info: SegmentInfo,
    pub rate: Option<f64>,
}

fn type_json(info: &SegmentInfo) -> Value {
    match &info.layout {
        Some(l) => json!({
            "type": l.name,
            "hash": format!("{:#018x}", l.hash()),
            // Variable-size topics: the current maximum number of elements.
            "max_len": info.max_len(),
        }),
        None => json!({ "type": null, "hash": null, "codecs": "raw, msgpack, pickle" }),
    }
}

fn channel_json(name: &str, role: &str, snap: &Result<Snap, String>) -> Value {
    let Ok(Snap { info, rate }) = snap else {
        let e = snap.as_ref().err().cloned().unwrap_or_default();
        return json!({ "name": name, "role": role, "error": e });
    };
    let mut v = json!({
        "name": name,
        "role": role,
        "kind": info.kind.noun(),
        "payload": if info.layout.is_some() { "typed" } else { "dynamic" },
        "creator_pid": info.creator_pid,
        "creator_alive": info.creator_alive,
        "closed": info.closed,
        "in_use": in_use(info),
        "file": info.file,
        "file_bytes": info.file_len,
        "participants": info.participants.iter().map(|p| json!({
            "pid": p.pid, "role": role_name(info.kind, p.role), "alive": p.alive,
        })).collect::<Vec<_>>(),
        // PUB/SUB subscribers do not register in the segment: a reader
        // writes nothing the publisher could count.
        "subscribers": null,
        "rate_hz": rate,
    });
    if let (Value::Object(m), Value::Object(t)) = (&mut v, type_json(info)) {
        m.extend(t);
    }
    if let Some((geo, published)) = info.ring {
        v["geometry"] = json!({
            "capacity": geo.capacity,
            "max_payload": geo.max_payload,
            "borrow_budget": geo.borrow_budget,
        });
        v["published"] = json!(published);
    }
    v
}

pub(crate) fn list(a: &ListArgs) -> Res {
    let snaps = snapshot(a.sample);
    if a.json {
        for (name, role, snap) in &snaps {
            print_json(&channel_json(name, role, snap));
        }
        return Ok(());
    }
    println!(
        "{:<32} {:<8} {:<24} {:<16} {:>10} {:>14}",
        "NAME", "KIND", "TYPE", "OWNER", "RATE", "GEOMETRY"
    );
    for (name, _role, snap) in &snaps {
        let Ok(Snap { info, rate }) = snap else {
            let e = snap.as_ref().err().cloned().unwrap_or_default();
            println!("{name:<32} ?        unreadable: {e}");
            continue;
        };
        let ty = info
            .layout
            .as_ref()
            .map_or("dynamic".to_owned(), |l| match info.max_len() {
                Some(max) => format!("{}[..{max}]", l.name),
                None => l.name.clone(),
            });
        let owner = if info.participants.is_empty() {
            let state = if info.creator_alive { "alive" } else { "dead" };
            format!("{} ({state})", info.creator_pid)
        } else {
            let live = info.participants.iter().filter(|p| p.alive).count();
            format!("{live} live peers")
        };
        let rate = rate.map_or("-".to_owned(), |r| format!("{r:.1} Hz"));
        let geo = info.ring.map_or("-".to_owned(), |(g, _)| {
            format!("{}x{} B", g.capacity, g.max_payload)
        });
        println!(
            "{name:<32} {:<8} {ty:<24} {owner:<16} {rate:>10} {geo:>14}",
            info.kind.noun()
        );
    }
    Ok(())
}

fn layout_json(l: &LayoutDescriptor) -> Value {
    json!({
        "name": l.name,
        "size": l.size,
        "align": l.align,
        "hash": format!("{:#018x}", l.hash()),
        "fields": l.fields.iter().map(|f| {
            let mut v = json!({
                "name": f.name,
                "offset": f.offset,
                "size": f.ty.size,
                "type": f.ty.to_string(),
                "shape": f.ty.shape,
            });
            if let Kind::Struct(inner) = &f.ty.kind {
                v["layout"] = layout_json(inner);
            }
            v
        }).collect::<Vec<_>>(),
        "tail": l.tail.as_ref().map(|t| json!({
            "type": t.elem.to_string(),
            "offset": t.offset,
            "size": t.elem.size,
            "max_len": t.max_len,
            "generation": t.generation,
        })),
    })
}

fn print_layout(l: &LayoutDescriptor, indent: usize, base: u32) {
    let pad = "  ".repeat(indent);
    for f in &l.fields {
        println!(
            "{pad}  {:>6}  {:<20} {} ({} bytes)",
            base + f.offset,
            f.name,
            f.ty,
            f.ty.size
        );
        if let (Kind::Struct(inner), true) = (&f.ty.kind, f.ty.shape.is_empty()) {
            print_layout(inner, indent + 1, base + f.offset);
        }
    }
}

pub(crate) fn info(a: &InfoArgs) -> Res {
    segment::validate_name(&a.name)?;
    let snaps: Vec<_> = snapshot(a.sample)
        .into_iter()
        .filter(|(name, _, _)| *name == a.name)
        .collect();
    if snaps.is_empty() {
        return Err(Fail::new(format!(
            "no channel `{}` (`shmc list` shows the channels there are)",
            a.name
        )));
    }
    for (name, role, snap) in &snaps {
        if a.json {
            let mut v = channel_json(name, role, snap);
            if let Ok(Snap {
                info: SegmentInfo {
                    layout: Some(l), ..
                },
                ..
            }) = snap
            {
                v["layout"] = layout_json(l);
            }
            print_json(&v);
            continue;
        }
        let Ok(Snap { info, rate }) = snap else {
            let e = snap.as_ref().err().cloned().unwrap_or_default();
            println!("{name} ({role}): unreadable: {e}");
            continue;
        };
        println!("{name} ({} segment `{role}`)", info.kind.noun());
        println!("  file:        {} ({} bytes)", info.file, info.file_len);
        let state = if info.creator_alive { "alive" } else { "dead" };
        println!("  creator:     pid {} ({state})", info.creator_pid);
        println!("  closed:      {}", info.closed);
        if let Some((g, published)) = info.ring {
            println!(
                "  ring:        {} slots x {} bytes, {} borrowable",
                g.capacity, g.max_payload, g.borrow_budget
            );
            println!("  published:   {published}");
            if let Some(r) = rate {
                println!("  rate:        {r:.1} Hz");
            }
            println!("  subscribers: not registered (readers write nothing to a topic)");
        }
        for p in &info.participants {
            let state = if p.alive { "alive" } else { "dead" };
            println!(
                "  participant: pid {} {} ({state})",
                p.pid,
                role_name(info.kind, p.role)
            );
        }
        match &info.layout {
            Some(l) => {
                println!(
                    "  layout:      {} (size {}, align {}, hash {:#018x})",
                    l.name,
                    l.size,
                    l.align,
                    l.hash()
                );
                print_layout(l, 1, 0);
                if let Some(t) = &l.tail {
                    println!(
                        "  tail:        {} ({} bytes each) from offset {}, at most {} (generation {})",
                        t.elem, t.elem.size, t.offset, t.max_len, t.generation
                    );
                }
            }
            None => println!("  payload:     dynamic frames (raw, msgpack, pickle)"),
        }
    }
    Ok(())
}
