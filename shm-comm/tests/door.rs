//! Every atomic on shared memory goes through the `sync` module, the one
//! door that the loom models swap (DESIGN §3). Clippy refuses
//! `Atomic*::from_ptr` outside it (`clippy.toml`); this test also catches
//! the other ways to make one from a pointer, in every source file.
//!
//! Likewise, mappings are made, changed and removed in `platform` only
//! (through `memmap2`, and `mprotect` for what memmap2 cannot do).

use std::path::Path;

/// Ways to turn a pointer into an atomic.
const FORBIDDEN: &[&str] = &[
    "::from_ptr(",
    "*const Atomic",
    "*mut Atomic",
    "cast::<Atomic",
    "*const std::sync::atomic::",
    "*mut std::sync::atomic::",
    "cast::<std::sync::atomic::",
];

/// The door itself.
const ALLOWED: &[&str] = &["sync.rs", "sync/model.rs"];

/// Ways to make, change or remove a mapping.
const MAPPING: &[&str] = &[
    "memmap2",
    "libc::mmap",
    "libc::munmap",
    "libc::mremap",
    "libc::mprotect",
];

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code lines (comments cut off) of every source file but `allowed`
/// that contain one of `forbidden`, as `src/<file>:<line>: <text>`.
fn offending_lines(forbidden: &[&str], allowed: &[&str]) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() > 5, "no sources found in {}", src.display());
    let mut found = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if allowed.contains(&rel.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if forbidden.iter().any(|f| code.contains(f)) {
                found.push(format!("src/{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn only_the_sync_module_makes_atomics_from_pointers() {
    let found = offending_lines(FORBIDDEN, ALLOWED);
    assert!(
        found.is_empty(),
        "atomics made from pointers outside `sync` (use `sync::u32_at`/`u64_at`):\n{}",
        found.join("\n")
    );
}

#[test]
fn only_platform_maps_memory() {
    let found = offending_lines(MAPPING, &["platform.rs"]);
    assert!(
        found.is_empty(),
        "mappings made or changed outside `platform` (use `platform::Mapping`):\n{}",
        found.join("\n")
    );
}
