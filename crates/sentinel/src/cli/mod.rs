//! Command-line parsing and dispatch: one module per subcommand, each returning an
//! [`Outcome`] that [`outcome::exit_code`] alone maps to a status, and the async runtime helpers.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

mod approvals;
mod child_env;
mod credentials;
mod exec;
mod exec_server;
mod iam;
mod issue;
mod load;
mod logging;
mod outcome;
mod policy;
mod remote;
mod serve;
mod server;
mod signals;

pub use outcome::Outcome;

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
    /// Print policy-gated credentials for an AWS `credential_process`.
    Credentials(credentials::CredentialsArgs),
    /// Run a command with policy-gated credentials in its environment.
    Exec(exec::ExecArgs),
    /// Drive an open-loop load at a target and report latency, errors and thresholds.
    Load(Box<load::LoadArgs>),
    /// Serve policy-gated credentials to AWS SDKs over the container-credentials protocol.
    Serve(serve::ServeArgs),
    /// Run the broker as a network service: callers prove who they are with AWS itself.
    Server(server::RemoteServerArgs),
    /// Print the IAM policies a `sentinel server` deployment needs.
    #[command(subcommand)]
    Iam(iam::IamCommand),
    /// Approve a pending approval request on a `sentinel server`.
    Approve(approvals::VoteArgs),
    /// Deny a pending approval request on a `sentinel server`.
    Deny(approvals::VoteArgs),
    /// List the approval requests you made and those you may decide.
    Requests(approvals::RequestsArgs),
}

/// Parses the command line, runs the subcommand and maps its outcome to an exit code.
pub fn run() -> ExitCode {
    let result = match Cli::try_parse() {
        Ok(cli) => {
            logging::init(cli.command.log_format());
            dispatch(cli.command)
        }
        Err(error) => parse_error(&error),
    };
    outcome::exit_code(result)
}

impl Command {
    /// How this command's events are written: as its `--log-format` says, for the servers;
    /// as text for the rest (the credential server of `exec --server` among them).
    fn log_format(&self) -> logging::LogFormat {
        match self {
            Command::Serve(args) => args.log_format,
            Command::Server(args) => args.log_format,
            Command::Policy(_)
            | Command::Credentials(_)
            | Command::Exec(_)
            | Command::Load(_)
            | Command::Iam(_)
            | Command::Approve(_)
            | Command::Deny(_)
            | Command::Requests(_) => logging::LogFormat::Text,
        }
    }
}

/// Runs one subcommand.
fn dispatch(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Policy(command) => policy::run(command),
        Command::Credentials(args) => guarded(|| credentials::run(&args)),
        Command::Exec(args) => guarded(|| exec::run(&args)),
        Command::Load(args) => load::run(&args),
        Command::Serve(args) => guarded(|| serve::run(&args)),
        Command::Server(args) => server::run(args),
        Command::Iam(command) => iam::run(command),
        Command::Approve(args) => approvals::vote(&args, true),
        Command::Deny(args) => approvals::vote(&args, false),
        Command::Requests(args) => approvals::requests(&args),
    }
}

/// Prints what clap found: help and the version end with 0, arguments that cannot be used with
/// 2.
fn parse_error(error: &clap::Error) -> anyhow::Result<Outcome> {
    error.print()?;
    Ok(if error.use_stderr() {
        Outcome::Usage
    } else {
        Outcome::Success
    })
}

/// Set while Sentinel resolves base credentials. A base-credential chain that leads back to
/// Sentinel (say, `AWS_PROFILE` naming a profile whose `credential_process` is Sentinel) would
/// otherwise start Sentinel again and again; the nested run sees this and refuses.
const NESTED_GUARD: &str = "SENTINEL_RESOLVING_CREDENTIALS";

/// Runs an issuing command unless this process was started by such a command's own
/// credential lookup.
#[allow(unsafe_code)]
fn guarded(command: impl FnOnce() -> anyhow::Result<Outcome>) -> anyhow::Result<Outcome> {
    if std::env::var_os(NESTED_GUARD).is_some() {
        anyhow::bail!(
            "refusing to run inside Sentinel's own credential lookup: the base credentials of \
             this profile lead back to Sentinel (check AWS_PROFILE and source_profile)"
        );
    }
    // SAFETY: called before any thread is started (the runtime is built later, in the command),
    // so nothing can read the environment concurrently.
    unsafe { std::env::set_var(NESTED_GUARD, "1") };
    command()
}

/// Runs a command's `future` to its end on a fresh multi-threaded runtime, one thread per core.
fn block_on<T>(future: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    block_on_threads(None, future)
}

/// Runs `future` to its end on a fresh multi-threaded runtime of `threads` threads (one per
/// core if `None`).
fn block_on_threads<T>(
    threads: Option<usize>,
    future: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = threads {
        runtime.worker_threads(threads);
    }
    runtime
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(future)
}
