//! `sentinel approve`, `sentinel deny` and `sentinel requests`: an approver's side of a
//! `sentinel server`'s approvals. Each proves who the caller is with their own AWS credentials,
//! exactly as `credentials --remote` does; the server decides whether the vote counts.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use sentinel_aws::remote::RemoteSource;
use sentinel_core::state::approvals::ApprovalRequest;

use super::remote::Server;
use super::{Outcome, block_on};

/// How long each network step may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The server and the caller's credentials.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// The `sentinel server` (https://HOST[:PORT]).
    #[arg(long, value_name = "URL")]
    remote: String,

    /// The audience the server expects proofs to be bound to [default: the server URL's host].
    #[arg(long, value_name = "AUDIENCE")]
    audience: Option<String>,

    /// Trust the CA certificates in this PEM file for the server, besides the system's.
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,

    /// Sign the proof with this AWS config profile's credentials [default: the SDK's default
    /// chain].
    #[arg(long, value_name = "PROFILE")]
    source_profile: Option<String>,
}

impl ServerArgs {
    /// The server, asked with the caller's credentials.
    async fn source(&self) -> Result<RemoteSource> {
        let server = Server {
            url: &self.remote,
            audience: self.audience.as_deref(),
            cacert: self.cacert.as_deref(),
            source_profile: self.source_profile.as_deref(),
        };
        // The profile is unused: approvals bind their proofs to the vote or the list.
        server.source("", TIMEOUT).await
    }
}

/// The `approve` and `deny` arguments.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The server refuses a vote by someone who is not among the rule's \
    approvers, by the requester, a second vote by one approver, and a vote on a request that \
    expired or was decided already; each refusal has its own code.\n\nExit status: 0 when the \
    vote was counted; 1 when it was refused or on any error."
)]
pub struct VoteArgs {
    /// The approval request's ID (16 hex digits), as the requester was told.
    id: String,

    /// Why, for the decision log and the notifications (at most 256 printable characters).
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,

    #[command(flatten)]
    server: ServerArgs,
}

/// The `requests` arguments.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Lists the approval requests you made and those you may decide, newest \
    first: ID, status (pending, approved, denied, expired), requester, profile, rule and votes.\
    \n\nExit status: 0 with the list; 1 on any error."
)]
pub struct RequestsArgs {
    /// Print a JSON array of the requests instead of a table.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    server: ServerArgs,
}

/// Runs `sentinel approve` (`approve`) or `sentinel deny`.
pub fn vote(args: &VoteArgs, approve: bool) -> Result<Outcome> {
    let voted = block_on(async {
        let source = args.server.source().await?;
        Ok(source
            .vote(&args.id, approve, args.reason.as_deref())
            .await?)
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} request {}: now {} ({} of {} approvals)",
        if approve { "approved" } else { "denied" },
        voted.id,
        voted.status.as_str(),
        voted.approvals(),
        voted.count
    )?;
    Ok(Outcome::Success)
}

/// Runs `sentinel requests`.
pub fn requests(args: &RequestsArgs) -> Result<Outcome> {
    let requests = block_on(async { Ok(args.server.source().await?.requests().await?) })?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&requests)?)?;
    } else {
        write_table(&mut out, &requests)?;
    }
    Ok(Outcome::Success)
}

/// One line per request.
fn write_table(out: &mut impl std::io::Write, requests: &[ApprovalRequest]) -> std::io::Result<()> {
    if requests.is_empty() {
        return writeln!(out, "no approval requests");
    }
    writeln!(
        out,
        "ID                STATUS    REQUESTER  PROFILE  RULE  VOTES"
    )?;
    for request in requests {
        let votes: Vec<String> = request
            .votes
            .iter()
            .map(|vote| {
                format!(
                    "{}:{}",
                    vote.approver,
                    if vote.approve { "yes" } else { "no" }
                )
            })
            .collect();
        writeln!(
            out,
            "{}  {:<8}  {}  {}  {}  {}/{} [{}] (approvers: {})",
            request.id,
            request.status.as_str(),
            request.requester,
            request.profile,
            request.rule,
            request.approvals(),
            request.count,
            votes.join(", "),
            request.approvers.join(", ")
        )?;
    }
    Ok(())
}
