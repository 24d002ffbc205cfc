//! `shmc-bridge list --remote`: what other hosts offer, from their
//! bridges' liveliness tokens; the bridge configured by a TOML file.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{Host, BRIDGE};

#[test]
fn list_remote_shows_what_a_configured_bridge_offers() {
    let a = Host::new("a");
    let config = a.dir.with_extension("toml");
    std::fs::write(
        &config,
        format!(
            "domain = \"lab\"\nlisten = [\"{}\"]\n[topics]\nexport = [\"robot/**\"]\n\
             [services]\nexport = [\"math/*\"]\n",
            a.endpoint()
        ),
    )
    .unwrap();
    struct Rm(std::path::PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _rm = Rm(config.clone());
    let mut cmd = Command::new(BRIDGE);
    cmd.args(["run", "--config"])
        .arg(&config)
        .env("SHM_COMM_DIR", &a.dir);
    let _pub = a.peer(&["pub-imu", "robot/imu", "10000", "0"]);
    let _hidden = a.peer(&["pub-imu", "other/imu", "10000", "0"]);
    let _svc = a.peer(&["replier-add", "math/add", "1"]);
    let mut bridge = support::Proc::spawn(cmd);
    bridge.wait_stderr("running as");

    let list = || {
        let out = Command::new(BRIDGE)
            .args([
                "list", "--remote", "--json", "--domain", "lab", "--wait", "0.5",
            ])
            .args(["--mode", "client", "--connect", &a.endpoint()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // The bridge scans every 200 ms: wait, bounded, for both to show.
    let end = Instant::now() + support::PATIENCE;
    let mut text = list();
    while !(text.contains("robot/imu") && text.contains("math/add")) && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
        text = list();
    }
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let has = |name: &str, kind: &str| rows.iter().any(|r| r["name"] == name && r["kind"] == kind);
    assert!(has("robot/imu", "topic"), "{text}");
    assert!(has("math/add", "service"), "{text}");
    assert!(
        !text.contains("other/imu"),
        "not exported, yet listed: {text}"
    );
}
