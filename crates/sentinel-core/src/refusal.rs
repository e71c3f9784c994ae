//! Why no credentials were handed out, and everything a front end needs to render it: its kind,
//! its `Code`, whether the policy decided it, the effect the decision log recorded, and the class
//! of answer. Every method is an exhaustive match, so a new kind of refusal is placed in each
//! before anything compiles.

use std::time::Duration;

use sentinel_policy::Effect;

use crate::caller::PrincipalRefused;
use crate::decision_log::LogError;
use crate::identity::IdentityError;
use crate::identity::RequestId;
use crate::issuer::IssuerError;
use crate::roles::RoleLookupError;
use crate::source::SourceError;
use crate::state::break_glass::GlassRefused;
use crate::workflow::WorkflowError;

/// Why no credentials were handed out. Each message includes its cause, so no variant also
/// reports it as a `source` (which would print it twice in an error chain).
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The policy denied the request (a deny rule, or no rule matched).
    #[error("denied by {}{}", rule_name(.rule), reason_suffix(.reason))]
    Denied {
        /// The deciding rule; `None` for the default deny.
        rule: Option<String>,
        /// The rule's reason.
        reason: Option<String>,
    },
    /// The policy requires an approval that cannot be asked for here.
    #[error("approval required by rule {rule}{}; {cause}", reason_suffix(.reason))]
    ApprovalRequired {
        /// The deciding rule.
        rule: String,
        /// The rule's reason.
        reason: Option<String>,
        /// Why no approval can be asked for (no shared state, or no approvers).
        cause: &'static str,
    },
    /// The policy requires an approval, and the request for it is pending.
    #[error(
        "approval required: request {id} for {profile}; approvers: {}",
        approvers.join(", ")
    )]
    ApprovalPending {
        /// The approval request's ID (the same on every ask while it is pending).
        id: RequestId,
        /// The profile asked for.
        profile: String,
        /// The deciding rule.
        rule: String,
        /// Who may approve.
        approvers: Vec<String>,
    },
    /// The request breaks the glass, and the rule that decided is no break-glass rule.
    #[error(
        "denied: no break-glass rule allows this request; it was decided by {}",
        rule_name(.rule)
    )]
    BreakGlassUnmatched {
        /// The deciding rule; `None` for the default deny.
        rule: Option<String>,
    },
    /// The break-glass rule's cooldown or quota refuses the request now.
    #[error("denied: {0}")]
    BreakGlassLimited(GlassRefused),
    /// The shared state could not be read or written, so nothing that needs it is allowed.
    #[error("denied: {0}")]
    State(WorkflowError),
    /// The policy's identity rules say the caller is no user at all (a session name the caller
    /// chose, a federated user, another account, the root user).
    #[error("denied: {0}")]
    Principal(PrincipalRefused),
    /// The caller's role could not be looked up, so whether its sessions are users is unknown.
    #[error("denied: the caller's role cannot be verified: {0}")]
    RoleUnresolved(RoleLookupError),
    /// The policy could not be loaded, so nothing can be allowed.
    #[error("denied: {0}")]
    Policy(SourceError),
    /// The request ID could not be generated, or the user cannot form a `SourceIdentity`.
    #[error("denied: {0}")]
    Identity(IdentityError),
    /// The decision could not be recorded, so it must not take effect.
    #[error("denied: {0}")]
    Log(LogError),
    /// The issuer failed.
    #[error("credentials could not be issued: {0}")]
    Issuer(IssuerError),
    /// The issuer did not answer in time.
    #[error("credentials could not be issued: the issuer did not answer within {0:?}")]
    IssuerTimeout(Duration),
}

fn rule_name(rule: &Option<String>) -> String {
    match rule {
        Some(rule) => format!("rule {rule}"),
        None => "default (no rule matched)".to_owned(),
    }
}

fn reason_suffix(reason: &Option<String>) -> String {
    reason
        .as_ref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default()
}

impl Refusal {
    /// A short, stable name for the kind of refusal (for metrics, logs and load reports).
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::Denied { .. } => "deny",
            Refusal::ApprovalRequired { .. } => "approval_required",
            Refusal::ApprovalPending { .. } => "approval_pending",
            Refusal::BreakGlassUnmatched { .. } => "break_glass_unmatched",
            Refusal::BreakGlassLimited(_) => "break_glass_limited",
            Refusal::State(_) => "state_unavailable",
            Refusal::Principal(_) => "principal_refused",
            Refusal::RoleUnresolved(_) => "role_unresolved",
            Refusal::Policy(_) => "policy_unavailable",
            Refusal::Identity(_) => "identity",
            Refusal::Log(_) => "decision_log",
            Refusal::Issuer(_) => "issuer",
            Refusal::IssuerTimeout(_) => "issuer_timeout",
        }
    }

    /// The `Code` an error answer carries: stable, in the AWS style (`AccessDenied`).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Denied { .. } => "AccessDenied",
            Refusal::ApprovalRequired { .. } => "ApprovalRequired",
            Refusal::ApprovalPending { .. } => "ApprovalPending",
            Refusal::BreakGlassUnmatched { .. } => "BreakGlassUnmatched",
            Refusal::BreakGlassLimited(_) => "BreakGlassLimited",
            Refusal::State(_) => "StateUnavailable",
            Refusal::Principal(_) => "PrincipalRefused",
            Refusal::RoleUnresolved(_) => "RoleUnresolved",
            Refusal::Policy(_) => "PolicyUnavailable",
            Refusal::Identity(_) => "IdentityError",
            Refusal::Log(_) => "DecisionLogError",
            Refusal::Issuer(_) => "IssuerError",
            Refusal::IssuerTimeout(_) => "IssuerTimeout",
        }
    }

    /// Whether the policy itself said no (as opposed to something failing). Such a refusal is
    /// in the decision log already, so a server need not report it again.
    pub fn is_policy_decision(&self) -> bool {
        match self {
            Refusal::Denied { .. }
            | Refusal::ApprovalRequired { .. }
            | Refusal::ApprovalPending { .. }
            | Refusal::BreakGlassUnmatched { .. }
            | Refusal::BreakGlassLimited(_)
            | Refusal::Principal(_) => true,
            Refusal::State(_)
            | Refusal::RoleUnresolved(_)
            | Refusal::Policy(_)
            | Refusal::Identity(_)
            | Refusal::Log(_)
            | Refusal::Issuer(_)
            | Refusal::IssuerTimeout(_) => false,
        }
    }

    /// What a caller who may be a stranger is told: the rule's name and reason for a policy's
    /// own decision (written for its users), otherwise a short fixed sentence without paths,
    /// ARNs, accounts or diagnostics (those are for the decision log and the server's log).
    pub fn public_message(&self) -> std::borrow::Cow<'_, str> {
        let brief = match self {
            Refusal::Denied { .. }
            | Refusal::ApprovalRequired { .. }
            | Refusal::ApprovalPending { .. }
            | Refusal::BreakGlassUnmatched { .. }
            | Refusal::BreakGlassLimited(_) => {
                return self.to_string().into();
            }
            Refusal::State(_) => "the server's shared state is unavailable; try again",
            Refusal::Principal(_) => "this server does not issue credentials to this caller",
            Refusal::RoleUnresolved(_) => "the caller's role could not be verified; try again",
            Refusal::Policy(_) => "the profile's policy is unavailable; try again",
            Refusal::Identity(_) => "the caller's user name cannot be carried to AWS",
            Refusal::Log(_) => "the decision could not be recorded",
            Refusal::Issuer(_) => "the credentials could not be issued",
            Refusal::IssuerTimeout(_) => "the credentials could not be issued in time",
        };
        brief.into()
    }

    /// The effect the decision log recorded for this request, if a decision was recorded: a
    /// refusal before the policy decided (no policy, no `SourceIdentity`) is logged as a deny,
    /// an issuer failure follows an allow, and a decision that could not be logged has none.
    pub fn effect(&self) -> Option<Effect> {
        match self {
            Refusal::Denied { .. }
            | Refusal::Principal(_)
            | Refusal::RoleUnresolved(_)
            | Refusal::Policy(_)
            | Refusal::Identity(_)
            // A break-glass refusal is a deny, whatever the rule's effect the line records.
            | Refusal::BreakGlassUnmatched { .. }
            | Refusal::BreakGlassLimited(_)
            | Refusal::State(_) => Some(Effect::Deny),
            Refusal::ApprovalRequired { .. } | Refusal::ApprovalPending { .. } => {
                Some(Effect::RequireApproval)
            }
            Refusal::Issuer(_) | Refusal::IssuerTimeout(_) => Some(Effect::Allow),
            Refusal::Log(_) => None,
        }
    }

    /// What kind of answer this refusal is, for a server to pick its status.
    pub fn status_class(&self) -> StatusClass {
        match self {
            Refusal::Denied { .. }
            | Refusal::ApprovalRequired { .. }
            | Refusal::ApprovalPending { .. }
            | Refusal::BreakGlassUnmatched { .. }
            | Refusal::BreakGlassLimited(_)
            | Refusal::Principal(_) => StatusClass::Forbidden,
            Refusal::RoleUnresolved(_) | Refusal::Policy(_) | Refusal::State(_) => {
                StatusClass::Unavailable
            }
            Refusal::Identity(_) | Refusal::Log(_) => StatusClass::Internal,
            Refusal::Issuer(_) => StatusClass::BadGateway,
            Refusal::IssuerTimeout(_) => StatusClass::GatewayTimeout,
        }
    }
}

/// The kinds of answer a refusal is: whether asking again can help, and whose failure it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// The policy said no; asking again will not help (HTTP `403`).
    Forbidden,
    /// Something the decision needs is unavailable for now; asking later may help (`503`).
    Unavailable,
    /// Sentinel itself failed (`500`).
    Internal,
    /// The issuer failed (`502`).
    BadGateway,
    /// The issuer did not answer in time (`504`).
    GatewayTimeout,
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::caller::IdentityRule;

    /// One refusal of every kind.
    fn every_kind() -> Vec<Refusal> {
        vec![
            Refusal::Denied {
                rule: None,
                reason: None,
            },
            Refusal::ApprovalRequired {
                rule: "two-person".into(),
                reason: None,
                cause: "approvals need `state` in the server config",
            },
            Refusal::ApprovalPending {
                id: "00000000000000ff".parse().expect("id"),
                profile: "production".into(),
                rule: "two-person".into(),
                approvers: vec!["carol".into(), "dave".into()],
            },
            Refusal::BreakGlassUnmatched {
                rule: Some("office-hours".into()),
            },
            Refusal::BreakGlassLimited(GlassRefused::Cooldown(
                jiff::Timestamp::from_second(1_800_000_000).expect("instant"),
            )),
            Refusal::State(WorkflowError::State(crate::state::StateError::Unavailable(
                "timed out".into(),
            ))),
            Refusal::Principal(PrincipalRefused {
                arn: "arn:aws:iam::123456789012:root".into(),
                rule: IdentityRule::PrincipalKind,
                problem: "the root user".into(),
            }),
            Refusal::RoleUnresolved(RoleLookupError::NotFound {
                account: "123456789012".into(),
                name: "AWSReservedSSO_Admin_0123".into(),
            }),
            Refusal::Policy(SourceError::NotFound {
                location: "policy.yaml".into(),
            }),
            Refusal::Identity(IdentityError::Rng("no entropy".into())),
            Refusal::Log(LogError::Open {
                path: PathBuf::from("/log"),
                cause: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            }),
            Refusal::Issuer(IssuerError::new("throttled")),
            Refusal::IssuerTimeout(Duration::from_secs(2)),
        ]
    }

    #[test]
    fn only_the_policys_own_decisions_are_forbidden_and_every_other_refusal_is_a_failure() {
        for refusal in every_kind() {
            assert_eq!(
                refusal.is_policy_decision(),
                refusal.status_class() == StatusClass::Forbidden,
                "{}",
                refusal.kind()
            );
        }
    }

    #[test]
    fn every_kind_has_its_own_name_and_code() {
        let refusals = every_kind();
        let kinds: std::collections::HashSet<_> = refusals.iter().map(Refusal::kind).collect();
        let codes: std::collections::HashSet<_> = refusals.iter().map(Refusal::code).collect();
        assert_eq!(kinds.len(), refusals.len());
        assert_eq!(codes.len(), refusals.len());
    }

    #[test]
    fn the_logged_effect_is_deny_before_a_decision_allow_before_the_issuer_and_none_unlogged() {
        let effects: Vec<_> = every_kind()
            .iter()
            .map(|refusal| (refusal.kind(), refusal.effect()))
            .collect();
        assert_eq!(
            effects,
            [
                ("deny", Some(Effect::Deny)),
                ("approval_required", Some(Effect::RequireApproval)),
                ("approval_pending", Some(Effect::RequireApproval)),
                ("break_glass_unmatched", Some(Effect::Deny)),
                ("break_glass_limited", Some(Effect::Deny)),
                ("state_unavailable", Some(Effect::Deny)),
                ("principal_refused", Some(Effect::Deny)),
                ("role_unresolved", Some(Effect::Deny)),
                ("policy_unavailable", Some(Effect::Deny)),
                ("identity", Some(Effect::Deny)),
                ("decision_log", None),
                ("issuer", Some(Effect::Allow)),
                ("issuer_timeout", Some(Effect::Allow)),
            ]
        );
    }

    #[test]
    fn a_caller_is_told_the_rule_of_a_decision_and_no_detail_of_anything_else() {
        for refusal in every_kind() {
            let public = refusal.public_message();
            match refusal {
                Refusal::Denied { .. } | Refusal::ApprovalRequired { .. } => {
                    assert_eq!(public, refusal.to_string());
                }
                _ => {
                    for detail in ["arn:", "123456789012", "policy.yaml", "/log", "throttled"] {
                        assert!(!public.contains(detail), "{}: {public}", refusal.kind());
                    }
                }
            }
        }
    }
}
