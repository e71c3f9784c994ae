//! Notifications end to end: a `notify:` configuration, the sinks it starts, and a real HTTP
//! receiver on 127.0.0.1 that fails before it accepts.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, KeyInit as _, Mac as _};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use jiff::Timestamp;
use sentinel_core::notify::{DeliveryPolicy, EventKind, Notification, Notifications, Vote};
use sentinel_server::remote::notify::{self, config::SnsTarget};
use sentinel_server::remote::{Metrics, ServerConfig};
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// One request the receiver got.
struct Received {
    status: StatusCode,
    signature: Option<String>,
    timestamp: Option<String>,
    content_type: Option<String>,
    body: Bytes,
}

/// An HTTP receiver on 127.0.0.1 that answers 500 to its first `failures` requests and 200
/// after; every request it gets is sent on `received`.
async fn receiver(failures: usize) -> (String, mpsc::UnboundedReceiver<Received>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}/hooks/sentinel?team=ops",
        listener.local_addr().expect("addr")
    );
    let (sender, received) = mpsc::unbounded_channel();
    let count = Arc::new(Mutex::new(0usize));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let sender = sender.clone();
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let sender = sender.clone();
                    let count = Arc::clone(&count);
                    async move {
                        let header = |name: &str| {
                            request
                                .headers()
                                .get(name)
                                .map(|value| value.to_str().expect("ascii").to_owned())
                        };
                        let (signature, timestamp, content_type) = (
                            header("x-sentinel-signature"),
                            header("x-sentinel-timestamp"),
                            header("content-type"),
                        );
                        assert_eq!(request.method(), http::Method::POST);
                        assert_eq!(
                            request
                                .uri()
                                .path_and_query()
                                .map(http::uri::PathAndQuery::as_str),
                            Some("/hooks/sentinel?team=ops")
                        );
                        let body = request.into_body().collect().await?.to_bytes();
                        let status = {
                            let mut count = count.lock().expect("lock");
                            *count += 1;
                            if *count <= failures {
                                StatusCode::INTERNAL_SERVER_ERROR
                            } else {
                                StatusCode::OK
                            }
                        };
                        let _ = sender.send(Received {
                            status,
                            signature,
                            timestamp,
                            content_type,
                            body,
                        });
                        let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
                        *response.status_mut() = status;
                        Ok::<_, hyper::Error>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, received)
}

fn notification(event: EventKind) -> Notification {
    Notification {
        event,
        request_id: "0f9e8d7c".to_owned(),
        requester: "alice".to_owned(),
        profile: "production".to_owned(),
        rule: "prod-needs-approval".to_owned(),
        approvers: vec!["bob".to_owned()],
        votes: vec![Vote {
            approver: "bob".to_owned(),
            approve: true,
            reason: None,
            at: "2026-12-06T10:00:05Z".parse().expect("timestamp"),
        }],
        reason: Some("release 1.4".to_owned()),
        at: "2026-12-06T10:00:00Z".parse().expect("timestamp"),
        approve_command: Some(
            "sentinel approve 0f9e8d7c --remote https://sentinel.example.com".to_owned(),
        ),
    }
}

/// The server configuration with `notify`, read from a file in `dir`.
fn config(dir: &Path, notify: &str) -> ServerConfig {
    let text = format!(
        "listen: 127.0.0.1:8443\ntls: off\naudience: sentinel.example.com\ndecision_log: \"-\"\n\
         profiles:\n  production:\n    role_arn: arn:aws:iam::123456789012:role/production\n\
         {notify}"
    );
    let path = dir.join("server.yaml");
    std::fs::write(&path, text).expect("write");
    ServerConfig::load(&path).expect("valid")
}

fn fast() -> DeliveryPolicy {
    DeliveryPolicy {
        retries: 3,
        first_backoff: Duration::from_millis(5),
        attempt_timeout: Duration::from_secs(5),
        queue_capacity: 16,
    }
}

fn no_sns(_topic: &SnsTarget) -> Arc<dyn sentinel_core::notify::Sink> {
    panic!("no SNS topic is configured")
}

async fn next(received: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(10), received.recv())
        .await
        .expect("a request within 10 s")
        .expect("the receiver runs")
}

/// Waits until `metrics` shows `series`.
async fn counted(metrics: &Metrics, series: &str) {
    for _ in 0..1000 {
        if metrics.render().contains(series) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{series} not in {}", metrics.render());
}

#[tokio::test]
async fn a_signed_json_webhook_is_retried_until_the_receiver_accepts() {
    let dir = tempfile::tempdir().expect("dir");
    let secret = dir.path().join("hook.secret");
    std::fs::write(&secret, "correct horse battery staple\n").expect("write");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let (url, mut received) = receiver(2).await;
    let config = config(
        dir.path(),
        &format!(
            "notify:\n  - url: {url}\n    secret_file: {}\n",
            secret.display()
        ),
    );
    let metrics = Metrics::new(["production"]);
    let notifications: Notifications =
        notify::start(&config.notify, fast(), &metrics, &no_sns).expect("started");
    assert_eq!(notifications.sinks(), 1);
    let before = Timestamp::now().as_second();
    notifications.send(notification(EventKind::ApprovalRequested));
    let attempts = [
        next(&mut received).await,
        next(&mut received).await,
        next(&mut received).await,
    ];
    let statuses: Vec<StatusCode> = attempts.iter().map(|attempt| attempt.status).collect();
    assert_eq!(
        statuses,
        [
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::OK
        ]
    );
    let last = &attempts[2];
    assert_eq!(last.content_type.as_deref(), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&last.body).expect("JSON");
    assert_eq!(body, notification(EventKind::ApprovalRequested).to_json());
    // The receiver's check: HMAC-SHA256 of "<timestamp>.<body>" with the file's secret.
    let timestamp = last.timestamp.as_deref().expect("timestamp header");
    let signed_at: i64 = timestamp.parse().expect("Unix seconds");
    assert!((before..=Timestamp::now().as_second()).contains(&signed_at));
    let mut mac = Hmac::<Sha256>::new_from_slice(b"correct horse battery staple").expect("key");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&last.body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(
        last.signature.as_deref(),
        Some(format!("sha256={expected}").as_str())
    );
    let sink = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("host");
    counted(
        &metrics,
        &format!(
            "sentinel_notification_deliveries_total{{sink=\"webhook:{sink}\",event=\"approval_requested\",outcome=\"delivered\"}} 1"
        ),
    )
    .await;
    // Nothing else was sent.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(received.try_recv().is_err());
}

#[tokio::test]
async fn a_slack_webhook_gets_a_slack_message_and_a_failing_one_is_counted_failed() {
    let dir = tempfile::tempdir().expect("dir");
    let (slack_url, mut slack) = receiver(0).await;
    let (broken_url, mut broken) = receiver(usize::MAX).await;
    let config = config(
        dir.path(),
        &format!(
            "notify:\n  - url: {slack_url}\n    format: slack\n    events: [break_glass]\n\
             \x20 - url: {broken_url}\n"
        ),
    );
    let metrics = Metrics::new(["production"]);
    let notifications = notify::start(&config.notify, fast(), &metrics, &no_sns).expect("started");
    // Not an event the Slack webhook wants: only the broken one is told.
    notifications.send(notification(EventKind::Approved));
    notifications.send(notification(EventKind::BreakGlass));
    let message = next(&mut slack).await;
    assert_eq!(message.status, StatusCode::OK);
    assert_eq!(message.signature, None);
    assert_eq!(message.timestamp, None);
    let body: serde_json::Value = serde_json::from_slice(&message.body).expect("JSON");
    assert_eq!(body["text"], "alice used break-glass access to production");
    let blocks = body["blocks"].as_array().expect("blocks");
    assert!(blocks.iter().all(|block| block["type"].is_string()));
    let text = body.to_string();
    for fact in ["alice", "production", "prod-needs-approval", "release 1.4"] {
        assert!(text.contains(fact), "{fact} in {text}");
    }
    assert!(
        blocks.iter().any(|block| block["text"]["text"]
            .as_str()
            .is_some_and(|text| text
                .contains("sentinel approve 0f9e8d7c --remote https://sentinel.example.com")))
    );
    let broken_sink = broken_url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("host");
    for event in ["approved", "break_glass"] {
        counted(
            &metrics,
            &format!(
                "sentinel_notification_deliveries_total{{sink=\"webhook:{broken_sink}\",event=\"{event}\",outcome=\"failed\"}} 1"
            ),
        )
        .await;
    }
    let mut attempts = 0;
    while broken.try_recv().is_ok() {
        attempts += 1;
    }
    assert_eq!(
        attempts, 8,
        "two notifications, each tried once and retried three times"
    );
    assert!(
        slack.try_recv().is_err(),
        "the Slack webhook got only break_glass"
    );
}
