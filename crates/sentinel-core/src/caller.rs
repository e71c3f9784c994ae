//! Who is asking, as AWS says, and which user name (if any) that principal stands for.
//!
//! A policy's `users` match a name, but only some principals carry a name their holder did not
//! choose: an IAM user's, and the session name of a role whose sessions AWS names (IAM Identity
//! Center) or whose trust policy pins the name. Anyone may assume a role of their own under any
//! session name, create a federated user of any name, or be an IAM user `alice` in an account of
//! their own. So a caller is a user only as the policy's `identity` section allows: an IAM user,
//! or a session of a listed role, in a listed account. Every other principal is refused, with
//! the rule that refused it.

use std::fmt;
use std::sync::Arc;

use sentinel_policy::Identity;

/// Who AWS says the caller is: `GetCallerIdentity`'s `Arn` and `Account`, asked with the
/// caller's own credentials (or, by a server, with the caller's signed proof).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Caller {
    /// The principal's ARN, e.g. `arn:aws:iam::123456789012:user/alice`.
    pub arn: String,
    /// The principal's 12-digit account ID.
    pub account: String,
    /// The principal's unique ID, as STS names it: `AIDA…` for an IAM user, `AROA…:session`
    /// for an assumed role. A user or role deleted and created again under the same name gets
    /// a new one.
    pub user_id: String,
}

/// Says who the caller is at the moment of a request. A long-running server asks before each
/// request, because the base credentials behind it may be refreshed as someone else.
#[async_trait::async_trait]
pub trait Identify: Send + Sync {
    /// The caller now, or why that cannot be known (then nothing may be issued).
    async fn identify(&self) -> Result<Arc<Caller>, IdentifyError>;
}

/// A caller known once and for all (a one-shot command, a test).
#[async_trait::async_trait]
impl Identify for Arc<Caller> {
    async fn identify(&self) -> Result<Arc<Caller>, IdentifyError> {
        Ok(Arc::clone(self))
    }
}

/// Why the caller could not be identified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot determine who is asking: {0}")]
pub struct IdentifyError(pub String);

/// The part of a policy's identity rules that refused a principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityRule {
    /// The accounts whose principals may be users (`identity.accounts`, by default the account
    /// of the profile's role).
    Accounts,
    /// The roles whose session names are user names (`identity.session_name_roles`).
    SessionNameRoles,
    /// Only IAM users and role sessions can be users at all.
    PrincipalKind,
    /// A server's callers are of its own partition (`aws`, `aws-cn`, `aws-us-gov`).
    Partition,
    /// The accounts a server takes callers from at all (its `caller_accounts`).
    CallerAccounts,
    /// The roles, by full ARN with path, whose sessions a server takes as users (its
    /// `session_name_roles`).
    RolePaths,
    /// A role session is of the role IAM names, by unique ID.
    RoleId,
}

impl fmt::Display for IdentityRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdentityRule::Accounts => "identity.accounts",
            IdentityRule::SessionNameRoles => "identity.session_name_roles",
            IdentityRule::PrincipalKind => {
                "the identity rule that only IAM users and role sessions are users"
            }
            IdentityRule::Partition => "the server's partition",
            IdentityRule::CallerAccounts => "the server's caller_accounts",
            IdentityRule::RolePaths => "the server's session_name_roles",
            IdentityRule::RoleId => "the rule that a session is of the role IAM names",
        })
    }
}

/// Why a caller is not a user under a policy's identity rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("principal {arn} is refused by {rule}: {problem}")]
pub struct PrincipalRefused {
    /// The caller's full ARN.
    pub arn: String,
    /// The rule that refused it.
    pub rule: IdentityRule,
    /// What about the principal the rule refuses.
    pub problem: String,
}

/// The kinds of principal a caller ARN can name, with the parts that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Principal<'a> {
    IamUser { name: &'a str },
    RoleSession { role: &'a str, session: &'a str },
    FederatedUser,
    Root,
    Other,
}

/// An ARN's account and what its resource names; `None` if the text is not an ARN.
fn parse(arn: &str) -> Option<(&str, Principal<'_>)> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, _partition, service, _region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if prefix != "arn" {
        return None;
    }
    let principal = match (service, resource) {
        ("iam", "root") => Principal::Root,
        ("iam", resource) => match resource.strip_prefix("user/") {
            // An IAM user's path is not part of its name.
            Some(path) => match path.rsplit('/').next() {
                Some(name) if !name.is_empty() => Principal::IamUser { name },
                _ => Principal::Other,
            },
            None => Principal::Other,
        },
        ("sts", resource) => {
            if let Some(rest) = resource.strip_prefix("assumed-role/") {
                // Neither a role name in this ARN nor a session name contains a slash.
                match rest.split_once('/') {
                    Some((role, session))
                        if !role.is_empty() && !session.is_empty() && !session.contains('/') =>
                    {
                        Principal::RoleSession { role, session }
                    }
                    _ => Principal::Other,
                }
            } else if resource.starts_with("federated-user/") {
                Principal::FederatedUser
            } else {
                Principal::Other
            }
        }
        _ => Principal::Other,
    };
    Some((account, principal))
}

/// The account of an ARN such as a role's (`arn:aws:iam::123456789012:role/prod`), if it names a
/// 12-digit one.
pub fn arn_account(arn: &str) -> Option<&str> {
    let account = arn.strip_prefix("arn:")?.split(':').nth(3)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

impl Caller {
    /// The user name this caller stands for under `identity`, where `role_account` (the
    /// account of the role the profile hands out) is the default for `identity.accounts`; or
    /// why the caller is no user at all.
    pub fn user<'c>(
        &'c self,
        identity: &Identity,
        role_account: Option<&str>,
    ) -> Result<&'c str, PrincipalRefused> {
        let refuse = |rule, problem: String| PrincipalRefused {
            arn: self.arn.clone(),
            rule,
            problem,
        };
        let Some((account, principal)) = parse(&self.arn) else {
            return Err(refuse(
                IdentityRule::PrincipalKind,
                "it is not an ARN".into(),
            ));
        };
        if account != self.account {
            return Err(refuse(
                IdentityRule::Accounts,
                format!(
                    "its ARN names account {account:?} but STS answered for account {:?}",
                    self.account
                ),
            ));
        }
        let listed = match (identity.accounts(), role_account) {
            (Some(accounts), _) => accounts.iter().any(|listed| **listed == *account),
            (None, Some(role_account)) => account == role_account,
            (None, None) => false,
        };
        if !listed {
            let allowed = match (identity.accounts(), role_account) {
                (Some(accounts), _) => format!("one of {}", accounts.join(", ")),
                (None, Some(role_account)) => {
                    format!("{role_account} (the account of the profile's role)")
                }
                (None, None) => "named anywhere: the profile's role ARN names no account, and \
                                 the policy lists no identity.accounts"
                    .to_owned(),
            };
            return Err(refuse(
                IdentityRule::Accounts,
                format!("account {account} is not {allowed}"),
            ));
        }
        match principal {
            Principal::IamUser { name } => Ok(name),
            Principal::RoleSession { role, session } if identity.is_session_name_role(role) => {
                Ok(session)
            }
            Principal::RoleSession { role, session } => {
                let roles = identity.session_name_roles();
                let listed = if roles.is_empty() {
                    "the policy names no such role".to_owned()
                } else {
                    format!("role {role} is not {}", roles.join(", "))
                };
                Err(refuse(
                    IdentityRule::SessionNameRoles,
                    format!(
                        "the session name {session:?} was chosen by whoever assumed role \
                         {role}, and only roles whose session names AWS sets or a trust \
                         policy pins carry user names; {listed}"
                    ),
                ))
            }
            Principal::FederatedUser => Err(refuse(
                IdentityRule::PrincipalKind,
                "a federated user (GetFederationToken) names itself".into(),
            )),
            Principal::Root => Err(refuse(
                IdentityRule::PrincipalKind,
                "the account root user never gets brokered credentials".into(),
            )),
            Principal::Other => Err(refuse(
                IdentityRule::PrincipalKind,
                "it is neither an IAM user nor an assumed-role session".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_arn_names_its_account() {
        assert_eq!(
            arn_account("arn:aws:iam::123456789012:role/prod"),
            Some("123456789012")
        );
        assert_eq!(
            arn_account("arn:aws-cn:iam::000000000042:role/a/b"),
            Some("000000000042")
        );
        for bad in [
            "arn:aws:iam:::role/prod",
            "arn:aws:iam::12345:role/x",
            "role/prod",
            "",
        ] {
            assert_eq!(arn_account(bad), None, "{bad}");
        }
    }
}
