//! `shmc` from the wheel: the console script `shm_comm._cli:main` hands
//! `sys.argv` here, to the same implementation as the `shmc` binary.

use pyo3::prelude::*;

/// Runs `shmc` with `argv` (the program name first) and returns its exit
/// code. Output goes straight to the process's stdout and stderr.
#[pyfunction]
pub fn cli_main(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.detach(|| shm_comm_cli::run(argv))
}
