//! The open path of a segment file another process wrote: the first byte
//! picks the pattern (topic, work queue, service), the rest becomes the
//! whole file (header, layout descriptor, region) under a name of this
//! process and the role that pattern uses. `Segment::open` validates the
//! header; then the pattern's own `connect` (zero timeout) opens it as a
//! subscriber, puller or requester would, attaching its ring or queue, and
//! receives from it. Errors are fine; panics, hangs and reads outside the
//! file are not.
#![no_main]

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use shm_comm::pipeline::{DynPuller, PullerOptions};
use shm_comm::pubsub::{ConnectOptions, Expect, RawSubscriber};
use shm_comm::reqrep::{DynRequester, RequesterOptions};
use shm_comm::segment::{self, ChannelKind, OpenSpec, Segment};
use shm_comm::LayoutDescriptor;
use shm_comm_fuzz::OPS;

/// Removes the file when dropped, whatever happened in between.
struct Remove(String);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    // The roles the patterns name their segments with.
    let (kind, role) = [
        (ChannelKind::PubSub, "pub"),
        (ChannelKind::Queue, "queue"),
        (ChannelKind::Request, "svc"),
    ][usize::from(pick % 3)];
    // One name per process, so that parallel fuzzing jobs do not collide.
    let name = format!("fuzz/segment-header-{}", std::process::id());
    let path = format!("/dev/shm/{}", segment::file_name(&name, role).unwrap());
    let _remove = Remove(path.clone());
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .expect("create the segment file");
    f.write_all(file).expect("write the segment file");
    drop(f);

    let spec = OpenSpec {
        name: &name,
        role,
        kind,
        timeout: Duration::ZERO,
    };
    let Ok(seg) = Segment::open(&spec) else {
        return;
    };
    check(&seg);
    drop(seg);
    match kind {
        ChannelKind::PubSub => {
            let opts = ConnectOptions {
                timeout: Duration::ZERO,
                last_value: pick & 4 != 0,
                max_borrows: 2,
            };
            let Ok(mut sub) = RawSubscriber::connect(&name, Expect::Any, opts) else {
                return;
            };
            let mut buf = Vec::new();
            for i in 0..OPS {
                let more = if i % 2 == 0 {
                    sub.try_recv_into(&mut buf).is_ok()
                } else {
                    sub.try_borrow().is_ok()
                };
                if !more {
                    break;
                }
            }
        }
        ChannelKind::Queue => {
            let Ok(pull) = DynPuller::connect_with(&name, PullerOptions::with_timeout(Duration::ZERO)) else {
                return;
            };
            for _ in 0..OPS {
                if pull.try_recv().is_err() {
                    break;
                }
            }
        }
        _ => {
            let _ = DynRequester::connect_with(&name, RequesterOptions::with_timeout(Duration::ZERO));
        }
    }
});

/// What openers ask of any segment they opened.
fn check(seg: &Segment) {
    let _ = (seg.name(), seg.file_name(), seg.creator_pid());
    let _ = (seg.is_closed(), seg.is_replaced(), seg.creator_alive());
    let _ = seg.check_payload(None, "topic");
    if seg.is_typed() {
        // Validated on open: the stored descriptor decodes.
        let d = LayoutDescriptor::decode(&seg.layout_bytes()).expect("validated on open");
        let _ = seg.check_payload(Some(&d), "topic");
    }
}
