//! `sentinel credentials --profile P`: the AWS `credential_process` protocol. On allow, one JSON
//! object on stdout; on deny or error, nothing on stdout and one line on stderr saying why.

use std::io::Write as _;

use anyhow::Result;
use sentinel_core::decision_log::LogTarget;
use sentinel_core::issuer::Credentials;
use serde::Serialize;

use super::issue::IssueArgs;
use super::remote::{RemoteArgs, obtain, pending_approval};
use super::{Outcome, block_on};

/// The `credentials` arguments.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Use it from an AWS config profile that applications select:\n\n  \
    [profile prod-sentinel]\n  credential_process = sentinel credentials --profile prod\n\n\
    With --remote URL (or sentinel_server = URL in the profile), a sentinel server issues them: \
    you prove who you are with your own AWS credentials, it applies the policy.\n\n\
    A request that a require_approval rule decides exits 3 with the approval request's ID and \
    its approvers on stderr; asking again gives the same ID while it is pending, and credentials \
    once it is approved. --break-glass REASON asks under a break-glass rule.\n\n\
    Exit status: 0 with credentials on stdout; 1 when denied or on any error (reason on stderr); \
    2 for unusable arguments; 3 while an approval is pending."
)]
pub struct CredentialsArgs {
    #[command(flatten)]
    issue: IssueArgs,

    #[command(flatten)]
    remote: RemoteArgs,
}

/// The `credential_process` output (version 1).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessCredentials<'a> {
    version: u8,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: &'a str,
    expiration: String,
}

/// Formats an expiration as RFC 3339 in UTC, to the second, as the AWS tools expect.
pub fn rfc3339(credentials: &Credentials) -> String {
    credentials
        .expiration
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Runs `sentinel credentials`.
pub fn run(args: &CredentialsArgs) -> Result<Outcome> {
    let json = match block_on(credentials_json(args)) {
        Ok(json) => json,
        Err(error) => match pending_approval(&error, &args.remote) {
            Some(pending) => {
                eprintln!("sentinel: {pending}");
                return Ok(Outcome::Pending);
            }
            None => return Err(error),
        },
    };
    writeln!(std::io::stdout(), "{json}")?;
    Ok(Outcome::Success)
}

async fn credentials_json(args: &CredentialsArgs) -> Result<String> {
    if args.issue.decision_log == Some(LogTarget::Stdout) {
        anyhow::bail!(
            "--decision-log -: standard output carries the credentials to the AWS SDK; give a file"
        );
    }
    let (credentials, _) = obtain(&args.issue, &args.remote).await?;
    let credentials = &credentials;
    Ok(serde_json::to_string(&ProcessCredentials {
        version: 1,
        access_key_id: &credentials.access_key_id,
        secret_access_key: &credentials.secret_access_key,
        session_token: &credentials.session_token,
        expiration: rfc3339(credentials),
    })?)
}
