//! `sentinel server` assembled from its configuration: one broker for every profile (policies
//! from wherever each profile names, behind one cache), issuing with the server's own
//! credentials (the SDK's default chain: its ECS, EKS or EC2 role), and proofs sent to STS.

use std::collections::HashMap;
use std::sync::Arc;

use aws_config::{Region, SdkConfig};
use sentinel_core::broker::{Broker, Profile};
use sentinel_core::decision_log::{DecisionLog, LogError};
use sentinel_core::source::{CacheConfig, CachedSource};
use sentinel_server::remote::{Metrics, ProofRules, RemoteService, ServerConfig};

use crate::location::{LocationSource, PolicyLocation};
use crate::sdk;
use crate::sts::StsIssuer;
use crate::sts_proof::StsProofVerifier;

/// The service `config` describes, calling AWS with the server's own credentials and the
/// configured region (else the SDK's own lookup).
pub async fn remote_service(config: &ServerConfig) -> Result<RemoteService, LogError> {
    let sdk = sdk::load(None).await;
    let sdk = match &config.region {
        Some(region) => sdk
            .into_builder()
            .region(Region::new(region.clone()))
            .build(),
        None => sdk,
    };
    service_with(config, &sdk)
}

/// The service `config` describes, calling AWS with `sdk`.
pub fn service_with(config: &ServerConfig, sdk: &SdkConfig) -> Result<RemoteService, LogError> {
    let log = DecisionLog::open(&config.decision_log)?;
    let cache = CacheConfig {
        ttl: config.policy_ttl,
        max_stale: config.policy_max_stale,
        ..CacheConfig::default()
    };
    let source = Arc::new(CachedSource::new(Arc::new(LocationSource::new(sdk)), cache));
    let metrics = Metrics::new();
    let issuer = metrics.timed(Arc::new(StsIssuer::new(sdk)));
    let broker = Broker::new(source, Arc::new(log), issuer, config.sts_timeout);
    let profiles: HashMap<String, Profile> = config
        .profiles
        .iter()
        .map(|(name, profile)| {
            let location = profile
                .policy
                .as_deref()
                .map(PolicyLocation::parse)
                .unwrap_or_else(|| PolicyLocation::default_for_profile(name));
            let settings = Profile {
                name: name.clone(),
                policy_key: location.to_string(),
                role_arn: profile.role_arn.clone(),
                session_duration: profile.duration,
                external_id: profile.external_id.clone(),
            };
            (name.clone(), settings)
        })
        .collect();
    Ok(RemoteService {
        broker,
        profiles,
        rules: ProofRules {
            audience: config.audience.clone(),
            endpoints: config.sts_endpoints.clone(),
        },
        verifier: Arc::new(StsProofVerifier::new(config.sts_timeout)),
        sts_timeout: config.sts_timeout,
        metrics,
    })
}
