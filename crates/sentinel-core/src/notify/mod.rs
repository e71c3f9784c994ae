//! Notifications of the approval workflow: what happened to a request (approval asked for,
//! approved, denied, expired, break-glass used), who is told (the [`Sink`]s: webhooks, SNS
//! topics), and the delivery queue between them. Issuance never waits for a notification:
//! [`Notifications::send`] only queues, and each sink's own task delivers, retrying a few times
//! with a growing pause, so one slow or failing receiver neither delays a request nor holds
//! back the other receivers. A notification that cannot be delivered is a warning in the log
//! and an outcome for the [`DeliveryObserver`] (the server's metrics), never silence.
//!
//! This module knows no HTTP and no AWS: the sinks live where those clients do.

mod delivery;

use jiff::Timestamp;
use serde_json::{Value, json};

pub use delivery::{
    DeliveryError, DeliveryObserver, DeliveryOutcome, DeliveryPolicy, Notifications, Sink,
};

/// What happened: the names are the `events` of the server configuration and the `event` of
/// the JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// A request needs an approval, and the approvers are asked for it.
    ApprovalRequested,
    /// The request was approved.
    Approved,
    /// The request was denied by an approver.
    Denied,
    /// Nobody decided before the request expired.
    Expired,
    /// Break-glass access was used.
    BreakGlass,
}

impl EventKind {
    /// Every event, in the order the documentation lists them.
    pub const ALL: [EventKind; 5] = [
        EventKind::ApprovalRequested,
        EventKind::Approved,
        EventKind::Denied,
        EventKind::Expired,
        EventKind::BreakGlass,
    ];

    /// The event's name (snake_case).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ApprovalRequested => "approval_requested",
            EventKind::Approved => "approved",
            EventKind::Denied => "denied",
            EventKind::Expired => "expired",
            EventKind::BreakGlass => "break_glass",
        }
    }

    /// The event named `name`, if there is one.
    pub fn parse(name: &str) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|event| event.as_str() == name)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub use crate::state::approvals::Vote;

/// One event of the approval workflow, as every sink receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// What happened.
    pub event: EventKind,
    /// The approval request's ID, or the break-glass decision's request ID.
    pub request_id: String,
    /// The user who asked.
    pub requester: String,
    /// The profile asked for.
    pub profile: String,
    /// The policy rule that required the approval (or allowed break-glass).
    pub rule: String,
    /// Who may approve.
    pub approvers: Vec<String>,
    /// The decisions so far.
    pub votes: Vec<Vote>,
    /// The requester's break-glass reason, or a decider's reason.
    pub reason: Option<String>,
    /// When it happened.
    pub at: Timestamp,
    /// The command an approver runs to approve, e.g.
    /// `sentinel approve 1a2b… --remote https://sentinel.example.com`.
    pub approve_command: Option<String>,
}

impl Notification {
    /// The notification as the JSON document webhooks (`format: json`) and SNS topics receive:
    /// every field by its name, timestamps in RFC 3339, absent values as `null`.
    pub fn to_json(&self) -> Value {
        let votes: Vec<Value> = self
            .votes
            .iter()
            .map(|vote| {
                json!({
                    "approver": vote.approver,
                    "approve": vote.approve,
                    "reason": vote.reason,
                    "at": vote.at.to_string(),
                })
            })
            .collect();
        json!({
            "event": self.event.as_str(),
            "request_id": self.request_id,
            "requester": self.requester,
            "profile": self.profile,
            "rule": self.rule,
            "approvers": self.approvers,
            "votes": votes,
            "reason": self.reason,
            "at": self.at.to_string(),
            "approve_command": self.approve_command,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A notification with every field set.
    pub(crate) fn sample(event: EventKind) -> Notification {
        Notification {
            event,
            request_id: "1a2b3c".to_owned(),
            requester: "alice".to_owned(),
            profile: "production".to_owned(),
            rule: "prod-needs-approval".to_owned(),
            approvers: vec!["bob".to_owned(), "carol".to_owned()],
            votes: vec![Vote {
                approver: "bob".to_owned(),
                approve: true,
                reason: Some("looks fine".to_owned()),
                at: "2026-12-06T10:00:05Z".parse().expect("timestamp"),
            }],
            reason: Some("incident 42".to_owned()),
            at: "2026-12-06T10:00:00Z".parse().expect("timestamp"),
            approve_command: Some(
                "sentinel approve 1a2b3c --remote https://sentinel.example.com".to_owned(),
            ),
        }
    }

    #[test]
    fn every_event_name_round_trips_and_is_snake_case() {
        for event in EventKind::ALL {
            assert_eq!(EventKind::parse(event.as_str()), Some(event));
            assert!(
                event
                    .as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{event}"
            );
        }
        assert_eq!(EventKind::parse("Approved"), None);
        assert_eq!(EventKind::parse("approval"), None);
    }

    #[test]
    fn the_json_body_names_every_field() {
        let body = sample(EventKind::Approved).to_json();
        assert_eq!(
            body,
            json!({
                "event": "approved",
                "request_id": "1a2b3c",
                "requester": "alice",
                "profile": "production",
                "rule": "prod-needs-approval",
                "approvers": ["bob", "carol"],
                "votes": [{
                    "approver": "bob",
                    "approve": true,
                    "reason": "looks fine",
                    "at": "2026-12-06T10:00:05Z",
                }],
                "reason": "incident 42",
                "at": "2026-12-06T10:00:00Z",
                "approve_command": "sentinel approve 1a2b3c --remote https://sentinel.example.com",
            })
        );
        let bare = Notification {
            reason: None,
            approve_command: None,
            votes: Vec::new(),
            ..sample(EventKind::Expired)
        };
        let body = bare.to_json();
        assert_eq!(body["reason"], Value::Null);
        assert_eq!(body["approve_command"], Value::Null);
        assert_eq!(body["votes"], json!([]));
        assert_eq!(body["event"], "expired");
    }
}
