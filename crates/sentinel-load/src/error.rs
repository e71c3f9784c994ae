//! The error a request function returns: a short kind that the result counts by, and what the
//! request did on the wire before it failed.

use std::borrow::Cow;
use std::fmt;

use crate::exchange::Exchange;

/// A failed request, classified by a short kind such as `timeout`, `http_503` or `deny`.
///
/// The result counts errors by kind, so kinds should be few and stable (no request IDs or
/// messages in them). A `&'static str` kind costs no allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    kind: Cow<'static, str>,
    exchange: Exchange,
}

impl RequestError {
    /// The kind the runner records for a request that exceeded the per-request timeout.
    pub const TIMEOUT: &'static str = "timeout";
    /// The kind the runner records for a request still in flight when the cancellation grace
    /// period ran out.
    pub const CANCELLED: &'static str = "cancelled";

    /// A failure of the given kind.
    pub fn new(kind: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind: kind.into(),
            exchange: Exchange::default(),
        }
    }

    /// The same failure, with what the request did on the wire (a status it got, the bytes it
    /// moved, the connection it opened), so that those figures still count.
    pub fn with_exchange(self, exchange: Exchange) -> Self {
        Self { exchange, ..self }
    }

    /// What the failed request did on the wire.
    pub fn exchange(&self) -> &Exchange {
        &self.exchange
    }

    /// The kind this failure is counted under.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    pub(crate) fn into_kind(self) -> Cow<'static, str> {
        self.kind
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request failed: {}", self.kind)
    }
}

impl std::error::Error for RequestError {}
