//! What the server does with each event of the approval workflow once it is recorded: count it
//! in the metrics and hand it to the notification queue (webhooks, SNS), which delivers it off
//! the request path. Approval requests carry the exact command their approvers run.

use jiff::Timestamp;
use sentinel_core::notify::{EventKind, Notification, Notifications};
use sentinel_core::state::approvals::ApprovalRequest;
use sentinel_core::workflow::{Happened, Observer};

use super::metrics::Metrics;

/// Counts and announces the workflow's events.
pub struct Announcer {
    metrics: Metrics,
    notifications: Notifications,
    /// The URL approvers reach the server at, for the `sentinel approve` command.
    server_url: String,
}

impl Announcer {
    /// Counts into `metrics` and sends to `notifications`, naming the server `server_url` in
    /// the approve commands.
    pub fn new(metrics: Metrics, notifications: Notifications, server_url: String) -> Announcer {
        Announcer {
            metrics,
            notifications,
            server_url,
        }
    }

    /// The notification of `event`, if it is one that is announced (a single vote is not).
    fn notification(&self, event: Happened<'_>) -> Option<Notification> {
        let of = |event: EventKind, request: &ApprovalRequest, command: bool| Notification {
            event,
            request_id: request.id.to_string(),
            requester: request.requester.clone(),
            profile: request.profile.clone(),
            rule: request.rule.clone(),
            approvers: request.approvers.clone(),
            votes: request.votes.clone(),
            reason: request.votes.last().and_then(|vote| vote.reason.clone()),
            at: Timestamp::now(),
            approve_command: command.then(|| {
                format!(
                    "sentinel approve {} --remote {}",
                    request.id, self.server_url
                )
            }),
        };
        Some(match event {
            Happened::Requested(request) => of(EventKind::ApprovalRequested, request, true),
            Happened::Approved(request) => of(EventKind::Approved, request, false),
            Happened::Denied(request) => of(EventKind::Denied, request, false),
            Happened::Expired(request) => of(EventKind::Expired, request, false),
            Happened::Voted(..) => return None,
            Happened::BrokeGlass {
                request_id,
                user,
                profile,
                rule,
                reason,
            } => Notification {
                event: EventKind::BreakGlass,
                request_id: request_id.to_string(),
                requester: user.to_owned(),
                profile: profile.to_owned(),
                rule: rule.to_owned(),
                approvers: Vec::new(),
                votes: Vec::new(),
                reason: Some(reason.to_owned()),
                at: Timestamp::now(),
                approve_command: None,
            },
        })
    }
}

impl Observer for Announcer {
    fn happened(&self, event: Happened<'_>) {
        self.metrics.happened(event);
        if let Some(notification) = self.notification(event) {
            self.notifications.send(notification);
        }
    }
}
