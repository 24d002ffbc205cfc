//! The final table (stdout) and the `--json` file.

use std::fmt::Write as _;

use crate::scenarios::{Kind, Measured, Plan, Round};

/// One scenario's outcome.
#[derive(Debug)]
pub struct Row {
    /// What ran.
    pub plan: Plan,
    /// What it measured, or why it failed.
    pub result: Result<Measured, String>,
    /// Share of the scenario's wall time that the parent and the peer spent
    /// on a CPU (1.0 = a whole core): both spin, so less means the machine
    /// was busy with something else and the row is disturbed.
    pub cpu_share: (f64, f64),
    /// CPU time that other processes of the machine used during the row,
    /// per second of its wall time (1.0 = a whole core), from `/proc/*/stat`
    /// (clock-tick resolution, so a few percent of noise), if known.
    pub others_share: Option<f64>,
    /// p50 of the raw floor just before and just after this row (a short
    /// probe runs after every row). On a virtual machine the host may move
    /// the two CPUs closer or further apart at any time, which changes every
    /// latency (here: a 55 ns or a 250 ns floor); the ratio of a row is
    /// taken against the floor around it, and a row whose two floors
    /// disagree is marked.
    pub floor: (Option<u64>, Option<u64>),
}

/// Below this CPU share (per process, or for both together on one core), a
/// row is marked disturbed.
const MIN_SHARE: f64 = 0.9;

/// A row that sleeps by design is disturbed when the other processes of the
/// machine used more than this share of a core during it.
const MAX_OTHERS: f64 = 0.25;

/// Above this CPU share of the other processes of the machine (1.0 = a
/// whole core), the notes name it (`others N%`).
const OTHERS_NOTE: f64 = 0.1;

/// Largest relative change of the raw floor's p50 between the start and the
/// end of a run that still makes the ratios trustworthy.
const FLOOR_TOLERANCE: f64 = 0.25;

impl Row {
    /// The floor around this row: the mean of the probes before and after.
    pub fn local_floor(&self) -> Option<f64> {
        match self.floor {
            (Some(a), Some(b)) => Some((a + b) as f64 / 2.0),
            (Some(a), None) | (None, Some(a)) => Some(a as f64),
            (None, None) => None,
        }
    }

    /// `true` if the floor moved during this row (by more than
    /// [`FLOOR_TOLERANCE`]): its numbers mix two placements of the CPUs.
    pub fn floor_moved(&self) -> bool {
        match self.floor {
            (Some(a), Some(b)) => {
                (a as f64 - b as f64).abs() / (a.min(b) as f64).max(1.0) > FLOOR_TOLERANCE
            }
            _ => false,
        }
    }

    /// `true` if another load took CPU time from the benchmark's processes.
    /// A row that sleeps by design (on two cores) is judged by the CPU time
    /// of the other processes instead.
    pub fn disturbed(&self, one_core: bool) -> bool {
        let (a, b) = self.cpu_share;
        if self.plan.kind.sleeps() && !one_core {
            self.others_share.is_some_and(|o| o > MAX_OTHERS)
        } else if one_core {
            a + b < MIN_SHARE
        } else {
            a.min(b) < MIN_SHARE
        }
    }
}

/// Run-wide facts printed with the table and stored in the JSON.
#[derive(Debug)]
pub struct Meta {
    /// `--one-core`.
    pub one_core: bool,
    /// `--quick`.
    pub quick: bool,
    /// CPU the parent runs on, if pinned.
    pub parent_cpu: Option<usize>,
    /// CPU the peer runs on, if pinned.
    pub peer_cpu: Option<usize>,
    /// Cost of one `Instant::now()`, ns.
    pub clock_ns: f64,
    /// Cost of one `std::hint::spin_loop()` (a `pause`), ns.
    pub pause_ns: f64,
}

fn p(m: &Measured, q: f64) -> Option<u64> {
    m.latency().map(|(l, _)| l.hist.value_at_quantile(q))
}

/// The reference rows of the ratio column: the raw floor's p50 and the raw
/// stream's rate.
fn references(rows: &[Row]) -> (Option<u64>, Option<f64>) {
    let find = |k: Kind| {
        rows.iter()
            .find(|r| r.plan.kind == k)
            .and_then(|r| r.result.as_ref().ok())
    };
    (
        find(Kind::RawFloor).and_then(|m| p(m, 0.5)),
        find(Kind::StreamRaw).map(Measured::msgs_per_s),
    )
}

/// A typed copy row's p50 over the p50 of the copy hand-off floor of the
/// same size in the same run.
fn copy_ratio(rows: &[Row], r: &Row, m: &Measured) -> Option<f64> {
    let floor = r.plan.kind.copy_floor()?;
    let f = rows
        .iter()
        .find(|x| x.plan.kind == floor)
        .and_then(|x| x.result.as_ref().ok())
        .and_then(|x| p(x, 0.5))?;
    Some(p(m, 0.5)? as f64 / f.max(1) as f64)
}

/// "How many times worse than the floor": p50 / the raw floor around the
/// row for ping-pong rows, round-trip p50 / the floor's round trip (twice
/// its one-way p50) for REQ/REP, raw stream rate / rate for stream and
/// PUSH/PULL rows.
fn ratio(r: &Row, m: &Measured, refs: (Option<u64>, Option<f64>)) -> Option<f64> {
    match m.latency() {
        Some((_, whole)) => {
            let floor = r.local_floor().or(refs.0.map(|f| f as f64))?;
            let floor = if whole { 2.0 * floor } else { floor };
            Some(p(m, 0.5)? as f64 / floor.max(1.0))
        }
        None => Some(refs.1? / m.msgs_per_s()),
    }
}

fn si(v: f64) -> String {
    if !v.is_finite() {
        "-".into()
    } else if v >= 1e9 {
        format!("{:.2}G", v / 1e9)
    } else if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// The range of the rates of `rounds`, as `lo..hi`.
fn rate_range(rounds: &[Round]) -> String {
    let rates = rounds.iter().map(Round::rate);
    let lo = rates.clone().fold(f64::INFINITY, f64::min);
    let hi = rates.fold(0.0, f64::max);
    format!("{}..{}", si(lo), si(hi))
}

fn notes(m: &Measured) -> String {
    match m {
        Measured::PingPong(l) => format!("{} round trips, max {} ns", l.round_trips, l.hist.max()),
        Measured::Calls(l) => format!(
            "calls/s; {} calls, one at a time, max {} ns",
            l.round_trips,
            l.hist.max()
        ),
        Measured::Jobs(j) => {
            let sent: u64 = j.rounds.iter().map(|r| r.sent).sum();
            let send_secs: f64 = j.rounds.iter().map(|r| r.send_secs).sum();
            let mut s = format!(
                "jobs/s; median of {} rounds ({}), pusher sent {}/s; {}; \
                 0 lost, 0 duplicated of {} jobs (ids checked)",
                j.rounds.len(),
                rate_range(&j.rounds),
                si(sent as f64 / send_secs),
                j.placement,
                j.sent
            );
            if j.per_puller.len() > 1 {
                let total = j.per_puller.iter().sum::<u64>().max(1) as f64;
                let shares: Vec<String> = j
                    .per_puller
                    .iter()
                    .map(|&c| format!("{:.0}", 100.0 * c as f64 / total))
                    .collect();
                let _ = write!(s, ", per puller {}%", shares.join("/"));
            }
            s
        }
        Measured::Stream(rounds) => {
            let sum = |f: fn(&Round) -> u64| rounds.iter().map(f).sum::<u64>();
            let (sent, missed, order_errors) =
                (sum(|r| r.sent), sum(|r| r.missed), sum(|r| r.order_errors));
            let send_rate = sent as f64 / rounds.iter().map(|r| r.send_secs).sum::<f64>();
            let mut s = format!(
                "median of {} rounds ({}), missed {:.1}%, publisher sent {}/s",
                rounds.len(),
                rate_range(rounds),
                100.0 * missed as f64 / sent.max(1) as f64,
                si(send_rate)
            );
            if order_errors != 0 {
                let _ = write!(s, ", {order_errors} OUT OF ORDER");
            }
            s
        }
    }
}

/// The table, for stdout.
pub fn table(meta: &Meta, rows: &[Row]) -> String {
    let refs = references(rows);
    let width = rows
        .iter()
        .map(|r| r.plan.label.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut out = String::new();
    let cpus = match (meta.parent_cpu, meta.peer_cpu) {
        (Some(a), Some(b)) => format!("parent on CPU {a}, peer on CPU {b}"),
        _ => "processes not pinned".into(),
    };
    let _ = writeln!(
        out,
        "shm-comm-benches{}{}: {cpus}; Instant::now() costs {:.0} ns, pause {:.1} ns",
        if meta.one_core { " --one-core" } else { "" },
        if meta.quick { " --quick" } else { "" },
        meta.clock_ns,
        meta.pause_ns
    );
    let _ = writeln!(
        out,
        "{:<width$}  {:>9}  {:>9}  {:>9}  {:>9}  {:>7}  notes",
        "scenario", "p50 ns", "p99 ns", "p99.9 ns", "rate/s", "ratio"
    );
    for r in rows {
        match &r.result {
            Ok(m) => {
                let q = |x: f64| p(m, x).map_or("-".into(), |v| v.to_string());
                let ratio = ratio(r, m, refs).map_or("-".into(), |x| format!("{x:.2}x"));
                let mut mark = String::new();
                if r.disturbed(meta.one_core) {
                    mark.push('*');
                }
                if r.floor_moved() {
                    mark.push('!');
                }
                let mut floor = match r.floor {
                    (Some(a), Some(b)) if r.plan.kind != Kind::RawFloor => {
                        format!("floor {a}->{b} ns; ")
                    }
                    _ => String::new(),
                };
                if let Some(o) = r.others_share.filter(|&o| o > OTHERS_NOTE) {
                    floor.insert_str(0, &format!("others {:.0}%; ", 100.0 * o));
                }
                if let Some(c) = copy_ratio(rows, r, m) {
                    floor.insert_str(0, &format!("{c:.2}x copy floor; "));
                }
                let _ = writeln!(
                    out,
                    "{:<width$}  {:>9}  {:>9}  {:>9}  {:>9}  {:>7}  cpu {:.0}/{:.0}%{mark}; {floor}{}",
                    r.plan.label,
                    q(0.5),
                    q(0.99),
                    q(0.999),
                    si(m.msgs_per_s()),
                    ratio,
                    100.0 * r.cpu_share.0,
                    100.0 * r.cpu_share.1,
                    notes(m)
                );
            }
            Err(e) => {
                let _ = writeln!(out, "{:<width$}  FAILED: {e}", r.plan.label);
            }
        }
    }
    if rows.iter().any(|r| r.result.is_ok() && r.floor_moved()) {
        let _ = writeln!(
            out,
            "! rows marked ! are unreliable: the raw floor before and after them differs by \
             more than {:.0}% (the host moved the two CPUs closer or further apart); run them again",
            100.0 * FLOOR_TOLERANCE
        );
    }
    if rows
        .iter()
        .any(|r| r.result.is_ok() && r.disturbed(meta.one_core))
    {
        let _ = writeln!(
            out,
            "* rows marked * are disturbed: the benchmark's processes got less than \
             {:.0}% of {} (another load was running; for a row that sleeps by design: other \
             processes used more than {:.0}% of a core); run them again",
            100.0 * MIN_SHARE,
            if meta.one_core {
                "the core"
            } else {
                "their cores"
            },
            100.0 * MAX_OTHERS
        );
    }
    out
}

/// A JSON value, written by hand (the crate has no JSON dependency).
#[derive(Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(u64),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(&'static str, Json)>),
}

impl Json {
    fn write(&self, out: &mut String, indent: usize) {
        let pad = |out: &mut String, n: usize| out.extend(std::iter::repeat_n(' ', n));
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(v) => {
                let _ = write!(out, "{v}");
            }
            Json::Num(v) if v.is_finite() => {
                let _ = write!(out, "{v}");
            }
            Json::Num(_) => out.push_str("null"),
            Json::Str(s) => {
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\n' => out.push_str("\\n"),
                        c if (c as u32) < 0x20 => {
                            let _ = write!(out, "\\u{:04x}", c as u32);
                        }
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            Json::Arr(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    out.push_str(if i == 0 { "\n" } else { ",\n" });
                    pad(out, indent + 2);
                    item.write(out, indent + 2);
                }
                if !items.is_empty() {
                    out.push('\n');
                    pad(out, indent);
                }
                out.push(']');
            }
            Json::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    out.push_str(if i == 0 { "\n" } else { ",\n" });
                    pad(out, indent + 2);
                    Json::Str((*k).to_owned()).write(out, indent + 2);
                    out.push_str(": ");
                    v.write(out, indent + 2);
                }
                if !fields.is_empty() {
                    out.push('\n');
                    pad(out, indent);
                }
                out.push('}');
            }
        }
    }
}

fn opt_int(v: Option<usize>) -> Json {
    v.map_or(Json::Null, |v| Json::Int(v as u64))
}

/// The percentiles of `l`: one way (`one_way_*`) or, for calls, whole round
/// trips (`round_trip_*`).
fn latency_json(f: &mut Vec<(&'static str, Json)>, l: &crate::scenarios::Latency, whole: bool) {
    let h = &l.hist;
    let names: [&'static str; 7] = if whole {
        [
            "round_trip_min_ns",
            "round_trip_mean_ns",
            "round_trip_p50_ns",
            "round_trip_p90_ns",
            "round_trip_p99_ns",
            "round_trip_p999_ns",
            "round_trip_max_ns",
        ]
    } else {
        [
            "one_way_min_ns",
            "one_way_mean_ns",
            "one_way_p50_ns",
            "one_way_p90_ns",
            "one_way_p99_ns",
            "one_way_p999_ns",
            "one_way_max_ns",
        ]
    };
    f.push((names[0], Json::Int(h.min())));
    f.push((names[1], Json::Num(h.mean())));
    for (name, q) in names[2..6].iter().zip([0.5, 0.9, 0.99, 0.999]) {
        f.push((name, Json::Int(h.value_at_quantile(q))));
    }
    f.push((names[6], Json::Int(h.max())));
}

fn rounds_json(rounds: &[Round]) -> Json {
    Json::Arr(
        rounds
            .iter()
            .map(|r| {
                Json::Obj(vec![
                    ("sent", Json::Int(r.sent)),
                    ("received", Json::Int(r.received)),
                    ("missed", Json::Int(r.missed)),
                    ("order_errors", Json::Int(r.order_errors)),
                    ("delivered_s", Json::Num(r.delivered_secs)),
                    ("send_s", Json::Num(r.send_secs)),
                    ("delivered_per_s", Json::Num(r.rate())),
                    ("sent_per_s", Json::Num(r.sent as f64 / r.send_secs)),
                ])
            })
            .collect(),
    )
}

fn row_json(rows: &[Row], r: &Row, refs: (Option<u64>, Option<f64>), one_core: bool) -> Json {
    let mut f = vec![
        ("id", Json::Str(r.plan.kind.id().into())),
        ("label", Json::Str(r.plan.label.clone())),
        ("spin", Json::Str(r.plan.spin.as_arg().into())),
        ("peer_cpu", opt_int(r.plan.peer_cpu)),
        (
            "floor_before_p50_ns",
            r.floor.0.map_or(Json::Null, Json::Int),
        ),
        (
            "floor_after_p50_ns",
            r.floor.1.map_or(Json::Null, Json::Int),
        ),
        ("floor_moved", Json::Bool(r.floor_moved())),
        ("ok", Json::Bool(r.result.is_ok())),
        ("parent_cpu_share", Json::Num(r.cpu_share.0)),
        ("peer_cpu_share", Json::Num(r.cpu_share.1)),
        (
            "others_cpu_share",
            r.others_share.map_or(Json::Null, Json::Num),
        ),
        ("disturbed", Json::Bool(r.disturbed(one_core))),
    ];
    match &r.result {
        Err(e) => f.push(("error", Json::Str(e.clone()))),
        Ok(m) => {
            f.push(("msgs_per_s", Json::Num(m.msgs_per_s())));
            f.push(("ratio", ratio(r, m, refs).map_or(Json::Null, Json::Num)));
            f.push((
                "copy_floor_ratio",
                copy_ratio(rows, r, m).map_or(Json::Null, Json::Num),
            ));
            match m {
                Measured::PingPong(l) => {
                    f.push(("kind", Json::Str("ping-pong".into())));
                    f.push(("round_trips", Json::Int(l.round_trips)));
                    f.push(("elapsed_s", Json::Num(l.elapsed.as_secs_f64())));
                    latency_json(&mut f, l, false);
                }
                Measured::Calls(l) => {
                    f.push(("kind", Json::Str("calls".into())));
                    f.push(("calls", Json::Int(l.round_trips)));
                    f.push(("calls_per_s", Json::Num(m.msgs_per_s())));
                    f.push(("elapsed_s", Json::Num(l.elapsed.as_secs_f64())));
                    latency_json(&mut f, l, true);
                }
                Measured::Jobs(j) => {
                    f.push(("kind", Json::Str("jobs".into())));
                    f.push(("jobs_per_s", Json::Num(m.msgs_per_s())));
                    f.push(("pullers", Json::Int(j.per_puller.len() as u64)));
                    f.push(("placement", Json::Str(j.placement.clone())));
                    f.push(("sent_total", Json::Int(j.sent)));
                    f.push((
                        "received_per_puller",
                        Json::Arr(j.per_puller.iter().map(|&c| Json::Int(c)).collect()),
                    ));
                    f.push(("lost", Json::Int(0)));
                    f.push(("duplicated", Json::Int(0)));
                    f.push(("rounds", rounds_json(&j.rounds)));
                }
                Measured::Stream(rounds) => {
                    f.push(("kind", Json::Str("stream".into())));
                    let sent: u64 = rounds.iter().map(|r| r.sent).sum();
                    let missed: u64 = rounds.iter().map(|r| r.missed).sum();
                    f.push(("sent", Json::Int(sent)));
                    f.push(("missed", Json::Int(missed)));
                    f.push((
                        "missed_fraction",
                        Json::Num(missed as f64 / sent.max(1) as f64),
                    ));
                    f.push(("rounds", rounds_json(rounds)));
                }
            }
        }
    }
    Json::Obj(f)
}

/// The `--json` document.
pub fn json(meta: &Meta, rows: &[Row]) -> String {
    let refs = references(rows);
    let doc = Json::Obj(vec![
        ("tool", Json::Str("shm-comm-benches".into())),
        ("one_core", Json::Bool(meta.one_core)),
        ("quick", Json::Bool(meta.quick)),
        ("parent_cpu", opt_int(meta.parent_cpu)),
        ("peer_cpu", opt_int(meta.peer_cpu)),
        ("clock_read_ns", Json::Num(meta.clock_ns)),
        ("pause_ns", Json::Num(meta.pause_ns)),
        (
            "latency_unit",
            Json::Str(
                "one-way ns = round trip / 2 (one_way_*); reqrep rows: whole round trips \
                 (round_trip_*)"
                    .into(),
            ),
        ),
        (
            "scenarios",
            Json::Arr(
                rows.iter()
                    .map(|r| row_json(rows, r, refs, meta.one_core))
                    .collect(),
            ),
        ),
    ]);
    let mut out = String::new();
    doc.write(&mut out, 0);
    out.push('\n');
    out
}
