//! `shmc echo`: a topic's messages, decoded, as they arrive.

use std::time::{Duration, Instant};

use clap::Args;
use shm_comm::pubsub::{ConnectOptions, Expect, RawSubscriber};
use shm_comm::{Codec, OpenError};

use crate::value::{self, Show};
use crate::{print_json, Fail, Res};

#[derive(Args, Debug)]
pub(crate) struct EchoArgs {
    /// The topic name.
    name: String,
    /// Print one message, then exit.
    #[arg(long)]
    once: bool,
    /// Print N messages, then exit.
    #[arg(short = 'n', long = "count", value_name = "N")]
    count: Option<u64>,
    /// Print only this part of each message, e.g. `pose.position[2]`.
    #[arg(long)]
    field: Option<String>,
    /// Leave arrays out (show their type).
    #[arg(long)]
    no_arr: bool,
    /// Summarize arrays longer than this.
    #[arg(long, default_value_t = 64)]
    max_array: usize,
    /// Show pickle frames as bytes (they are never unpickled).
    #[arg(long)]
    allow_pickle: bool,
    /// How long to wait for the topic to exist, in seconds.
    #[arg(long, default_value_t = 2.0)]
    wait: f64,
    /// Give up after this many seconds without a message (default: wait
    /// for ever).
    #[arg(long)]
    timeout: Option<f64>,
    /// One JSON value per line.
    #[arg(long)]
    json: bool,
}

/// Connects to topic `name` whatever it carries, waiting up to `wait` s.
pub(crate) fn connect(name: &str, wait: f64) -> Result<RawSubscriber, Fail> {
    shm_comm::segment::validate_name(name)?;
    let opts = ConnectOptions::with_timeout(Duration::from_secs_f64(wait.clamp(0.0, 3600.0)));
    RawSubscriber::connect(name, Expect::Any, opts).map_err(|e| match e {
        OpenError::NotFound { .. } => Fail::new(format!(
            "no topic `{name}` (waited {wait} s; `shmc list` shows the channels there are)"
        )),
        e => Fail::from(e),
    })
}

pub(crate) fn echo(a: &EchoArgs) -> Res {
    let path = a
        .field
        .as_deref()
        .map(value::parse_path)
        .transpose()
        .map_err(Fail::new)?;
    let mut sub = connect(&a.name, a.wait)?;
    let layout = sub.layout();
    let show = Show {
        max_array: a.max_array,
        no_arr: a.no_arr,
        allow_pickle: a.allow_pickle,
    };
    let limit = if a.once { Some(1) } else { a.count };
    let timeout = a
        .timeout
        .map(|t| Duration::from_secs_f64(t.clamp(0.0, 1e6)));
    let mut buf = Vec::new();
    let mut printed = 0u64;
    while limit.is_none_or(|n| printed < n) {
        let deadline = timeout.map(|t| Instant::now() + t);
        let codec = sub
            .recv_into_deadline(&mut buf, deadline)
            .map_err(|e| Fail::new(format!("`{}`: no message: {e}", a.name)))?;
        let v = match (&layout, codec) {
            (Some(l), _) => value::decode_typed(l, &buf, &show),
            (None, c) => value::decode_frame(c, &buf, &show),
        };
        let v = match &path {
            Some(p) => value::select(&v, p)
                .map_err(|e| {
                    Fail::new(format!("--field {}: {e}", a.field.as_deref().unwrap_or("")))
                })?
                .clone(),
            None => v,
        };
        if a.json {
            print_json(&v);
        } else {
            if layout.is_none() && codec != Codec::MsgPack {
                println!("# {} frame, {} bytes", codec.name(), buf.len());
            }
            print!("{}", crate::render::human(&v));
            println!("---");
        }
        printed += 1;
    }
    Ok(())
}
