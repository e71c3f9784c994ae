//! The delivery queue: one bounded queue and one task per sink, so that sending never waits and
//! a slow receiver holds back only its own queue. Each notification is tried once and then
//! retried up to [`DeliveryPolicy::retries`] times, the pause doubling from
//! [`DeliveryPolicy::first_backoff`], each attempt bounded by
//! [`DeliveryPolicy::attempt_timeout`]; its outcome goes to the [`DeliveryObserver`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{EventKind, Notification};

/// A receiver of notifications: a webhook, an SNS topic.
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    /// The sink's name in logs and metrics; it never contains a secret (a webhook's URL may
    /// carry one in its path, so a webhook is named by its host only).
    fn name(&self) -> &str;

    /// Whether the sink is told of `event`.
    fn wants(&self, event: EventKind) -> bool;

    /// Delivers one notification (one attempt).
    async fn deliver(&self, notification: &Notification) -> Result<(), DeliveryError>;
}

/// Why one delivery attempt failed; the message names no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeliveryError(String);

impl DeliveryError {
    /// A failure described by `message` (which must not contain a secret).
    pub fn new(message: impl Into<String>) -> DeliveryError {
        DeliveryError(message.into())
    }
}

/// What became of one notification for one sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryOutcome {
    /// The sink accepted it.
    Delivered,
    /// Every attempt failed.
    Failed,
    /// The sink's queue was full, so it was never tried.
    Dropped,
}

impl DeliveryOutcome {
    /// Every outcome.
    pub const ALL: [DeliveryOutcome; 3] = [
        DeliveryOutcome::Delivered,
        DeliveryOutcome::Failed,
        DeliveryOutcome::Dropped,
    ];

    /// The outcome's name (snake_case, the `outcome` label of the server's metric).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Failed => "failed",
            DeliveryOutcome::Dropped => "dropped",
        }
    }
}

/// Told the outcome of every notification for every sink that wants it (the server counts
/// them).
pub trait DeliveryObserver: Send + Sync {
    /// `sink`'s notification of `event` ended with `outcome`.
    fn delivered(&self, sink: &str, event: EventKind, outcome: DeliveryOutcome);
}

/// How hard delivery tries, and how much it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Attempts after the first.
    pub retries: u32,
    /// The pause before the first retry; each later pause is twice the one before.
    pub first_backoff: Duration,
    /// How long one attempt may take before it counts as failed.
    pub attempt_timeout: Duration,
    /// How many notifications each sink's queue holds; a notification that finds it full is
    /// dropped (and reported as [`DeliveryOutcome::Dropped`]).
    pub queue_capacity: usize,
}

impl Default for DeliveryPolicy {
    /// Three retries after 0.5 s, 1 s and 2 s, 10 s per attempt, 1024 queued per sink.
    fn default() -> DeliveryPolicy {
        DeliveryPolicy {
            retries: 3,
            first_backoff: Duration::from_millis(500),
            attempt_timeout: Duration::from_secs(10),
            queue_capacity: 1024,
        }
    }
}

/// The sender side of the delivery queues; cheap to clone, every clone feeds the same queues.
/// The delivery tasks end once every clone is dropped and their queues are empty.
#[derive(Clone)]
pub struct Notifications {
    queues: Arc<[Queue]>,
    observer: Option<Arc<dyn DeliveryObserver>>,
}

/// One sink's queue.
struct Queue {
    name: String,
    sink: Arc<dyn Sink>,
    sender: mpsc::Sender<Arc<Notification>>,
}

impl Notifications {
    /// Starts one delivery task per sink (on the current Tokio runtime, which must exist).
    pub fn start(
        sinks: Vec<Arc<dyn Sink>>,
        policy: DeliveryPolicy,
        observer: Arc<dyn DeliveryObserver>,
    ) -> Notifications {
        let queues = sinks
            .into_iter()
            .map(|sink| {
                let (sender, receiver) = mpsc::channel(policy.queue_capacity.max(1));
                tokio::spawn(deliver_all(
                    Arc::clone(&sink),
                    receiver,
                    policy,
                    Arc::clone(&observer),
                ));
                Queue {
                    name: sink.name().to_owned(),
                    sink,
                    sender,
                }
            })
            .collect();
        Notifications {
            queues,
            observer: Some(observer),
        }
    }

    /// No sinks: [`Notifications::send`] does nothing.
    pub fn none() -> Notifications {
        Notifications {
            queues: Arc::new([]),
            observer: None,
        }
    }

    /// How many sinks notifications go to.
    pub fn sinks(&self) -> usize {
        self.queues.len()
    }

    /// Queues `notification` for every sink that wants its event, without waiting. A sink
    /// whose queue is full does not get it: that is a warning and a
    /// [`DeliveryOutcome::Dropped`].
    pub fn send(&self, notification: Notification) {
        let event = notification.event;
        let notification = Arc::new(notification);
        for queue in self.queues.iter().filter(|queue| queue.sink.wants(event)) {
            if queue.sender.try_send(Arc::clone(&notification)).is_err() {
                tracing::warn!(
                    sink = %queue.name,
                    event = event.as_str(),
                    request_id = %notification.request_id,
                    "notification dropped: the sink's delivery queue is full"
                );
                if let Some(observer) = &self.observer {
                    observer.delivered(&queue.name, event, DeliveryOutcome::Dropped);
                }
            }
        }
    }
}

/// Delivers everything `sink`'s queue receives, one notification at a time.
async fn deliver_all(
    sink: Arc<dyn Sink>,
    mut receiver: mpsc::Receiver<Arc<Notification>>,
    policy: DeliveryPolicy,
    observer: Arc<dyn DeliveryObserver>,
) {
    while let Some(notification) = receiver.recv().await {
        let outcome = match deliver_one(sink.as_ref(), &notification, policy).await {
            Ok(()) => DeliveryOutcome::Delivered,
            Err(error) => {
                tracing::warn!(
                    sink = sink.name(),
                    event = notification.event.as_str(),
                    request_id = %notification.request_id,
                    attempts = policy.retries + 1,
                    "notification not delivered: {error}"
                );
                DeliveryOutcome::Failed
            }
        };
        observer.delivered(sink.name(), notification.event, outcome);
    }
}

/// Tries `notification` until it is delivered or the retries are spent; the last error.
async fn deliver_one(
    sink: &dyn Sink,
    notification: &Notification,
    policy: DeliveryPolicy,
) -> Result<(), DeliveryError> {
    let mut backoff = policy.first_backoff;
    let mut attempt = 0;
    loop {
        let result = tokio::time::timeout(policy.attempt_timeout, sink.deliver(notification))
            .await
            .unwrap_or_else(|_| {
                Err(DeliveryError::new(format!(
                    "no answer within {:?}",
                    policy.attempt_timeout
                )))
            });
        match result {
            Ok(()) => return Ok(()),
            Err(error) if attempt == policy.retries => return Err(error),
            Err(error) => {
                tracing::debug!(
                    sink = sink.name(),
                    attempt = attempt + 1,
                    "notification attempt failed, retrying in {backoff:?}: {error}"
                );
                tokio::time::sleep(backoff).await;
                backoff = backoff.saturating_mul(2);
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::notify::tests::sample;

    /// The outcomes observed, as they arrive.
    struct Recorder {
        outcomes: mpsc::UnboundedSender<(String, EventKind, DeliveryOutcome)>,
    }

    impl DeliveryObserver for Recorder {
        fn delivered(&self, sink: &str, event: EventKind, outcome: DeliveryOutcome) {
            let _ = self.outcomes.send((sink.to_owned(), event, outcome));
        }
    }

    type Outcomes = mpsc::UnboundedReceiver<(String, EventKind, DeliveryOutcome)>;

    fn recorder() -> (Arc<dyn DeliveryObserver>, Outcomes) {
        let (outcomes, receiver) = mpsc::unbounded_channel();
        (Arc::new(Recorder { outcomes }), receiver)
    }

    async fn next(outcomes: &mut Outcomes) -> (String, EventKind, DeliveryOutcome) {
        tokio::time::timeout(Duration::from_secs(10), outcomes.recv())
            .await
            .expect("an outcome within 10 s")
            .expect("the observer is alive")
    }

    fn fast() -> DeliveryPolicy {
        DeliveryPolicy {
            retries: 3,
            first_backoff: Duration::from_millis(1),
            attempt_timeout: Duration::from_secs(5),
            queue_capacity: 16,
        }
    }

    /// A sink that fails its first `failures` attempts, and records the request IDs delivered.
    struct Flaky {
        name: &'static str,
        failures: u32,
        attempts: AtomicU32,
        delivered: Mutex<Vec<String>>,
        events: Vec<EventKind>,
    }

    impl Flaky {
        fn new(name: &'static str, failures: u32) -> Arc<Flaky> {
            Arc::new(Flaky {
                name,
                failures,
                attempts: AtomicU32::new(0),
                delivered: Mutex::new(Vec::new()),
                events: EventKind::ALL.to_vec(),
            })
        }
    }

    #[async_trait::async_trait]
    impl Sink for Flaky {
        fn name(&self) -> &str {
            self.name
        }

        fn wants(&self, event: EventKind) -> bool {
            self.events.contains(&event)
        }

        async fn deliver(&self, notification: &Notification) -> Result<(), DeliveryError> {
            let attempt = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
            if attempt <= self.failures {
                return Err(DeliveryError::new(format!("attempt {attempt} refused")));
            }
            self.delivered
                .lock()
                .expect("lock")
                .push(notification.request_id.clone());
            Ok(())
        }
    }

    /// A sink whose deliveries wait until the test lets them go, saying when each starts.
    struct Gated {
        started: mpsc::UnboundedSender<()>,
        gate: tokio::sync::Semaphore,
    }

    #[async_trait::async_trait]
    impl Sink for Gated {
        fn name(&self) -> &str {
            "gated"
        }

        fn wants(&self, _event: EventKind) -> bool {
            true
        }

        async fn deliver(&self, _notification: &Notification) -> Result<(), DeliveryError> {
            let _ = self.started.send(());
            self.gate.acquire().await.expect("open").forget();
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_sink_that_fails_twice_gets_the_notification_on_the_third_attempt() {
        let (observer, mut outcomes) = recorder();
        let sink = Flaky::new("flaky", 2);
        let notifications = Notifications::start(vec![sink.clone()], fast(), observer);
        notifications.send(sample(EventKind::ApprovalRequested));
        assert_eq!(
            next(&mut outcomes).await,
            (
                "flaky".to_owned(),
                EventKind::ApprovalRequested,
                DeliveryOutcome::Delivered
            )
        );
        assert_eq!(sink.attempts.load(Ordering::SeqCst), 3);
        assert_eq!(*sink.delivered.lock().expect("lock"), ["1a2b3c"]);
    }

    #[tokio::test]
    async fn a_sink_that_always_fails_is_tried_once_plus_the_retries_then_reported_failed() {
        let (observer, mut outcomes) = recorder();
        let sink = Flaky::new("broken", u32::MAX);
        let notifications = Notifications::start(vec![sink.clone()], fast(), observer);
        notifications.send(sample(EventKind::Denied));
        assert_eq!(
            next(&mut outcomes).await,
            (
                "broken".to_owned(),
                EventKind::Denied,
                DeliveryOutcome::Failed
            )
        );
        assert_eq!(sink.attempts.load(Ordering::SeqCst), 4);
        assert!(sink.delivered.lock().expect("lock").is_empty());
    }

    #[tokio::test]
    async fn an_attempt_that_hangs_counts_as_failed_after_the_attempt_timeout() {
        let (observer, mut outcomes) = recorder();
        let (started, _starts) = mpsc::unbounded_channel();
        let sink = Arc::new(Gated {
            started,
            gate: tokio::sync::Semaphore::new(0),
        });
        let policy = DeliveryPolicy {
            retries: 1,
            attempt_timeout: Duration::from_millis(20),
            ..fast()
        };
        let notifications = Notifications::start(vec![sink], policy, observer);
        notifications.send(sample(EventKind::Expired));
        assert_eq!(next(&mut outcomes).await.2, DeliveryOutcome::Failed);
    }

    #[tokio::test]
    async fn a_full_queue_drops_the_notification_and_reports_it_while_the_others_are_delivered() {
        let (observer, mut outcomes) = recorder();
        let (started, mut starts) = mpsc::unbounded_channel();
        let gated = Arc::new(Gated {
            started,
            gate: tokio::sync::Semaphore::new(0),
        });
        let quick = Flaky::new("quick", 0);
        let policy = DeliveryPolicy {
            queue_capacity: 1,
            ..fast()
        };
        let notifications =
            Notifications::start(vec![gated.clone(), quick.clone()], policy, observer);
        // The first is being delivered (and held), the second waits in the queue, the third
        // finds the queue full.
        notifications.send(sample(EventKind::ApprovalRequested));
        starts.recv().await.expect("the first delivery starts");
        let quick_first = next(&mut outcomes).await;
        assert_eq!(quick_first.0, "quick");
        notifications.send(sample(EventKind::Approved));
        let quick_second = next(&mut outcomes).await;
        assert_eq!(
            (quick_second.0.as_str(), quick_second.2),
            ("quick", DeliveryOutcome::Delivered)
        );
        notifications.send(sample(EventKind::BreakGlass));
        // The gated sink drops the third at once; the quick one delivers it regardless.
        let mut third = [next(&mut outcomes).await, next(&mut outcomes).await];
        third.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            third,
            [
                (
                    "gated".to_owned(),
                    EventKind::BreakGlass,
                    DeliveryOutcome::Dropped
                ),
                (
                    "quick".to_owned(),
                    EventKind::BreakGlass,
                    DeliveryOutcome::Delivered
                ),
            ]
        );
        gated.gate.add_permits(2);
        assert_eq!(
            next(&mut outcomes).await,
            (
                "gated".to_owned(),
                EventKind::ApprovalRequested,
                DeliveryOutcome::Delivered
            )
        );
        assert_eq!(
            next(&mut outcomes).await,
            (
                "gated".to_owned(),
                EventKind::Approved,
                DeliveryOutcome::Delivered
            )
        );
        assert_eq!(quick.delivered.lock().expect("lock").len(), 3);
    }

    #[tokio::test]
    async fn a_sink_gets_only_the_events_it_wants_and_none_sends_nothing() {
        let (observer, mut outcomes) = recorder();
        let picky = Arc::new(Flaky {
            events: vec![EventKind::BreakGlass],
            ..Arc::into_inner(Flaky::new("picky", 0)).expect("sole owner")
        });
        let notifications = Notifications::start(vec![picky.clone()], fast(), observer);
        assert_eq!(notifications.sinks(), 1);
        notifications.send(sample(EventKind::Approved));
        notifications.send(sample(EventKind::BreakGlass));
        assert_eq!(next(&mut outcomes).await.1, EventKind::BreakGlass);
        assert_eq!(picky.attempts.load(Ordering::SeqCst), 1);
        let none = Notifications::none();
        assert_eq!(none.sinks(), 0);
        none.send(sample(EventKind::Approved));
    }
}
