//! Who is asking: the caller's own AWS identity (`GetCallerIdentity` with their base
//! credentials), never a flag the caller could set. Which user name that principal stands for
//! is the policy's to say (see `sentinel_core::caller`).

use aws_config::SdkConfig;
use sentinel_core::caller::Caller;

use crate::error::describe;

/// Why the caller could not be identified.
#[derive(Debug, thiserror::Error)]
pub enum CallerError {
    /// STS could not be asked, or did not say.
    #[error("cannot determine who you are (STS GetCallerIdentity failed): {0}")]
    Sts(String),
}

/// Asks STS who the base credentials in `config` belong to.
pub async fn caller_identity(config: &SdkConfig) -> Result<Caller, CallerError> {
    let output = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|error| CallerError::Sts(describe(&error)))?;
    match (output.arn, output.account) {
        (Some(arn), Some(account)) => Ok(Caller { arn, account }),
        _ => Err(CallerError::Sts(
            "the answer named no ARN or no account".to_owned(),
        )),
    }
}
