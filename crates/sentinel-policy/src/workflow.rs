//! What a rule asks of the workflow around a decision: who must approve a `require_approval`
//! rule and for how long an approval lasts, and how a break-glass rule limits its sessions and
//! how often a user may break the glass. The policy only states these; the server that keeps
//! state enforces them.

use std::time::Duration;

/// How many approvals a `require_approval` rule needs when it does not say.
pub const DEFAULT_APPROVAL_COUNT: u32 = 1;
/// How long a pending request waits for its approvals when the rule does not say.
pub const DEFAULT_EXPIRES_AFTER: Duration = Duration::from_secs(3600);
/// How long an approved request may get credentials when the rule does not say.
pub const DEFAULT_VALID_FOR: Duration = Duration::from_secs(3600);
/// The shortest and longest sessions STS grants, which bound a break-glass session.
pub const SESSION_LIMITS: (Duration, Duration) =
    (Duration::from_secs(900), Duration::from_secs(43_200));

/// The approval a `require_approval` rule asks for: `count` of its `approvers` must approve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// Who may approve, in the order the policy lists them, each once.
    pub approvers: Box<[Box<str>]>,
    /// How many distinct approvers must approve (at least 1, at most the list's length).
    pub count: u32,
    /// How long a pending request waits before it lapses.
    pub expires_after: Duration,
    /// Once approved, how long the requester may get credentials under the approval.
    pub valid_for: Duration,
}

impl Approval {
    /// Whether `user` is one of the approvers.
    pub fn is_approver(&self, user: &str) -> bool {
        self.approvers.iter().any(|approver| **approver == *user)
    }
}

/// What a break-glass rule (one with the `break_glass: true` condition) allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlass {
    /// The longest session a break-glass use gets (the profile's own is shorter if it is).
    pub duration: Duration,
    /// How long a user must wait after breaking the glass before breaking it again.
    pub cooldown: Duration,
    /// How many times a user may break the glass in 24 hours; `None`: no limit.
    pub max_per_day: Option<u32>,
}
