//! Approval requests and the rules of their life: pending until enough approvers approve, one
//! approver denies, or the request lapses; once approved, usable for the rule's `valid_for`.
//! The transitions are pure functions of a request, a vote and the time, so that every store
//! applies the same rules and a model test can check them; a store only makes a transition
//! stick with a conditional write on the request's `version`.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::identity::RequestId;

/// The ID of an approval request: 64 random bits as 16 hex digits, like a request ID.
pub type ApprovalId = RequestId;

/// Where a request stands, at some instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for votes.
    Pending,
    /// Enough approvers approved.
    Approved,
    /// An approver denied it.
    Denied,
    /// It lapsed before it was decided.
    Expired,
}

impl Status {
    /// The name used in JSON, logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Denied => "denied",
            Status::Expired => "expired",
        }
    }
}

/// One approver's vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// The approver, as a user name under the policy's identity rules.
    pub approver: String,
    /// Approve (`true`) or deny (`false`).
    pub approve: bool,
    /// What the approver said, if anything.
    pub reason: Option<String>,
    /// When the vote was cast.
    pub at: Timestamp,
}

/// An approval request, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// The request's ID.
    pub id: ApprovalId,
    /// Who asked.
    pub requester: String,
    /// The profile asked for.
    pub profile: String,
    /// The `require_approval` rule that decided.
    pub rule: String,
    /// Who may decide, in the rule's order.
    pub approvers: Vec<String>,
    /// How many approvals it needs.
    pub count: u32,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it lapses unless decided.
    pub expires_at: Timestamp,
    /// How long an approval lasts once given.
    #[serde(with = "seconds")]
    pub valid_for: Duration,
    /// Its stored status (a pending request past `expires_at` is expired: see
    /// [`ApprovalRequest::status_at`]).
    pub status: Status,
    /// When it was decided, if it was.
    pub decided_at: Option<Timestamp>,
    /// The votes cast, in order.
    pub votes: Vec<Vote>,
    /// Incremented by every write; a write succeeds only over the version it read.
    pub version: u64,
}

/// Why a vote is not counted. Each has its own code, so that an approver's client can say
/// exactly what happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoteRefused {
    /// The voter is not among the rule's approvers.
    #[error("you are not an approver of request {0}")]
    NotAnApprover(ApprovalId),
    /// The voter asked for the credentials themself.
    #[error("you made request {0}, and a requester cannot decide their own request")]
    OwnRequest(ApprovalId),
    /// The voter already voted on it.
    #[error("you already voted on request {0}")]
    AlreadyVoted(ApprovalId),
    /// It lapsed before the vote.
    #[error("request {0} expired before it was decided")]
    Expired(ApprovalId),
    /// It was approved or denied already.
    #[error("request {0} was already {1}")]
    AlreadyDecided(ApprovalId, &'static str),
}

impl VoteRefused {
    /// The `Code` an answer carries for this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            VoteRefused::NotAnApprover(_) => "NotAnApprover",
            VoteRefused::OwnRequest(_) => "OwnRequest",
            VoteRefused::AlreadyVoted(_) => "AlreadyVoted",
            VoteRefused::Expired(_) => "RequestExpired",
            VoteRefused::AlreadyDecided(..) => "AlreadyDecided",
        }
    }

    /// A short, stable name for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            VoteRefused::NotAnApprover(_) => "not_an_approver",
            VoteRefused::OwnRequest(_) => "own_request",
            VoteRefused::AlreadyVoted(_) => "already_voted",
            VoteRefused::Expired(_) => "request_expired",
            VoteRefused::AlreadyDecided(..) => "already_decided",
        }
    }
}

impl ApprovalRequest {
    /// Its status at `now`: a pending request past its expiry is expired.
    pub fn status_at(&self, now: Timestamp) -> Status {
        match self.status {
            Status::Pending if now >= self.expires_at => Status::Expired,
            status => status,
        }
    }

    /// Until when an approved request may get credentials; `None` unless approved.
    pub fn approved_until(&self) -> Option<Timestamp> {
        match (self.status, self.decided_at) {
            (Status::Approved, Some(at)) => at.checked_add(self.valid_for).ok(),
            _ => None,
        }
    }

    /// Whether the requester may get credentials under this request at `now`.
    pub fn grants_at(&self, now: Timestamp) -> bool {
        self.approved_until().is_some_and(|until| now < until)
    }

    /// How many approvals it has.
    pub fn approvals(&self) -> usize {
        self.votes.iter().filter(|vote| vote.approve).count()
    }

    /// The request after `vote`, or why the vote does not count. Refused, in this order: a
    /// voter who is the requester, who is no approver, a request no longer pending (expired or
    /// decided), and a second vote by one approver. One denial denies; the `count`-th distinct
    /// approval approves.
    pub fn vote(&self, vote: Vote) -> Result<ApprovalRequest, VoteRefused> {
        if vote.approver == self.requester {
            return Err(VoteRefused::OwnRequest(self.id));
        }
        if !self.approvers.contains(&vote.approver) {
            return Err(VoteRefused::NotAnApprover(self.id));
        }
        match self.status_at(vote.at) {
            Status::Pending => {}
            Status::Expired => return Err(VoteRefused::Expired(self.id)),
            decided => return Err(VoteRefused::AlreadyDecided(self.id, decided.as_str())),
        }
        if self.votes.iter().any(|cast| cast.approver == vote.approver) {
            return Err(VoteRefused::AlreadyVoted(self.id));
        }
        let mut next = self.clone();
        let at = vote.at;
        let approve = vote.approve;
        next.votes.push(vote);
        next.version += 1;
        if !approve {
            next.status = Status::Denied;
            next.decided_at = Some(at);
        } else if next.approvals() >= self.count as usize {
            next.status = Status::Approved;
            next.decided_at = Some(at);
        }
        Ok(next)
    }

    /// The request marked expired, if it is pending and past its expiry at `now`.
    pub fn expire(&self, now: Timestamp) -> Option<ApprovalRequest> {
        (self.status == Status::Pending && now >= self.expires_at).then(|| {
            let mut next = self.clone();
            next.status = Status::Expired;
            next.decided_at = Some(self.expires_at);
            next.version += 1;
            next
        })
    }
}

/// Serializes a duration as whole seconds.
mod seconds {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(value.as_secs())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const PEOPLE: [&str; 5] = ["bob", "carol", "dave", "erin", "mallory"];

    fn request(count: u32) -> ApprovalRequest {
        let at = Timestamp::from_second(1_800_000_000).expect("instant");
        ApprovalRequest {
            id: "00000000000000aa".parse().expect("id"),
            requester: "bob".into(),
            profile: "prod".into(),
            rule: "r".into(),
            approvers: vec!["bob".into(), "carol".into(), "dave".into(), "erin".into()],
            count,
            created_at: at,
            expires_at: at.checked_add(Duration::from_secs(600)).expect("instant"),
            valid_for: Duration::from_secs(60),
            status: Status::Pending,
            decided_at: None,
            votes: Vec::new(),
            version: 1,
        }
    }

    proptest! {
        /// Against a model written from the rules: only listed approvers other than the
        /// requester vote, once each, while the request is pending and fresh; one denial denies;
        /// `count` approvals approve; every counted vote bumps the version.
        #[test]
        fn votes_follow_the_rules_of_the_model(
            count in 1..=3u32,
            steps in proptest::collection::vec((0..5usize, any::<bool>(), 0..200i64), 1..12),
        ) {
            let mut current = request(count);
            let mut voted: Vec<&str> = Vec::new();
            let mut approvals = 0u32;
            let mut status = Status::Pending;
            let mut now = current.created_at;
            for (who, approve, later) in steps {
                now = now.checked_add(jiff::SignedDuration::from_secs(later)).expect("instant");
                let voter = PEOPLE[who];
                let vote = Vote { approver: voter.into(), approve, reason: None, at: now };
                let expired = status == Status::Pending && now >= current.expires_at;
                let expected_refusal = if voter == "bob" {
                    Some("OwnRequest")
                } else if voter == "mallory" {
                    Some("NotAnApprover")
                } else if expired {
                    Some("RequestExpired")
                } else if status != Status::Pending {
                    Some("AlreadyDecided")
                } else if voted.contains(&voter) {
                    Some("AlreadyVoted")
                } else {
                    None
                };
                match (current.vote(vote), expected_refusal) {
                    (Err(refused), Some(code)) => prop_assert_eq!(refused.code(), code),
                    (Ok(next), None) => {
                        voted.push(voter);
                        prop_assert_eq!(next.version, current.version + 1);
                        if approve { approvals += 1 }
                        status = if !approve {
                            Status::Denied
                        } else if approvals >= count {
                            Status::Approved
                        } else {
                            Status::Pending
                        };
                        prop_assert_eq!(next.status, status);
                        prop_assert_eq!(next.approvals() as u32, approvals);
                        current = next;
                    }
                    (got, want) => prop_assert!(false, "got {:?}, the model says {:?}", got, want),
                }
            }
        }
    }
}
