//! Where a role session's role is looked up: the session's ARN names the role without its path,
//! so a server that decides by the path (IAM Identity Center's roles live under
//! `/aws-reserved/sso.amazonaws.com/`) asks IAM for the role's full ARN and unique ID.

/// A role as IAM describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// The role's full ARN, path included: `arn:aws:iam::ACCOUNT:role/PATH/NAME`.
    pub arn: String,
    /// The role's unique ID (`AROA…`), which a role deleted and created again does not keep.
    pub role_id: String,
}

/// Why a role could not be looked up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleLookupError {
    /// IAM has no role of that name in that account.
    #[error("IAM has no role {name} in account {account}")]
    NotFound {
        /// The account asked about.
        account: String,
        /// The role name asked for.
        name: String,
    },
    /// IAM could not be asked, refused, or did not answer in time.
    #[error("cannot look up role {name} in account {account}: {problem}")]
    Failed {
        /// The account asked about.
        account: String,
        /// The role name asked for.
        name: String,
        /// What went wrong.
        problem: String,
    },
}

/// Looks roles up by account and name.
#[async_trait::async_trait]
pub trait RoleDirectory: Send + Sync {
    /// The role `name` of `account`, as IAM describes it now.
    async fn role(&self, account: &str, name: &str) -> Result<Role, RoleLookupError>;
}
