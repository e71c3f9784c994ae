//! What `GET /metrics` on the admin listener reports, in the Prometheus text format: decisions
//! by profile and effect, refusals by kind, and how long STS takes (the identity proofs and
//! `AssumeRole`), and what became of each notification for each receiver. Every label value is snake_case, and every series the server can count is
//! there from the start, at zero, so that a dashboard shows a quiet server rather than none.
//! Every replica counts only its own requests; Prometheus adds them up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sentinel_core::issuer::{Credentials, IssueRequest, Issuer, IssuerError};
use sentinel_core::notify::{DeliveryObserver, DeliveryOutcome, EventKind};
use sentinel_core::workflow::{Happened, Observer};
use sentinel_policy::Effect;

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    profile: String,
    effect: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkflowLabels {
    event: &'static str,
}

/// What the approval and break-glass workflow counts, each a series from the start.
const WORKFLOW_EVENTS: &[&str] = &[
    "requested",
    "vote_approve",
    "vote_deny",
    "approved",
    "denied",
    "expired",
    "break_glass",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StsLabels {
    call: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    sink: String,
    event: &'static str,
    outcome: &'static str,
}

/// Every kind of refusal the remote server counts (the `kind` label of `sentinel_refusals_total`).
pub const REFUSAL_KINDS: &[&str] = &[
    // Before the proof is looked at.
    "client_rate_limited",
    "unsupported_media_type",
    "request_too_large",
    "request_body_timeout",
    "malformed_request",
    // The proof's own checks.
    "malformed_proof",
    "proof_endpoint",
    "proof_audience",
    "proof_unsigned_audience",
    "proof_profile",
    "proof_nonce",
    "proof_stale",
    // STS and single use.
    "proof_refused_by_sts",
    "sts_unavailable",
    "sts_timeout",
    "principal_rate_limited",
    "proof_reused",
    "proof_store_full",
    "proof_store_unavailable",
    // Who may be a caller at all (the server's rule; the policy's identity section refuses as
    // `principal_refused` too).
    "principal_refused",
    "role_unresolved",
    "unknown_profile",
    // The broker.
    "deny",
    "approval_required",
    "policy_unavailable",
    "identity",
    "decision_log",
    "issuer",
    "issuer_timeout",
    // The whole request.
    "request_timeout",
    // The approval routes.
    "no_state",
    "unknown_approval",
    "not_an_approver",
    "own_request",
    "already_voted",
    "request_expired",
    "already_decided",
    "invalid_reason",
    "invalid_break_glass_reason",
    // The broker's workflow.
    "approval_pending",
    "break_glass_unmatched",
    "break_glass_limited",
    "state_unavailable",
];

/// The STS calls whose latency is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StsCall {
    /// A caller's identity proof, sent on to STS.
    GetCallerIdentity,
    /// The broker's issuer.
    AssumeRole,
}

impl StsCall {
    /// Every call measured.
    pub const ALL: [StsCall; 2] = [StsCall::GetCallerIdentity, StsCall::AssumeRole];

    /// The `call` label.
    pub fn label(self) -> &'static str {
        match self {
            StsCall::GetCallerIdentity => "get_caller_identity",
            StsCall::AssumeRole => "assume_role",
        }
    }
}

/// The remote server's metrics; cheap to clone, every clone counts into the same registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    decisions: Family<DecisionLabels, Counter>,
    refusals: Family<RefusalLabels, Counter>,
    workflow: Family<WorkflowLabels, Counter>,
    sts: Family<StsLabels, Histogram, fn() -> Histogram>,
    deliveries: Family<DeliveryLabels, Counter>,
}

impl Metrics {
    /// Metrics for a server of `profiles`, registered under the `sentinel_` prefix, with every
    /// series at zero.
    pub fn new<'a>(profiles: impl IntoIterator<Item = &'a str>) -> Metrics {
        let decisions = Family::<DecisionLabels, Counter>::default();
        let refusals = Family::<RefusalLabels, Counter>::default();
        let workflow = Family::<WorkflowLabels, Counter>::default();
        let sts = Family::<StsLabels, Histogram, fn() -> Histogram>::new_with_constructor(|| {
            // 0.5 ms to about 8 s.
            Histogram::new(exponential_buckets(0.0005, 2.0, 15))
        });
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        let mut registry = Registry::with_prefix("sentinel");
        registry.register(
            "notification_deliveries",
            "Notifications by receiver, event and outcome (delivered, failed after the last \
             retry, dropped on a full queue)",
            deliveries.clone(),
        );
        registry.register(
            "decisions",
            "Policy decisions, by profile and effect",
            decisions.clone(),
        );
        registry.register(
            "refusals",
            "Requests answered without credentials, by kind of refusal",
            refusals.clone(),
        );
        registry.register(
            "approval_events",
            "Approval requests made, votes, approvals, denials, expiries and break-glass uses",
            workflow.clone(),
        );
        registry.register(
            "sts_request_duration_seconds",
            "How long STS took to answer, by call",
            sts.clone(),
        );
        for profile in profiles {
            for effect in Effect::ALL {
                let _ = decisions.get_or_create(&DecisionLabels {
                    profile: profile.to_owned(),
                    effect: effect.as_str(),
                });
            }
        }
        for &kind in REFUSAL_KINDS {
            let _ = refusals.get_or_create(&RefusalLabels { kind });
        }
        for call in StsCall::ALL {
            let _ = sts.get_or_create(&StsLabels { call: call.label() });
        }
        for &event in WORKFLOW_EVENTS {
            let _ = workflow.get_or_create(&WorkflowLabels { event });
        }
        Metrics {
            registry: Arc::new(registry),
            decisions,
            refusals,
            workflow,
            sts,
            deliveries,
        }
    }

    /// Puts the delivery series of notification receiver `sink` at zero, for each of `events`.
    pub fn notification_sink<'a>(
        &self,
        sink: &str,
        events: impl IntoIterator<Item = &'a EventKind>,
    ) {
        for event in events {
            for outcome in DeliveryOutcome::ALL {
                let _ = self.deliveries.get_or_create(&DeliveryLabels {
                    sink: sink.to_owned(),
                    event: event.as_str(),
                    outcome: outcome.as_str(),
                });
            }
        }
    }

    /// Counts a policy decision for `profile` (`allow`, `deny` or `require_approval`).
    pub fn decision(&self, profile: &str, effect: &'static str) {
        self.decisions
            .get_or_create(&DecisionLabels {
                profile: profile.to_owned(),
                effect,
            })
            .inc();
    }

    /// Counts a request answered without credentials.
    pub fn refusal(&self, kind: &'static str) {
        self.refusals.get_or_create(&RefusalLabels { kind }).inc();
    }

    /// Records that one STS `call` took `elapsed`.
    pub fn sts_latency(&self, call: StsCall, elapsed: Duration) {
        self.sts
            .get_or_create(&StsLabels { call: call.label() })
            .observe(elapsed.as_secs_f64());
    }

    /// The metrics in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_text::encode(&mut text, &self.registry);
        text
    }

    /// `issuer`, with each call's latency recorded as [`StsCall::AssumeRole`].
    pub fn timed(&self, issuer: Arc<dyn Issuer>) -> Arc<dyn Issuer> {
        Arc::new(TimedIssuer {
            inner: issuer,
            metrics: self.clone(),
        })
    }
}

/// Counts what happens in the approval and break-glass workflow.
impl Observer for Metrics {
    fn happened(&self, event: Happened<'_>) {
        let event = match event {
            Happened::Requested(_) => "requested",
            Happened::Voted(_, vote) if vote.approve => "vote_approve",
            Happened::Voted(..) => "vote_deny",
            Happened::Approved(_) => "approved",
            Happened::Denied(_) => "denied",
            Happened::Expired(_) => "expired",
            Happened::BrokeGlass { .. } => "break_glass",
        };
        self.workflow.get_or_create(&WorkflowLabels { event }).inc();
    }
}

/// Counts each notification delivery by sink, event and outcome.
impl DeliveryObserver for Metrics {
    fn delivered(&self, sink: &str, event: EventKind, outcome: DeliveryOutcome) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                sink: sink.to_owned(),
                event: event.as_str(),
                outcome: outcome.as_str(),
            })
            .inc();
    }
}

/// An issuer whose calls are timed into the metrics.
struct TimedIssuer {
    inner: Arc<dyn Issuer>,
    metrics: Metrics,
}

#[async_trait::async_trait]
impl Issuer for TimedIssuer {
    async fn issue(&self, request: &IssueRequest<'_>) -> Result<Credentials, IssuerError> {
        let started = Instant::now();
        let result = self.inner.issue(request).await;
        self.metrics
            .sts_latency(StsCall::AssumeRole, started.elapsed());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_each_family_with_its_labels() {
        let metrics = Metrics::new(["production", "staging"]);
        metrics.decision("production", "allow");
        metrics.decision("production", "allow");
        metrics.decision("staging", "deny");
        metrics.refusal("proof_stale");
        metrics.sts_latency(StsCall::GetCallerIdentity, Duration::from_millis(3));
        let text = metrics.render();
        assert!(
            text.contains(r#"sentinel_decisions_total{profile="production",effect="allow"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"sentinel_decisions_total{profile="staging",effect="deny"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"sentinel_refusals_total{kind="proof_stale"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"sentinel_sts_request_duration_seconds_bucket{call="get_caller_identity",le="0.004"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"sentinel_sts_request_duration_seconds_count{call="get_caller_identity"} 1"#
            ),
            "{text}"
        );
    }

    #[test]
    fn every_series_is_at_zero_before_the_first_request() {
        let text = Metrics::new(["production"]).render();
        for effect in Effect::ALL {
            let series = format!(
                "sentinel_decisions_total{{profile=\"production\",effect=\"{}\"}} 0",
                effect.as_str()
            );
            assert!(text.contains(&series), "{series} in {text}");
        }
        for kind in REFUSAL_KINDS {
            let series = format!("sentinel_refusals_total{{kind=\"{kind}\"}} 0");
            assert!(text.contains(&series), "{series} in {text}");
        }
        for call in StsCall::ALL {
            let series = format!(
                "sentinel_sts_request_duration_seconds_count{{call=\"{}\"}} 0",
                call.label()
            );
            assert!(text.contains(&series), "{series} in {text}");
        }
    }

    #[test]
    fn notification_outcomes_are_counted_by_sink_event_and_outcome() {
        let metrics = Metrics::new(["p"]);
        metrics.notification_sink("webhook:127.0.0.1:1", &[EventKind::Approved]);
        let at_zero = metrics.render();
        for outcome in DeliveryOutcome::ALL {
            let series = format!(
                "sentinel_notification_deliveries_total{{sink=\"webhook:127.0.0.1:1\",event=\"approved\",outcome=\"{}\"}} 0",
                outcome.as_str()
            );
            assert!(at_zero.contains(&series), "{series} in {at_zero}");
        }
        metrics.delivered(
            "webhook:127.0.0.1:1",
            EventKind::Approved,
            DeliveryOutcome::Failed,
        );
        metrics.delivered(
            "webhook:127.0.0.1:1",
            EventKind::Approved,
            DeliveryOutcome::Failed,
        );
        let text = metrics.render();
        assert!(
            text.contains(
                r#"sentinel_notification_deliveries_total{sink="webhook:127.0.0.1:1",event="approved",outcome="failed"} 2"#
            ),
            "{text}"
        );
    }

    fn is_snake_case(label: &str) -> bool {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    }

    #[test]
    fn every_label_value_is_snake_case_and_in_the_docs() {
        let docs = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/server.md"));
        let effects = Effect::ALL.map(Effect::as_str);
        let calls = StsCall::ALL.map(StsCall::label);
        let events = EventKind::ALL.map(EventKind::as_str);
        let outcomes = DeliveryOutcome::ALL.map(DeliveryOutcome::as_str);
        let labels = REFUSAL_KINDS
            .iter()
            .chain(&effects)
            .chain(&calls)
            .chain(&events)
            .chain(&outcomes);
        for label in labels {
            assert!(is_snake_case(label), "{label:?} is not snake_case");
            assert!(
                docs.contains(&format!("`{label}`")),
                "docs/server.md does not name the label value `{label}`"
            );
        }
        // A delivery series exists once a receiver is configured.
        let metrics = Metrics::new(["p"]);
        metrics.notification_sink("webhook:h:443", &[EventKind::Approved]);
        let rendered = metrics.render();
        for family in [
            "sentinel_decisions_total",
            "sentinel_refusals_total",
            "sentinel_sts_request_duration_seconds",
            "sentinel_notification_deliveries_total",
        ] {
            assert!(rendered.contains(family), "{family}");
            assert!(
                docs.contains(family),
                "docs/server.md does not name {family}"
            );
        }
    }
}
