//! `scalebench`: which autoscaler setup gives this traffic its tail latency at the lowest cost?
//!
//! The binary only parses the command line and maps failures to exit codes; each subcommand lives
//! in its own module under `cli/`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
