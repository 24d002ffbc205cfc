//! Every file in `tests/bad_schemas/` is refused with the error its first
//! line announces (`# error: LINE: reason`), located as `file:LINE:`.
//! The Python compiler is held to the same files in `python/tests/test_msgs.py`.

use shm_comm_schema::{compile_user, read_sources};

#[test]
fn each_bad_schema_gives_its_error_with_file_and_line() {
    let mut files: Vec<_> = std::fs::read_dir("tests/bad_schemas")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    let mut failures = Vec::new();
    for path in &files {
        let path = path.to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap();
        let spec = first
            .strip_prefix("# error: ")
            .unwrap_or_else(|| panic!("{path}: first line must be `# error: LINE: reason`"));
        let (line, reason) = spec.split_once(": ").unwrap();
        let expected_at = format!("{path}:{line}: ");
        match read_sources(&[&path]).and_then(|s| compile_user(&s)) {
            Ok(_) => failures.push(format!("{path}: compiled, expected `{spec}`")),
            Err(e) => {
                let shown = e.to_string();
                if !shown.starts_with(&expected_at) || !shown.contains(reason) {
                    failures.push(format!(
                        "{path}:\n  expected {expected_at}...{reason}...\n  got      {shown}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
