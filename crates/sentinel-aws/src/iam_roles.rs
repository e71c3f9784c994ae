//! Roles looked up with IAM `GetRole`: in the broker's own account with its own credentials, in
//! any other account through a reader role there (`arn:…:role/…` with `{account}` for the
//! account), assumed with STS. IAM is asked at most `timeout` per look-up; caching the answers
//! is the caller's business.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use sentinel_core::roles::{Role, RoleDirectory, RoleLookupError};
use tokio::sync::Mutex;

use crate::error::describe;

/// The placeholder a reader role ARN names the account with.
pub const ACCOUNT_PLACEHOLDER: &str = "{account}";

/// The role session name the broker reads other accounts' roles under.
const READER_SESSION_NAME: &str = "sentinel-role-reader";

/// Looks roles up with IAM `GetRole`.
pub struct IamRoles {
    sdk: SdkConfig,
    own_account: String,
    own: aws_sdk_iam::Client,
    reader: Option<String>,
    timeout: Duration,
    /// An IAM client per other account, with the reader role's credentials (refreshed by the
    /// SDK as they expire).
    readers: Mutex<HashMap<String, aws_sdk_iam::Client>>,
}

impl IamRoles {
    /// Looks up roles of `own_account` with `sdk`'s credentials and those of other accounts
    /// through `reader` (an ARN with `{account}`; `None`: other accounts' roles are not looked
    /// up), giving IAM at most `timeout` each time.
    pub fn new(
        sdk: &SdkConfig,
        own_account: &str,
        reader: Option<String>,
        timeout: Duration,
    ) -> IamRoles {
        IamRoles {
            sdk: sdk.clone(),
            own_account: own_account.to_owned(),
            own: aws_sdk_iam::Client::new(sdk),
            reader,
            timeout,
            readers: Mutex::new(HashMap::new()),
        }
    }

    /// The IAM client that may read `account`'s roles.
    async fn client_for(&self, account: &str) -> Result<aws_sdk_iam::Client, String> {
        if account == self.own_account {
            return Ok(self.own.clone());
        }
        let Some(reader) = &self.reader else {
            return Err(format!(
                "it is not the broker's own account ({}) and the server names no role_reader",
                self.own_account
            ));
        };
        let mut readers = self.readers.lock().await;
        if let Some(client) = readers.get(account) {
            return Ok(client.clone());
        }
        let provider = AssumeRoleProvider::builder(reader.replace(ACCOUNT_PLACEHOLDER, account))
            .session_name(READER_SESSION_NAME)
            .configure(&self.sdk)
            .build()
            .await;
        let config = aws_sdk_iam::config::Builder::from(&self.sdk)
            .credentials_provider(provider)
            .build();
        let client = aws_sdk_iam::Client::from_conf(config);
        readers.insert(account.to_owned(), client.clone());
        Ok(client)
    }
}

#[async_trait::async_trait]
impl RoleDirectory for IamRoles {
    async fn role(&self, account: &str, name: &str) -> Result<Role, RoleLookupError> {
        let failed = |problem: String| RoleLookupError::Failed {
            account: account.to_owned(),
            name: name.to_owned(),
            problem,
        };
        let client = self.client_for(account).await.map_err(failed)?;
        let asked = client.get_role().role_name(name).send();
        let answer = tokio::time::timeout(self.timeout, asked)
            .await
            .map_err(|_| failed(format!("IAM did not answer within {:?}", self.timeout)))?;
        let output = match answer {
            Ok(output) => output,
            Err(error)
                if error.as_service_error().is_some_and(
                    aws_sdk_iam::operation::get_role::GetRoleError::is_no_such_entity_exception,
                ) =>
            {
                return Err(RoleLookupError::NotFound {
                    account: account.to_owned(),
                    name: name.to_owned(),
                });
            }
            Err(error) => return Err(failed(format!("IAM GetRole failed: {}", describe(&error)))),
        };
        let role = output
            .role
            .ok_or_else(|| failed("IAM GetRole answered without a role".to_owned()))?;
        Ok(Role {
            arn: role.arn,
            role_id: role.role_id,
        })
    }
}
