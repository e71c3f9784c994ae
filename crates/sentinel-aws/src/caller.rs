//! Who is asking: the caller's own AWS identity (`GetCallerIdentity` with their base
//! credentials), never a flag the caller could set. Which user name that principal stands for
//! is the policy's to say (see `sentinel_core::caller`).

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use sentinel_core::caller::{Caller, Identify, IdentifyError};
use tokio::sync::Mutex;

use crate::base::SharedBase;
use crate::error::{chain, describe};

/// Why the caller could not be identified.
#[derive(Debug, thiserror::Error)]
pub enum CallerError {
    /// STS could not be asked, or did not say.
    #[error("cannot determine who you are (STS GetCallerIdentity failed): {0}")]
    Sts(String),
    /// STS did not answer in time.
    #[error("cannot determine who you are: STS did not answer within {0:?}")]
    Timeout(Duration),
    /// The base credentials could not be had.
    #[error("cannot determine who you are: no base credentials: {0}")]
    Credentials(String),
}

/// Asks STS who the base credentials in `config` belong to.
pub async fn caller_identity(config: &SdkConfig) -> Result<Caller, CallerError> {
    let output = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(|error| CallerError::Sts(describe(&error)))?;
    match (output.arn, output.account, output.user_id) {
        (Some(arn), Some(account), Some(user_id)) => Ok(Caller {
            arn,
            account,
            user_id,
        }),
        _ => Err(CallerError::Sts(
            "the answer named no ARN, account or user ID".to_owned(),
        )),
    }
}

/// The caller behind a profile's base credentials, identified again whenever those credentials
/// are refreshed (their access key changes): for a long-running server, whose base credentials
/// may be renewed as another user's.
#[derive(Debug)]
pub struct CallerTracker {
    config: SdkConfig,
    base: SharedBase,
    timeout: Duration,
    /// The access key last identified, and whose it is.
    known: Mutex<(String, Arc<Caller>)>,
}

impl CallerTracker {
    /// Identifies the caller behind `base` (the credentials of `config`, as
    /// [`crate::base::share`] made it), giving STS at most `timeout` each time it is asked.
    pub async fn start(
        config: SdkConfig,
        base: SharedBase,
        timeout: Duration,
    ) -> Result<CallerTracker, CallerError> {
        let (key, caller) = identify_now(&config, &base, timeout).await?;
        Ok(CallerTracker {
            config,
            base,
            timeout,
            known: Mutex::new((key, Arc::new(caller))),
        })
    }

    /// The caller as last identified.
    pub async fn last_known(&self) -> Arc<Caller> {
        Arc::clone(&self.known.lock().await.1)
    }
}

#[async_trait::async_trait]
impl Identify for CallerTracker {
    async fn identify(&self) -> Result<Arc<Caller>, IdentifyError> {
        let unknown = |error: CallerError| IdentifyError(error.to_string());
        let current = self
            .base
            .current()
            .await
            .map_err(|error| unknown(CallerError::Credentials(chain(&error))))?;
        // Held while STS is asked, so no request is decided for a caller not yet known.
        let mut known = self.known.lock().await;
        if known.0 != current.access_key_id() {
            let (key, caller) = identify_now(&self.config, &self.base, self.timeout)
                .await
                .map_err(unknown)?;
            *known = (key, Arc::new(caller));
        }
        Ok(Arc::clone(&known.1))
    }
}

/// Asks STS who holds `base`'s current credentials; returns their access key with the answer.
async fn identify_now(
    config: &SdkConfig,
    base: &SharedBase,
    timeout: Duration,
) -> Result<(String, Caller), CallerError> {
    let credentials = base
        .current()
        .await
        .map_err(|error| CallerError::Credentials(chain(&error)))?;
    let caller = tokio::time::timeout(timeout, caller_identity(config))
        .await
        .map_err(|_| CallerError::Timeout(timeout))??;
    Ok((credentials.access_key_id().to_owned(), caller))
}
