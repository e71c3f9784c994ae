//! `sentinel iam trust-policy`: the trust policy that leaves `sentinel server` the only way into
//! a protected role, printed as JSON for `aws iam update-assume-role-policy`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow};
use sentinel_aws::profile::read_profile;
use sentinel_server::remote::ServerConfig;
use sentinel_server::remote::trust::trust_policy;

use super::Outcome;

/// The `iam` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum IamCommand {
    /// Print the trust policy that makes a profile's role assumable only by the broker's role,
    /// and only with a `sentinel.`-prefixed SourceIdentity.
    #[command(
        after_help = "The profile is read from the server configuration given with --config, \
        else from the AWS config file; its external_id, if any, is required too.\n\nApply it \
        with:\n  sentinel iam trust-policy --profile prod --broker-role ARN > trust.json\n  \
        aws iam update-assume-role-policy --role-name ROLE --policy-document file://trust.json"
    )]
    TrustPolicy(TrustPolicyArgs),
}

/// The `iam trust-policy` arguments.
#[derive(Debug, clap::Args)]
pub struct TrustPolicyArgs {
    /// The profile whose role gets the trust policy.
    #[arg(long)]
    profile: String,

    /// The role `sentinel server` runs as (its ECS task, EKS service account or EC2 role).
    #[arg(long, value_name = "ARN")]
    broker_role: String,

    /// Read the profile from this `sentinel server` configuration instead of the AWS config
    /// file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

/// Runs an `iam` subcommand.
pub fn run(command: IamCommand) -> Result<Outcome> {
    let IamCommand::TrustPolicy(args) = command;
    super::block_on(async move {
        let (role_arn, external_id) = profile_role(&args).await?;
        let policy = trust_policy(&args.broker_role, external_id.as_deref())
            .map_err(|problem| anyhow!("--broker-role: {problem}"))?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", serde_json::to_string_pretty(&policy)?)?;
        let role = role_arn.rsplit('/').next().unwrap_or(&role_arn);
        eprintln!(
            "sentinel: apply to {role_arn:?} with: aws iam update-assume-role-policy \
             --role-name {role} --policy-document file://trust.json"
        );
        Ok(Outcome::Success)
    })
}

/// The profile's role ARN and external ID. A profile without a role is refused: the trust
/// policy goes on the role the profile assumes, and there is none to name.
async fn profile_role(args: &TrustPolicyArgs) -> Result<(String, Option<String>)> {
    if let Some(path) = &args.config {
        let config = ServerConfig::load(path)?;
        let profile = config
            .profiles
            .get(&args.profile)
            .ok_or_else(|| anyhow!("profile {:?} is not in {}", args.profile, path.display()))?;
        Ok((profile.role_arn.clone(), profile.external_id.clone()))
    } else {
        let settings = read_profile(&args.profile)
            .await
            .context("reading the profile (or pass --config with a server configuration)")?;
        let role_arn = settings.role_arn.ok_or_else(|| {
            anyhow!(
                "profile {:?} has no role_arn: the trust policy is for the role a profile \
                 assumes; add role_arn = arn:aws:iam::ACCOUNT:role/NAME to [profile {}]",
                args.profile,
                args.profile
            )
        })?;
        Ok((role_arn, settings.external_id))
    }
}
