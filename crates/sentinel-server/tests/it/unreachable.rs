//! A remote service whose requests all end before STS, for tests of what the server refuses
//! first: its policy file does not exist, and its proof verifier and its IAM panic if a request
//! reaches them after all.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sentinel_core::broker::Broker;
use sentinel_core::caller::Caller;
use sentinel_core::decision_log::DecisionLog;
use sentinel_core::issuer::LocalIssuer;
use sentinel_core::notify::Notifications;
use sentinel_core::roles::{Role, RoleDirectory, RoleLookupError};
use sentinel_core::source::{CacheConfig, CachedSource, FileSource};
use sentinel_protocol::{CheckedProof, ProofRules, ProofVerifier, StsEndpoints, VerifyError};
use sentinel_server::remote::{
    Admission, BrokerIdentity, MemorySeenProofs, Metrics, RateLimits, RemoteService, RoleCache,
};

/// A verifier for requests that never get as far as STS.
struct NoSts;

#[async_trait::async_trait]
impl ProofVerifier for NoSts {
    async fn verify(&self, _: &CheckedProof) -> Result<Caller, VerifyError> {
        panic!("the request was refused before any proof was sent to STS")
    }
}

/// IAM for requests that never get as far as a caller.
struct NoRoles;

#[async_trait::async_trait]
impl RoleDirectory for NoRoles {
    async fn role(&self, _: &str, _: &str) -> Result<Role, RoleLookupError> {
        panic!("the request was refused before any caller was known")
    }
}

/// The service, for audience `sentinel.test` and a broker in account 123456789012, its
/// decision log in `dir`, limited by `rate_limits`.
pub fn service(dir: &Path, rate_limits: RateLimits) -> RemoteService {
    RemoteService {
        broker: Broker::new(
            Arc::new(CachedSource::new(
                FileSource::file(dir.join("policy.yaml")),
                CacheConfig::default(),
            )),
            Arc::new(DecisionLog::open(&dir.join("log")).expect("log")),
            Arc::new(LocalIssuer),
            Duration::from_secs(10),
        ),
        profiles: HashMap::new(),
        rules: ProofRules {
            audience: "sentinel.test".into(),
            endpoints: StsEndpoints::Aws,
        },
        verifier: Arc::new(NoSts),
        sts_timeout: Duration::from_secs(5),
        metrics: Metrics::new([]),
        seen_proofs: Arc::new(MemorySeenProofs::new(10)),
        rate_limits,
        admission: Admission::new(
            &BrokerIdentity {
                arn: "arn:aws:iam::123456789012:role/sentinel-broker".into(),
                account: "123456789012".into(),
                partition: "aws".into(),
            },
            BTreeSet::from(["123456789012".to_owned()]),
            Vec::new(),
            RoleCache::new(Arc::new(NoRoles), Duration::from_secs(60), 1),
        ),
        notifications: Notifications::none(),
    }
}
