//! `shmc clean`: remove the segments of this user whose owners are all
//! dead. Never another user's (only this user's prefix is listed, and a
//! file not owned by us is refused when opened), never one a live
//! process uses.

use clap::Args;
use serde_json::json;
use shm_comm::segment::{self, ChannelKind};
use shm_comm::OpenError;

use crate::channels::in_use;
use crate::{print_json, Res};

#[derive(Args, Debug)]
pub(crate) struct CleanArgs {
    /// Say what would be removed, remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// One JSON object per stale segment.
    #[arg(long)]
    json: bool,
}

/// Why segment `role` of `name` is stale, or `None` if it is in use (or
/// cannot be judged: it is then left alone).
pub(crate) fn stale(name: &str, role: &str) -> Option<String> {
    match segment::inspect(name, role) {
        Ok(info) if in_use(&info) => None,
        // A queue's creator and participants may all be gone while it
        // still holds jobs: those are lost with it, as the owner is.
        Ok(info) if info.kind == ChannelKind::Queue => Some(format!(
            "queue with no live pusher or puller (creator pid {} dead)",
            info.creator_pid
        )),
        Ok(info) => Some(format!("creator pid {} is dead", info.creator_pid)),
        // Its creator died before it was initialized.
        Err(OpenError::NotReady { pid, .. })
            if pid == 0 || !std::path::Path::new(&format!("/proc/{pid}")).exists() =>
        {
            Some(format!("never initialized (creator pid {pid} is gone)"))
        }
        Err(_) => None,
    }
}

pub(crate) fn clean(a: &CleanArgs) -> Res {
    let mut removed = 0;
    for (name, role) in segment::list() {
        let Some(why) = stale(&name, &role) else {
            continue;
        };
        // Judged again just before the unlink: a publisher that replaced
        // the stale segment meanwhile is live and keeps its own.
        let gone = !a.dry_run && stale(&name, &role).is_some() && segment::unlink(&name, &role)?;
        removed += usize::from(gone);
        if a.json {
            print_json(&json!({
                "name": name, "role": role, "reason": why,
                "removed": gone, "dry_run": a.dry_run,
            }));
        } else {
            let verb = if a.dry_run {
                "would remove"
            } else if gone {
                "removed"
            } else {
                "kept"
            };
            println!("{verb} {name} ({role}): {why}");
        }
    }
    if !a.json && !a.dry_run {
        println!("{removed} stale segment(s) removed");
    }
    Ok(())
}
