//! What goes on the wire: the container-credentials JSON an AWS SDK reads on `200`, and the
//! `{"Code", "Message"}` body of every refusal, with the status that tells the SDK whether to
//! retry (`5xx`) or give up (`4xx`).

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONNECTION, CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use sentinel_core::caller::IdentifyError;
use sentinel_core::issuer::Credentials;
use sentinel_core::refusal::{Refusal, StatusClass};
use serde::Serialize;

/// The response type every request gets.
pub type Reply = Response<Full<Bytes>>;

/// The body an AWS SDK's container-credentials provider parses.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerCredentials<'a> {
    access_key_id: &'a str,
    secret_access_key: &'a str,
    token: &'a str,
    expiration: String,
}

/// The body of every non-`200` answer.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

/// A refusal the server makes before (or instead of) asking the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// No `Authorization` header, or not the token.
    Unauthorized,
    /// The `Host` header names something other than this server.
    ForeignHost,
    /// A method other than `GET`.
    MethodNotAllowed,
    /// A path other than the credentials path.
    NotFound,
    /// The request carries a body.
    BodyNotAllowed,
    /// The broker did not answer within the request timeout.
    Timeout,
}

impl Rejection {
    /// The status, `Code` and `Message` this rejection is answered with.
    fn parts(self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Rejection::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "missing or wrong Authorization token",
            ),
            Rejection::ForeignHost => (
                StatusCode::FORBIDDEN,
                "ForbiddenHost",
                "the Host header does not name this server",
            ),
            Rejection::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "only GET is served",
            ),
            Rejection::NotFound => (
                StatusCode::NOT_FOUND,
                "NotFound",
                "credentials are served at /credentials",
            ),
            Rejection::BodyNotAllowed => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestBodyNotAllowed",
                "a credentials request has no body",
            ),
            Rejection::Timeout => (
                StatusCode::GATEWAY_TIMEOUT,
                "RequestTimeout",
                "the request took longer than the server's request timeout",
            ),
        }
    }

    /// The answer to send.
    pub fn reply(self) -> Reply {
        let (status, code, message) = self.parts();
        let mut reply = error(status, code, message);
        if self == Rejection::BodyNotAllowed {
            // The unread body is still on the connection; closing it is simpler than draining.
            reply
                .headers_mut()
                .insert(CONNECTION, HeaderValue::from_static("close"));
        }
        reply
    }
}

/// `200` with the credentials.
pub fn credentials(credentials: &Credentials) -> Reply {
    let body = ContainerCredentials {
        access_key_id: &credentials.access_key_id,
        secret_access_key: &credentials.secret_access_key,
        token: &credentials.session_token,
        expiration: credentials
            .expiration
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
    };
    json(StatusCode::OK, &body)
}

/// The status for a class of refusal: `403` when the policy said no (the SDK must not retry),
/// `5xx` when something failed (it may).
fn status(class: StatusClass) -> StatusCode {
    match class {
        StatusClass::Forbidden => StatusCode::FORBIDDEN,
        StatusClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        StatusClass::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        StatusClass::BadGateway => StatusCode::BAD_GATEWAY,
        StatusClass::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
    }
}

/// The answer to a broker refusal: its class's status, its `Code`, and a message that names the
/// rule or the failure.
pub fn refusal(refusal: &Refusal) -> Reply {
    error(
        status(refusal.status_class()),
        refusal.code(),
        &refusal.to_string(),
    )
}

/// The answer to a broker refusal for a caller who may be a stranger: its class's status, its
/// `Code`, and only [`Refusal::public_message`] (the detail is for the decision log).
pub fn public_refusal(refusal: &Refusal) -> Reply {
    error(
        status(refusal.status_class()),
        refusal.code(),
        &refusal.public_message(),
    )
}

/// `503` when the caller could not be identified: no decision was made, and one may be made
/// once STS answers again.
pub fn unidentified(failure: &IdentifyError) -> Reply {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "CallerUnknown",
        &failure.to_string(),
    )
}

/// A refusal forwarded from another Sentinel, with its status, `Code` and `Message` (a status
/// that is not a refusal's is answered `502`).
pub fn forwarded(refused: &sentinel_protocol::Forwarded) -> Reply {
    let status = StatusCode::from_u16(refused.status)
        .ok()
        .filter(|status| status.is_client_error() || status.is_server_error())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    error(status, &refused.code, &refused.message)
}

/// A non-JSON answer.
pub(crate) fn plain(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Reply {
    let mut reply = Response::new(Full::new(body.into()));
    *reply.status_mut() = status;
    reply
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    reply
}

/// The answer to `GET /healthz`: the server is up, and nothing more.
pub(crate) fn health() -> Reply {
    plain(StatusCode::OK, "text/plain", "ok\n")
}

/// A `{"Code", "Message"}` answer with `status`.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Reply {
    json(status, &ErrorBody { code, message })
}

/// `405 MethodNotAllowed`: `path` is served, but not for `method`.
pub(crate) fn method_not_allowed(path: &str, method: &http::Method) -> Reply {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        &format!("{path} does not answer {method}"),
    )
}

/// `404 NotFound`, with `served` saying what a listener does serve.
pub(crate) fn not_found(served: &str) -> Reply {
    error(StatusCode::NOT_FOUND, "NotFound", served)
}

/// `body` as JSON with `status`, never cached.
pub(crate) fn json(status: StatusCode, body: &impl Serialize) -> Reply {
    // Serializing these plain structs cannot fail; an empty object would still be valid JSON.
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut reply = Response::new(Full::new(Bytes::from(bytes)));
    *reply.status_mut() = status;
    let headers = reply.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use jiff::Timestamp;
    use sentinel_core::caller::{IdentityRule, PrincipalRefused};

    async fn body(reply: Reply) -> serde_json::Value {
        let bytes = reply.into_body().collect().await.expect("body").to_bytes();
        serde_json::from_slice(&bytes).expect("JSON body")
    }

    #[tokio::test]
    async fn credentials_use_the_container_field_names_and_rfc3339() {
        let reply = credentials(&Credentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "secret".into(),
            session_token: "token".into(),
            expiration: Timestamp::from_second(1_700_000_000).expect("instant"),
        });
        assert_eq!(reply.status(), StatusCode::OK);
        assert_eq!(reply.headers()[CACHE_CONTROL], "no-store");
        let json = body(reply).await;
        assert_eq!(json["AccessKeyId"], "ASIAEXAMPLE");
        assert_eq!(json["SecretAccessKey"], "secret");
        assert_eq!(json["Token"], "token");
        assert_eq!(json["Expiration"], "2023-11-14T22:13:20Z");
    }

    #[tokio::test]
    async fn a_deny_is_403_and_names_the_rule() {
        let reply = refusal(&Refusal::Denied {
            rule: Some("deny-bob".into()),
            reason: Some("read-only".into()),
        });
        assert_eq!(reply.status(), StatusCode::FORBIDDEN);
        let json = body(reply).await;
        assert_eq!(json["Code"], "AccessDenied");
        assert_eq!(json["Message"], "denied by rule deny-bob: read-only");
    }

    #[tokio::test]
    async fn a_caller_who_is_no_user_is_403_naming_the_arn() {
        let arn = "arn:aws:sts::123456789012:federated-user/alice";
        let reply = refusal(&Refusal::Principal(PrincipalRefused {
            arn: arn.into(),
            rule: IdentityRule::PrincipalKind,
            problem: "a federated user names itself".into(),
        }));
        assert_eq!(reply.status(), StatusCode::FORBIDDEN);
        let json = body(reply).await;
        assert_eq!(json["Code"], "PrincipalRefused");
        assert!(json["Message"].as_str().expect("message").contains(arn));
    }

    #[tokio::test]
    async fn failures_are_5xx_with_the_same_shape() {
        let reply = refusal(&Refusal::IssuerTimeout(std::time::Duration::from_secs(2)));
        assert_eq!(reply.status(), StatusCode::GATEWAY_TIMEOUT);
        let json = body(reply).await;
        assert_eq!(json["Code"], "IssuerTimeout");
        assert!(json["Message"].as_str().expect("message").contains("2s"));
    }

    #[test]
    fn a_body_closes_the_connection() {
        let reply = Rejection::BodyNotAllowed.reply();
        assert_eq!(reply.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(reply.headers()[CONNECTION], "close");
        assert!(
            !Rejection::Unauthorized
                .reply()
                .headers()
                .contains_key(CONNECTION)
        );
    }
}
