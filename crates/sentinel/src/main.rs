//! The `sentinel` command: a thin layer of argument parsing over the library crates.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
