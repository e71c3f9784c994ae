//! The `notify:` key of the server configuration: a list of receivers, each a webhook
//! (`{url, format, events, secret_file}`) or an SNS topic (`{sns_topic, events}`). Read as
//! strictly as the rest of the file: an unknown key, event or format, a URL that is not HTTPS
//! (or plain HTTP to a loopback address) and an ARN that is not a topic's are errors naming the
//! file, line and column.

use std::collections::BTreeSet;
use std::path::PathBuf;

use sentinel_core::notify::EventKind;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::webhook::{Format, WebhookUrl};

/// One receiver of notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyTarget {
    /// An HTTPS webhook.
    Webhook(WebhookTarget),
    /// An SNS topic.
    Sns(SnsTarget),
}

impl NotifyTarget {
    /// The events the receiver is told of.
    pub fn events(&self) -> &BTreeSet<EventKind> {
        match self {
            NotifyTarget::Webhook(webhook) => &webhook.events,
            NotifyTarget::Sns(sns) => &sns.events,
        }
    }
}

/// A webhook receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    /// Where bodies are posted.
    pub url: WebhookUrl,
    /// What the body is (default: `json`).
    pub format: Format,
    /// The events posted (default: all).
    pub events: BTreeSet<EventKind>,
    /// The shared secret bodies are signed with, if any.
    pub secret_file: Option<PathBuf>,
}

/// An SNS topic receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsTarget {
    /// The topic's ARN.
    pub topic_arn: String,
    /// The events published (default: all).
    pub events: BTreeSet<EventKind>,
}

/// What is wrong with the `notify:` list, and where (1-based line and column); the
/// configuration file's reader names the file.
#[derive(Debug)]
pub(in crate::remote) struct Problem {
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
    /// What is wrong and what was expected.
    pub message: String,
}

/// `message`, about the value `at`.
fn invalid<T>(at: &Spanned<T>, message: String) -> Problem {
    Problem {
        line: at.referenced.line(),
        column: at.referenced.column(),
        message,
    }
}

/// One entry of `notify:` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::remote) struct RawTarget {
    url: Option<Spanned<String>>,
    format: Option<Spanned<String>>,
    events: Option<Spanned<Vec<Spanned<String>>>>,
    secret_file: Option<Spanned<String>>,
    sns_topic: Option<Spanned<String>>,
}

/// The validated `notify:` list (empty when the key is left out).
pub(in crate::remote) fn targets(
    raw: Option<&Spanned<Vec<Spanned<RawTarget>>>>,
) -> Result<Vec<NotifyTarget>, Problem> {
    let Some(listed) = raw else {
        return Ok(Vec::new());
    };
    listed
        .value
        .iter()
        .enumerate()
        .map(|(index, entry)| target(index, entry))
        .collect()
}

/// The entry `notify[index]`.
fn target(index: usize, entry: &Spanned<RawTarget>) -> Result<NotifyTarget, Problem> {
    let field = format!("notify[{index}]");
    let raw = &entry.value;
    let events = events(&field, raw.events.as_ref())?;
    match (&raw.url, &raw.sns_topic) {
        (Some(url), None) => {
            let url = WebhookUrl::parse(&url.value)
                .map_err(|problem| invalid(url, format!("{field}.url: {problem}")))?;
            let format = match &raw.format {
                None => Format::Json,
                Some(name) => Format::parse(&name.value).ok_or_else(|| {
                    invalid(
                        name,
                        format!(
                            "{field}.format: {:?} is not a format: expected json or slack",
                            name.value
                        ),
                    )
                })?,
            };
            Ok(NotifyTarget::Webhook(WebhookTarget {
                url,
                format,
                events,
                secret_file: raw
                    .secret_file
                    .as_ref()
                    .map(|path| PathBuf::from(&path.value)),
            }))
        }
        (None, Some(topic)) => {
            if let Some(key) = raw.format.as_ref().or(raw.secret_file.as_ref()) {
                return Err(invalid(
                    key,
                    format!(
                        "{field}: format and secret_file are for webhooks; an SNS topic gets the \
                         JSON document, and IAM decides who may publish to it"
                    ),
                ));
            }
            check_topic_arn(&topic.value)
                .map_err(|problem| invalid(topic, format!("{field}.sns_topic: {problem}")))?;
            Ok(NotifyTarget::Sns(SnsTarget {
                topic_arn: topic.value.clone(),
                events,
            }))
        }
        (Some(_), Some(topic)) => Err(invalid(
            topic,
            format!("{field}: expected either url or sns_topic, not both"),
        )),
        (None, None) => Err(invalid(
            entry,
            format!("{field}: expected {{url: URL}} or {{sns_topic: ARN}}"),
        )),
    }
}

/// `events`, or every event.
fn events(
    field: &str,
    listed: Option<&Spanned<Vec<Spanned<String>>>>,
) -> Result<BTreeSet<EventKind>, Problem> {
    let Some(listed) = listed else {
        return Ok(EventKind::ALL.into_iter().collect());
    };
    if listed.value.is_empty() {
        return Err(invalid(
            listed,
            format!(
                "{field}.events: an empty list would send nothing; leave the key out for every event"
            ),
        ));
    }
    listed
        .value
        .iter()
        .map(|name| {
            EventKind::parse(&name.value).ok_or_else(|| {
                let known: Vec<&str> = EventKind::ALL.map(EventKind::as_str).to_vec();
                invalid(
                    name,
                    format!(
                        "{field}.events: {:?} is not an event: expected one of {}",
                        name.value,
                        known.join(", ")
                    ),
                )
            })
        })
        .collect()
}

/// Whether `arn` names an SNS topic: `arn:PARTITION:sns:REGION:ACCOUNT:NAME`.
fn check_topic_arn(arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let shaped = matches!(
        parts.as_slice(),
        ["arn", partition, "sns", region, account, name]
            if partition.starts_with("aws")
                && !region.is_empty()
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && !name.is_empty()
    );
    if shaped {
        Ok(())
    } else {
        Err(format!(
            "{arn:?} is not an SNS topic ARN, like arn:aws:sns:eu-west-1:123456789012:sentinel"
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::remote::ServerConfig;

    const BASE: &str = "listen: 127.0.0.1:8443\ntls: off\naudience: sentinel.example.com\n\
                        decision_log: \"-\"\nprofiles:\n  production:\n    role_arn: \
                        arn:aws:iam::123456789012:role/production\n";

    fn parse(notify: &str) -> Result<Vec<NotifyTarget>, String> {
        ServerConfig::parse(&format!("{BASE}{notify}"), Path::new("server.yaml"))
            .map(|config| config.notify)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn reads_webhooks_and_topics_with_their_defaults() {
        assert_eq!(parse(""), Ok(Vec::new()));
        let targets = parse(
            "notify:\n\
             \x20 - url: https://hooks.slack.com/services/T0/B0/xyz\n\
             \x20   format: slack\n\
             \x20   events: [approval_requested, break_glass]\n\
             \x20   secret_file: /etc/sentinel/slack.secret\n\
             \x20 - url: http://127.0.0.1:9000/hook\n\
             \x20 - sns_topic: arn:aws:sns:eu-west-1:123456789012:sentinel\n\
             \x20   events: [approved]\n",
        )
        .expect("valid");
        let every: BTreeSet<EventKind> = EventKind::ALL.into_iter().collect();
        assert_eq!(
            targets,
            [
                NotifyTarget::Webhook(WebhookTarget {
                    url: WebhookUrl::parse("https://hooks.slack.com/services/T0/B0/xyz")
                        .expect("url"),
                    format: Format::Slack,
                    events: [EventKind::ApprovalRequested, EventKind::BreakGlass].into(),
                    secret_file: Some("/etc/sentinel/slack.secret".into()),
                }),
                NotifyTarget::Webhook(WebhookTarget {
                    url: WebhookUrl::parse("http://127.0.0.1:9000/hook").expect("url"),
                    format: Format::Json,
                    events: every,
                    secret_file: None,
                }),
                NotifyTarget::Sns(SnsTarget {
                    topic_arn: "arn:aws:sns:eu-west-1:123456789012:sentinel".to_owned(),
                    events: [EventKind::Approved].into(),
                }),
            ]
        );
    }

    #[test]
    fn problems_are_named_with_their_line_and_column() {
        for (notify, expected) in [
            (
                "notify:\n  - url: https://h.example/x\n    formt: json\n",
                "server.yaml:10:5: unknown field `formt`",
            ),
            (
                "notify:\n  - url: https://h.example/x\n    events: [approved, aproved]\n",
                "server.yaml:10:24: notify[0].events: \"aproved\" is not an event: expected one \
                 of approval_requested, approved, denied, expired, break_glass",
            ),
            (
                "notify:\n  - url: https://h.example/x\n    format: xml\n",
                "server.yaml:10:13: notify[0].format: \"xml\" is not a format",
            ),
            (
                "notify:\n  - url: http://hooks.example.com/secret-path\n",
                "server.yaml:9:10: notify[0].url: plain http:// to hooks.example.com",
            ),
            (
                "notify:\n  - url: \"not a url\"\n",
                "server.yaml:9:10: notify[0].url: not a URL",
            ),
            (
                "notify:\n  - url: https://h.example/x\n  - sns_topic: arn:aws:sqs:eu-west-1:123456789012:q\n",
                "server.yaml:10:16: notify[1].sns_topic: \"arn:aws:sqs:eu-west-1:123456789012:q\" is not an SNS topic ARN",
            ),
            (
                "notify:\n  - sns_topic: arn:aws:sns:eu-west-1:123456789012:t\n    format: slack\n",
                "server.yaml:10:13: notify[0]: format and secret_file are for webhooks",
            ),
            (
                "notify:\n  - url: https://h.example/x\n    sns_topic: arn:aws:sns:eu-west-1:123456789012:t\n",
                "notify[0]: expected either url or sns_topic, not both",
            ),
            (
                "notify:\n  - events: [approved]\n",
                "notify[0]: expected {url: URL} or {sns_topic: ARN}",
            ),
            (
                "notify:\n  - url: https://h.example/x\n    events: []\n",
                "notify[0].events: an empty list would send nothing",
            ),
        ] {
            let message = parse(notify).expect_err(notify);
            assert!(
                message.contains(expected),
                "expected {expected:?} in {message:?}"
            );
            assert!(message.starts_with("server.yaml:"), "{message}");
            assert!(!message.contains("secret-path"), "{message}");
        }
    }
}
