//! What `credentials` and `exec` share to ask a `sentinel server` instead of issuing locally:
//! the `--remote` flags, or a profile's `sentinel_server` setting.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use sentinel_aws::profile::{BaseCredentials, read_profile};
use sentinel_aws::remote::{RemoteClient, RemoteError, RemoteSource};
use sentinel_core::issuer::Credentials;

use super::issue::{Issuance, IssueArgs};

/// The flags that send the request to a `sentinel server`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RemoteArgs {
    /// Ask this `sentinel server` (https://HOST[:PORT]) instead of issuing here: the request
    /// carries a proof of who you are, signed with your own AWS credentials, and --profile
    /// names a profile of the server. A profile with `sentinel_server = URL` in the AWS config
    /// file does the same without the flag.
    #[arg(long, value_name = "URL", conflicts_with_all = ["role_arn", "policy", "issuer"])]
    pub remote: Option<String>,

    /// The audience the server expects proofs to be bound to [default: the server URL's host].
    #[arg(long, value_name = "AUDIENCE")]
    pub audience: Option<String>,

    /// Trust the CA certificates in this PEM file for the server, besides the system's.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Sign the proof with this AWS config profile's credentials [default: the SDK's default
    /// chain].
    #[arg(long, value_name = "PROFILE")]
    pub source_profile: Option<String>,

    /// Break the glass: ask under a break-glass rule of the server's policy, giving this
    /// reason (at most 256 printable characters). The use is logged, counted against the
    /// rule's cooldown and daily quota, and announced to the server's notification targets.
    #[arg(long, value_name = "REASON", value_parser = break_glass_reason)]
    pub break_glass: Option<String>,
}

/// Checks a `--break-glass` reason before anything is sent.
fn break_glass_reason(reason: &str) -> Result<String, String> {
    sentinel_protocol::check_reason(reason).map(|()| reason.to_owned())
}

/// What the server answers a request whose approval is pending, and the command the
/// approvers run, said in full: `approval required: request ID for P; approvers: A, B (they
/// run: sentinel approve ID --remote URL)`. `None` for every other error.
pub fn pending_approval(error: &anyhow::Error, remote: &RemoteArgs) -> Option<String> {
    let RemoteError::Refused { code, message, .. } = error.downcast_ref::<RemoteError>()? else {
        return None;
    };
    if code != "ApprovalPending" {
        return None;
    }
    let id = message
        .strip_prefix("approval required: request ")?
        .split(' ')
        .next()?;
    let url = remote.remote.as_deref().unwrap_or("URL");
    Some(format!(
        "{message} (they run: sentinel approve {id} --remote {url})"
    ))
}

impl RemoteArgs {
    /// The server `profile` is asked from, if the flags or the profile's `sentinel_server`
    /// name one; `timeout` bounds each network step.
    pub async fn source(&self, profile: &str, timeout: Duration) -> Result<Option<RemoteSource>> {
        if let Some(url) = &self.remote {
            let server = Server {
                url,
                audience: self.audience.as_deref(),
                cacert: self.cacert.as_deref(),
                source_profile: self.source_profile.as_deref(),
            };
            let source = server.source(profile, timeout).await?;
            return Ok(Some(source.breaking_glass(self.break_glass.clone())));
        }
        if self.audience.is_some() || self.cacert.is_some() || self.source_profile.is_some() {
            bail!("--audience, --cacert and --source-profile go with --remote");
        }
        // A profile that cannot be read names no server; issuing locally then says why.
        let source = match read_profile(profile).await {
            Ok(settings) => RemoteSource::from_profile(&settings, timeout).await?,
            Err(_) => None,
        };
        if source.is_none() && self.break_glass.is_some() {
            bail!("--break-glass goes with a sentinel server (--remote or sentinel_server)");
        }
        Ok(source.map(|source| source.breaking_glass(self.break_glass.clone())))
    }
}

/// A server named by flags, and whose credentials sign the proofs.
pub struct Server<'a> {
    /// The server's URL.
    pub url: &'a str,
    /// The audience proofs are bound to (default: the URL's host).
    pub audience: Option<&'a str>,
    /// Extra CA certificates to trust for the server.
    pub cacert: Option<&'a std::path::Path>,
    /// The AWS config profile whose credentials sign (default: the SDK's chain).
    pub source_profile: Option<&'a str>,
}

impl Server<'_> {
    /// The server, asked for `profile` with the caller's credentials, each network step
    /// within `timeout`.
    pub async fn source(&self, profile: &str, timeout: Duration) -> Result<RemoteSource> {
        let client = RemoteClient::new(self.url, self.audience, self.cacert, timeout)?;
        let base = match self.source_profile {
            Some(source) => BaseCredentials::SourceProfile(source.to_owned()),
            None => BaseCredentials::DefaultChain,
        };
        Ok(RemoteSource::new(client, &base, profile).await)
    }
}

/// Credentials for `issue`'s profile, with the region to hand on to a command: from the server
/// that `remote` or the profile names, else issued here through the policy.
pub async fn obtain(
    issue: &IssueArgs,
    remote: &RemoteArgs,
) -> Result<(Credentials, Option<String>)> {
    if let Some(source) = remote.source(&issue.profile, issue.sts_timeout).await? {
        return Ok((source.credentials().await?, source.region()));
    }
    let issuance = Issuance::prepare(issue).await?;
    let grant = issuance.issue().await?;
    Ok((grant.credentials, issuance.settings.region))
}
