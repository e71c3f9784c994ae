//! What an evaluation yields: the effect, and which rule (if any) decided it and why.

use serde::Serialize;

use crate::workflow::{Approval, BreakGlass};

/// What a policy says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Credentials may be issued.
    Allow,
    /// No credentials; also the outcome when no rule matches.
    Deny,
    /// No credentials until the rule's approvers approve.
    RequireApproval,
}

impl Effect {
    /// Every effect, in the order the policy language lists them.
    pub const ALL: [Effect; 3] = [Effect::Allow, Effect::Deny, Effect::RequireApproval];

    /// The name used in policies and in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
            Effect::RequireApproval => "require_approval",
        }
    }
}

/// The outcome of evaluating one request; borrows the rule's name and reason from the policy.
///
/// Serializes as `{"effect", "rule", "rule_index", "reason"}`, with `null` for absent values;
/// the rule's workflow settings are not part of the JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Decision<'a> {
    /// What to do with the request.
    pub effect: Effect,
    /// The name of the rule that decided; `None` for the default deny.
    pub rule: Option<&'a str>,
    /// The 0-based position of that rule in the policy; `None` for the default deny.
    pub rule_index: Option<usize>,
    /// The rule's `reason`, if it gave one.
    pub reason: Option<&'a str>,
    /// The approval the deciding rule asks for (a `require_approval` rule's `approval`).
    #[serde(skip)]
    pub approval: Option<&'a Approval>,
    /// What the deciding rule allows a break-glass request; `None` when it is no break-glass
    /// rule.
    #[serde(skip)]
    pub break_glass: Option<&'a BreakGlass>,
}

impl Decision<'_> {
    /// The decision when no rule matches: deny, attributed to no rule.
    pub const DEFAULT_DENY: Decision<'static> = Decision {
        effect: Effect::Deny,
        rule: None,
        rule_index: None,
        reason: None,
        approval: None,
        break_glass: None,
    };
}
