//! `shmc-bridge`: one per host, carries shm-comm channels over Zenoh.
//!
//! Exit codes: 0 success, 1 a failure (bad configuration, no session),
//! 2 a usage error.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use shm_comm_zenoh::config::Mode;
use shm_comm_zenoh::{Bridge, Config};
use zenoh::Wait;

/// Carry shm-comm topics, services and queues between hosts over Zenoh.
#[derive(Parser, Debug)]
#[command(name = "shmc-bridge", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the bridge of this host until SIGINT or SIGTERM.
    Run(RunArgs),
    /// What the bridges of other hosts offer (their liveliness tokens).
    List(ListArgs),
}

/// Session flags shared by the subcommands.
#[derive(Args, Debug)]
struct SessionArgs {
    /// A TOML configuration file (flags add to it).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// The key prefix shared by the bridges.
    #[arg(long)]
    domain: Option<String>,
    /// `peer` or `client`.
    #[arg(long)]
    mode: Option<String>,
    /// An endpoint to listen on, e.g. `tcp/0.0.0.0:7447` (repeatable).
    #[arg(long)]
    listen: Vec<String>,
    /// An endpoint to connect to (repeatable).
    #[arg(long)]
    connect: Vec<String>,
}

#[derive(Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    session: SessionArgs,
    /// Export local topics matching this pattern (repeatable).
    #[arg(long)]
    export: Vec<String>,
    /// Import remote topics matching this pattern (repeatable).
    #[arg(long)]
    import: Vec<String>,
    /// Send topics matching this pattern reliably, blocking when the
    /// link is congested (repeatable; the others drop).
    #[arg(long)]
    block: Vec<String>,
    /// Let other hosts call local services matching this pattern.
    #[arg(long)]
    export_service: Vec<String>,
    /// Serve this remote service (exact name) on this host.
    #[arg(long)]
    import_service: Vec<String>,
    /// Let other hosts push into local queues matching this pattern.
    #[arg(long)]
    export_queue: Vec<String>,
    /// Pull the jobs of this local queue and push them on the host that
    /// exports it.
    #[arg(long)]
    forward_queue: Vec<String>,
    /// Print the counters as one JSON line every this many seconds (and
    /// always at exit).
    #[arg(long)]
    stats_every: Option<f64>,
}

#[derive(Args, Debug)]
struct ListArgs {
    #[command(flatten)]
    session: SessionArgs,
    /// Ask the other hosts' bridges (the only listing there is: `shmc
    /// list` shows this host's channels).
    #[arg(long)]
    remote: bool,
    /// How long to wait for answers, in seconds.
    #[arg(long, default_value_t = 1.0)]
    wait: f64,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe. Relaxed: pairs with the
    // load in `run`'s wait loop; a flag that orders no other data.
    STOP.store(true, Ordering::Relaxed);
}

fn catch_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: `on_signal` is an `extern "C" fn(c_int)`, the handler
        // type `signal` expects, and does nothing but an atomic store,
        // which is async-signal-safe.
        unsafe {
            libc::signal(
                sig,
                on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
    }
}

fn config(s: &SessionArgs) -> Result<Config, String> {
    let mut c = match &s.config {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    if let Some(d) = &s.domain {
        c.domain = d.clone();
    }
    match s.mode.as_deref() {
        None => {}
        Some("peer") => c.mode = Mode::Peer,
        Some("client") => c.mode = Mode::Client,
        Some(m) => return Err(format!("--mode {m}: expected `peer` or `client`")),
    }
    c.listen.extend(s.listen.iter().cloned());
    c.connect.extend(s.connect.iter().cloned());
    Ok(c)
}

fn run(a: &RunArgs) -> Result<(), String> {
    let mut c = config(&a.session)?;
    c.topics.export.extend(a.export.iter().cloned());
    c.topics.import.extend(a.import.iter().cloned());
    c.topics.block.extend(a.block.iter().cloned());
    c.services.export.extend(a.export_service.iter().cloned());
    c.services.import.extend(a.import_service.iter().cloned());
    c.queues.export.extend(a.export_queue.iter().cloned());
    c.queues.forward.extend(a.forward_queue.iter().cloned());
    let every = a
        .stats_every
        .map(|s| Duration::from_secs_f64(s.clamp(0.01, 86_400.0)));
    catch_signals();
    let bridge = Bridge::start(c)?;
    eprintln!("shmc-bridge: running as {:016x}", bridge.id());
    let mut next = every.map(|e| Instant::now() + e);
    // Relaxed: pairs with the store in `on_signal`; a flag polled here,
    // ordering no other data.
    while !STOP.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
        if let (Some(n), Some(e)) = (next, every) {
            if Instant::now() >= n {
                println!("{}", bridge.stats().json());
                next = Some(n + e);
            }
        }
    }
    println!("{}", bridge.stop());
    Ok(())
}

fn list(a: &ListArgs) -> Result<(), String> {
    if !a.remote {
        return Err("only `list --remote` is supported: `shmc list` shows this host".into());
    }
    let c = config(&a.session)?;
    c.check()?;
    let session = zenoh::open(c.zenoh()?)
        .wait()
        .map_err(|e| format!("cannot open the Zenoh session: {e}"))?;
    let key = format!("{}/@live/**", c.domain);
    let replies = session
        .liveliness()
        .get(&key)
        .timeout(Duration::from_secs_f64(a.wait.clamp(0.0, 3600.0)))
        .wait()
        .map_err(|e| format!("{key}: {e}"))?;
    let mut rows = Vec::new();
    while let Ok(reply) = replies.recv() {
        let Ok(sample) = reply.result() else { continue };
        let k = sample.key_expr().as_str();
        let rest = k
            .strip_prefix(c.domain.as_str())
            .and_then(|r| r.strip_prefix("/@live/"));
        let Some(rest) = rest else { continue };
        let mut parts = rest.splitn(3, '/');
        if let (Some(bridge), Some(kind), Some(name)) = (parts.next(), parts.next(), parts.next()) {
            rows.push((name.to_owned(), kind.to_owned(), bridge.to_owned()));
        }
    }
    rows.sort();
    if !a.json {
        println!("{:<40} {:<8} BRIDGE", "NAME", "KIND");
    }
    for (name, kind, bridge) in rows {
        if a.json {
            println!(
                "{}",
                serde_json::json!({ "name": name, "kind": kind, "bridge": bridge })
            );
        } else {
            println!("{name:<40} {kind:<8} {bridge}");
        }
    }
    let _ = session.close().wait();
    Ok(())
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            std::process::exit(e.exit_code());
        }
    };
    let r = match &cli.command {
        Command::Run(a) => run(a),
        Command::List(a) => list(a),
    };
    if let Err(e) = r {
        eprintln!("shmc-bridge: error: {e}");
        std::process::exit(1);
    }
}
