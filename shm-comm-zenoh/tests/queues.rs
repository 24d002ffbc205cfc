//! A job pushed on host B lands in host A's queue, exactly once.

mod support;

use std::collections::BTreeMap;

use support::Host;

#[test]
fn pushes_from_b_land_exactly_once_in_a_queue_on_a() {
    let (a, b) = (Host::new("a"), Host::new("b"));
    // B's first pusher makes B's queue; its bridge pulls it and sends on.
    let _first = b.peer(&["push-job", "work/jobs", "0"]);
    let mut ba = a.bridge(&["--export-queue", "work/**"]);
    let mut bb = b.bridge(&["--connect", &a.endpoint(), "--forward-queue", "work/jobs"]);
    let mut puller = a.peer(&["pull-jobs", "work/jobs", "3"]);
    for id in 1..=20 {
        let mut p = b.peer(&["push-job", "work/jobs", &id.to_string()]);
        assert_eq!(p.json()["sent"], id);
    }
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    while seen.len() < 21 {
        let v = puller.json();
        *seen.entry(v["id"].as_u64().unwrap()).or_default() += 1;
    }
    // The puller gives up after 3 s without a job: nothing more came.
    assert!(puller.line(support::PATIENCE).is_none(), "a job came twice");
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        (0..=20).collect::<Vec<_>>()
    );
    assert!(seen.values().all(|&n| n == 1), "{seen:?}");
    let (sa, sb) = (ba.stop(), bb.stop());
    assert_eq!(sa["jobs_in"], 21, "{sa}");
    assert_eq!(sb["jobs_out"], 21, "{sb}");
    assert_eq!(sb["job_errors"], 0, "{sb}");
}
