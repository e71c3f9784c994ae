//! The approval routes' bodies, and the break-glass reason's rule. An approver proves who they
//! are with the same signed proof as a caller; the proof is bound to what it is for (a vote on
//! one request, or the list) where a credentials proof is bound to a profile, so a proof made
//! to list requests cannot approve one, nor a vote on one request count on another.

use serde::{Deserialize, Serialize};

use crate::proof::Proof;

/// Where an approver votes.
pub const APPROVALS_VOTE_PATH: &str = "/v1/approvals/vote";
/// Where a user lists the requests they made and those they may decide.
pub const APPROVALS_LIST_PATH: &str = "/v1/approvals/list";
/// What a listing proof is bound to.
pub const LIST_SCOPE: &str = "requests";
/// The longest break-glass reason, in characters.
pub const MAX_BREAK_GLASS_REASON: usize = 256;

/// What a vote's proof is bound to: the vote and the request it is on.
pub fn vote_scope(id: &str, approve: bool) -> String {
    let verb = if approve { "approve" } else { "deny" };
    format!("{verb}:{id}")
}

/// The body of `POST /v1/approvals/vote`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoteRequest {
    /// The approval request voted on.
    pub id: String,
    /// Approve (`true`) or deny (`false`).
    pub approve: bool,
    /// What the approver says, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who votes, as a proof bound to [`vote_scope`].
    pub proof: Proof,
}

/// The body of `POST /v1/approvals/list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRequest {
    /// Who asks, as a proof bound to [`LIST_SCOPE`].
    pub proof: Proof,
}

/// Checks a break-glass (or vote) reason: not empty, at most [`MAX_BREAK_GLASS_REASON`]
/// characters, all of them printable.
pub fn check_reason(reason: &str) -> Result<(), String> {
    let length = reason.chars().count();
    if reason.trim().is_empty() {
        return Err("the reason is empty; say why".to_owned());
    }
    if length > MAX_BREAK_GLASS_REASON {
        return Err(format!(
            "the reason has {length} characters; at most {MAX_BREAK_GLASS_REASON} are allowed"
        ));
    }
    if let Some(bad) = reason.chars().find(|c| c.is_control()) {
        return Err(format!(
            "the reason holds the control character {bad:?}; only printable characters are allowed"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_printable_non_empty_and_at_most_256_characters() {
        assert_eq!(check_reason("db on fire, INC-1234"), Ok(()));
        assert_eq!(check_reason(&"é".repeat(256)), Ok(()));
        assert!(check_reason(&"x".repeat(257)).unwrap_err().contains("257"));
        assert!(check_reason("  ").unwrap_err().contains("empty"));
        assert!(check_reason("a\nb").unwrap_err().contains("control"));
    }

    #[test]
    fn a_vote_is_bound_to_its_verb_and_request() {
        assert_eq!(vote_scope("00ff", true), "approve:00ff");
        assert_eq!(vote_scope("00ff", false), "deny:00ff");
    }
}
