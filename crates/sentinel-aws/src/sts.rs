//! The real issuer: STS `AssumeRole`, stamped with the request's `SourceIdentity`.

use aws_config::SdkConfig;
use jiff::Timestamp;
use sentinel_core::identity::check_sts_name;
use sentinel_core::issuer::{Credentials, IssueRequest, Issuer, IssuerError};

use crate::error::describe;

/// Issues credentials with STS `AssumeRole`, using the caller's base credentials.
#[derive(Debug, Clone)]
pub struct StsIssuer {
    client: aws_sdk_sts::Client,
}

impl StsIssuer {
    /// An issuer that calls STS with `config`'s credentials, region and endpoint.
    pub fn new(config: &SdkConfig) -> StsIssuer {
        StsIssuer {
            client: aws_sdk_sts::Client::new(config),
        }
    }
}

#[async_trait::async_trait]
impl Issuer for StsIssuer {
    async fn issue(&self, request: &IssueRequest<'_>) -> Result<Credentials, IssuerError> {
        // STS rejects these itself, but emulators do not: check here so tests see real behaviour.
        for (field, value) in [
            ("RoleSessionName", request.role_session_name),
            ("SourceIdentity", request.source_identity),
        ] {
            check_sts_name(field, value).map_err(|error| IssuerError::new(error.to_string()))?;
        }
        let duration = i32::try_from(request.duration.as_secs()).map_err(|_| {
            IssuerError::new(format!(
                "session duration {:?} is too long",
                request.duration
            ))
        })?;
        let output = self
            .client
            .assume_role()
            .role_arn(request.role_arn)
            .role_session_name(request.role_session_name)
            .source_identity(request.source_identity)
            .duration_seconds(duration)
            .set_external_id(request.external_id.map(str::to_owned))
            .send()
            .await
            .map_err(|error| {
                IssuerError::new(format!(
                    "STS AssumeRole of {} failed: {}",
                    request.role_arn,
                    describe(&error)
                ))
            })?;
        let credentials = output.credentials.ok_or_else(|| {
            IssuerError::new(format!(
                "STS AssumeRole of {} returned no credentials",
                request.role_arn
            ))
        })?;
        usable(credentials).map_err(|problem| {
            IssuerError::new(format!(
                "STS AssumeRole of {} returned {problem}",
                request.role_arn
            ))
        })
    }
}

/// The SDK's credentials as Sentinel's, if they can be used: the SDK fills fields missing from a
/// truncated answer with empty strings and the epoch, which must never pass as credentials.
fn usable(credentials: aws_sdk_sts::types::Credentials) -> Result<Credentials, &'static str> {
    let expiration = Timestamp::new(
        credentials.expiration.secs(),
        // Sub-second nanoseconds are below 1e9, so they always fit.
        i32::try_from(credentials.expiration.subsec_nanos()).unwrap_or(0),
    )
    .map_err(|_| "an expiration out of range")?;
    if expiration <= Timestamp::now() {
        return Err("credentials that have already expired");
    }
    let parts = [
        &credentials.access_key_id,
        &credentials.secret_access_key,
        &credentials.session_token,
    ];
    if parts.iter().any(|part| part.is_empty()) {
        return Err("incomplete credentials");
    }
    Ok(Credentials {
        access_key_id: credentials.access_key_id,
        secret_access_key: credentials.secret_access_key,
        session_token: credentials.session_token,
        expiration,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sts::primitives::DateTime;

    fn sdk_credentials(secret: &str, expires_in_s: i64) -> aws_sdk_sts::types::Credentials {
        let now = Timestamp::now().as_second();
        aws_sdk_sts::types::Credentials::builder()
            .access_key_id("ASIAEXAMPLE")
            .secret_access_key(secret)
            .session_token("token")
            .expiration(DateTime::from_secs(now + expires_in_s))
            .build()
            .expect("all fields given")
    }

    #[test]
    fn credentials_are_used_only_when_whole_and_unexpired() {
        let fine = usable(sdk_credentials("secret", 900)).expect("usable");
        assert_eq!(fine.secret_access_key, "secret");
        assert_eq!(
            usable(sdk_credentials("secret", -1)).err(),
            Some("credentials that have already expired")
        );
        assert_eq!(
            usable(sdk_credentials("", 900)).err(),
            Some("incomplete credentials")
        );
    }
}
