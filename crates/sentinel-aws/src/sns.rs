//! The SNS sink of notifications: each one is a `Publish` of its JSON document (the webhook
//! `json` format's body) to a topic, with the server's own credentials, subject
//! `sentinel: EVENT`. The SDK's own retries are off: the delivery queue retries, with its own
//! pauses, so that one failing topic is tried as often as any other receiver.

use std::collections::BTreeSet;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use sentinel_core::notify::{DeliveryError, EventKind, Notification, Sink};

use crate::error::describe;

/// An SNS topic told of notifications.
pub struct SnsTopic {
    name: String,
    topic_arn: String,
    events: BTreeSet<EventKind>,
    client: aws_sdk_sns::Client,
}

impl SnsTopic {
    /// Publishes `events` to `topic_arn` with `sdk`'s credentials and region.
    pub fn new(sdk: &SdkConfig, topic_arn: &str, events: BTreeSet<EventKind>) -> SnsTopic {
        let config = aws_sdk_sns::config::Builder::from(sdk)
            .retry_config(RetryConfig::disabled())
            .build();
        SnsTopic {
            name: format!("sns:{topic_arn}"),
            topic_arn: topic_arn.to_owned(),
            events,
            client: aws_sdk_sns::Client::from_conf(config),
        }
    }
}

#[async_trait::async_trait]
impl Sink for SnsTopic {
    fn name(&self) -> &str {
        &self.name
    }

    fn wants(&self, event: EventKind) -> bool {
        self.events.contains(&event)
    }

    async fn deliver(&self, notification: &Notification) -> Result<(), DeliveryError> {
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(format!("sentinel: {}", notification.event))
            .message(notification.to_json().to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(|error| {
                DeliveryError::new(format!("{}: Publish: {}", self.name, describe(&error)))
            })
    }
}
