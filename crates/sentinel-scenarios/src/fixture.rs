//! What the scenarios run against: the built-in example policy in an in-memory store that counts
//! its loads, the `production` profile, and the users whose decisions the example fixes.
//!
//! A scenario's request succeeds when its outcome is the one the example fixes, so a correctly
//! denied request is a success and an unexpected allow an error of kind `wrong_outcome`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sentinel_core::broker::Profile;
use sentinel_core::caller::Caller;
use sentinel_core::source::{LoadedPolicy, PolicySource, SourceError};
use sentinel_load::RequestError;
use sentinel_policy::{Decision, Effect};

/// The built-in example policy (`examples/policy.yaml`).
pub const EXAMPLE_POLICY: &str = include_str!("../../../examples/policy.yaml");

/// The profile every scenario asks for, and the key its policy is stored under.
pub const PROFILE: &str = "production";
/// A user the example allows on [`PROFILE`], by rule [`ALLOW_RULE`].
pub const ALLOWED_USER: &str = "alice";
/// The rule that allows [`ALLOWED_USER`].
pub const ALLOW_RULE: &str = "allow-production";
/// A user the example denies on [`PROFILE`], by rule [`DENY_RULE`].
pub const DENIED_USER: &str = "bob";
/// The rule that denies [`DENIED_USER`].
pub const DENY_RULE: &str = "deny-bob-production";

/// Error kind of a request whose outcome was not the one its scenario asserts.
pub(crate) const WRONG_OUTCOME: &str = "wrong_outcome";

/// Success when `decision` is the example's allow of [`ALLOWED_USER`] by [`ALLOW_RULE`].
pub(crate) fn expect_allow(decision: Decision<'_>) -> Result<(), RequestError> {
    if decision.effect == Effect::Allow && decision.rule == Some(ALLOW_RULE) {
        Ok(())
    } else {
        Err(RequestError::new(WRONG_OUTCOME))
    }
}

/// [`ALLOWED_USER`] as AWS names the caller: an IAM user of the profile's account.
pub fn allowed_caller() -> Caller {
    Caller {
        arn: format!("arn:aws:iam::123456789012:user/{ALLOWED_USER}"),
        account: "123456789012".to_owned(),
        user_id: "AIDALOCAL".to_owned(),
    }
}

/// The profile the broker issues for in the `issuance` scenario (fake role, in-process issuer).
pub fn profile() -> Profile {
    Profile {
        name: PROFILE.to_owned(),
        policy_key: PROFILE.to_owned(),
        role_arn: "arn:aws:iam::123456789012:role/sentinel-load".to_owned(),
        session_duration: Duration::from_secs(900),
        external_id: None,
    }
}

/// A policy store in memory that counts the loads reaching it, so a scenario can tell what
/// the cache in front of it answered by itself.
#[derive(Debug)]
pub struct MemorySource {
    policies: HashMap<String, LoadedPolicy>,
    loads: AtomicU64,
}

impl MemorySource {
    /// A store holding the example policy under [`PROFILE`] and nothing else.
    pub fn example() -> Result<MemorySource, SourceError> {
        let policy =
            LoadedPolicy::parse(EXAMPLE_POLICY.as_bytes(), "builtin:examples/policy.yaml")?;
        Ok(MemorySource {
            policies: HashMap::from([(PROFILE.to_owned(), policy)]),
            loads: AtomicU64::new(0),
        })
    }

    /// How many loads reached the store.
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }
}

#[async_trait::async_trait]
impl PolicySource for MemorySource {
    async fn load(&self, key: &str) -> Result<LoadedPolicy, SourceError> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        self.policies
            .get(key)
            .cloned()
            .ok_or_else(|| SourceError::NotFound {
                location: format!("memory:{key}"),
            })
    }
}

#[cfg(test)]
mod tests {
    use sentinel_policy::Request;

    use super::*;

    #[tokio::test]
    async fn the_example_decides_as_the_scenarios_expect() {
        let source = MemorySource::example().expect("the example policy is valid");
        let loaded = source.load(PROFILE).await.expect("stored");
        let now = jiff::Timestamp::now();
        let allowed = loaded
            .policy
            .evaluate(&Request::new(ALLOWED_USER, PROFILE, now));
        assert_eq!(
            (allowed.effect, allowed.rule),
            (Effect::Allow, Some(ALLOW_RULE))
        );
        let denied = loaded
            .policy
            .evaluate(&Request::new(DENIED_USER, PROFILE, now));
        assert_eq!(
            (denied.effect, denied.rule),
            (Effect::Deny, Some(DENY_RULE))
        );
        let missing = source.load("never-seen").await.expect_err("not stored");
        assert!(matches!(missing, SourceError::NotFound { .. }));
        assert_eq!(source.loads(), 2);
    }
}
