//! The decision-log line of a change in an approval request: made, voted on, approved, denied
//! or expired. It names the request, its rule, requester, approvers and votes, and who acted.

use jiff::Timestamp;
use serde::Serialize;

use super::Event;
use crate::state::approvals::{ApprovalId, ApprovalRequest, Status, Vote};

/// One line recording a change of an approval request. Never holds a secret.
#[derive(Debug, Clone, Serialize)]
pub struct WorkflowRecord {
    /// When the line was written (RFC 3339, UTC).
    #[serde(serialize_with = "super::display")]
    pub timestamp: Timestamp,
    /// What changed.
    pub event: Event,
    /// The approval request's ID.
    pub approval_id: ApprovalId,
    /// Who asked for the credentials.
    pub requester: String,
    /// The profile asked for.
    pub profile: String,
    /// The `require_approval` rule.
    pub rule: String,
    /// Who may decide.
    pub approvers: Vec<String>,
    /// How many approvals it needs.
    pub count: u32,
    /// The votes so far.
    pub votes: Vec<Vote>,
    /// Its status after the change.
    pub status: Status,
    /// Until when it waits for votes.
    #[serde(serialize_with = "super::display")]
    pub expires_at: Timestamp,
    /// Who acted (the requester, an approver, or whoever noticed an expiry).
    pub actor: String,
    /// The actor's principal ARN.
    pub actor_arn: String,
    /// The reason the actor gave, if any.
    pub reason: Option<String>,
}

impl WorkflowRecord {
    /// The line of `event` on `request` (as it is after the change), by `actor`.
    pub fn new(
        event: Event,
        request: &ApprovalRequest,
        actor: &str,
        actor_arn: &str,
        reason: Option<&str>,
    ) -> WorkflowRecord {
        WorkflowRecord {
            timestamp: Timestamp::now(),
            event,
            approval_id: request.id,
            requester: request.requester.clone(),
            profile: request.profile.clone(),
            rule: request.rule.clone(),
            approvers: request.approvers.clone(),
            count: request.count,
            votes: request.votes.clone(),
            status: request.status,
            expires_at: request.expires_at,
            actor: actor.to_owned(),
            actor_arn: actor_arn.to_owned(),
            reason: reason.map(str::to_owned),
        }
    }
}
