//! `shmc`: see and measure shm-comm channels from the command line.

fn main() {
    std::process::exit(shm_comm_cli::run(std::env::args_os()));
}
