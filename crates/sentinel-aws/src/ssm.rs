//! Policies stored in SSM Parameter Store, one `SecureString` parameter per policy: reading them
//! as a [`PolicySource`], and the writes behind `sentinel policy push`. Each SDK failure is
//! sorted into the [`SourceError`] kind that decides what the broker may do (a missing parameter
//! denies; an unreachable store may be bridged by a stale cached copy), naming the parameter.

use std::error::Error;

use aws_config::SdkConfig;
use aws_sdk_ssm::Client;
use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ssm::types::ParameterType;
use sentinel_core::source::{LoadedPolicy, PolicySource, SourceError};
use sentinel_policy::Policy;

use crate::error::describe;

/// Reads and writes policies in SSM Parameter Store; keys are parameter names.
#[derive(Clone, Debug)]
pub struct SsmSource {
    client: Client,
}

impl SsmSource {
    /// A source using the given AWS configuration (see [`crate::sdk::load`]).
    pub fn new(config: &SdkConfig) -> SsmSource {
        SsmSource {
            client: Client::new(config),
        }
    }

    /// The stored text of parameter `name`, decrypted, as `sentinel policy pull` prints it.
    pub async fn fetch(&self, name: &str) -> Result<String, SourceError> {
        let output = self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|error| classify(&error, name))?;
        output
            .parameter
            .and_then(|parameter| parameter.value)
            .ok_or_else(|| SourceError::Failed {
                location: location(name),
                detail: "SSM returned the parameter without a value".into(),
            })
    }

    /// Validates `text` and, only if it is a valid policy, stores it in parameter `name` as a
    /// `SecureString`, replacing what was there. An invalid policy is refused with its
    /// diagnostics and nothing is written.
    pub async fn push(&self, name: &str, text: &str) -> Result<(), SourceError> {
        Policy::from_yaml(text).map_err(|diagnostics| SourceError::Invalid {
            location: location(name),
            diagnostics,
        })?;
        self.client
            .put_parameter()
            .name(name)
            .value(text)
            .r#type(ParameterType::SecureString)
            .overwrite(true)
            .description("Sentinel policy")
            .send()
            .await
            .map_err(|error| classify(&error, name))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl PolicySource for SsmSource {
    async fn load(&self, key: &str) -> Result<LoadedPolicy, SourceError> {
        let text = self.fetch(key).await?;
        LoadedPolicy::parse(text.as_bytes(), &location(key))
    }
}

/// How a parameter appears in errors and in `LoadedPolicy::origin`: `ssm:NAME`.
pub fn location(name: &str) -> String {
    format!("ssm:{name}")
}

/// Sorts an SDK failure on parameter `name` into the kind of [`SourceError`] it is.
fn classify<E>(error: &SdkError<E, HttpResponse>, name: &str) -> SourceError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
{
    let location = location(name);
    let detail = describe(error);
    match error {
        SdkError::ServiceError(service) => {
            let server_error = service.raw().status().is_server_error();
            match service.err().code() {
                Some("ParameterNotFound" | "ParameterVersionNotFound") => {
                    SourceError::NotFound { location }
                }
                Some(
                    "AccessDeniedException"
                    | "UnrecognizedClientException"
                    | "InvalidClientTokenId"
                    | "ExpiredTokenException"
                    | "InvalidSignatureException",
                ) => SourceError::AccessDenied { location, detail },
                Some("ThrottlingException" | "Throttling" | "TooManyUpdates") => {
                    SourceError::Throttled { location, detail }
                }
                Some("InternalServerError") => SourceError::Unreachable { location, detail },
                _ if server_error => SourceError::Unreachable { location, detail },
                _ => SourceError::Failed { location, detail },
            }
        }
        SdkError::DispatchFailure(failure) if failure.is_io() || failure.is_timeout() => {
            SourceError::Unreachable { location, detail }
        }
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            SourceError::Unreachable { location, detail }
        }
        _ => SourceError::Failed { location, detail },
    }
}
