//! `sentinel exec --profile P -- CMD ARGS...`: on allow, replaces itself with CMD, credentials in
//! its environment; on deny, CMD never runs.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use super::block_on;
use super::credentials::rfc3339;
use super::issue::IssueArgs;
use super::remote::{RemoteArgs, obtain};

/// Variables that could point CMD's SDK back at a Sentinel profile (and so at Sentinel) instead
/// of the credentials handed to it.
const CLEARED: [&str; 2] = ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"];

/// The `exec` arguments.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "CMD gets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and \
    AWS_CREDENTIAL_EXPIRATION (and AWS_REGION from the profile, if it sets one); AWS_PROFILE is \
    removed. Sentinel exits with CMD's exit status; when denied, CMD never runs and the status is 1."
)]
pub struct ExecArgs {
    #[command(flatten)]
    issue: IssueArgs,

    #[command(flatten)]
    remote: RemoteArgs,

    /// Serve credentials to CMD from a credential server on a random loopback port
    /// (AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN) instead of
    /// putting one set in its environment: its SDK refreshes them through the policy as needed.
    #[arg(long)]
    server: bool,

    /// The command to run, and its arguments.
    #[arg(required = true, last = true, value_name = "CMD")]
    command: Vec<OsString>,
}

/// Runs `sentinel exec`.
pub fn run(args: ExecArgs) -> ExitCode {
    if args.server {
        return super::exec_server::run(&args.issue, &args.remote, &args.command);
    }
    let (credentials, region) = match block_on(obtain(&args.issue, &args.remote)) {
        Ok(issued) => issued,
        Err(error) => return super::fail(&error),
    };
    let credentials = &credentials;
    let Some((program, arguments)) = args.command.split_first() else {
        return super::fail(&anyhow::anyhow!("no command given after --"));
    };
    let mut command = Command::new(program);
    command
        .args(arguments)
        .env("AWS_ACCESS_KEY_ID", &credentials.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &credentials.secret_access_key)
        .env("AWS_SESSION_TOKEN", &credentials.session_token)
        .env("AWS_CREDENTIAL_EXPIRATION", rfc3339(credentials))
        .env_remove(super::NESTED_GUARD);
    for variable in CLEARED {
        command.env_remove(variable);
    }
    if let Some(region) = region {
        command
            .env("AWS_REGION", &region)
            .env("AWS_DEFAULT_REGION", region);
    }
    let error = command.exec();
    eprintln!(
        "sentinel: cannot run {}: {error}",
        program.to_string_lossy()
    );
    super::Outcome::CannotRun.into()
}
