//! What `shmc record` and `shmc hz` cost the publishers they watch.
//!
//! `shmc-bench [SECONDS]` (default 10) runs seven phases of SECONDS each
//! on two topics of this process, an `ImageFullHd` (6.2 MB) at 30 Hz and
//! an `Imu` at 1 kHz, with a blocking `Imu` subscriber thread:
//! 1. alone;
//! 2. with `shmc record` of both topics (into a file in the temporary
//!    directory, removed afterwards), zstd chunks (the default), polling;
//! 3. the same woken by every message (`--wake`);
//! 4. the same with `--compression none`;
//! 5. with `shmc hz` of the `Imu` topic (polling, the default);
//! 6. with `shmc hz --wake`;
//! 7. alone again (how much the machine itself drifted meanwhile).
//!
//! For each phase it prints the `Imu` publisher's send time and the
//! one-way latency to the subscriber (p50, p99, max, from the stamp the
//! publisher wrote), the image publisher's send time, and the CPU time
//! of the `shmc` child (user + system, from `getrusage` of the reaped
//! child) as a share of one core. For the recording: the messages and
//! drops it reports, and the messages per topic in the file. Run it with
//! `cargo run --release -p shm-comm-cli --bin shmc-bench`.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shm_comm::msgs::{ImageFullHd, Imu};
use shm_comm::pubsub::{Publisher, Subscriber};
use shm_comm::FixedString;

/// Nanoseconds as (p50, p99, max) in microseconds.
fn pcts(mut v: Vec<u64>) -> String {
    if v.is_empty() {
        return "no samples".into();
    }
    v.sort_unstable();
    let at = |q: f64| v[((v.len() - 1) as f64 * q) as usize] as f64 / 1e3;
    format!(
        "p50 {:>7.1} us  p99 {:>7.1} us  max {:>8.1} us  (n {})",
        at(0.5),
        at(0.99),
        at(1.0),
        v.len()
    )
}

/// CPU seconds (user + system) of the reaped children of this process.
fn children_cpu() -> f64 {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `ru` points to writable memory of a `rusage`, which
    // `getrusage` fills; RUSAGE_CHILDREN is a valid `who`.
    let ok = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, ru.as_mut_ptr()) } == 0;
    if !ok {
        return f64::NAN;
    }
    // SAFETY: `getrusage` returned 0, so it initialized `ru` (and it was
    // zeroed before, a valid `rusage` anyway).
    let ru = unsafe { ru.assume_init() };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

struct Phase {
    imu_send: Vec<u64>,
    imu_latency: Vec<u64>,
    image_send: Vec<u64>,
}

/// Publishes for `secs` seconds on the two topics, measuring.
fn run(
    imu: &mut Publisher<Imu>,
    image: &mut Publisher<ImageFullHd>,
    pixels: &[u8],
    secs: f64,
    epoch: Instant,
) -> Phase {
    let stop = Arc::new(AtomicBool::new(false));
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut sub = Subscriber::<Imu>::connect(imu.raw().name()).expect("imu subscriber");
    let sub_stop = stop.clone();
    let listener = std::thread::spawn(move || {
        let mut lat = Vec::new();
        // Relaxed: a stop flag that orders no data (the samples come
        // back through `join`); pairs with the store after the phase.
        while !sub_stop.load(Ordering::Relaxed) {
            if let Ok(m) = sub.recv_timeout(Duration::from_millis(50)) {
                let sent = u64::from(m.header.stamp.sec as u32) * 1_000_000_000
                    + u64::from(m.header.stamp.nanosec);
                lat.push((epoch.elapsed().as_nanos() as u64).saturating_sub(sent));
            }
        }
        lat
    });
    let (imu_send, image_send) = std::thread::scope(|s| {
        let images = s.spawn(|| {
            let mut times = Vec::new();
            let period = Duration::from_secs_f64(1.0 / 30.0);
            let start = Instant::now();
            let mut n = 0u32;
            while Instant::now() < end {
                let mut loan = image.loan().expect("image loan");
                loan.header.seq = n;
                loan.height = 1080;
                loan.width = 1920;
                loan.step = 1920 * 3;
                loan.encoding = FixedString::try_from("rgb8").unwrap_or_default();
                // The camera's frame: a copy in, as a driver makes.
                loan.data.set(pixels).expect("fits");
                loan.data.as_mut_slice()[..4].copy_from_slice(&n.to_le_bytes());
                let t0 = Instant::now();
                loan.send().expect("image send");
                times.push(t0.elapsed().as_nanos() as u64);
                n += 1;
                let next = start + period.mul_f64(f64::from(n));
                if let Some(d) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(d);
                }
            }
            times
        });
        let mut times = Vec::new();
        let period = Duration::from_millis(1);
        let start = Instant::now();
        let mut n = 0u32;
        let mut m = Imu::default();
        while Instant::now() < end {
            let ns = epoch.elapsed().as_nanos() as u64;
            m.header.seq = n;
            m.header.stamp.sec = (ns / 1_000_000_000) as i32;
            m.header.stamp.nanosec = (ns % 1_000_000_000) as u32;
            let t0 = Instant::now();
            imu.send(&m).expect("imu send");
            times.push(t0.elapsed().as_nanos() as u64);
            n += 1;
            let next = start + period * n;
            if let Some(d) = next.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
        }
        (times, images.join().expect("image thread"))
    });
    // Relaxed: pairs with the listener's load of the flag (see there).
    stop.store(true, Ordering::Relaxed);
    Phase {
        imu_send,
        imu_latency: listener.join().expect("listener"),
        image_send,
    }
}

fn report(name: &str, p: Phase) {
    println!("{name}");
    println!("  imu send          {}", pcts(p.imu_send));
    println!("  imu latency       {}", pcts(p.imu_latency));
    println!("  image send        {}", pcts(p.image_send));
}

/// Phase 2: `shmc record` of `topics` with `extra` arguments while `run`
/// publishes.
fn record(
    what: &str,
    extra: &[&str],
    shmc: &std::path::Path,
    topics: [&str; 2],
    secs: f64,
    tag: u32,
    run: impl FnOnce() -> Phase,
) -> Result<(), Box<dyn std::error::Error>> {
    let file = std::env::temp_dir().join(format!("shmc-bench-{tag}.mcap"));
    let cpu0 = children_cpu();
    let started = Instant::now();
    let recorder = Command::new(shmc)
        .args(["record", "-o"])
        .arg(&file)
        .args(topics)
        .args(["--duration", &format!("{}", secs + 1.0)])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()?;
    std::thread::sleep(Duration::from_millis(500));
    let p = run();
    let out = recorder.wait_with_output()?;
    let wall = started.elapsed().as_secs_f64();
    let cpu = children_cpu() - cpu0;
    report(what, p);
    let said = String::from_utf8_lossy(&out.stderr);
    let last = said.rsplit('\r').next().unwrap_or("").trim();
    println!("  recorder          {last}");
    println!(
        "  recorder CPU      {:.2} s in {wall:.1} s = {:.0}% of one core",
        cpu,
        100.0 * cpu / wall
    );
    let buf = std::fs::read(&file)?;
    if let Some(summary) = mcap::Summary::read(&buf)? {
        for (id, c) in &summary.channels {
            let n = summary
                .stats
                .as_ref()
                .and_then(|s| s.channel_message_counts.get(id).copied())
                .unwrap_or(0);
            println!(
                "  in the file       {}: {n} messages ({})",
                c.topic, c.message_encoding
            );
        }
    }
    println!("  file size         {:.1} MB", buf.len() as f64 / 1e6);
    drop(buf);
    let _ = std::fs::remove_file(&file);

    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs: f64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(10.0);
    let shmc = std::env::current_exe()?.with_file_name("shmc");
    let tag = std::process::id();
    let (imu_name, image_name) = (format!("bench/imu-{tag}"), format!("bench/image-{tag}"));
    let mut imu = Publisher::<Imu>::create(&imu_name)?;
    let mut image = Publisher::<ImageFullHd>::create(&image_name)?;
    // Pixels like a camera's: smooth gradients with sensor noise in the
    // low bits (compresses about as well as a real frame, unlike zeros).
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let pixels: Vec<u8> = (0..1920 * 1080 * 3)
        .map(|i: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let (x, y) = ((i / 3) % 1920, i / 5760);
            (((x + y) / 12) as u8 & 0xf8) | (rng as u8 & 0x07)
        })
        .collect();
    let epoch = Instant::now();
    println!(
        "shmc-bench: ImageFullHd ({} bytes) at 30 Hz + Imu ({} bytes) at 1 kHz, {secs} s per phase",
        std::mem::size_of::<ImageFullHd>(),
        std::mem::size_of::<Imu>()
    );

    report("alone", run(&mut imu, &mut image, &pixels, secs, epoch));

    for (what, extra) in [
        (
            "with shmc record (both topics, zstd; polls every 1 ms)",
            &[][..],
        ),
        (
            "with shmc record --wake (both topics, zstd)",
            &["--wake"][..],
        ),
        (
            "with shmc record --compression none (both topics)",
            &["--compression", "none"][..],
        ),
    ] {
        record(
            what,
            extra,
            &shmc,
            [&image_name, &imu_name],
            secs,
            tag,
            || run(&mut imu, &mut image, &pixels, secs, epoch),
        )?;
    }

    for (what, extra) in [
        ("with shmc hz (imu; polls every 1 ms)", &[][..]),
        ("with shmc hz --wake (imu)", &["--wake"][..]),
    ] {
        let cpu0 = children_cpu();
        let started = Instant::now();
        let hz = Command::new(&shmc)
            .args(["hz", &imu_name, "--json", "--every", "100"])
            .args(extra)
            .args(["--duration", &format!("{}", secs + 1.0)])
            .stdout(Stdio::piped())
            .spawn()?;
        std::thread::sleep(Duration::from_millis(500));
        let p = run(&mut imu, &mut image, &pixels, secs, epoch);
        let out = hz.wait_with_output()?;
        let wall = started.elapsed().as_secs_f64();
        let cpu = children_cpu() - cpu0;
        report(what, p);
        let said = String::from_utf8_lossy(&out.stdout);
        if let Some(line) = said.lines().last() {
            let v: serde_json::Value = serde_json::from_str(line)?;
            println!(
                "  hz                rate {:.2} Hz, missed {}",
                v["rate_hz"].as_f64().unwrap_or(f64::NAN),
                v["missed"]
            );
        }
        println!(
            "  hz CPU            {:.2} s in {wall:.1} s = {:.1}% of one core",
            cpu,
            100.0 * cpu / wall
        );
    }
    // The machine's own drift (other programs) over the run.
    report(
        "alone, again",
        run(&mut imu, &mut image, &pixels, secs, epoch),
    );
    Ok(())
}
