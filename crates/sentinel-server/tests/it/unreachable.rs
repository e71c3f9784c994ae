//! The parts of a remote service that a test's requests never reach, because the server refuses
//! them first: each panics if it is reached after all.

use std::sync::Arc;
use std::time::Duration;

use sentinel_core::roles::{Role, RoleDirectory, RoleLookupError};
use sentinel_server::remote::{Admission, BrokerIdentity, RoleCache};

/// IAM for tests whose requests never get as far as a caller.
struct NoRoles;

#[async_trait::async_trait]
impl RoleDirectory for NoRoles {
    async fn role(&self, _: &str, _: &str) -> Result<Role, RoleLookupError> {
        panic!("the request was refused before any caller was known")
    }
}

/// An admission rule for a broker in account 123456789012, which looks no role up.
pub fn admission() -> Admission {
    Admission::new(
        &BrokerIdentity {
            arn: "arn:aws:iam::123456789012:role/sentinel-broker".into(),
            account: "123456789012".into(),
            partition: "aws".into(),
        },
        std::collections::BTreeSet::from(["123456789012".to_owned()]),
        Vec::new(),
        RoleCache::new(Arc::new(NoRoles), Duration::from_secs(60), 1),
    )
}
