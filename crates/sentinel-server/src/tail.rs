//! The end of every credentials request, in both servers: the work under the request timeout,
//! then the credentials, or the failure counted, logged (unless the decision log holds it
//! already) and answered. Log events carry the request's `profile` and `request_id` (from its
//! span, which the broker fills in) and the failure's `kind`. A failure's text can hold what a
//! caller sent (a JSON key, say), so its control characters are escaped before it is logged:
//! no caller can end a log line or send the terminal an escape sequence.

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
    /// Whether it is logged: not when the decision log holds it already, nor when a flood
    /// would make it by the thousand (the metrics count those).
    fn is_logged(&self) -> bool {
        !self.is_policy_decision()
    }
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
    let work = async {
        work.await
            .map(|credentials| wire::credentials(&credentials))
    };
    answer(limit, span, work, count).await
}

/// Runs `work` in `span` for at most `limit` and answers: its reply, or the failure, counted by
/// `count` with its kind.
pub(crate) async fn answer<F: Failure>(
    limit: Duration,
    span: Span,
    work: impl Future<Output = Result<Reply, F>>,
    count: impl FnOnce(&'static str),
) -> Reply {
    async move {
        let outcome = tokio::time::timeout(limit, work)
            .await
            .unwrap_or_else(|_| Err(F::timed_out(limit)));
        match outcome {
            Ok(reply) => reply,
            Err(failure) => {
                count(failure.kind());
                if failure.is_logged() {
                    let failure = Escaped(&failure);
                    tracing::warn!(kind = failure.0.kind(), "request refused: {failure}");
                }
                failure.reply()
            }
        }
    }
    .instrument(span)
    .await
}

/// A value's text with every control character (newlines and `ESC` among them) escaped as
/// `\u{..}`, so that it stays on one log line and the terminal reads it as text.
struct Escaped<T>(T);

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// Passes text on to `f`, escaping control characters.
        struct Escaping<'a, 'b>(&'a mut fmt::Formatter<'b>);
        impl fmt::Write for Escaping<'_, '_> {
            fn write_str(&mut self, text: &str) -> fmt::Result {
                for c in text.chars() {
                    if c.is_control() {
                        write!(self.0, "{}", c.escape_unicode())?;
                    } else {
                        fmt::Write::write_char(self.0, c)?;
                    }
                }
                Ok(())
            }
        }
        fmt::write(&mut Escaping(f), format_args!("{}", self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_is_kept() {
        let forged = "unknown field `a\n2026-12-03T10:00:00Z  INFO serving \u{1b}[31mx`, é";
        assert_eq!(
            Escaped(forged).to_string(),
            "unknown field `a\\u{a}2026-12-03T10:00:00Z  INFO serving \\u{1b}[31mx`, é"
        );
    }
}
