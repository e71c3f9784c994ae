//! The SNS sink against the moto emulator, through the real SDK: a notification published to a
//! topic arrives, as its JSON document, in an SQS queue subscribed to it (read back with
//! boto3); a topic that does not exist is a failed delivery.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use sentinel_aws::sns::SnsTopic;
use sentinel_core::notify::{
    DeliveryObserver, DeliveryOutcome, DeliveryPolicy, EventKind, Notification, Notifications,
};
use sentinel_testkit::Moto;
use tokio::sync::mpsc;

/// Creates a topic and an SQS queue subscribed to it (raw delivery, so the queue holds the
/// message itself), then prints the topic's ARN and the queue's URL; or, with a queue URL,
/// prints the messages waiting in it as one JSON list.
const SCRIPT: &str = r#"
import sys, json, boto3
kwargs = dict(endpoint_url=sys.argv[1], region_name="us-east-1",
              aws_access_key_id="testing", aws_secret_access_key="testing")
sqs = boto3.client("sqs", **kwargs)
if sys.argv[2] == "setup":
    sns = boto3.client("sns", **kwargs)
    topic = sns.create_topic(Name="sentinel-approvals")["TopicArn"]
    queue = sqs.create_queue(QueueName="approvals")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})
    print(json.dumps([topic, queue]))
else:
    got = sqs.receive_message(QueueUrl=sys.argv[3], MaxNumberOfMessages=10, WaitTimeSeconds=1)
    print(json.dumps([m["Body"] for m in got.get("Messages", [])]))
"#;

fn boto3(moto: &Moto, args: &[&str]) -> serde_json::Value {
    let output = Command::new(moto.python())
        .arg("-c")
        .arg(SCRIPT)
        .arg(moto.endpoint())
        .args(args)
        .output()
        .expect("run python with boto3");
    assert!(
        output.status.success(),
        "boto3: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON")
}

struct Recorder(mpsc::UnboundedSender<(String, EventKind, DeliveryOutcome)>);

impl DeliveryObserver for Recorder {
    fn delivered(&self, sink: &str, event: EventKind, outcome: DeliveryOutcome) {
        let _ = self.0.send((sink.to_owned(), event, outcome));
    }
}

fn notification() -> Notification {
    Notification {
        event: EventKind::BreakGlass,
        request_id: "5e6f7a8b".to_owned(),
        requester: "alice".to_owned(),
        profile: "production".to_owned(),
        rule: "break-glass".to_owned(),
        approvers: Vec::new(),
        votes: Vec::new(),
        reason: Some("the database is down".to_owned()),
        at: "2026-12-06T10:00:00Z".parse().expect("timestamp"),
        approve_command: None,
    }
}

/// Starts delivery to `topic_arn`, returning the outcomes as they come.
async fn start(
    moto: &Moto,
    topic_arn: &str,
) -> (
    Notifications,
    mpsc::UnboundedReceiver<(String, EventKind, DeliveryOutcome)>,
) {
    let sdk = moto.sdk_config().await;
    let topic = SnsTopic::new(&sdk, topic_arn, EventKind::ALL.into_iter().collect());
    let (sender, outcomes) = mpsc::unbounded_channel();
    let policy = DeliveryPolicy {
        retries: 1,
        first_backoff: Duration::from_millis(5),
        ..DeliveryPolicy::default()
    };
    let notifications =
        Notifications::start(vec![Arc::new(topic)], policy, Arc::new(Recorder(sender)));
    (notifications, outcomes)
}

async fn next(
    outcomes: &mut mpsc::UnboundedReceiver<(String, EventKind, DeliveryOutcome)>,
) -> (String, EventKind, DeliveryOutcome) {
    tokio::time::timeout(Duration::from_secs(30), outcomes.recv())
        .await
        .expect("an outcome within 30 s")
        .expect("the observer lives")
}

#[tokio::test]
async fn a_published_notification_reaches_a_subscribed_queue_as_its_json_document() {
    let moto = Moto::connect();
    let created = boto3(&moto, &["setup"]);
    let topic_arn = created[0].as_str().expect("topic ARN");
    let queue = created[1].as_str().expect("queue URL");
    let (notifications, mut outcomes) = start(&moto, topic_arn).await;
    notifications.send(notification());
    assert_eq!(
        next(&mut outcomes).await,
        (
            format!("sns:{topic_arn}"),
            EventKind::BreakGlass,
            DeliveryOutcome::Delivered
        )
    );
    let messages = boto3(&moto, &["receive", queue]);
    let messages = messages.as_array().expect("list");
    assert_eq!(messages.len(), 1, "{messages:?}");
    let body: serde_json::Value =
        serde_json::from_str(messages[0].as_str().expect("body")).expect("JSON body");
    assert_eq!(body, notification().to_json());
}

#[tokio::test]
async fn publishing_to_a_topic_that_does_not_exist_is_a_failed_delivery() {
    let moto = Moto::connect();
    let missing = "arn:aws:sns:us-east-1:123456789012:nobody-here";
    let (notifications, mut outcomes) = start(&moto, missing).await;
    notifications.send(notification());
    assert_eq!(
        next(&mut outcomes).await,
        (
            format!("sns:{missing}"),
            EventKind::BreakGlass,
            DeliveryOutcome::Failed
        )
    );
}
