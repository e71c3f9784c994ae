//! Where policies come from. A [`PolicySource`] turns a key (a parameter name, a profile) into a
//! compiled, validated policy and says where it came from; the broker never sees policy text, so
//! it can never evaluate a policy that failed validation. Sources fail with a [`SourceError`]
//! that names what was being read and tells a missing policy apart from an invalid one and from
//! a store that is failing, because only the last may be bridged by a stale cached copy.

mod cache;
mod clock;
mod error;
mod file;

use std::sync::Arc;

use sentinel_policy::Policy;

pub use cache::{CacheConfig, CacheStats, CachedSource};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::SourceError;
pub use file::FileSource;

/// A store of policies, looked up by key.
#[async_trait::async_trait]
pub trait PolicySource: Send + Sync {
    /// Loads the policy stored under `key` (a parameter name for SSM, a profile for a directory).
    async fn load(&self, key: &str) -> Result<LoadedPolicy, SourceError>;
}

#[async_trait::async_trait]
impl<S: PolicySource + ?Sized> PolicySource for Arc<S> {
    async fn load(&self, key: &str) -> Result<LoadedPolicy, SourceError> {
        (**self).load(key).await
    }
}

/// A validated policy and where it was read from.
#[derive(Clone, Debug)]
pub struct LoadedPolicy {
    /// The compiled policy, shared by every request that uses it.
    pub policy: Arc<Policy>,
    /// Where it came from, e.g. `ssm:/sentinel/policies/prod` or `file:/etc/sentinel/prod.yaml`;
    /// written to the decision log.
    pub origin: Arc<str>,
}

impl LoadedPolicy {
    /// Validates and compiles `text` read from `origin`; an invalid policy is an error that
    /// carries every diagnostic.
    pub fn parse(text: &[u8], origin: &str) -> Result<LoadedPolicy, SourceError> {
        match Policy::from_yaml_bytes(text) {
            Ok(policy) => Ok(LoadedPolicy {
                policy: Arc::new(policy),
                origin: origin.into(),
            }),
            Err(diagnostics) => Err(SourceError::Invalid {
                location: origin.to_owned(),
                diagnostics,
            }),
        }
    }
}

#[cfg(test)]
mod testing;
