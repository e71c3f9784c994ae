//! One request, start to finish: the cheap checks that need no broker (host, token, method,
//! path, body) in that order, then the broker, under the request timeout. A request that fails
//! a check never reaches the broker, so it costs nothing and is not in the decision log.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header::{AUTHORIZATION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{Method, Request};
use hyper::body::Incoming;
use jiff::Timestamp;
use sentinel_core::broker::{self, Broker, Grant, Profile};
use sentinel_core::caller::{Identify, IdentifyError};
use sentinel_core::issuer::Credentials;
use sentinel_core::refusal::Refusal;
use sentinel_protocol::{ForwardCredentials, Forwarded};

use crate::connections::{Ends, Handle};
use crate::origin::host_allowed;
use crate::tail;
use crate::token::Token;
use crate::wire::{self, Rejection, Reply};

/// The path credentials are served at.
pub const CREDENTIALS_PATH: &str = "/credentials";

/// What the server issues and for whom: one profile, one caller, one token.
pub struct CredentialService {
    /// The issuance pipeline.
    pub broker: Broker,
    /// The profile every request is for.
    pub profile: Profile,
    /// Who the server acts for (from their own AWS identity), asked before every request.
    pub caller: Arc<dyn Identify>,
    /// The token clients must present.
    pub token: Token,
}

/// Where a server's credentials come from.
pub(crate) enum Source {
    /// A broker in this process, for one profile and one caller.
    Broker(CredentialService),
    /// Another Sentinel, asked on every request (the token is the server's own).
    Forward {
        /// Asks for the credentials.
        forward: Arc<dyn ForwardCredentials>,
        /// The token clients must present.
        token: Token,
    },
}

/// Why a request that passed the server's checks got no credentials.
enum Failure {
    /// The caller could not be identified, so the broker was not asked.
    Unidentified(IdentifyError),
    /// The broker refused.
    Refused(Refusal),
    /// Where credentials are forwarded from refused.
    Forwarded(Forwarded),
    /// No answer within the request timeout.
    Timeout(Duration),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Unidentified(error) => error.fmt(f),
            Failure::Refused(refusal) => refusal.fmt(f),
            Failure::Forwarded(refused) => f.write_str(&refused.message),
            Failure::Timeout(limit) => write!(f, "no answer within {limit:?}"),
        }
    }
}

impl tail::Failure for Failure {
    fn timed_out(limit: Duration) -> Self {
        Failure::Timeout(limit)
    }

    fn kind(&self) -> &'static str {
        match self {
            Failure::Unidentified(_) => "caller_unknown",
            Failure::Refused(refusal) => refusal.kind(),
            Failure::Forwarded(_) => "forwarded",
            Failure::Timeout(_) => "request_timeout",
        }
    }

    fn is_policy_decision(&self) -> bool {
        match self {
            Failure::Refused(refusal) => refusal.is_policy_decision(),
            // A refusal forwarded from a remote server is in that server's log, not this one's.
            Failure::Unidentified(_) | Failure::Forwarded(_) | Failure::Timeout(_) => false,
        }
    }

    fn reply(&self) -> Reply {
        match self {
            Failure::Unidentified(error) => wire::unidentified(error),
            Failure::Refused(refusal) => wire::refusal(refusal),
            Failure::Forwarded(refused) => wire::forwarded(refused),
            Failure::Timeout(_) => Rejection::Timeout.reply(),
        }
    }
}

/// A [`Source`] with the time limit each request gets.
pub(crate) struct Handler {
    pub(crate) source: Source,
    pub(crate) request_timeout: Duration,
}

impl Handle for Handler {
    async fn handle(&self, request: Request<Incoming>, ends: Ends) -> Reply {
        if let Err(rejection) = self.check(&request, ends.local) {
            return rejection.reply();
        }
        let profile = match &self.source {
            Source::Broker(service) => Some(service.profile.name.as_str()),
            Source::Forward { .. } => None,
        };
        let span = tail::request_span(profile);
        tail::respond(self.request_timeout, span, self.issue(), |_| {}).await
    }
}

impl Handler {
    /// Who is asking now, then the broker; or the credentials forwarded from elsewhere.
    async fn issue(&self) -> Result<Credentials, Failure> {
        let service = match &self.source {
            Source::Broker(service) => service,
            Source::Forward { forward, .. } => {
                return forward.credentials().await.map_err(Failure::Forwarded);
            }
        };
        let caller = service
            .caller
            .identify()
            .await
            .map_err(Failure::Unidentified)?;
        let request = broker::Request {
            caller: &caller,
            profile: &service.profile,
            at: Timestamp::now(),
            break_glass: None,
        };
        service
            .broker
            .issue(request)
            .await
            .map(|grant: Grant| grant.credentials)
            .map_err(Failure::Refused)
    }

    /// The token clients must present.
    fn token(&self) -> &Token {
        match &self.source {
            Source::Broker(service) => &service.token,
            Source::Forward { token, .. } => token,
        }
    }

    /// The checks that need no broker, cheapest and most telling first.
    fn check<B>(&self, request: &Request<B>, local: SocketAddr) -> Result<(), Rejection> {
        let headers = request.headers();
        let host = headers.get(HOST).map(http::HeaderValue::as_bytes);
        if !host.is_some_and(|host| host_allowed(host, local)) {
            return Err(Rejection::ForeignHost);
        }
        let presented = headers.get(AUTHORIZATION).map(http::HeaderValue::as_bytes);
        if !presented.is_some_and(|presented| self.token().matches(presented)) {
            return Err(Rejection::Unauthorized);
        }
        if request.method() != Method::GET {
            return Err(Rejection::MethodNotAllowed);
        }
        if request.uri().path() != CREDENTIALS_PATH {
            return Err(Rejection::NotFound);
        }
        let has_body = headers.contains_key(TRANSFER_ENCODING)
            || headers
                .get(CONTENT_LENGTH)
                .is_some_and(|length| length.as_bytes() != b"0");
        if has_body {
            return Err(Rejection::BodyNotAllowed);
        }
        Ok(())
    }
}
