//! The client side of the identity proof: an STS `GetCallerIdentity` request signed (SigV4)
//! with the caller's own credentials, for the STS endpoint the SDK resolves for them (so
//! `AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, FIPS and dual-stack settings are honoured), bound
//! to one server and one profile by signed `X-Sentinel-Audience` and `X-Sentinel-Profile`
//! headers, made unique by a signed random `X-Sentinel-Nonce`, and never sent by the caller.

use std::collections::BTreeMap;
use std::time::SystemTime;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_sts::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use aws_types::service_config::ServiceConfigKey;
use rand::TryRngCore;
use rand::rngs::OsRng;
use sentinel_protocol::proof::{
    AUDIENCE_HEADER, FORM_CONTENT_TYPE, GET_CALLER_IDENTITY_BODY, NONCE_HEADER, PROFILE_HEADER,
    Proof,
};

/// The region a proof is signed for when the caller has none configured.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Why no proof could be made.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// The caller's own credentials could not be loaded.
    #[error("cannot load your AWS credentials to sign the identity proof: {0}")]
    Credentials(String),
    /// The SDK could not resolve an STS endpoint for these settings.
    #[error("cannot resolve the STS endpoint for the identity proof: {0}")]
    Endpoint(String),
    /// Signing failed.
    #[error("cannot sign the identity proof: {0}")]
    Signing(String),
    /// The operating system's random number generator failed, so no nonce could be drawn.
    #[error(
        "cannot make the identity proof's nonce: the operating system's random number generator \
         failed: {0}"
    )]
    Rng(String),
}

/// What a proof is bound to: the server, the profile, and this one proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The server's audience, signed as `X-Sentinel-Audience`.
    pub audience: String,
    /// The profile the proof is handed over for, signed as `X-Sentinel-Profile`.
    pub profile: String,
    /// Random characters, signed as `X-Sentinel-Nonce`, so that no two proofs are alike.
    pub nonce: String,
}

impl Binding {
    /// A binding to `audience` and `profile` with a fresh nonce: 128 bits from the operating
    /// system's CSPRNG, as 32 hex digits.
    pub fn fresh(audience: &str, profile: &str) -> Result<Binding, ProofError> {
        let mut bytes = [0u8; 16];
        OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|error| ProofError::Rng(error.to_string()))?;
        let nonce = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        Ok(Binding {
            audience: audience.to_owned(),
            profile: profile.to_owned(),
            nonce,
        })
    }
}

/// Where a proof is signed for and with what: the STS endpoint URL and the signing region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofTarget {
    /// The STS endpoint, ending in `/`.
    pub url: String,
    /// The region the signature is scoped to.
    pub region: String,
}

impl ProofTarget {
    /// The STS endpoint the SDK resolves for `config` (the service-specific
    /// `AWS_ENDPOINT_URL_STS` or profile `endpoint_url` first, then `AWS_ENDPOINT_URL`, then
    /// AWS's regional endpoint), with its region ([`DEFAULT_REGION`] when none is configured).
    pub async fn resolve(config: &SdkConfig) -> Result<ProofTarget, ProofError> {
        let region = config
            .region()
            .map_or_else(|| DEFAULT_REGION.to_owned(), ToString::to_string);
        let explicit = if config.get_origin("endpoint_url").is_client_config() {
            config.endpoint_url().map(str::to_owned)
        } else {
            config
                .service_config()
                .and_then(|service| service.load_config(sts_endpoint_key()))
                .or_else(|| config.endpoint_url().map(str::to_owned))
        };
        let params = Params::builder()
            .region(region.clone())
            .set_use_fips(config.use_fips())
            .set_use_dual_stack(config.use_dual_stack())
            .set_endpoint(explicit)
            .build()
            .map_err(|error| ProofError::Endpoint(error.to_string()))?;
        let endpoint = DefaultResolver::new()
            .resolve_endpoint(&params)
            .await
            .map_err(|error| ProofError::Endpoint(error.to_string()))?;
        let url = endpoint.url();
        let url = if url.ends_with('/') {
            url.to_owned()
        } else {
            format!("{url}/")
        };
        Ok(ProofTarget { url, region })
    }
}

/// The keys the SDK reads a service-specific STS endpoint from.
fn sts_endpoint_key() -> ServiceConfigKey<'static> {
    ServiceConfigKey::builder()
        .service_id("STS")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .expect("every field of the key is set")
}

/// Signs a proof with `config`'s credentials for its STS endpoint, bound to `audience` and
/// `profile`, with a fresh nonce.
pub async fn sign_for(
    config: &SdkConfig,
    audience: &str,
    profile: &str,
) -> Result<Proof, ProofError> {
    let binding = Binding::fresh(audience, profile)?;
    let provider = config.credentials_provider().ok_or_else(|| {
        ProofError::Credentials("no credentials provider is configured".to_owned())
    })?;
    let credentials = provider
        .provide_credentials()
        .await
        .map_err(|error| ProofError::Credentials(crate::error::chain(&error)))?;
    let target = ProofTarget::resolve(config).await?;
    sign(&credentials, &target, &binding, SystemTime::now())
}

/// Signs a proof with `credentials` for `target`, bound as `binding` says, dated `time`.
pub fn sign(
    credentials: &Credentials,
    target: &ProofTarget,
    binding: &Binding,
    time: SystemTime,
) -> Result<Proof, ProofError> {
    let signing_error = |error: &dyn std::fmt::Display| ProofError::Signing(error.to_string());
    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&target.region)
        .name("sts")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|error| signing_error(&error))?
        .into();
    let unsigned = [
        ("content-type", FORM_CONTENT_TYPE),
        (AUDIENCE_HEADER, binding.audience.as_str()),
        (PROFILE_HEADER, binding.profile.as_str()),
        (NONCE_HEADER, binding.nonce.as_str()),
    ];
    let request = SignableRequest::new(
        "POST",
        &target.url,
        unsigned.into_iter(),
        SignableBody::Bytes(GET_CALLER_IDENTITY_BODY.as_bytes()),
    )
    .map_err(|error| signing_error(&error))?;
    let (instructions, _signature) = aws_sigv4::http_request::sign(request, &params)
        .map_err(|error| signing_error(&error))?
        .into_parts();
    let mut headers: BTreeMap<String, String> = unsigned
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    for (name, value) in instructions.headers() {
        headers.insert(name.to_owned(), value.to_owned());
    }
    Ok(Proof {
        method: "POST".to_owned(),
        url: target.url.clone(),
        headers,
        body: GET_CALLER_IDENTITY_BODY.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentinel_protocol::{Endpoint, ProofRules, StsEndpoints};

    fn target() -> ProofTarget {
        ProofTarget {
            url: "https://sts.us-east-1.amazonaws.com/".into(),
            region: "us-east-1".into(),
        }
    }

    fn credentials(token: Option<&str>) -> Credentials {
        Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            token.map(str::to_owned),
            None,
            "test",
        )
    }

    fn binding(audience: &str, profile: &str, nonce: &str) -> Binding {
        Binding {
            audience: audience.into(),
            profile: profile.into(),
            nonce: nonce.into(),
        }
    }

    #[test]
    fn a_signed_proof_passes_the_servers_checks_and_signs_the_audience_profile_and_nonce() {
        let now = SystemTime::now();
        let bound = Binding::fresh("sentinel.example.com", "production").expect("nonce");
        let proof =
            sign(&credentials(Some("session-token")), &target(), &bound, now).expect("signed");
        let authorization = &proof.headers["authorization"];
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            "{authorization}"
        );
        assert!(
            authorization.contains(
                "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;\
                 x-sentinel-audience;x-sentinel-nonce;x-sentinel-profile"
            ),
            "{authorization}"
        );
        assert_eq!(proof.headers["x-amz-security-token"], "session-token");
        assert_eq!(proof.headers[PROFILE_HEADER], "production");
        assert_eq!(proof.headers[NONCE_HEADER], bound.nonce);
        assert!(!format!("{proof:?}").contains("wJalrXUtnFEMI"));
        let rules = ProofRules {
            audience: "sentinel.example.com".into(),
            endpoints: StsEndpoints::Aws,
        };
        let at = jiff::Timestamp::try_from(now).expect("now");
        let checked = rules
            .check(&proof, "production", at)
            .expect("the server accepts it");
        assert_eq!(checked.uri, "https://sts.us-east-1.amazonaws.com/");
        assert!(rules.check(&proof, "staging", at).is_err());
        let elsewhere = ProofRules {
            audience: "other.example.com".into(),
            endpoints: StsEndpoints::Listed(vec![
                Endpoint::parse("https://sts.us-east-1.amazonaws.com").expect("endpoint"),
            ]),
        };
        assert!(elsewhere.check(&proof, "production", at).is_err());
    }

    #[test]
    fn a_fresh_nonce_is_32_random_hex_digits() {
        let nonces: std::collections::HashSet<String> = (0..1000)
            .map(|_| Binding::fresh("a", "p").expect("nonce").nonce)
            .collect();
        assert_eq!(nonces.len(), 1000);
        for nonce in &nonces {
            assert_eq!(nonce.len(), sentinel_protocol::proof::MIN_NONCE_LEN);
            assert!(
                nonce
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
        }
    }

    #[test]
    fn the_signature_depends_on_the_secret_audience_profile_and_nonce() {
        let now = SystemTime::now();
        let signature = |secret: &str, binding: &Binding| {
            let credentials = Credentials::new("AKIDEXAMPLE", secret, None, None, "test");
            sign(&credentials, &target(), binding, now)
                .expect("signed")
                .headers["authorization"]
                .clone()
        };
        let nonce = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
        let base = signature("secret-one", &binding("a.example", "production", nonce));
        assert_eq!(
            base,
            signature("secret-one", &binding("a.example", "production", nonce))
        );
        for (secret, other) in [
            ("secret-two", binding("a.example", "production", nonce)),
            ("secret-one", binding("b.example", "production", nonce)),
            ("secret-one", binding("a.example", "staging", nonce)),
            (
                "secret-one",
                binding("a.example", "production", &nonce.replace('0', "1")),
            ),
        ] {
            assert_ne!(base, signature(secret, &other), "{other:?}");
        }
        // Two proofs signed in the same second are different proofs.
        let fresh = || {
            let binding = Binding::fresh("a.example", "production").expect("nonce");
            signature("secret-one", &binding)
        };
        assert_ne!(fresh(), fresh());
    }

    #[tokio::test]
    async fn the_endpoint_follows_the_sdk_settings() {
        let regional = SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-2"))
            .build();
        assert_eq!(
            ProofTarget::resolve(&regional).await.expect("endpoint"),
            ProofTarget {
                url: "https://sts.eu-west-2.amazonaws.com/".into(),
                region: "eu-west-2".into()
            }
        );
        let custom = SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:5000")
            .build();
        assert_eq!(
            ProofTarget::resolve(&custom).await.expect("endpoint").url,
            "http://127.0.0.1:5000/"
        );
        let none = SdkConfig::builder().build();
        assert_eq!(
            ProofTarget::resolve(&none).await.expect("endpoint").url,
            "https://sts.us-east-1.amazonaws.com/"
        );
    }
}
