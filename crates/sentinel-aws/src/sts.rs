//! The real issuer: STS `AssumeRole`, stamped with the request's `SourceIdentity`.

use aws_config::SdkConfig;
use aws_sdk_sts::error::DisplayErrorContext;
use jiff::Timestamp;
use sentinel_core::identity::check_sts_name;
use sentinel_core::issuer::{Credentials, IssueRequest, Issuer, IssuerError};

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
                    DisplayErrorContext(error)
                ))
            })?;
        let credentials = output.credentials.ok_or_else(|| {
            IssuerError::new(format!(
                "STS AssumeRole of {} returned no credentials",
                request.role_arn
            ))
        })?;
        let expiration = Timestamp::new(
            credentials.expiration.secs(),
            // Sub-second nanoseconds are below 1e9, so they always fit.
            i32::try_from(credentials.expiration.subsec_nanos()).unwrap_or(0),
        )
        .map_err(|error| {
            IssuerError::new(format!("STS returned an invalid expiration: {error}"))
        })?;
        Ok(Credentials {
            access_key_id: credentials.access_key_id,
            secret_access_key: credentials.secret_access_key,
            session_token: credentials.session_token,
            expiration,
        })
    }

    fn name(&self) -> &'static str {
        "sts"
    }
}
