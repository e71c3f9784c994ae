//! Turns the standard AWS configuration into an SDK config, with one TLS stack (rustls + ring)
//! for every client, so that SSM, STS and the credential providers all behave alike.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_http_client::Connector;
use aws_smithy_http_client::tls::{self, TlsContext, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::HttpConnectorSettings;
use aws_smithy_types::timeout::TimeoutConfig;

/// How long any single AWS call may take before it fails; a hung endpoint must not hang Sentinel.
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTPS client every SDK client uses.
pub fn http_client() -> aws_sdk_sts::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// A connection-pooling HTTP(S) connector of the same stack as the SDK clients' (hyper,
/// rustls with `ring`), for requests the SDK does not make itself: identity proofs forwarded to
/// STS and requests to a Sentinel server. `tls` chooses the trusted roots (the system's by
/// default); `connect` and `read` bound each request.
pub fn connector(tls: TlsContext, connect: Duration, read: Duration) -> Connector {
    Connector::builder()
        .connector_settings(
            HttpConnectorSettings::builder()
                .connect_timeout(connect)
                .read_timeout(read)
                .build(),
        )
        .sleep_impl(TokioSleep::new())
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(tls)
        .build()
}

/// Loads the standard AWS configuration: the credential chain, `AWS_REGION`, `AWS_PROFILE`,
/// `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE` and `AWS_ENDPOINT_URL`; `profile` picks a
/// named profile instead of `AWS_PROFILE`.
pub async fn load(profile: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(DEFAULT_OPERATION_TIMEOUT)
                .connect_timeout(Duration::from_secs(3))
                .build(),
        );
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

/// Loads the standard AWS configuration as [`load`] does for no named profile, with `region`
/// (when given) in place of the one the SDK would look up.
pub async fn load_in_region(region: Option<&str>) -> SdkConfig {
    let sdk = load(None).await;
    match region {
        Some(region) => sdk
            .into_builder()
            .region(Region::new(region.to_owned()))
            .build(),
        None => sdk,
    }
}
