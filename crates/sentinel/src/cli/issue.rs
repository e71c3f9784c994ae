//! What `credentials`, `exec` and `serve` share: a profile and its flags turned into a broker,
//! plus the caller's own identity, then requests through it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use jiff::Timestamp;
use sentinel_aws::base::share;
use sentinel_aws::caller::CallerTracker;
use sentinel_aws::location::PolicyLocation;
use sentinel_aws::profile::{ProfileSettings, read_profile};
use sentinel_aws::sts::StsIssuer;
use sentinel_core::broker::{Broker, Grant, Profile, Request};
use sentinel_core::caller::Caller;
use sentinel_core::decision_log::{DecisionLog, LogTarget};
use sentinel_core::issuer::{Issuer, LocalIssuer};
use sentinel_core::source::{CacheConfig, CachedSource, PolicySource};

/// The flags that pick a profile and say how to issue for it.
#[derive(Debug, clap::Args)]
pub struct IssueArgs {
    /// The AWS config profile to issue for: an ordinary assume-role profile (`role_arn`,
    /// `source_profile` or `credential_source`, `region`, `duration_seconds`, `external_id`),
    /// plus Sentinel's optional `sentinel_policy`.
    #[arg(long)]
    pub profile: String,

    /// Assume this role instead of the profile's `role_arn`.
    #[arg(long, value_name = "ARN")]
    pub role_arn: Option<String>,

    /// Where the policy lives, instead of the profile's `sentinel_policy`: `ssm:PARAMETER` or a
    /// file path [default: ssm:/sentinel/policies/<profile>].
    #[arg(long, value_name = "LOCATION")]
    pub policy: Option<String>,

    /// The decision log (JSON Lines) to append to: a regular file, or `-` for standard output
    /// (for platforms that collect it; not synced, and not for `credentials`) [default:
    /// $XDG_STATE_HOME/sentinel/decisions.jsonl, i.e. ~/.local/state/sentinel/decisions.jsonl].
    #[arg(long, env = "SENTINEL_DECISION_LOG", value_name = "PATH")]
    pub decision_log: Option<LogTarget>,

    /// How long each STS call (who you are, then AssumeRole) may take before the request fails
    /// (e.g. `5s`, `1500ms`).
    #[arg(long, default_value = "10s", value_parser = sentinel_duration::parse_duration, value_name = "DURATION")]
    pub sts_timeout: Duration,

    /// Who issues credentials on allow: `sts` (AssumeRole) or `local` (obviously fake
    /// credentials minted in-process, for load tests and demos only).
    #[arg(long, value_enum, default_value_t = IssuerChoice::Sts)]
    pub issuer: IssuerChoice,
}

/// Which issuer hands out credentials on allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IssuerChoice {
    /// STS AssumeRole: real credentials.
    Sts,
    /// Fake credentials minted in-process; no AWS service accepts them.
    Local,
}

/// A broker ready to issue for one profile, and who is asking.
pub struct Issuance {
    /// The pipeline.
    pub broker: Broker,
    /// The profile, resolved.
    pub profile: Profile,
    /// The profile's settings from the config file.
    pub settings: ProfileSettings,
    /// Who is asking, from their own AWS identity, as identified at start.
    pub caller: Caller,
    /// Who is asking now: identified again when the base credentials are refreshed.
    pub tracker: Arc<CallerTracker>,
}

impl Issuance {
    /// Reads the profile, resolves its base credentials and the caller, and opens the log.
    pub async fn prepare(args: &IssueArgs) -> Result<Issuance> {
        Issuance::prepare_with(args, None).await
    }

    /// As [`Issuance::prepare`], with the policy source behind a cache when `cache` is given
    /// (for a long-running server, which would otherwise read the store on every request).
    pub async fn prepare_with(args: &IssueArgs, cache: Option<CacheConfig>) -> Result<Issuance> {
        let settings = read_profile(&args.profile).await?;
        // Before anything is asked of AWS: a log that cannot keep decisions stops us at once.
        let log = match &args.decision_log {
            Some(target) => DecisionLog::to(target)?,
            None => DecisionLog::open(&default_decision_log()?)?,
        };
        let role_arn = args
            .role_arn
            .clone()
            .or_else(|| settings.role_arn.clone())
            .ok_or_else(|| {
                anyhow!(
                    "profile {:?} has no role_arn; set one there or pass --role-arn",
                    args.profile
                )
            })?;
        let location = args
            .policy
            .as_deref()
            .or(settings.sentinel_policy.as_deref())
            .map(PolicyLocation::parse)
            .unwrap_or_else(|| PolicyLocation::default_for_profile(&args.profile));
        let (base, credentials) = share(settings.base_config().await);
        let tracker = CallerTracker::start(base.clone(), credentials, args.sts_timeout)
            .await
            .with_context(|| {
                format!(
                    "profile {:?} takes its base credentials from {}",
                    args.profile, settings.base
                )
            })?;
        let caller = Caller::clone(&*tracker.last_known().await);
        let (source, policy_key) = location.open(&base);
        let source: Arc<dyn PolicySource> = match cache {
            Some(config) => Arc::new(CachedSource::new(source, config)),
            None => source,
        };
        let issuer: Arc<dyn Issuer> = match args.issuer {
            IssuerChoice::Sts => Arc::new(StsIssuer::new(&base)),
            IssuerChoice::Local => {
                eprintln!(
                    "sentinel: WARNING: --issuer local: credentials are FAKE, minted in-process \
                     for load tests and demos; no AWS service accepts them"
                );
                Arc::new(LocalIssuer)
            }
        };
        let broker = Broker::new(source, Arc::new(log), issuer, args.sts_timeout);
        let profile = Profile {
            name: args.profile.clone(),
            policy_key,
            role_arn,
            session_duration: settings.session_duration,
            external_id: settings.external_id.clone(),
        };
        Ok(Issuance {
            broker,
            profile,
            settings,
            caller,
            tracker: Arc::new(tracker),
        })
    }

    /// Asks the broker for credentials now.
    pub async fn issue(&self) -> Result<Grant> {
        let request = Request {
            caller: &self.caller,
            profile: &self.profile,
            at: Timestamp::now(),
            break_glass: None,
        };
        Ok(self.broker.issue(request).await?)
    }
}

/// `$XDG_STATE_HOME/sentinel/decisions.jsonl`, or `~/.local/state/sentinel/decisions.jsonl`.
fn default_decision_log() -> Result<PathBuf> {
    let state = match std::env::var_os("XDG_STATE_HOME").filter(|dir| !dir.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::home_dir()
            .context("cannot find the home directory for the decision log; pass --decision-log")?
            .join(".local/state"),
    };
    Ok(state.join("sentinel/decisions.jsonl"))
}
