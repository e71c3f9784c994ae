//! A profile of the standard AWS config file, read as the ordinary assume-role profile it is
//! (`role_arn`, `source_profile` or `credential_source`, `region`, `duration_seconds`,
//! `external_id`) plus Sentinel's own `sentinel_policy` (or `sentinel_server`, with its
//! `sentinel_audience` and `sentinel_ca_bundle`), and the base credentials it names.

use std::time::Duration;

use aws_config::profile::ProfileFileCredentialsProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_types::os_shim_internal::{Env, Fs};

use crate::sdk;

/// The shortest and longest sessions STS grants.
const SESSION_LIMITS: (u64, u64) = (900, 43_200);
/// The session length when the profile does not set `duration_seconds` (STS's own default).
pub const DEFAULT_SESSION: Duration = Duration::from_secs(3600);

/// Why a profile could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The config files could not be read or parsed.
    #[error("cannot read the AWS config files: {0}")]
    Load(String),
    /// No such profile.
    #[error("profile {0:?} is not in the AWS config file (AWS_CONFIG_FILE or ~/.aws/config)")]
    Unknown(String),
    /// A setting has a value Sentinel cannot use.
    #[error("profile {profile:?}: {key} = {value:?}: {problem}")]
    Invalid {
        /// The profile.
        profile: String,
        /// The setting.
        key: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        problem: String,
    },
}

/// Where a profile's base credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseCredentials {
    /// Another profile's (`source_profile`).
    SourceProfile(String),
    /// The environment variables (`credential_source = Environment`).
    Environment,
    /// The EC2 instance role (`credential_source = Ec2InstanceMetadata`).
    InstanceMetadata,
    /// The ECS task role (`credential_source = EcsContainer`).
    EcsContainer,
    /// The SDK's default chain.
    DefaultChain,
}

/// What Sentinel reads from one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSettings {
    /// The profile's name.
    pub name: String,
    /// The role to assume.
    pub role_arn: Option<String>,
    /// Where the base credentials come from.
    pub base: BaseCredentials,
    /// The region for STS (and SSM).
    pub region: Option<String>,
    /// The session length.
    pub session_duration: Duration,
    /// The external ID for the role's trust policy.
    pub external_id: Option<String>,
    /// Sentinel's own setting: where the policy lives (`ssm:NAME` or a path).
    pub sentinel_policy: Option<String>,
    /// Sentinel's own setting: the `sentinel server` that issues for this profile.
    pub sentinel_server: Option<String>,
    /// Sentinel's own setting: the audience that server expects (default: its host name).
    pub sentinel_audience: Option<String>,
    /// Sentinel's own setting: a PEM file of CA certificates to trust for that server.
    pub sentinel_ca_bundle: Option<String>,
}

/// Reads profile `name` from the standard config files (honouring `AWS_CONFIG_FILE` and
/// `AWS_SHARED_CREDENTIALS_FILE`).
pub async fn read_profile(name: &str) -> Result<ProfileSettings, ProfileError> {
    read_profile_from(&Fs::real(), &Env::real(), name).await
}

async fn read_profile_from(
    fs: &Fs,
    env: &Env,
    name: &str,
) -> Result<ProfileSettings, ProfileError> {
    let profiles = aws_config::profile::load(fs, env, &EnvConfigFiles::default(), None)
        .await
        .map_err(|error| ProfileError::Load(error.to_string()))?;
    let profile = profiles
        .get_profile(name)
        .ok_or_else(|| ProfileError::Unknown(name.to_owned()))?;
    settings(name, |key| profile.get(key))
}

fn settings<'a>(
    name: &str,
    get: impl Fn(&str) -> Option<&'a str>,
) -> Result<ProfileSettings, ProfileError> {
    let invalid = |key, value: &str, problem: String| ProfileError::Invalid {
        profile: name.to_owned(),
        key,
        value: value.to_owned(),
        problem,
    };
    let base = match (get("source_profile"), get("credential_source")) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "credential_source",
                get("credential_source").unwrap_or_default(),
                "a profile may set source_profile or credential_source, not both".into(),
            ));
        }
        (Some(source), None) => BaseCredentials::SourceProfile(source.to_owned()),
        (None, Some("Environment")) => BaseCredentials::Environment,
        (None, Some("Ec2InstanceMetadata")) => BaseCredentials::InstanceMetadata,
        (None, Some("EcsContainer")) => BaseCredentials::EcsContainer,
        (None, Some(other)) => {
            return Err(invalid(
                "credential_source",
                other,
                "expected Environment, Ec2InstanceMetadata or EcsContainer".into(),
            ));
        }
        (None, None) => BaseCredentials::DefaultChain,
    };
    let session_duration = match get("duration_seconds") {
        None => DEFAULT_SESSION,
        Some(text) => {
            let (min, max) = SESSION_LIMITS;
            match text.trim().parse::<u64>() {
                Ok(seconds) if (min..=max).contains(&seconds) => Duration::from_secs(seconds),
                _ => {
                    return Err(invalid(
                        "duration_seconds",
                        text,
                        format!("expected a whole number of seconds from {min} to {max}"),
                    ));
                }
            }
        }
    };
    let owned = |key| get(key).map(str::to_owned);
    Ok(ProfileSettings {
        name: name.to_owned(),
        role_arn: owned("role_arn"),
        base,
        region: owned("region"),
        session_duration,
        external_id: owned("external_id"),
        sentinel_policy: owned("sentinel_policy"),
        sentinel_server: owned("sentinel_server"),
        sentinel_audience: owned("sentinel_audience"),
        sentinel_ca_bundle: owned("sentinel_ca_bundle"),
    })
}

impl ProfileSettings {
    /// The SDK config of the base credentials this profile names, in the profile's region.
    pub async fn base_config(&self) -> SdkConfig {
        self.base.config(self.region.as_deref()).await
    }
}

impl std::fmt::Display for BaseCredentials {
    /// Where the credentials are looked for, as a profile's reader would say it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BaseCredentials::SourceProfile(source) => write!(f, "source_profile {source:?}"),
            BaseCredentials::Environment => {
                f.write_str("the environment (credential_source = Environment)")
            }
            BaseCredentials::InstanceMetadata => {
                f.write_str("the EC2 instance role (credential_source = Ec2InstanceMetadata)")
            }
            BaseCredentials::EcsContainer => {
                f.write_str("the ECS task role (credential_source = EcsContainer)")
            }
            BaseCredentials::DefaultChain => f.write_str(
                "the SDK's default chain, as it names neither source_profile nor \
                 credential_source (AWS_ACCESS_KEY_ID, AWS_PROFILE, the shared credentials \
                 file, SSO, web identity, container and instance metadata)",
            ),
        }
    }
}

impl BaseCredentials {
    /// The SDK config of these credentials, in `region` (else the SDK's own lookup).
    pub async fn config(&self, region: Option<&str>) -> SdkConfig {
        let config = match self {
            BaseCredentials::SourceProfile(source) => {
                // Explicitly that profile's credentials: the default chain would prefer any
                // AWS_ACCESS_KEY_ID in the environment over the profile the user named.
                let config = sdk::load(Some(source)).await;
                let provider_config = ProviderConfig::default()
                    .with_http_client(sdk::http_client())
                    .with_region(config.region().cloned());
                let provider = ProfileFileCredentialsProvider::builder()
                    .configure(&provider_config)
                    .profile_name(source)
                    .build();
                with_credentials(config, provider)
            }
            BaseCredentials::DefaultChain => sdk::load(None).await,
            BaseCredentials::Environment => with_credentials(
                sdk::load(None).await,
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            ),
            BaseCredentials::InstanceMetadata => with_credentials(
                sdk::load(None).await,
                aws_config::imds::credentials::ImdsCredentialsProvider::builder().build(),
            ),
            BaseCredentials::EcsContainer => with_credentials(
                sdk::load(None).await,
                aws_config::ecs::EcsCredentialsProvider::builder().build(),
            ),
        };
        match region {
            Some(region) => config
                .into_builder()
                .region(Region::new(region.to_owned()))
                .build(),
            None => config,
        }
    }
}

fn with_credentials(
    config: SdkConfig,
    provider: impl aws_credential_types::provider::ProvideCredentials + 'static,
) -> SdkConfig {
    config
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(config: &str, name: &str) -> Result<ProfileSettings, ProfileError> {
        let fs = Fs::from_slice(&[("/test/config", config)]);
        let env = Env::from_slice(&[
            ("AWS_CONFIG_FILE", "/test/config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/test/none"),
        ]);
        read_profile_from(&fs, &env, name).await
    }

    const CONFIG: &str = "\
[profile base]
region = eu-west-1

[profile prod]
role_arn = arn:aws:iam::123456789012:role/prod
source_profile = base
region = us-east-2
duration_seconds = 1800
external_id = ext-42
sentinel_policy = ssm:/custom/prod

[profile env]
role_arn = arn:aws:iam::123456789012:role/env
credential_source = Environment

[profile both]
source_profile = base
credential_source = Environment

[profile short]
duration_seconds = 60

[profile odd-source]
credential_source = Somewhere

[profile remote]
sentinel_server = https://sentinel.example.com
sentinel_audience = sentinel.internal
sentinel_ca_bundle = /etc/sentinel/ca.pem
source_profile = base
";

    #[tokio::test]
    async fn reads_an_assume_role_profile_with_sentinel_settings() {
        let prod = read(CONFIG, "prod").await.expect("prod");
        assert_eq!(
            prod,
            ProfileSettings {
                name: "prod".into(),
                role_arn: Some("arn:aws:iam::123456789012:role/prod".into()),
                base: BaseCredentials::SourceProfile("base".into()),
                region: Some("us-east-2".into()),
                session_duration: Duration::from_secs(1800),
                external_id: Some("ext-42".into()),
                sentinel_policy: Some("ssm:/custom/prod".into()),
                sentinel_server: None,
                sentinel_audience: None,
                sentinel_ca_bundle: None,
            }
        );
        let env = read(CONFIG, "env").await.expect("env");
        assert_eq!(env.base, BaseCredentials::Environment);
        assert_eq!(env.session_duration, DEFAULT_SESSION);
        assert_eq!(env.sentinel_policy, None);
        let remote = read(CONFIG, "remote").await.expect("remote");
        assert_eq!(
            remote.sentinel_server.as_deref(),
            Some("https://sentinel.example.com")
        );
        assert_eq!(
            remote.sentinel_audience.as_deref(),
            Some("sentinel.internal")
        );
        assert_eq!(
            remote.sentinel_ca_bundle.as_deref(),
            Some("/etc/sentinel/ca.pem")
        );
        assert_eq!(remote.role_arn, None);
    }

    #[tokio::test]
    async fn refuses_unknown_profiles_and_bad_settings() {
        assert!(matches!(
            read(CONFIG, "missing").await,
            Err(ProfileError::Unknown(name)) if name == "missing"
        ));
        for (profile, key) in [
            ("both", "credential_source"),
            ("short", "duration_seconds"),
            ("odd-source", "credential_source"),
        ] {
            match read(CONFIG, profile).await {
                Err(ProfileError::Invalid { key: got, .. }) => assert_eq!(got, key, "{profile}"),
                other => panic!("{profile}: expected an invalid {key}, got {other:?}"),
            }
        }
    }
}
