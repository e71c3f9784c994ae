//! Command-line parsing and dispatch: one module per subcommand, one [`Outcome`] → exit code
//! mapping, and the one async runtime helper.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

mod child_env;
mod credentials;
mod exec;
mod exec_server;
mod iam;
mod issue;
mod load;
mod policy;
mod policy_store;
mod remote;
mod serve;
mod server;
mod signals;

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
}

/// How a command ended, and so the exit status a script sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: it did what was asked (credentials issued, every threshold and check held, help
    /// printed).
    Success,
    /// 1: denied, a threshold breached, a check failed, or any error (the reason on stderr).
    Failure,
    /// 2: arguments or flags that cannot be used; nothing was done.
    Usage,
    /// 127: the command `exec` was to run could not be started.
    CannotRun,
    /// 130: stopped by Ctrl-C (SIGINT), by shell convention; a load reports what it measured.
    Interrupted,
}

impl Outcome {
    /// The exit status.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Failure => 1,
            Outcome::Usage => 2,
            Outcome::CannotRun => 127,
            Outcome::Interrupted => 130,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(outcome.code())
    }
}

/// Parses the command line, runs the subcommand and maps its outcome to an exit code.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if !error.use_stderr() {
                // --help or --version.
                Outcome::Success
            } else if policy::is_policy_invocation() {
                // Scripts calling `sentinel policy` get exit 1 for bad arguments.
                Outcome::Failure
            } else {
                Outcome::Usage
            }
            .into();
        }
    };
    match cli.command {
        Command::Policy(command) => policy::run(command),
        Command::Credentials(args) => guarded(|| credentials::run(args)),
        Command::Exec(args) => guarded(|| exec::run(args)),
        Command::Load(args) => load::run(*args).into(),
        Command::Serve(args) => guarded(|| serve::run(args)),
        Command::Server(args) => server::run(args),
        Command::Iam(command) => iam::run(command),
    }
}

/// Set while Sentinel resolves base credentials. A base-credential chain that leads back to
/// Sentinel (say, `AWS_PROFILE` naming a profile whose `credential_process` is Sentinel) would
/// otherwise start Sentinel again and again; the nested run sees this and refuses.
const NESTED_GUARD: &str = "SENTINEL_RESOLVING_CREDENTIALS";

/// Runs an issuing command unless this process was started by such a command's own
/// credential lookup.
fn guarded(command: impl FnOnce() -> ExitCode) -> ExitCode {
    if std::env::var_os(NESTED_GUARD).is_some() {
        return fail(&anyhow::anyhow!(
            "refusing to run inside Sentinel's own credential lookup: the base credentials of \
             this profile lead back to Sentinel (check AWS_PROFILE and source_profile)"
        ));
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

/// Prints `error` (with its causes) as one line on stderr and returns the failure outcome (as
/// an [`Outcome`] or an [`ExitCode`], whichever the caller returns).
fn fail<T: From<Outcome>>(error: &anyhow::Error) -> T {
    eprintln!("sentinel: {}", format!("{error:#}").replace('\n', "; "));
    Outcome::Failure.into()
}
