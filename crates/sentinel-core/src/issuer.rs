//! Issuers turn an allowed request into short-lived credentials. The real one asks STS (in
//! `sentinel-aws`); [`LocalIssuer`] mints obviously fake credentials in-process, for load tests
//! and demos that must not depend on an AWS endpoint.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;

/// What the broker asks an issuer for, once the policy has allowed the request.
#[derive(Debug, Clone)]
pub struct IssueRequest<'a> {
    /// The role to assume.
    pub role_arn: &'a str,
    /// The role session name (same character rule as `SourceIdentity`).
    pub role_session_name: &'a str,
    /// The `SourceIdentity` that ties CloudTrail events back to this decision.
    pub source_identity: &'a str,
    /// How long the credentials should live.
    pub duration: Duration,
    /// The external ID the role's trust policy may require.
    pub external_id: Option<&'a str>,
}

/// Short-lived AWS credentials. `Debug` never shows the secret parts.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The access key ID.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token.
    pub session_token: String,
    /// When the credentials stop working.
    pub expiration: Timestamp,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &"<redacted>")
            .field("expiration", &self.expiration)
            .finish()
    }
}

/// Why an issuer gave no credentials.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct IssuerError {
    /// What went wrong, without secrets.
    pub message: String,
}

impl IssuerError {
    /// An error with the given message.
    pub fn new(message: impl Into<String>) -> IssuerError {
        IssuerError {
            message: message.into(),
        }
    }
}

/// Something that can issue credentials for an allowed request.
#[async_trait::async_trait]
pub trait Issuer: Send + Sync {
    /// Issues credentials for `request`, or says why not.
    async fn issue(&self, request: &IssueRequest<'_>) -> Result<Credentials, IssuerError>;
}

/// Mints fake credentials in-process: for load tests and demos only, never the default.
///
/// The keys start with `LOCAL` and say `not-a-real-secret`; no AWS service accepts them.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalIssuer;

#[async_trait::async_trait]
impl Issuer for LocalIssuer {
    async fn issue(&self, request: &IssueRequest<'_>) -> Result<Credentials, IssuerError> {
        let expiration = Timestamp::now()
            .checked_add(request.duration)
            .map_err(|error| IssuerError::new(format!("session duration out of range: {error}")))?;
        Ok(Credentials {
            access_key_id: "LOCALSENTINELFAKEKEY".to_owned(),
            secret_access_key: "not-a-real-secret".to_owned(),
            session_token: format!("local.{}", request.source_identity),
            expiration,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> IssueRequest<'static> {
        IssueRequest {
            role_arn: "arn:aws:iam::123456789012:role/demo",
            role_session_name: "sentinel.alice.00000000000000ff",
            source_identity: "sentinel.alice.00000000000000ff",
            duration: Duration::from_secs(900),
            external_id: None,
        }
    }

    #[tokio::test]
    async fn local_credentials_are_fake_and_expire_after_the_duration() {
        let before = Timestamp::now();
        let credentials = LocalIssuer.issue(&request()).await.expect("issued");
        assert!(credentials.access_key_id.starts_with("LOCAL"));
        assert!(credentials.secret_access_key.contains("not-a-real-secret"));
        let lifetime = credentials.expiration.duration_since(before).as_secs();
        assert!((899..=901).contains(&lifetime), "lifetime {lifetime}s");
    }

    #[test]
    fn debug_output_hides_the_secrets() {
        let credentials = Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "very-secret".into(),
            session_token: "token-secret".into(),
            expiration: Timestamp::UNIX_EPOCH,
        };
        let shown = format!("{credentials:?}");
        assert!(shown.contains("ASIAEXAMPLE"));
        assert!(!shown.contains("very-secret") && !shown.contains("token-secret"));
    }
}
