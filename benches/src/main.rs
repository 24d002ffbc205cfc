//! `shm-comm-benches`: two-process latency and throughput of shm-comm's
//! PUB/SUB, REQ/REP and PUSH/PULL next to the hardware floor (a raw
//! cache-line ping-pong, a raw SPSC ring), measured in the same run. See the
//! crate's README for what each scenario measures.
//!
//! ```text
//! shm-comm-benches [--quick] [--one-core] [--only NAME]... [--json PATH]
//! shm-comm-benches --check
//! ```
//!
//! With the `iceoryx2` cargo feature, the same ping-pong also runs over
//! iceoryx2 (rows `iceoryx2-...`).

mod check;
mod idle;
#[cfg(feature = "iceoryx2")]
mod iox;
mod peer;
mod report;
mod scenarios;
mod sys;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use peer::Spin;
use report::{Meta, Row};
use scenarios::{Budget, Kind, Plan};

const USAGE: &str = "\
usage: shm-comm-benches [--quick] [--one-core] [--only NAME]... [--json PATH]
       shm-comm-benches --check

  --quick      shorter runs (about 13 s instead of about 45 s; more with iceoryx2)
  --one-core   pin both processes to one CPU (raw-floor, typed-64B busy/blocking)
  --only NAME  run only the scenarios whose id starts with NAME (repeatable);
               the references of the ratio column (raw-floor, stream-raw)
               come along with the scenarios they serve
  --json PATH  also write the raw numbers as JSON to PATH
  --idle-subs N  N subscriber processes blocked in recv() on a silent topic:
               their CPU share and wake-ups over 10 s (schedstat), also
               scaled to 1,000 subscribers
  --wake-cpu   CPU per message of a subscriber receiving at 1 kHz, next to
               a bare futex wake-up at 1 kHz in the same windows (5 windows,
               about 30 s)
  --copy-paired  the 4 KiB copy hand-off floor, the same floor with each
               buffer mapped read-only by the side that reads it (as
               subscribers map a topic), and the typed 4 KiB copy, all
               peers running, in 50 ms windows taken in turn (3 runs of
               5 s): their p50s and ratios whatever the placement does
  --check      regression guard (about 10 s): several short rounds of
               raw-floor, typed-64B-busy and typed-64B-blocking; fails (exit 1)
               if the median ratio to the raw floor of a typed row exceeds its
               threshold; ends with `check: N passed, N failed`

scenario ids: raw-floor, typed-64B-busy, typed-64B-blocking, typed-4KiB-busy,
multipub-64B-x1-busy, multipub-64B-x4-busy, multipub-64B-x4-blocking,
typed-64B-loan, typed-1MiB-loan, reqrep-64B, stream-typed-64B, pushpull-64B-x1,
pushpull-64B-x4, stream-raw, copy-floor-4KiB, copy-typed-4KiB,
copy-floor-1MiB, copy-typed-1MiB, copy-floor-16MiB, copy-typed-16MiB;
with --one-core: raw-floor, raw-floor-spin,
typed-64B-busy, typed-64B-blocking. Built with the `iceoryx2` feature, also
iceoryx2-64B-busy, iceoryx2-64B-blocking, iceoryx2-4KiB-busy,
iceoryx2-1MiB-loan (the first two also with --one-core).";

#[derive(Debug, Default)]
struct Config {
    quick: bool,
    one_core: bool,
    check: bool,
    only: Vec<String>,
    json: Option<String>,
    idle_subs: Option<usize>,
    wake_cpu: bool,
    copy_paired: bool,
}

fn parse_args(args: &[String]) -> Result<Config, String> {
    let mut cfg = Config::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => cfg.quick = true,
            "--one-core" => cfg.one_core = true,
            "--check" => cfg.check = true,
            "--wake-cpu" => cfg.wake_cpu = true,
            "--copy-paired" => cfg.copy_paired = true,
            "--idle-subs" => {
                cfg.idle_subs = Some(
                    it.next()
                        .and_then(|n| n.parse().ok())
                        .ok_or("--idle-subs needs a number")?,
                )
            }
            "--only" => cfg
                .only
                .push(it.next().ok_or("--only needs a NAME")?.clone()),
            "--json" => cfg.json = Some(it.next().ok_or("--json needs a PATH")?.clone()),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if cfg.check && (cfg.quick || cfg.one_core || !cfg.only.is_empty() || cfg.json.is_some()) {
        return Err("--check takes no other option".into());
    }
    Ok(cfg)
}

/// The scenarios of this run, in order, with their spin mode and label.
/// `cpus`: every CPU the run may use (see [`Plan::cpus`]).
fn plans(cfg: &Config, peer_cpu: Option<usize>, cpus: &[usize]) -> Vec<Plan> {
    let (pingpong, stream, pure_spin) = if cfg.quick {
        (
            Budget {
                warmup: Duration::from_millis(100),
                measure: Duration::from_millis(1200),
            },
            Budget {
                warmup: Duration::from_millis(100),
                measure: Duration::from_millis(600),
            },
            Budget {
                warmup: Duration::from_millis(50),
                measure: Duration::from_millis(300),
            },
        )
    } else {
        (
            Budget {
                warmup: Duration::from_millis(300),
                measure: Duration::from_secs(5),
            },
            Budget {
                warmup: Duration::from_millis(300),
                measure: Duration::from_secs(2),
            },
            Budget {
                warmup: Duration::from_millis(100),
                measure: Duration::from_secs(1),
            },
        )
    };
    let mut list: Vec<(Kind, Spin, &str, Budget)> = if cfg.one_core {
        vec![
            (
                Kind::RawFloor,
                Spin::Yield,
                "raw-floor (1 core, yield)",
                pingpong,
            ),
            (
                Kind::RawFloorPureSpin,
                Spin::Hot,
                "raw-floor (1 core, pure spin)",
                pure_spin,
            ),
            (
                Kind::Typed64Busy,
                Spin::Yield,
                "typed-64B busy (1 core, yield)",
                pingpong,
            ),
            (
                Kind::Typed64Blocking,
                Spin::Hot,
                "typed-64B blocking (1 core)",
                pingpong,
            ),
            (
                Kind::Iox64Busy,
                Spin::Yield,
                "iceoryx2-64B busy (1 core, yield)",
                pingpong,
            ),
            (
                Kind::Iox64Blocking,
                Spin::Hot,
                "iceoryx2-64B blocking (1 core)",
                pingpong,
            ),
        ]
    } else {
        vec![
            (Kind::RawFloor, Spin::Hot, "raw-floor", pingpong),
            (Kind::Typed64Busy, Spin::Hot, "typed-64B busy", pingpong),
            (
                Kind::Typed64Blocking,
                Spin::Hot,
                "typed-64B blocking",
                pingpong,
            ),
            (
                Kind::Typed64Tokio,
                Spin::Hot,
                "typed-64B tokio recv_async",
                pingpong,
            ),
            (Kind::Typed4KBusy, Spin::Hot, "typed-4KiB busy", pingpong),
            (
                Kind::Multi64Busy,
                Spin::Hot,
                "multipub-64B busy (1 publisher)",
                pingpong,
            ),
            (
                Kind::Multi64x4Busy,
                Spin::Hot,
                "multipub-64B busy (4 publishers)",
                pingpong,
            ),
            (
                Kind::Multi64x4Blocking,
                Spin::Hot,
                "multipub-64B blocking (4 publishers)",
                pingpong,
            ),
            (
                Kind::Loan64Busy,
                Spin::Hot,
                "typed-64B loan+borrow busy",
                pingpong,
            ),
            (
                Kind::Loan1MBusy,
                Spin::Hot,
                "typed-1MiB loan+borrow busy",
                pingpong,
            ),
            (
                Kind::VarLoan1MBusy,
                Spin::Hot,
                "var-1MiB loan_with_len+borrow busy",
                pingpong,
            ),
            (
                Kind::Loan8MBusy,
                Spin::Hot,
                "typed-8MiB loan+borrow busy",
                pingpong,
            ),
            (
                Kind::VarLoan8MBusy,
                Spin::Hot,
                "var-8MiB loan_with_len+borrow busy",
                pingpong,
            ),
            (Kind::Iox64Busy, Spin::Hot, "iceoryx2-64B busy", pingpong),
            (
                Kind::Iox64Blocking,
                Spin::Hot,
                "iceoryx2-64B blocking",
                pingpong,
            ),
            (Kind::Iox4KBusy, Spin::Hot, "iceoryx2-4KiB busy", pingpong),
            (
                Kind::Iox1MLoan,
                Spin::Hot,
                "iceoryx2-1MiB loan busy",
                pingpong,
            ),
            (
                Kind::ReqRep64,
                Spin::Hot,
                "reqrep-64B (round trip)",
                pingpong,
            ),
            (Kind::CopyFloor4K, Spin::Hot, "copy-floor 4KiB", pingpong),
            (Kind::Copy4K, Spin::Hot, "copy typed-4KiB busy", pingpong),
            (Kind::CopyFloor1M, Spin::Hot, "copy-floor 1MiB", pingpong),
            (Kind::Copy1M, Spin::Hot, "copy typed-1MiB busy", pingpong),
            (Kind::CopyFloor16M, Spin::Hot, "copy-floor 16MiB", pingpong),
            (Kind::Copy16M, Spin::Hot, "copy typed-16MiB busy", pingpong),
            (
                Kind::StreamTyped,
                Spin::Hot,
                "stream typed-64B (cap 4096)",
                stream,
            ),
            (
                Kind::PushPull1,
                Spin::Hot,
                "pushpull-64B x1 (cap 1024)",
                stream,
            ),
            (
                Kind::PushPull4,
                Spin::Hot,
                "pushpull-64B x4 (cap 1024)",
                stream,
            ),
            (
                Kind::StreamRaw,
                Spin::Hot,
                "stream raw SPSC u64 (cap 4096)",
                stream,
            ),
        ]
    };
    // The iceoryx2 rows exist only with the `iceoryx2` feature.
    list.retain(|e| cfg!(feature = "iceoryx2") || !e.0.is_iceoryx2());
    // The tokio row exists only with the `tokio` feature.
    list.retain(|e| cfg!(feature = "tokio") || !e.0.is_tokio());
    let wanted = |k: Kind| {
        cfg.only.is_empty()
            || cfg.only.iter().any(|n| {
                k.id()
                    .to_ascii_lowercase()
                    .starts_with(&n.to_ascii_lowercase())
            })
    };
    let selected: Vec<Kind> = list.iter().map(|e| e.0).filter(|&k| wanted(k)).collect();
    // The references of the ratio column come along with what they serve.
    let reference = |k: Kind| match k {
        Kind::RawFloor => selected.iter().any(|s| !s.is_stream()),
        Kind::CopyFloor4K | Kind::CopyFloor1M | Kind::CopyFloor16M => {
            selected.iter().any(|s| s.copy_floor() == Some(k))
        }
        Kind::StreamRaw => selected.iter().any(|&s| s.is_stream() && s != k),
        _ => false,
    };
    list.into_iter()
        .filter(|e| wanted(e.0) || reference(e.0))
        .map(|(kind, spin, label, budget)| Plan {
            kind,
            spin,
            label: label.to_owned(),
            peer_cpu,
            cpus: if peer_cpu.is_some() {
                cpus.to_vec()
            } else {
                Vec::new()
            },
            budget,
        })
        .collect()
}

/// A short raw floor run after each row (see `report::Row::floor`), if the run
/// has a raw floor.
fn probe_plan(plans: &[Plan], quick: bool) -> Option<Plan> {
    let floor = plans.iter().find(|p| p.kind == Kind::RawFloor)?;
    Some(Plan {
        budget: Budget {
            warmup: Duration::from_millis(50),
            measure: Duration::from_millis(if quick { 150 } else { 300 }),
        },
        ..floor.clone()
    })
}

/// Cost of one `Instant::now()` in ns.
fn clock_cost() -> f64 {
    let n = 200_000u32;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(Instant::now());
    }
    t.elapsed().as_nanos() as f64 / f64::from(n)
}

/// Cost of one `std::hint::spin_loop()` in ns.
fn pause_cost() -> f64 {
    let n = 1_000_000u32;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::spin_loop();
    }
    t.elapsed().as_nanos() as f64 / f64::from(n)
}

/// Segments and shm files of this run still present (there should be none):
/// removes them and says what they were.
fn leftovers() -> Vec<String> {
    let pid = std::process::id();
    let mut left: Vec<String> = shm_comm::segment::list()
        .into_iter()
        .filter(|(name, _)| name.starts_with(&format!("bench/{pid}/")))
        .map(|(name, role)| {
            let _ = shm_comm::segment::force_unlink(&name);
            format!("segment {name} ({role}), now removed")
        })
        .collect();
    if let Ok(dir) = std::fs::read_dir("/dev/shm") {
        let prefix = format!("shmc-bench-{pid}-");
        left.extend(
            dir.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|f| f.starts_with(&prefix))
                .map(|f| {
                    let _ = std::fs::remove_file(std::path::Path::new("/dev/shm").join(&f));
                    format!("raw file {f}, now removed")
                }),
        );
    }
    #[cfg(feature = "iceoryx2")]
    left.extend(iox::leftovers());
    left
}

/// `true` if process `pid` exists.
fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Removes what earlier runs that were killed (SIGKILL gives a process no
/// chance to clean up) left behind: segments `bench/<pid>/...` and raw files
/// `shmc-bench-<pid>-...` of dead pids.
fn sweep_stale() {
    let dead = |pid: &str| pid.parse::<u32>().is_ok_and(|p| !pid_alive(p));
    for (name, _) in shm_comm::segment::list() {
        let mut parts = name.split('/');
        if parts.next() == Some("bench") && parts.next().is_some_and(dead) {
            if let Ok(n) = shm_comm::segment::force_unlink(&name) {
                eprintln!("note: removed {n} stale segment(s) of {name} (a killed earlier run)");
            }
        }
    }
    if let Ok(dir) = std::fs::read_dir("/dev/shm") {
        for file in dir
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
        {
            let pid = file
                .strip_prefix("shmc-bench-")
                .and_then(|r| r.split('-').next());
            if pid.is_some_and(dead) {
                let _ = std::fs::remove_file(std::path::Path::new("/dev/shm").join(&file));
                eprintln!("note: removed stale raw file {file} (a killed earlier run)");
            }
        }
    }
    #[cfg(feature = "iceoryx2")]
    {
        let n = iox::sweep_stale();
        if n > 0 {
            eprintln!(
                "note: removed the resources of {n} dead iceoryx2 node(s) of a killed earlier run"
            );
        }
    }
}

/// The variable-size loan rows' p50 over the fixed-size loan rows' of the
/// same size, measured in this run (issue #16's target: at most 1.2x).
fn var_ratios(rows: &[report::Row]) -> String {
    let p50 = |k: Kind| {
        rows.iter()
            .find(|r| r.plan.kind == k)
            .and_then(|r| r.result.as_ref().ok())
            .and_then(|m| m.latency())
            .map(|(l, _)| l.hist.value_at_quantile(0.5) as f64)
    };
    let mut out = String::new();
    for (size, fixed, var) in [
        ("1 MiB", Kind::Loan1MBusy, Kind::VarLoan1MBusy),
        ("8 MiB", Kind::Loan8MBusy, Kind::VarLoan8MBusy),
    ] {
        if let (Some(f), Some(v)) = (p50(fixed), p50(var)) {
            out.push_str(&format!(
                "variable-size / fixed-size loan+borrow p50, {size}: {v:.0} / {f:.0} ns = {:.2}x\n",
                v / f.max(1.0)
            ));
        }
    }
    out
}

fn run_peer(args: &[String]) -> ExitCode {
    let (Some(kind), Some(channel), Some(cpu), Some(spin)) = (
        args.first().and_then(|s| Kind::from_id(s)),
        args.get(1),
        args.get(2),
        args.get(3).and_then(|s| Spin::from_arg(s)),
    ) else {
        eprintln!("shm-comm-benches peer: bad arguments {args:?}");
        return ExitCode::from(2);
    };
    // `-`: keep the inherited affinity; else one CPU or a list `0,1`.
    if let Ok(set) = cpu
        .split(',')
        .map(str::parse::<usize>)
        .collect::<Result<Vec<usize>, _>>()
    {
        if let Err(e) = sys::pin_to_set(&set) {
            eprintln!("shm-comm-benches peer: cannot pin to CPU(s) {cpu}: {e}");
        }
    }
    sys::ignore_interrupts();
    peer::watch_parent();
    match scenarios::serve(kind, channel, spin) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shm-comm-benches peer ({}): {e}", kind.id());
            ExitCode::FAILURE
        }
    }
}

/// Runs `plans` in order, each followed by a raw-floor `probe` (if any; see
/// `report::Row::floor`), with progress on stderr (each line starting with
/// `tag`). Stops early when interrupted.
fn run_rows(plans: Vec<Plan>, probe: Option<&Plan>, tag: &str) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    // The floor measured last: before the next row.
    let mut last_floor = None;
    for (i, plan) in plans.into_iter().enumerate() {
        eprint!("{tag}[{}] {} ... ", i + 1, plan.label);
        let t = Instant::now();
        let before = sys::usage();
        let result = scenarios::run(&plan);
        let (after, wall) = (sys::usage(), t.elapsed().as_secs_f64());
        let cpu_share = (
            after.own.saturating_sub(before.own).as_secs_f64() / wall,
            after.children.saturating_sub(before.children).as_secs_f64() / wall,
        );
        let others_share = before.others_since(&after).map(|d| d.as_secs_f64() / wall);
        match &result {
            Ok(scenarios::Measured::PingPong(l)) => eprint!(
                "p50 {} ns, p99 {} ns ({} round trips, {:.1} s)",
                l.hist.value_at_quantile(0.5),
                l.hist.value_at_quantile(0.99),
                l.round_trips,
                t.elapsed().as_secs_f64()
            ),
            Ok(m @ scenarios::Measured::Calls(l)) => eprint!(
                "round trip p50 {} ns, p99 {} ns, {:.0} calls/s ({:.1} s)",
                l.hist.value_at_quantile(0.5),
                l.hist.value_at_quantile(0.99),
                m.msgs_per_s(),
                t.elapsed().as_secs_f64()
            ),
            Ok(m @ scenarios::Measured::Jobs(_)) => eprint!(
                "{:.0} jobs/s ({:.1} s)",
                m.msgs_per_s(),
                t.elapsed().as_secs_f64()
            ),
            Ok(m) => eprint!(
                "{:.0} msgs/s ({:.1} s)",
                m.msgs_per_s(),
                t.elapsed().as_secs_f64()
            ),
            Err(e) => eprint!("FAILED: {e}"),
        }
        let p50 = |r: &Result<scenarios::Measured, String>| match r {
            Ok(scenarios::Measured::PingPong(l)) => Some(l.hist.value_at_quantile(0.5)),
            _ => None,
        };
        let floor = if plan.kind == Kind::RawFloor {
            let own = p50(&result);
            (own, own)
        } else {
            let after = match probe {
                Some(probe) if !sys::interrupted() => p50(&scenarios::run(probe)),
                _ => None,
            };
            if let Some(f) = after {
                eprint!("; floor after: {f} ns");
            }
            (last_floor, after)
        };
        eprintln!();
        last_floor = floor.1;
        rows.push(Row {
            plan,
            result,
            cpu_share,
            others_share,
            floor,
        });
        if sys::interrupted() {
            eprintln!("interrupted: skipping the remaining scenarios");
            break;
        }
    }
    rows
}

/// `--copy-paired`: three runs of [`scenarios::copy_paired`] at 4 KiB.
fn copy_paired(peer_cpu: Option<usize>) -> Result<(), String> {
    let plan = |kind, label: &str| Plan {
        kind,
        spin: Spin::Hot,
        label: label.to_owned(),
        peer_cpu,
        cpus: Vec::new(),
        budget: Budget {
            warmup: Duration::from_millis(300),
            measure: Duration::from_secs(5),
        },
    };
    let floors = [
        plan(Kind::CopyFloor4K, "copy-floor 4KiB"),
        plan(Kind::CopyFloorRo4K, "copy-floor-ro 4KiB"),
    ];
    let typed = plan(Kind::Copy4K, "copy typed-4KiB busy");
    println!(
        "4 KiB one-way p50 in 50 ms windows taken in turn: the copy floor, the floor \
         whose readers map their buffers read-only (as subscribers do), the typed copy:"
    );
    let (mut ratios, mut ro_ratios) = (Vec::new(), Vec::new());
    for run in 1..=3 {
        let lat = scenarios::copy_paired::<scenarios::Msg4K>(&floors, &typed, 4096)?;
        let p50 = |i: usize| lat[i].hist.value_at_quantile(0.5).max(1);
        let (fp, rp, tp) = (p50(0), p50(1), p50(2));
        let (r, rr) = (tp as f64 / fp as f64, tp as f64 / rp as f64);
        println!(
            "  run {run}: floor {fp} ns ({} round trips), read-only floor {rp} ns ({}), \
             typed {tp} ns ({}): {r:.2}x the floor, {rr:.2}x the read-only floor",
            lat[0].round_trips, lat[1].round_trips, lat[2].round_trips
        );
        ratios.push(r);
        ro_ratios.push(rr);
    }
    for v in [&mut ratios, &mut ro_ratios] {
        v.sort_by(f64::total_cmp);
    }
    println!(
        "  median {:.2}x the copy floor, {:.2}x the read-only floor",
        ratios[ratios.len() / 2],
        ro_ratios[ro_ratios.len() / 2]
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(peer::ROLE_ARG) {
        if let (Some(role @ (idle::IDLE_SUB | idle::RATE_SUB | idle::FUTEX_SUB)), Some(arg)) =
            (args.get(1).map(String::as_str), args.get(2))
        {
            return match idle::serve(role, arg) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("shm-comm-benches {role}: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        return run_peer(&args[1..]);
    }
    let cfg = match parse_args(&args) {
        Ok(c) => c,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("shm-comm-benches: {e}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(if e.is_empty() { 0 } else { 2 });
        }
    };

    sweep_stale();
    if cfg.idle_subs.is_some() || cfg.wake_cpu {
        let mut r = Ok(());
        if let Some(n) = cfg.idle_subs {
            r = idle::idle_subs(n);
        }
        if cfg.wake_cpu && r.is_ok() {
            r = idle::wake_cpu();
        }
        return match r {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("shm-comm-benches: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let cpus = sys::allowed_cpus();
    let (parent_cpu, peer_cpu) = match (cfg.one_core, cpus.as_slice()) {
        (true, [c, ..]) => (Some(*c), Some(*c)),
        (false, [a, b, ..]) => (Some(*a), Some(*b)),
        _ => {
            eprintln!("note: fewer than 2 usable CPUs; processes are not pinned");
            (None, None)
        }
    };
    if let Some(c) = parent_cpu {
        if let Err(e) = sys::pin_to(c) {
            eprintln!("warning: cannot pin to CPU {c}: {e}");
        }
    }

    if cfg.check {
        return check::run(peer_cpu);
    }
    if cfg.copy_paired {
        return match copy_paired(peer_cpu) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("shm-comm-benches: {e}");
                ExitCode::FAILURE
            }
        };
    }

    let plans = plans(&cfg, peer_cpu, &cpus);
    if plans.is_empty() {
        let hint = if !cfg!(feature = "iceoryx2")
            && cfg
                .only
                .iter()
                .any(|n| n.to_ascii_lowercase().starts_with("ice"))
        {
            " (the iceoryx2 rows need `--features iceoryx2`)"
        } else {
            ""
        };
        eprintln!(
            "shm-comm-benches: no scenario matches {:?}{hint}\n\n{USAGE}",
            cfg.only
        );
        return ExitCode::from(2);
    }
    let meta = Meta {
        one_core: cfg.one_core,
        quick: cfg.quick,
        parent_cpu,
        peer_cpu,
        clock_ns: clock_cost(),
        pause_ns: pause_cost(),
    };
    eprintln!(
        "shm-comm-benches: {} scenario(s); parent CPU {:?}, peer CPU {:?}; \
         Instant::now() {:.0} ns, pause {:.1} ns",
        plans.len(),
        parent_cpu,
        peer_cpu,
        meta.clock_ns,
        meta.pause_ns
    );

    sys::catch_interrupts();
    let started = Instant::now();
    let probe = probe_plan(&plans, cfg.quick);
    let rows = run_rows(plans, probe.as_ref(), "");
    eprintln!("done in {:.1} s", started.elapsed().as_secs_f64());

    let mut ok = rows.iter().all(|r| r.result.is_ok());
    let left = leftovers();
    for l in &left {
        eprintln!("error: left behind after the run: {l}");
        ok = false;
    }

    print!("{}", report::table(&meta, &rows));
    print!("{}", var_ratios(&rows));
    if let Some(path) = &cfg.json {
        if let Err(e) = std::fs::write(path, report::json(&meta, &rows)) {
            eprintln!("shm-comm-benches: writing {path}: {e}");
            ok = false;
        }
    }
    if sys::interrupted() {
        ExitCode::from(130)
    } else if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
