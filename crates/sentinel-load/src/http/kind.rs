//! The kinds of error an HTTP request fails with, as a run counts them.

use std::borrow::Cow;

/// Error kind: no resolved address accepted a connection.
pub const CONNECT: &str = "connect";
/// Error kind: the TLS handshake failed (an untrusted certificate, no agreed protocol).
pub const TLS: &str = "tls";
/// Error kind: an established connection failed while sending or receiving (a truncated or
/// malformed answer among others).
pub const IO: &str = "io";
/// Error kind: the target reset the request after it was written, before any byte of an
/// answer (a TCP reset, or an HTTP/2 `RST_STREAM`): a failure of the target, never retried.
pub const RESET: &str = "reset";
/// Error kind: the connection closed cleanly after the request was written, before any byte
/// of an answer, and the request could not go out again (not idempotent, on a fresh
/// connection, or already sent again once).
pub const CLOSED: &str = "closed";
/// Error kind: the run's mix named a target the driver does not have.
pub const NO_TARGET: &str = "no_target";

/// `http_<code>`, without an allocation for the common codes.
pub(super) fn status_kind(code: u16) -> Cow<'static, str> {
    match code {
        400 => "http_400".into(),
        401 => "http_401".into(),
        403 => "http_403".into(),
        404 => "http_404".into(),
        429 => "http_429".into(),
        500 => "http_500".into(),
        502 => "http_502".into(),
        503 => "http_503".into(),
        504 => "http_504".into(),
        other => format!("http_{other}").into(),
    }
}
