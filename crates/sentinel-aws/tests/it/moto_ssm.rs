//! The SSM policy source against the moto emulator, through the real SDK: push, fetch and load;
//! a missing parameter, an invalid stored policy and an unreachable store, each its own error
//! naming the parameter; and the cache bridging an unreachable store only within `max_stale`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use aws_sdk_ssm::types::ParameterType;
use sentinel_aws::ssm::SsmSource;
use sentinel_core::source::{
    CacheConfig, CachedSource, LoadedPolicy, ManualClock, PolicySource, SourceError,
};
use sentinel_policy::{Effect, Request};
use sentinel_testkit::Moto;

const PARAMETER: &str = "/sentinel/policies/prod";
const POLICY: &str = "version: \"1\"\nrules:\n  - name: ops\n    effect: allow\n    conditions:\n      users: [alice]\n";
const INVALID: &str = "version: \"1\"\nrules:\n  - name: ops\n    effect: maybe\n";

/// An SDK config aimed at a loopback port nobody listens on, without retries.
async fn unreachable_config(moto: &Moto) -> SdkConfig {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    moto.sdk_config()
        .await
        .into_builder()
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(RetryConfig::disabled())
        .build()
}

#[tokio::test]
async fn a_pushed_policy_is_stored_encrypted_and_loads_back() {
    let moto = Moto::connect();
    let config = moto.sdk_config().await;
    let source = SsmSource::new(&config);
    source.push(PARAMETER, POLICY).await.expect("pushed");

    let stored = aws_sdk_ssm::Client::new(&config)
        .get_parameter()
        .name(PARAMETER)
        .send()
        .await
        .expect("parameter exists");
    let parameter = stored.parameter.expect("parameter");
    assert_eq!(parameter.r#type, Some(ParameterType::SecureString));

    assert_eq!(source.fetch(PARAMETER).await.expect("fetched"), POLICY);
    let loaded = source.load(PARAMETER).await.expect("loads");
    assert_eq!(&*loaded.origin, "ssm:/sentinel/policies/prod");
    let now = jiff::Timestamp::now();
    assert_eq!(
        loaded
            .policy
            .evaluate(&Request::new("alice", "prod", now))
            .effect,
        Effect::Allow
    );
    assert_eq!(
        loaded
            .policy
            .evaluate(&Request::new("bob", "prod", now))
            .effect,
        Effect::Deny
    );
}

#[tokio::test]
async fn a_push_overwrites_the_stored_policy() {
    let moto = Moto::connect();
    let source = SsmSource::new(&moto.sdk_config().await);
    source.push(PARAMETER, POLICY).await.expect("first push");
    let updated = POLICY.replace("[alice]", "[bob]");
    source.push(PARAMETER, &updated).await.expect("second push");
    assert_eq!(source.fetch(PARAMETER).await.expect("fetched"), updated);
}

#[tokio::test]
async fn an_invalid_policy_is_refused_and_nothing_is_written() {
    let moto = Moto::connect();
    let source = SsmSource::new(&moto.sdk_config().await);
    let error = source.push(PARAMETER, INVALID).await.expect_err("refused");
    let SourceError::Invalid { diagnostics, .. } = &error else {
        panic!("expected Invalid, got {error}");
    };
    assert_eq!(diagnostics.iter().next().map(|d| d.line), Some(4));
    let missing = source
        .fetch(PARAMETER)
        .await
        .expect_err("nothing was written");
    assert!(matches!(missing, SourceError::NotFound { .. }), "{missing}");
}

#[tokio::test]
async fn a_missing_parameter_is_not_found_and_named() {
    let moto = Moto::connect();
    let source = SsmSource::new(&moto.sdk_config().await);
    let error = source
        .load("/sentinel/policies/none")
        .await
        .expect_err("missing");
    assert!(matches!(error, SourceError::NotFound { .. }), "{error}");
    assert_eq!(
        error.to_string(),
        "no policy at ssm:/sentinel/policies/none"
    );
}

#[tokio::test]
async fn an_invalid_stored_policy_does_not_load() {
    let moto = Moto::connect();
    let config = moto.sdk_config().await;
    aws_sdk_ssm::Client::new(&config)
        .put_parameter()
        .name(PARAMETER)
        .value(INVALID)
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .expect("stored behind Sentinel's back");
    let error = SsmSource::new(&config)
        .load(PARAMETER)
        .await
        .expect_err("invalid");
    assert!(matches!(error, SourceError::Invalid { .. }), "{error}");
    assert!(
        error.to_string().contains("ssm:/sentinel/policies/prod"),
        "{error}"
    );
    assert!(error.to_string().contains("4:"), "{error}");
}

#[tokio::test]
async fn an_unreachable_store_is_its_own_error_and_named() {
    let moto = Moto::connect();
    let source = SsmSource::new(&unreachable_config(&moto).await);
    let error = source.load(PARAMETER).await.expect_err("unreachable");
    assert!(matches!(error, SourceError::Unreachable { .. }), "{error}");
    assert!(error.is_store_failure());
    assert!(error.to_string().contains(PARAMETER), "{error}");
}

/// Reads through moto until switched to a store that cannot be reached.
struct Outage {
    live: SsmSource,
    dead: SsmSource,
    down: AtomicBool,
}

#[async_trait::async_trait]
impl PolicySource for Outage {
    async fn load(&self, key: &str) -> Result<LoadedPolicy, SourceError> {
        if self.down.load(Ordering::SeqCst) {
            self.dead.load(key).await
        } else {
            self.live.load(key).await
        }
    }
}

async fn outage_cache(
    moto: &Moto,
    max_stale: Duration,
) -> (CachedSource<Arc<Outage>>, Arc<Outage>, Arc<ManualClock>) {
    let live = SsmSource::new(&moto.sdk_config().await);
    live.push(PARAMETER, POLICY).await.expect("pushed");
    let outage = Arc::new(Outage {
        live,
        dead: SsmSource::new(&unreachable_config(moto).await),
        down: AtomicBool::new(false),
    });
    let clock = Arc::new(ManualClock::new());
    let config = CacheConfig {
        ttl: Duration::from_secs(300),
        max_stale,
        capacity: 16,
    };
    let cache = CachedSource::with_clock(outage.clone(), config, clock.clone());
    (cache, outage, clock)
}

#[tokio::test]
async fn an_unreachable_store_denies_once_the_ttl_is_over() {
    let moto = Moto::connect();
    let (cache, outage, clock) = outage_cache(&moto, Duration::ZERO).await;
    cache
        .load(PARAMETER)
        .await
        .expect("loads while the store is up");
    outage.down.store(true, Ordering::SeqCst);
    cache
        .load(PARAMETER)
        .await
        .expect("fresh copy within the TTL");
    clock.advance(Duration::from_secs(300));
    let error = cache.load(PARAMETER).await.expect_err("fail closed");
    assert!(matches!(error, SourceError::Unreachable { .. }), "{error}");
}

#[tokio::test]
async fn max_stale_serves_the_cached_copy_only_within_its_window() {
    let moto = Moto::connect();
    let (cache, outage, clock) = outage_cache(&moto, Duration::from_secs(60)).await;
    cache
        .load(PARAMETER)
        .await
        .expect("loads while the store is up");
    outage.down.store(true, Ordering::SeqCst);
    clock.advance(Duration::from_secs(359));
    let stale = cache
        .load(PARAMETER)
        .await
        .expect("stale copy within max_stale");
    assert_eq!(&*stale.origin, "ssm:/sentinel/policies/prod");
    assert_eq!(cache.stats().stale_serves, 1);
    clock.advance(Duration::from_secs(1));
    let error = cache
        .load(PARAMETER)
        .await
        .expect_err("past max_stale: deny");
    assert!(matches!(error, SourceError::Unreachable { .. }), "{error}");
    assert_eq!(cache.stats().stale_serves, 1);
}
