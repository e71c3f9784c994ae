//! The end of every credentials request, in both servers: the work under the request timeout,
//! then the credentials, or the failure counted, logged (unless the decision log holds it
//! already) and answered. Log events carry the request's `profile` and `request_id` (from its
//! span, which the broker fills in) and the failure's `kind`.

use std::fmt;
use std::time::Duration;

use sentinel_core::issuer::Credentials;
use tracing::{Instrument, Span};

use crate::wire::{self, Reply};

/// A server's reason for answering a credentials request without credentials.
pub(crate) trait Failure: fmt::Display {
    /// The failure of a request that took longer than `limit`.
    fn timed_out(limit: Duration) -> Self;
    /// A short, stable name for metrics and logs.
    fn kind(&self) -> &'static str;
    /// Whether the policy decided it, and the decision log therefore holds it already.
    fn is_policy_decision(&self) -> bool;
    /// The answer to send.
    fn reply(&self) -> Reply;
}

/// A span for one credentials request, with the fields its events carry. `profile` is empty
/// until the request is known to name one of the server's profiles; the broker records the
/// `request_id`.
pub(crate) fn request_span(profile: Option<&str>) -> Span {
    let span = tracing::info_span!(
        "request",
        profile = tracing::field::Empty,
        request_id = tracing::field::Empty
    );
    if let Some(profile) = profile {
        span.record("profile", profile);
    }
    span
}

/// Runs `work` in `span` for at most `limit` and answers: the credentials, or the failure,
/// counted by `count` with its kind.
pub(crate) async fn respond<F: Failure>(
    limit: Duration,
    span: Span,
    work: impl Future<Output = Result<Credentials, F>>,
    count: impl FnOnce(&'static str),
) -> Reply {
    async move {
        let outcome = tokio::time::timeout(limit, work)
            .await
            .unwrap_or_else(|_| Err(F::timed_out(limit)));
        match outcome {
            Ok(credentials) => wire::credentials(&credentials),
            Err(failure) => {
                count(failure.kind());
                if !failure.is_policy_decision() {
                    tracing::warn!(kind = failure.kind(), "request refused: {failure}");
                }
                failure.reply()
            }
        }
    }
    .instrument(span)
    .await
}
