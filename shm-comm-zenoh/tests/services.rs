//! A service on host A called from host B through two bridges.

mod support;

use std::time::Duration;

use support::Host;

#[test]
fn a_call_from_b_reaches_a_and_times_out_when_the_replier_is_gone() {
    let (a, b) = (Host::new("a"), Host::new("b"));
    let mut replier = a.peer(&["replier-add", "math/add", "2"]);
    let mut ba = a.bridge(&["--export-service", "math/**"]);
    let mut bb = b.bridge(&["--connect", &a.endpoint(), "--import-service", "math/add"]);

    // B's bridge serves `math/add` once it learnt its types from A.
    let mut call = b.peer(&["call-add", "math/add", "20", "22", "10000"]);
    assert_eq!(call.json()["sum"], 42);
    let mut call = b.peer(&["call-add", "math/add", "-5", "3", "10000"]);
    assert_eq!(call.json()["sum"], -2);

    // The replier answered its two calls and left: a call now times out
    // at the caller's own deadline, not the bridges' 10 s.
    assert!(replier.line(Duration::from_secs(5)).is_none());
    replier.kill();
    let mut call = b.peer(&["call-add", "math/add", "1", "1", "800"]);
    let v = call.json();
    let err = v["error"].as_str().unwrap_or_else(|| panic!("{v}"));
    assert!(err.contains("timed out") || err.contains("timeout"), "{v}");
    let ms = v["ms"].as_u64().unwrap();
    assert!((800..5000).contains(&ms), "returned after {ms} ms");
    // A's bridge says why.
    ba.wait_stderr("no live replier");
    let (sa, sb) = (ba.stop(), bb.stop());
    assert_eq!(sa["calls_in"], 2, "{sa}");
    assert!(sa["call_errors"].as_u64().unwrap() >= 1, "{sa}");
    assert_eq!(sb["calls_out"], 3, "{sb}");
}
