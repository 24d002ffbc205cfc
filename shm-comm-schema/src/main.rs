//! `shm-comm-schema`: compiles message schemas (TOML) to Rust and Python.

use std::path::PathBuf;
use std::process::ExitCode;

use shm_comm_schema::{
    compile_std, compile_user, generate_python, generate_rust, read_sources, std_outputs, Schema,
    SchemaError,
};

const USAGE: &str = "\
usage: shm-comm-schema COMMAND [OPTIONS] FILE|DIR...

Compiles message schemas (TOML) to Rust types and Python dataclasses with the
same layouts. A user's files are compiled with the standard message set in
scope (Header, Pose, Imu, Image, ...); --std compiles the files as the
standard set itself.

commands:
  check FILES...          check the files and print each message's layout
  gen-rust FILES...       write a Rust module (-o OUT, default: stdout)
  gen-python FILES...     write a Python module (-o OUT, default: stdout)
  gen-std [--root DIR]    regenerate shm-comm/src/msgs.rs and
                          python/shm_comm/msgs.py from schemas/ (run from the
                          workspace root, or give it as --root); with --check,
                          only report whether they are up to date

options:
  -o, --output FILE       where gen-rust / gen-python write
  --std                   compile FILES as the standard set
";

struct Args {
    command: String,
    files: Vec<PathBuf>,
    output: Option<PathBuf>,
    std: bool,
    root: PathBuf,
    check: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let command = it.next().ok_or("missing command")?;
    let mut a = Args {
        command,
        files: Vec::new(),
        output: None,
        std: false,
        root: PathBuf::from("."),
        check: false,
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-o" | "--output" => a.output = Some(it.next().ok_or("-o needs a file")?.into()),
            "--root" => a.root = it.next().ok_or("--root needs a directory")?.into(),
            "--std" => a.std = true,
            "--check" => a.check = true,
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            _ => a.files.push(arg.into()),
        }
    }
    Ok(a)
}

fn compile(a: &Args) -> Result<Schema, SchemaError> {
    let sources = read_sources(&a.files)?;
    if a.std {
        compile_std(&sources)
    } else {
        compile_user(&sources)
    }
}

fn write(a: &Args, text: &str) -> Result<(), String> {
    match &a.output {
        Some(p) => std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display())),
        None => {
            use std::io::Write;
            // A closed pipe (`| head`) is not an error worth a panic.
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            Ok(())
        }
    }
}

fn run(a: &Args) -> Result<ExitCode, String> {
    let needs_files = matches!(a.command.as_str(), "check" | "gen-rust" | "gen-python");
    if needs_files && a.files.is_empty() {
        return Err(format!("{}: no schema files given", a.command));
    }
    match a.command.as_str() {
        "check" => {
            let schema = compile(a).map_err(|e| e.to_string())?;
            let text: String = schema.generated().map(|m| m.layout.pretty()).collect();
            write(a, &text)?;
            Ok(ExitCode::SUCCESS)
        }
        "gen-rust" => {
            let schema = compile(a).map_err(|e| e.to_string())?;
            write(a, &generate_rust(&schema))?;
            Ok(ExitCode::SUCCESS)
        }
        "gen-python" => {
            let schema = compile(a).map_err(|e| e.to_string())?;
            write(a, &generate_python(&schema))?;
            Ok(ExitCode::SUCCESS)
        }
        "gen-std" => {
            let outputs = std_outputs(&a.root).map_err(|e| e.to_string())?;
            let mut stale = false;
            for (rel, text) in outputs {
                let path = a.root.join(rel);
                let old = std::fs::read_to_string(&path).unwrap_or_default();
                if old == text {
                    eprintln!("{rel}: up to date");
                    continue;
                }
                stale = true;
                if a.check {
                    eprintln!("{rel}: stale");
                } else {
                    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
                    eprintln!("{rel}: written");
                }
            }
            Ok(if a.check && stale {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        other => Err(format!("unknown command {other:?}")),
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("shm-comm-schema: {e}\n");
            }
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("shm-comm-schema: {e}");
            ExitCode::FAILURE
        }
    }
}
