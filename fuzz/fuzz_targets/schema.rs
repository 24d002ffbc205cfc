//! Schema files a user wrote: `compile_std` (the file alone) and
//! `compile_user` (with the standard set in scope) parse the TOML and lay
//! out its messages. Both may refuse the text; neither may panic, and what
//! they accept must generate its Rust and Python modules.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shm_comm_schema::{compile_std, compile_user, generate_python, generate_rust, Source};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    // `compile_user` parses and compiles the standard set first (about
    // 15 ms a call here): spend that only on text that is TOML at all;
    // `compile_std` sees every input, and its TOML errors.
    let is_toml = text.parse::<toml::Table>().is_ok();
    let sources = [Source {
        path: "fuzz.toml".to_owned(),
        text,
    }];
    let mut compiled = vec![compile_std(&sources)];
    if is_toml {
        compiled.push(compile_user(&sources));
    }
    for schema in compiled.into_iter().flatten() {
        let _ = schema.files();
        for m in schema.generated() {
            let _ = m.doc_lines();
        }
        let _ = generate_rust(&schema);
        let _ = generate_python(&schema);
    }
});
