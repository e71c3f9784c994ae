//! How an AWS SDK failure is put into words: the service's error code, its message and the
//! request ID, or what kept the request from being answered, and never anything of the raw
//! response.
//!
//! The SDK's own renderings (`DisplayErrorContext`, `Debug`, the chain of sources) include the
//! response body when it could not be parsed, and a successful `AssumeRole` answer with one
//! malformed field still holds a secret key and a session token. Those renderings would carry
//! them into stderr, the decision log and HTTP error bodies, so this module is the only way
//! Sentinel describes an SDK error.

use std::error::Error;

// Every SDK crate re-exports these same smithy types, so this serves SSM as well as STS.
use aws_sdk_sts::config::http::HttpResponse;
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_types::request_id::RequestId;

/// Describes `error` by its code, message and request ID (for an answer from the service), or by
/// what stopped the request (for a failure before any answer). Safe to show anywhere.
pub fn describe<E>(error: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + Error + 'static,
{
    match error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let meta = service.err().meta();
            let request_id = meta.request_id().or_else(|| error.request_id());
            let mut text = match meta.code() {
                Some(code) => format!("{code} (HTTP {status})"),
                // No error code: the answer could not be parsed, and its body may hold anything.
                None => format!("an answer that could not be understood (HTTP {status})"),
            };
            if let (Some(_), Some(message)) = (meta.code(), meta.message()) {
                text.push_str(": ");
                text.push_str(message);
            }
            if let Some(id) = request_id {
                text.push_str(&format!(" (request ID {id})"));
            }
            text
        }
        SdkError::ResponseError(response) => {
            let status = response.raw().status().as_u16();
            let id = error
                .request_id()
                .map(|id| format!(" (request ID {id})"))
                .unwrap_or_default();
            format!("an answer that could not be read (HTTP {status}){id}")
        }
        SdkError::TimeoutError(_) => "no answer in time".to_owned(),
        // No response exists yet in these, so their causes (connection refused, a credentials
        // provider's failure) hold no part of one.
        SdkError::DispatchFailure(_) => {
            format!("the request could not be sent: {}", causes(error))
        }
        SdkError::ConstructionFailure(_) => {
            format!("the request could not be made: {}", causes(error))
        }
        _ => "the request failed".to_owned(),
    }
}

/// `error` and every error beneath it, each by its `Display`, outermost first, joined by `: `.
/// Only for errors that hold no part of a response (a credentials provider's, a connection's).
pub fn chain(error: &(dyn Error + 'static)) -> String {
    texts(Some(error)).join(": ")
}

/// The chain of `error`'s causes (not `error` itself), joined by `: `.
fn causes(error: &(dyn Error + 'static)) -> String {
    let shown = texts(beneath(error));
    match shown.is_empty() {
        true => "no cause given".to_owned(),
        false => shown.join(": "),
    }
}

/// The texts of `first` and the errors beneath it, each said once: wrappers often repeat their
/// source's message.
fn texts(first: Option<&(dyn Error + 'static)>) -> Vec<String> {
    let mut shown: Vec<String> = Vec::new();
    for current in and_beneath(first) {
        let text = current.to_string();
        if shown.last().is_none_or(|last| !last.contains(&text)) {
            shown.push(text);
        }
    }
    shown
}

/// `first` and every error beneath it, outermost first.
pub(crate) fn and_beneath<'a>(
    first: Option<&'a (dyn Error + 'static)>,
) -> impl Iterator<Item = &'a (dyn Error + 'static)> {
    std::iter::successors(first, |error| beneath(*error))
}

/// The error directly beneath `error`: its source, or the error an `io::Error` wraps (which
/// that `io::Error`'s `source` skips).
fn beneath<'a>(error: &'a (dyn Error + 'static)) -> Option<&'a (dyn Error + 'static)> {
    let wrapped = error
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        .map(|inner| inner as &(dyn Error + 'static));
    wrapped.or_else(|| error.source())
}
