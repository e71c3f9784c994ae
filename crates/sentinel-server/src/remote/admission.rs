//! Who may be a caller of the server at all, decided before anything profile-specific (before a
//! policy is read, so a stranger learns nothing of it): a principal of the broker's own
//! partition, of one of the server's `caller_accounts`, and, for a role session, a session of a
//! role whose full ARN (path included, as IAM `GetRole` says) matches the server's
//! `session_name_roles`, with the unique ID IAM names. A session's ARN names its role without
//! the path, so anyone who may create a role `/team/AWSReservedSSO_x` in a listed account could
//! otherwise pass for any user. The policy's own `identity` section narrows this further.

use std::collections::BTreeSet;

use sentinel_core::caller::{Caller, IdentityRule, PrincipalRefused};
use sentinel_core::refusal::Refusal;

use super::role_cache::RoleCache;

/// The roles whose sessions are users when a configuration does not say: IAM Identity Center's,
/// which AWS creates under `/aws-reserved/sso.amazonaws.com/` (with or without a region).
pub const DEFAULT_SESSION_NAME_ROLES: &[&str] = &[
    "role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_*",
    "role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_*",
];

/// Who the server runs as, from its own `GetCallerIdentity` at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerIdentity {
    /// The broker's ARN.
    pub arn: String,
    /// Its account.
    pub account: String,
    /// Its partition (`aws`, `aws-cn`, `aws-us-gov`).
    pub partition: String,
}

impl BrokerIdentity {
    /// The identity STS named, or why it is not usable.
    pub fn of(caller: &Caller) -> Result<BrokerIdentity, String> {
        let arn = Arn::parse(&caller.arn)
            .ok_or_else(|| format!("STS named the broker {:?}, which is not an ARN", caller.arn))?;
        Ok(BrokerIdentity {
            arn: caller.arn.clone(),
            account: caller.account.clone(),
            partition: arn.partition.to_owned(),
        })
    }
}

/// The server's rule for who may be a caller.
pub struct Admission {
    partition: String,
    accounts: BTreeSet<String>,
    session_name_roles: Vec<String>,
    roles: RoleCache,
}

/// The parts of an ARN this module reads.
struct Arn<'a> {
    partition: &'a str,
    service: &'a str,
    account: &'a str,
    resource: &'a str,
}

impl Arn<'_> {
    fn parse(text: &str) -> Option<Arn<'_>> {
        let mut parts = text.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let (partition, service, _region, account, resource) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        Some(Arn {
            partition,
            service,
            account,
            resource,
        })
    }
}

impl Admission {
    /// Callers of `broker`'s partition and of `accounts`, whose role sessions are users when
    /// their role's `role/PATH/NAME` matches one of `session_name_roles` (globs, `*` the only
    /// wildcard, the name matched apart from the path), their roles looked up through `roles`.
    pub fn new(
        broker: &BrokerIdentity,
        accounts: BTreeSet<String>,
        session_name_roles: Vec<String>,
        roles: RoleCache,
    ) -> Admission {
        Admission {
            partition: broker.partition.clone(),
            accounts,
            session_name_roles,
            roles,
        }
    }

    /// Whether `caller` may be a caller of this server at all; the refusal says why, for the
    /// decision log and the server's log (never for the caller).
    pub async fn admit(&self, caller: &Caller) -> Result<(), Refusal> {
        let refuse = |rule, problem: String| {
            Refusal::Principal(PrincipalRefused {
                arn: caller.arn.clone(),
                rule,
                problem,
            })
        };
        let Some(arn) = Arn::parse(&caller.arn) else {
            return Err(refuse(
                IdentityRule::PrincipalKind,
                "it is not an ARN".into(),
            ));
        };
        if arn.partition != self.partition {
            return Err(refuse(
                IdentityRule::Partition,
                format!(
                    "it is of partition {:?}, and the broker runs in {:?}",
                    arn.partition, self.partition
                ),
            ));
        }
        if arn.account != caller.account || !self.accounts.contains(arn.account) {
            return Err(refuse(
                IdentityRule::CallerAccounts,
                format!(
                    "account {} is not one of {}",
                    caller.account,
                    self.accounts.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let session = (arn.service == "sts")
            .then(|| arn.resource.strip_prefix("assumed-role/"))
            .flatten()
            .and_then(|rest| rest.split_once('/'));
        let Some((role_name, _session)) = session else {
            // IAM users and every other kind of principal are the policy's to judge.
            return Ok(());
        };
        let role = self
            .roles
            .role(arn.account, role_name)
            .await
            .map_err(Refusal::RoleUnresolved)?;
        let caller_role_id = caller.user_id.split(':').next().unwrap_or_default();
        if caller_role_id != role.role_id {
            return Err(refuse(
                IdentityRule::RoleId,
                format!(
                    "the session is of role ID {caller_role_id}, but role {} is {} (the role \
                     was deleted and created again since it was looked up, or since the \
                     session began)",
                    role.arn, role.role_id
                ),
            ));
        }
        let resource = Arn::parse(&role.arn).map_or("", |role| role.resource);
        if !self
            .session_name_roles
            .iter()
            .any(|pattern| role_matches(pattern, resource))
        {
            return Err(refuse(
                IdentityRule::RolePaths,
                format!(
                    "its role is {}, which matches none of {}",
                    role.arn,
                    self.session_name_roles.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

/// Whether `resource` (`role/PATH/NAME`) matches `pattern`: the names (after the last `/`)
/// and the rest each as globs, so that a `*` in the path never reaches into the name.
pub(crate) fn role_matches(pattern: &str, resource: &str) -> bool {
    let (Some((pattern_path, pattern_name)), Some((path, name))) =
        (pattern.rsplit_once('/'), resource.rsplit_once('/'))
    else {
        return false;
    };
    sentinel_policy::glob_matches(pattern_path.as_bytes(), path.as_bytes())
        && sentinel_policy::glob_matches(pattern_name.as_bytes(), name.as_bytes())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use sentinel_core::roles::{Role, RoleDirectory, RoleLookupError};

    use super::*;

    /// IAM, as far as these tests need it: one role per name.
    struct Roles(Vec<Role>);

    #[async_trait::async_trait]
    impl RoleDirectory for Roles {
        async fn role(&self, account: &str, name: &str) -> Result<Role, RoleLookupError> {
            self.0
                .iter()
                .find(|role| role.arn.ends_with(&format!("/{name}")))
                .cloned()
                .ok_or_else(|| RoleLookupError::NotFound {
                    account: account.into(),
                    name: name.into(),
                })
        }
    }

    fn admission(roles: Vec<Role>) -> Admission {
        let broker = BrokerIdentity::of(&Caller {
            arn: "arn:aws:iam::111122223333:role/sentinel-broker".into(),
            account: "111122223333".into(),
            user_id: "AROABROKER:x".into(),
        })
        .expect("broker");
        Admission::new(
            &broker,
            BTreeSet::from(["111122223333".to_owned(), "444455556666".to_owned()]),
            DEFAULT_SESSION_NAME_ROLES
                .iter()
                .map(|&p| p.to_owned())
                .collect(),
            RoleCache::new(Arc::new(Roles(roles)), Duration::from_secs(60), 10),
        )
    }

    fn caller(arn: &str, user_id: &str) -> Caller {
        Caller {
            arn: arn.into(),
            account: sentinel_core::caller::arn_account(arn)
                .unwrap_or_default()
                .into(),
            user_id: user_id.into(),
        }
    }

    fn rule(refusal: Result<(), Refusal>) -> Option<IdentityRule> {
        match refusal {
            Ok(()) => None,
            Err(Refusal::Principal(refused)) => Some(refused.rule),
            Err(other) => panic!("unexpected refusal {other}"),
        }
    }

    #[tokio::test]
    async fn a_listed_account_of_another_partition_is_refused() {
        let admission = admission(vec![]);
        for partition in ["aws-cn", "aws-us-gov"] {
            let arn = format!("arn:{partition}:iam::111122223333:user/alice");
            assert_eq!(
                rule(admission.admit(&caller(&arn, "AIDAALICE")).await),
                Some(IdentityRule::Partition),
                "{arn}"
            );
        }
        let same = caller("arn:aws:iam::111122223333:user/alice", "AIDAALICE");
        assert_eq!(rule(admission.admit(&same).await), None);
        let elsewhere = caller("arn:aws:iam::999999999999:user/alice", "AIDAALICE");
        assert_eq!(
            rule(admission.admit(&elsewhere).await),
            Some(IdentityRule::CallerAccounts)
        );
    }

    #[tokio::test]
    async fn a_session_is_judged_by_its_roles_path_and_unique_id() {
        let sso = Role {
            arn: "arn:aws:iam::444455556666:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_01".into(),
            role_id: "AROASSO".into(),
        };
        let fake = Role {
            arn: "arn:aws:iam::444455556666:role/team/AWSReservedSSO_Fake_00".into(),
            role_id: "AROAFAKE".into(),
        };
        let admission = admission(vec![sso, fake]);
        let session = |role: &str, id: &str| {
            caller(
                &format!("arn:aws:sts::444455556666:assumed-role/{role}/alice"),
                &format!("{id}:alice"),
            )
        };
        let admit = |caller: Caller| {
            let admission = &admission;
            async move { admission.admit(&caller).await }
        };
        assert_eq!(
            rule(admit(session("AWSReservedSSO_Admin_01", "AROASSO")).await),
            None
        );
        assert_eq!(
            rule(admit(session("AWSReservedSSO_Fake_00", "AROAFAKE")).await),
            Some(IdentityRule::RolePaths)
        );
        assert_eq!(
            rule(admit(session("AWSReservedSSO_Admin_01", "AROAOLD")).await),
            Some(IdentityRule::RoleId)
        );
        assert!(matches!(
            admit(session("AWSReservedSSO_Gone_02", "AROAGONE")).await,
            Err(Refusal::RoleUnresolved(RoleLookupError::NotFound { .. }))
        ));
    }

    #[test]
    fn a_star_in_the_path_never_matches_into_the_name() {
        let [top, regional] = [DEFAULT_SESSION_NAME_ROLES[0], DEFAULT_SESSION_NAME_ROLES[1]];
        for (pattern, resource, expected) in [
            (
                top,
                "role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_A_1",
                true,
            ),
            (
                regional,
                "role/aws-reserved/sso.amazonaws.com/us-east-1/AWSReservedSSO_A_1",
                true,
            ),
            (
                top,
                "role/aws-reserved/sso.amazonaws.com/us-east-1/AWSReservedSSO_A_1",
                false,
            ),
            (
                regional,
                "role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_A_1",
                false,
            ),
            (
                regional,
                "role/aws-reserved/sso.amazonaws.com/x/Other",
                false,
            ),
            (top, "role/team/AWSReservedSSO_A_1", false),
            (top, "role/AWSReservedSSO_A_1", false),
            (
                regional,
                "role/team/aws-reserved/sso.amazonaws.com/x/AWSReservedSSO_A_1",
                false,
            ),
        ] {
            assert_eq!(
                role_matches(pattern, resource),
                expected,
                "{pattern} ~ {resource}"
            );
        }
    }
}
