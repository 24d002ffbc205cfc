//! The bridge's configuration: a TOML file, overridden by flags.
//!
//! ```toml
//! domain = "shm"                      # key prefix shared by the bridges
//! mode = "peer"                       # or "client" (then `connect` a router)
//! listen = ["tcp/0.0.0.0:7447"]
//! connect = ["tcp/192.168.1.20:7447"]
//!
//! [topics]
//! export = ["robot/**"]               # local topics offered to other hosts
//! import = ["**"]                     # remote topics published here
//! block = ["cmd/**"]                  # reliable, blocking: commands
//!                                     # (everything else drops: sensors)
//!
//! [services]
//! export = ["arm/plan"]               # local services callable remotely
//! import = ["arm/plan"]               # remote services served here
//! call_timeout = 10.0                 # seconds a forwarded call may take
//!
//! [queues]
//! export = ["jobs/**"]                # local queues that remote pushers fill
//! forward = ["jobs/detect"]           # local queues whose jobs go to a remote host
//! ```
//!
//! Patterns are Zenoh key expressions over channel names: `*` is one
//! `/`-separated component, `**` any number of them.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use zenoh::key_expr::KeyExpr;

/// How the Zenoh session finds its peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Connects to and accepts other peers (the default).
    #[default]
    Peer,
    /// Connects to a router only.
    Client,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Peer => "peer",
            Mode::Client => "client",
        }
    }
}

/// Which topics cross, and how.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Topics {
    /// Local topics offered to other hosts.
    #[serde(default)]
    pub export: Vec<String>,
    /// Remote topics published on this host.
    #[serde(default)]
    pub import: Vec<String>,
    /// Topics sent reliably, the publisher waiting for room (commands);
    /// the others are dropped when the network is congested (sensors).
    #[serde(default)]
    pub block: Vec<String>,
}

/// Which services cross.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Services {
    /// Local services that other hosts may call.
    #[serde(default)]
    pub export: Vec<String>,
    /// Remote services (exact names) served on this host by the bridge.
    #[serde(default)]
    pub import: Vec<String>,
    /// How long a forwarded call may take, in seconds (the caller's own
    /// timeout still applies on its side).
    #[serde(default = "default_call_timeout")]
    pub call_timeout: f64,
}

fn default_call_timeout() -> f64 {
    10.0
}

impl Default for Services {
    fn default() -> Self {
        Services {
            export: Vec::new(),
            import: Vec::new(),
            call_timeout: default_call_timeout(),
        }
    }
}

/// Which queues cross.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Queues {
    /// Local queues that remote hosts may push into.
    #[serde(default)]
    pub export: Vec<String>,
    /// Local queues (exact names) whose jobs the bridge pulls and sends to
    /// the host that exports them.
    #[serde(default)]
    pub forward: Vec<String>,
}

/// Everything a bridge needs.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The key prefix shared by the bridges that should see each other.
    #[serde(default = "default_domain")]
    pub domain: String,
    /// Peer or client.
    #[serde(default)]
    pub mode: Mode,
    /// Endpoints to listen on, e.g. `tcp/0.0.0.0:7447`.
    #[serde(default)]
    pub listen: Vec<String>,
    /// Endpoints to connect to.
    #[serde(default)]
    pub connect: Vec<String>,
    /// Let peers tell each other about the peers they know (gossip
    /// scouting). Multicast scouting is always off: endpoints are explicit.
    #[serde(default = "yes")]
    pub gossip: bool,
    /// This bridge's id (0: random at each start).
    #[serde(default)]
    pub id: u64,
    /// Topics.
    #[serde(default)]
    pub topics: Topics,
    /// Services.
    #[serde(default)]
    pub services: Services,
    /// Queues.
    #[serde(default)]
    pub queues: Queues,
}

fn default_domain() -> String {
    "shm".into()
}

fn yes() -> bool {
    true
}

impl Default for Config {
    fn default() -> Self {
        Config {
            domain: default_domain(),
            mode: Mode::default(),
            listen: Vec::new(),
            connect: Vec::new(),
            gossip: true,
            id: 0,
            topics: Topics::default(),
            services: Services::default(),
            queues: Queues::default(),
        }
    }
}

impl Config {
    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Config::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Checks the domain and every pattern; call before starting.
    pub fn check(&self) -> Result<(), String> {
        let domain = KeyExpr::try_from(self.domain.as_str())
            .map_err(|e| format!("domain `{}`: {e}", self.domain))?;
        if self.domain.contains(['*', '$', '@']) {
            return Err(format!(
                "domain `{domain}`: must be a plain key (no wildcards, no `@`)"
            ));
        }
        let lists = [
            ("topics.export", &self.topics.export),
            ("topics.import", &self.topics.import),
            ("topics.block", &self.topics.block),
            ("services.export", &self.services.export),
            ("queues.export", &self.queues.export),
        ];
        for (what, list) in lists {
            for p in list {
                pattern(p).map_err(|e| format!("{what}: {e}"))?;
            }
        }
        for (what, list) in [
            ("services.import", &self.services.import),
            ("queues.forward", &self.queues.forward),
        ] {
            for n in list {
                shm_comm::segment::validate_name(n).map_err(|e| format!("{what}: {e}"))?;
            }
        }
        if !(self.services.call_timeout > 0.0 && self.services.call_timeout <= 3600.0) {
            return Err(format!(
                "services.call_timeout {}: must be in (0, 3600] seconds",
                self.services.call_timeout
            ));
        }
        for n in &self.queues.forward {
            if matches(&self.queues.export, n) {
                return Err(format!(
                    "queue `{n}` is both exported and forwarded: its jobs would leave and come back"
                ));
            }
        }
        for n in &self.services.import {
            if matches(&self.services.export, n) {
                return Err(format!(
                    "service `{n}` is both exported and imported: calls would loop"
                ));
            }
        }
        Ok(())
    }

    /// The forwarded call's time limit.
    pub fn call_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.services.call_timeout)
    }

    /// The Zenoh session's configuration: mode, endpoints, no multicast.
    pub fn zenoh(&self) -> Result<zenoh::Config, String> {
        let mut c = zenoh::Config::default();
        let set = |c: &mut zenoh::Config, key: &str, v: serde_json::Value| {
            c.insert_json5(key, &v.to_string())
                .map_err(|e| format!("zenoh {key} = {v}: {e}"))
        };
        set(&mut c, "mode", self.mode.name().into())?;
        set(&mut c, "listen/endpoints", self.listen.clone().into())?;
        set(&mut c, "connect/endpoints", self.connect.clone().into())?;
        set(&mut c, "scouting/multicast/enabled", false.into())?;
        set(&mut c, "scouting/gossip/enabled", self.gossip.into())?;
        Ok(c)
    }
}

/// A pattern as a key expression, checked.
fn pattern(p: &str) -> Result<KeyExpr<'_>, String> {
    KeyExpr::try_from(p).map_err(|e| format!("pattern `{p}`: {e}"))
}

/// `true` if channel `name` matches one of `patterns`.
pub fn matches(patterns: &[String], name: &str) -> bool {
    let Ok(name) = KeyExpr::try_from(name) else {
        return false;
    };
    patterns
        .iter()
        .filter_map(|p| KeyExpr::try_from(p.as_str()).ok())
        .any(|p| p.includes(&name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_with_every_section_parses() {
        let c = Config::from_toml(
            r#"
            domain = "lab"
            mode = "client"
            connect = ["tcp/127.0.0.1:7447"]
            [topics]
            export = ["robot/**"]
            import = ["*/imu"]
            block = ["cmd/**"]
            [services]
            export = ["arm/plan"]
            call_timeout = 2.5
            [queues]
            forward = ["jobs"]
            "#,
        )
        .unwrap();
        c.check().unwrap();
        assert_eq!(c.domain, "lab");
        assert_eq!(c.mode, Mode::Client);
        assert_eq!(c.services.call_timeout, 2.5);
        assert!(matches(&c.topics.export, "robot/arm/pose"));
        assert!(!matches(&c.topics.export, "robots/pose"));
        assert!(matches(&c.topics.import, "a/imu"));
        assert!(!matches(&c.topics.import, "a/b/imu"));
        c.zenoh().unwrap();
    }

    #[test]
    fn bad_files_are_refused() {
        assert!(Config::from_toml("domian = \"x\"").is_err());
        let mut c = Config {
            domain: "a/*".into(),
            ..Config::default()
        };
        assert!(c.check().is_err());
        c.domain = "shm".into();
        c.queues.export = vec!["jobs/**".into()];
        c.queues.forward = vec!["jobs/a".into()];
        assert!(c
            .check()
            .unwrap_err()
            .contains("both exported and forwarded"));
    }
}
