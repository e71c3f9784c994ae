//! The body of a Slack incoming webhook (`format: slack`): a `text` line, which Slack shows in
//! notifications, and Block Kit `blocks`: a headline section, the request's facts as fields
//! (who, which profile, the rule, the reason, the votes), the exact `sentinel approve` command
//! when there is one, and the request ID and time as context. Every value from the request is
//! escaped for Slack's mrkdwn (`&`, `<`, `>`), so that a reason cannot mention a channel or
//! forge a link.

use sentinel_core::notify::{EventKind, Notification};
use serde_json::{Value, json};

/// The longest text Slack accepts in a section's field.
const MAX_FIELD_CHARS: usize = 2000;

/// The Slack message for `notification`.
pub fn body(notification: &Notification) -> Value {
    let who = escape(&notification.requester);
    let profile = escape(&notification.profile);
    let headline = match notification.event {
        EventKind::ApprovalRequested => format!("{who} asks for approval to use {profile}"),
        EventKind::Approved => format!("{who}'s request for {profile} was approved"),
        EventKind::Denied => format!("{who}'s request for {profile} was denied"),
        EventKind::Expired => format!("{who}'s request for {profile} expired undecided"),
        EventKind::BreakGlass => format!("{who} used break-glass access to {profile}"),
    };
    let mut fields = vec![
        field("Requester", &notification.requester),
        field("Profile", &notification.profile),
        field("Rule", &notification.rule),
    ];
    if let Some(reason) = &notification.reason {
        fields.push(field("Reason", reason));
    }
    if !notification.approvers.is_empty() {
        fields.push(field("Approvers", &notification.approvers.join(", ")));
    }
    if !notification.votes.is_empty() {
        let votes: Vec<String> = notification
            .votes
            .iter()
            .map(|vote| {
                let verdict = if vote.approve { "approved" } else { "denied" };
                match &vote.reason {
                    Some(reason) => format!("{} {verdict}: {reason}", vote.approver),
                    None => format!("{} {verdict}", vote.approver),
                }
            })
            .collect();
        fields.push(field("Votes", &votes.join("\n")));
    }
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*{headline}*")}}),
        json!({"type": "section", "fields": fields}),
    ];
    if let Some(command) = &notification.approve_command {
        blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": format!("To approve:\n```{}```", escape(command))},
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{
            "type": "mrkdwn",
            "text": format!(
                "{} · request {} · {}",
                notification.event.as_str(),
                escape(&notification.request_id),
                notification.at
            ),
        }],
    }));
    json!({"text": headline, "blocks": blocks})
}

/// A section field: a bold label over the escaped value, cut to Slack's limit.
fn field(label: &str, value: &str) -> Value {
    let text = format!("*{label}*\n{}", escape(value));
    let text = match text.char_indices().nth(MAX_FIELD_CHARS - 1) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    };
    json!({"type": "mrkdwn", "text": text})
}

/// `text` with the three characters Slack's mrkdwn gives a meaning escaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use sentinel_core::notify::Vote;

    use super::*;

    fn notification() -> Notification {
        Notification {
            event: EventKind::ApprovalRequested,
            request_id: "1a2b3c".to_owned(),
            requester: "alice".to_owned(),
            profile: "production".to_owned(),
            rule: "prod-needs-approval".to_owned(),
            approvers: vec!["bob".to_owned()],
            votes: vec![Vote {
                approver: "carol".to_owned(),
                approve: false,
                reason: Some("not now".to_owned()),
                at: "2026-12-06T10:00:05Z".parse().expect("timestamp"),
            }],
            reason: Some("deploy <@here> & fix".to_owned()),
            at: "2026-12-06T10:00:00Z".parse().expect("timestamp"),
            approve_command: Some(
                "sentinel approve 1a2b3c --remote https://sentinel.example.com".to_owned(),
            ),
        }
    }

    #[test]
    fn carries_the_request_and_the_command_verbatim() {
        let body = body(&notification());
        let text = body["text"].as_str().expect("text");
        assert_eq!(text, "alice asks for approval to use production");
        let blocks = body["blocks"].as_array().expect("blocks");
        assert_eq!(blocks.len(), 4);
        for block in blocks {
            assert!(
                ["section", "context"].contains(&block["type"].as_str().expect("type")),
                "{block}"
            );
        }
        let fields: Vec<&str> = blocks[1]["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .map(|field| {
                assert_eq!(field["type"], "mrkdwn");
                field["text"].as_str().expect("text")
            })
            .collect();
        assert_eq!(
            fields,
            [
                "*Requester*\nalice",
                "*Profile*\nproduction",
                "*Rule*\nprod-needs-approval",
                "*Reason*\ndeploy &lt;@here&gt; &amp; fix",
                "*Approvers*\nbob",
                "*Votes*\ncarol denied: not now",
            ]
        );
        assert_eq!(
            blocks[2]["text"]["text"],
            "To approve:\n```sentinel approve 1a2b3c --remote https://sentinel.example.com```"
        );
        assert_eq!(
            blocks[3]["elements"][0]["text"],
            "approval_requested · request 1a2b3c · 2026-12-06T10:00:00Z"
        );
    }

    #[test]
    fn without_a_command_or_reason_those_blocks_are_left_out() {
        let bare = Notification {
            event: EventKind::Expired,
            reason: None,
            approve_command: None,
            votes: Vec::new(),
            ..notification()
        };
        let body = body(&bare);
        let blocks = body["blocks"].as_array().expect("blocks");
        assert_eq!(blocks.len(), 3);
        assert_eq!(
            body["text"],
            "alice's request for production expired undecided"
        );
        assert!(!body.to_string().contains("sentinel approve"));
        assert_eq!(blocks[1]["fields"].as_array().expect("fields").len(), 4);
    }

    #[test]
    fn a_long_field_is_cut_to_slacks_limit() {
        let long = Notification {
            reason: Some("x".repeat(5000)),
            ..notification()
        };
        let body = body(&long);
        let reason = body["blocks"][1]["fields"][3]["text"]
            .as_str()
            .expect("text");
        assert_eq!(reason.chars().count(), MAX_FIELD_CHARS);
        assert!(reason.ends_with('…'));
    }
}
