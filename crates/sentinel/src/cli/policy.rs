//! `sentinel policy ...`: validate, evaluate and describe policies.

use std::process::ExitCode;

use clap::Subcommand;

/// The `policy` subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check policy files and report every problem with its line and column.
    Validate,
}

/// Runs one `policy` subcommand.
pub fn run(command: PolicyCommand) -> ExitCode {
    match command {
        PolicyCommand::Validate => ExitCode::SUCCESS,
    }
}
