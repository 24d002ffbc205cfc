//! Generates `$OUT_DIR/robot.rs` from `schemas/robot.toml`.

fn main() {
    shm_comm_schema::Builder::new()
        .file("schemas/robot.toml")
        .compile()
        .unwrap_or_else(|e| panic!("{e}"));
}
