//! Command-line parsing and dispatch: one module per subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod load;
mod policy;

/// Policy-gated AWS credentials, and a load simulator that proves the issuance path.
#[derive(Debug, Parser)]
#[command(name = "sentinel", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check, evaluate and describe policies.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Drive an open-loop load at a target and report latency, errors and thresholds.
    Load(load::LoadArgs),
}

/// Parses the command line, runs the subcommand and maps its outcome to an exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Policy(command) => policy::run(command),
        Command::Load(args) => load::run(args),
    }
}
