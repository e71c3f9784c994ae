//! `sentinel exec --profile P -- CMD ARGS...`: on allow, replaces itself with CMD, credentials in
//! its environment; on deny, CMD never runs.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::Command;

use super::credentials::rfc3339;
use super::issue::IssueArgs;
use super::remote::{RemoteArgs, obtain};
use super::{Outcome, block_on, child_env};

/// The `exec` arguments.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "CMD gets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and \
    AWS_CREDENTIAL_EXPIRATION (and AWS_REGION from the profile, if it sets one); every other \
    variable that would give its SDK other credentials (AWS_PROFILE, AWS_SECURITY_TOKEN, \
    AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN, AWS_CONTAINER_*) is removed. Sentinel exits with \
    CMD's exit status; when denied, CMD never runs and the status is 1.\n\nWith --server, \
    SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to Sentinel are passed on to CMD \
    (a Ctrl-C or Ctrl-\\ that the terminal already sent CMD is not sent twice); after one that \
    ends a process, CMD has --kill-after to exit before it is killed. Sentinel exits with CMD's \
    status, 128 + N if signal N ended it."
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

    /// With --server: how long CMD may take to exit after a SIGINT, SIGTERM, SIGHUP or SIGQUIT
    /// passed on to it, before it is killed (e.g. `10s`, `500ms`).
    #[arg(long, requires = "server", default_value = "10s", value_parser = sentinel_duration::parse_duration, value_name = "DURATION")]
    kill_after: std::time::Duration,

    /// The command to run, and its arguments.
    #[arg(required = true, last = true, value_name = "CMD")]
    command: Vec<OsString>,
}

/// Runs `sentinel exec`.
pub fn run(args: &ExecArgs) -> anyhow::Result<Outcome> {
    if args.server {
        return super::exec_server::run(&args.issue, &args.remote, &args.command, args.kill_after);
    }
    let (credentials, region) = block_on(obtain(&args.issue, &args.remote))?;
    let credentials = &credentials;
    let Some((program, arguments)) = args.command.split_first() else {
        anyhow::bail!("no command given after --");
    };
    let mut command = Command::new(program);
    command.args(arguments);
    child_env::prepare(&mut command, region.as_deref());
    command
        .env("AWS_ACCESS_KEY_ID", &credentials.access_key_id)
        .env("AWS_SECRET_ACCESS_KEY", &credentials.secret_access_key)
        .env("AWS_SESSION_TOKEN", &credentials.session_token)
        .env("AWS_CREDENTIAL_EXPIRATION", rfc3339(credentials));
    let error = command.exec();
    eprintln!(
        "sentinel: cannot run {}: {error}",
        program.to_string_lossy()
    );
    Ok(Outcome::CannotRun)
}
