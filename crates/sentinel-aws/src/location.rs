//! Where a policy lives, as users write it wherever a policy is named: `ssm:PARAMETER` for SSM
//! Parameter Store, anything else a file path. A profile's policy defaults to
//! `ssm:/sentinel/policies/<profile>`.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use aws_config::SdkConfig;
use sentinel_core::source::{FileSource, LoadedPolicy, PolicySource, SourceError};

use crate::ssm::SsmSource;

/// The SSM parameter path under which profiles' policies are stored by default.
pub const DEFAULT_PARAMETER_PREFIX: &str = "/sentinel/policies/";

/// The SSM parameter that holds `profile`'s policy by default: `/sentinel/policies/<profile>`.
pub fn default_parameter(profile: &str) -> String {
    format!("{DEFAULT_PARAMETER_PREFIX}{profile}")
}

/// A policy's location: an SSM parameter or a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyLocation {
    /// An SSM parameter, by name.
    Ssm(String),
    /// A file on the local file system.
    File(PathBuf),
}

impl PolicyLocation {
    /// Reads a location as users write it: `ssm:NAME` is an SSM parameter, anything else a
    /// file path. (An empty name or path names nothing, and loading it fails.)
    pub fn parse(text: &str) -> PolicyLocation {
        match text.strip_prefix("ssm:") {
            Some(name) => PolicyLocation::Ssm(name.to_owned()),
            None => PolicyLocation::File(PathBuf::from(text)),
        }
    }

    /// The default location of `profile`'s policy: `ssm:/sentinel/policies/<profile>`.
    pub fn default_for_profile(profile: &str) -> PolicyLocation {
        PolicyLocation::Ssm(default_parameter(profile))
    }

    /// The source that holds this location, and the key under which it holds the policy;
    /// `config` is used only for SSM.
    pub fn open(&self, config: &SdkConfig) -> (Arc<dyn PolicySource>, String) {
        match self {
            PolicyLocation::Ssm(name) => (Arc::new(SsmSource::new(config)), name.clone()),
            PolicyLocation::File(path) => {
                (Arc::new(FileSource::file(path)), path.display().to_string())
            }
        }
    }
}

/// One source for policies anywhere: its keys are locations as users write them
/// (`ssm:PARAMETER` or a file path), so profiles whose policies live in different places can
/// share one broker and one cache.
#[derive(Clone, Debug)]
pub struct LocationSource {
    ssm: SsmSource,
}

impl LocationSource {
    /// A source reading SSM parameters with `config`, and files directly.
    pub fn new(config: &SdkConfig) -> LocationSource {
        LocationSource {
            ssm: SsmSource::new(config),
        }
    }
}

#[async_trait::async_trait]
impl PolicySource for LocationSource {
    async fn load(&self, key: &str) -> Result<LoadedPolicy, SourceError> {
        match PolicyLocation::parse(key) {
            PolicyLocation::Ssm(name) => self.ssm.load(&name).await,
            PolicyLocation::File(path) => FileSource::file(path).load(key).await,
        }
    }
}

impl fmt::Display for PolicyLocation {
    /// The form users write: `ssm:NAME` or the file path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyLocation::Ssm(name) => write!(f, "ssm:{name}"),
            PolicyLocation::File(path) => write!(f, "{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssm_prefix_names_a_parameter_and_anything_else_a_file() {
        assert_eq!(
            PolicyLocation::parse("ssm:/sentinel/policies/prod"),
            PolicyLocation::Ssm("/sentinel/policies/prod".into())
        );
        assert_eq!(
            PolicyLocation::parse("policies/prod.yaml"),
            PolicyLocation::File("policies/prod.yaml".into())
        );
        assert_eq!(
            PolicyLocation::parse("./ssm:odd.yaml"),
            PolicyLocation::File("./ssm:odd.yaml".into())
        );
    }

    #[test]
    fn a_profile_defaults_to_its_ssm_parameter() {
        let location = PolicyLocation::default_for_profile("prod");
        assert_eq!(location.to_string(), "ssm:/sentinel/policies/prod");
        assert_eq!(PolicyLocation::parse(&location.to_string()), location);
    }

    /// Writes a policy that denies everything as `prod.yaml` in `dir` and returns its path.
    fn deny_all_policy(dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("prod.yaml");
        std::fs::write(
            &path,
            "version: \"1\"\nrules:\n  - name: all\n    effect: deny\n",
        )
        .expect("write policy");
        path
    }

    #[tokio::test]
    async fn a_file_location_opens_the_file_source() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = deny_all_policy(dir.path());
        let config = SdkConfig::builder().build();
        let (source, key) = PolicyLocation::File(path.clone()).open(&config);
        let loaded = source.load(&key).await.expect("policy loads");
        assert_eq!(&*loaded.origin, format!("file:{}", path.display()));
        let (source, key) = PolicyLocation::File(dir.path().join("none.yaml")).open(&config);
        let missing = source.load(&key).await;
        assert!(matches!(missing, Err(SourceError::NotFound { .. })));
    }

    #[tokio::test]
    async fn the_location_source_reads_whatever_its_key_names() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = deny_all_policy(dir.path());
        let source = LocationSource::new(&SdkConfig::builder().build());
        let loaded = source
            .load(&path.display().to_string())
            .await
            .expect("policy loads");
        assert_eq!(&*loaded.origin, format!("file:{}", path.display()));
        let missing = source
            .load(&dir.path().join("none.yaml").display().to_string())
            .await;
        assert!(matches!(missing, Err(SourceError::NotFound { .. })));
    }
}
