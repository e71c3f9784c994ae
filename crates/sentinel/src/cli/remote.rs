//! What `credentials` and `exec` share to ask a `sentinel server` instead of issuing locally:
//! the `--remote` flags, or a profile's `sentinel_server` setting.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail};
use sentinel_aws::profile::{BaseCredentials, read_profile};
use sentinel_aws::remote::{RemoteClient, RemoteSource};
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
}

impl RemoteArgs {
    /// The server `profile` is asked from, if the flags or the profile's `sentinel_server`
    /// name one; `timeout` bounds each network step.
    pub async fn source(&self, profile: &str, timeout: Duration) -> Result<Option<RemoteSource>> {
        if let Some(url) = &self.remote {
            let client = RemoteClient::new(
                url,
                self.audience.as_deref(),
                self.cacert.as_deref(),
                timeout,
            )?;
            let base = match &self.source_profile {
                Some(source) => BaseCredentials::SourceProfile(source.clone()),
                None => BaseCredentials::DefaultChain,
            };
            return Ok(Some(RemoteSource::new(client, &base, profile).await));
        }
        if self.audience.is_some() || self.cacert.is_some() || self.source_profile.is_some() {
            bail!("--audience, --cacert and --source-profile go with --remote");
        }
        // A profile that cannot be read names no server; issuing locally then says why.
        match read_profile(profile).await {
            Ok(settings) => Ok(RemoteSource::from_profile(&settings, timeout).await?),
            Err(_) => Ok(None),
        }
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
