//! Command-line parsing and dispatch: one module per subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    Load(load::LoadArgs),
    /// Serve policy-gated credentials to AWS SDKs over the container-credentials protocol.
    Serve(serve::ServeArgs),
    /// Run the broker as a network service: callers prove who they are with AWS itself.
    Server(server::RemoteServerArgs),
    /// Print the IAM policies a `sentinel server` deployment needs.
    #[command(subcommand)]
    Iam(iam::IamCommand),
}

/// Parses the command line, runs the subcommand and maps its outcome to an exit code.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Scripts calling `sentinel policy` get exit 1 for bad arguments; others keep clap's 2.
        Err(error) if error.use_stderr() && policy::is_policy_invocation() => {
            let _ = error.print();
            return ExitCode::FAILURE;
        }
        Err(error) => error.exit(),
    };
    match cli.command {
        Command::Policy(command) => policy::run(command),
        Command::Credentials(args) => guarded(|| credentials::run(args)),
        Command::Exec(args) => guarded(|| exec::run(args)),
        Command::Load(args) => load::run(args),
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

/// Runs a command's `future` on a multi-threaded runtime; an error, the runtime's own included,
/// is reported as one line on stderr with the failure status.
fn run_async(future: impl Future<Output = anyhow::Result<ExitCode>>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime
            .block_on(future)
            .unwrap_or_else(|error| fail(&error)),
        Err(error) => fail(&anyhow::Error::new(error).context("starting the async runtime")),
    }
}

/// Prints `error` (with its causes) as one line on stderr and returns the failure status.
fn fail(error: &anyhow::Error) -> ExitCode {
    eprintln!("sentinel: {}", format!("{error:#}").replace('\n', "; "));
    ExitCode::FAILURE
}
