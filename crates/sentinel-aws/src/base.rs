//! The base credentials behind every AWS call of one profile, fetched once for all of its
//! clients (the STS issuer, the SSM source, the caller lookup) and fetched again shortly before
//! they expire. Sharing them means the caller Sentinel identified is the one whose credentials
//! the other calls use, and a refresh is a moment Sentinel can see: the access key changes, and
//! the caller is identified again (a refreshed IAM Identity Center session may be another
//! user's).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_config::SdkConfig;
use aws_config::identity::IdentityCache;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{
    self, ProvideCredentials, SharedCredentialsProvider, error::CredentialsError,
};
use tokio::sync::Mutex;

/// Credentials are fetched again this long before they expire.
const REFRESH_AHEAD: Duration = Duration::from_secs(5 * 60);
/// Credentials that never expire (static keys) are read again after this long, so that an
/// edited credentials file takes effect.
const STATIC_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// One profile's base credentials, shared by every client made from the config [`share`]
/// returns. Cheap to clone.
#[derive(Clone)]
pub struct SharedBase {
    source: Option<SharedCredentialsProvider>,
    cached: Arc<Mutex<Option<Fetched>>>,
}

struct Fetched {
    credentials: Credentials,
    at: Instant,
}

impl fmt::Debug for SharedBase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBase").finish_non_exhaustive()
    }
}

/// `config` with its credentials behind one [`SharedBase`] (and the SDK's per-client caches off,
/// since the shared one stands in for them), and that base.
pub fn share(config: SdkConfig) -> (SdkConfig, SharedBase) {
    let base = SharedBase {
        source: config.credentials_provider(),
        cached: Arc::new(Mutex::new(None)),
    };
    let config = config
        .into_builder()
        .credentials_provider(SharedCredentialsProvider::new(base.clone()))
        .identity_cache(IdentityCache::no_cache())
        .build();
    (config, base)
}

impl SharedBase {
    /// The credentials in use now, fetched if there are none yet or they are about to expire.
    pub async fn current(&self) -> Result<Credentials, CredentialsError> {
        let mut cached = self.cached.lock().await;
        if let Some(fetched) = cached.as_ref().filter(|fetched| fetched.is_fresh()) {
            return Ok(fetched.credentials.clone());
        }
        let source = self.source.as_ref().ok_or_else(|| {
            CredentialsError::not_loaded("the profile names no source of base credentials")
        })?;
        let credentials = source.provide_credentials().await?;
        *cached = Some(Fetched {
            credentials: credentials.clone(),
            at: Instant::now(),
        });
        Ok(credentials)
    }
}

impl Fetched {
    fn is_fresh(&self) -> bool {
        match self.credentials.expiry() {
            Some(expiry) => SystemTime::now() + REFRESH_AHEAD < expiry,
            None => self.at.elapsed() < STATIC_LIFETIME,
        }
    }
}

impl ProvideCredentials for SharedBase {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(self.current())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Hands out a new key on every call, expiring `expires_in` from now.
    #[derive(Debug)]
    struct Counting {
        calls: Arc<AtomicUsize>,
        expires_in: Option<Duration>,
    }

    impl ProvideCredentials for Counting {
        fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            let expiry = self.expires_in.map(|lifetime| SystemTime::now() + lifetime);
            provider::future::ProvideCredentials::ready(Ok(Credentials::new(
                format!("AKIA{call}"),
                "secret",
                None,
                expiry,
                "counting",
            )))
        }
    }

    fn base(expires_in: Option<Duration>) -> (SdkConfig, SharedBase, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counting = Counting {
            calls: Arc::clone(&calls),
            expires_in,
        };
        let config = SdkConfig::builder()
            .credentials_provider(SharedCredentialsProvider::new(counting))
            .build();
        let (config, base) = share(config);
        (config, base, calls)
    }

    #[tokio::test]
    async fn credentials_are_fetched_once_while_fresh() {
        let (_, base, counting) = base(Some(Duration::from_secs(3600)));
        let first = base.current().await.expect("credentials");
        let second = base.current().await.expect("credentials");
        assert_eq!(first.access_key_id(), second.access_key_id());
        assert_eq!(counting.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn credentials_about_to_expire_are_fetched_again() {
        let (_, base, counting) = base(Some(Duration::from_secs(60)));
        let first = base.current().await.expect("credentials");
        let second = base.current().await.expect("credentials");
        assert_ne!(first.access_key_id(), second.access_key_id());
        assert_eq!(counting.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_shared_config_hands_every_client_the_same_credentials() {
        let (config, base, counting) = base(Some(Duration::from_secs(3600)));
        let provider = config.credentials_provider().expect("a provider");
        let through_config = provider.provide_credentials().await.expect("credentials");
        let direct = base.current().await.expect("credentials");
        assert_eq!(through_config.access_key_id(), direct.access_key_id());
        assert_eq!(counting.load(Ordering::SeqCst), 1);
    }
}
