//! One request, start to finish: the cheap checks that need no broker (host, token, method,
//! path, body) in that order, then the broker, under the request timeout. A request that fails
//! a check never reaches the broker, so it costs nothing and is not in the decision log.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::header::{AUTHORIZATION, CONTENT_LENGTH, HOST, TRANSFER_ENCODING};
use http::{Method, Request};
use hyper::body::Incoming;
use jiff::Timestamp;
use sentinel_core::broker::{self, Broker, Grant, Profile, Refusal};
use sentinel_core::caller::{Identify, IdentifyError};
use sentinel_core::issuer::Credentials;
use sentinel_protocol::{ForwardCredentials, Forwarded};

use crate::connections::Handle;
use crate::origin::host_allowed;
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
}

/// A [`Source`] with the time limit each request gets.
pub(crate) struct Handler {
    pub(crate) source: Source,
    pub(crate) request_timeout: Duration,
}

impl Handle for Handler {
    async fn handle(&self, request: Request<Incoming>, local: SocketAddr) -> Reply {
        if let Err(rejection) = self.check(&request, local) {
            return rejection.reply();
        }
        match tokio::time::timeout(self.request_timeout, self.issue()).await {
            Ok(Ok(credentials)) => wire::credentials(&credentials),
            Ok(Err(Failure::Forwarded(refused))) => {
                eprintln!("sentinel: request failed: {}", refused.message);
                wire::forwarded(&refused)
            }
            Ok(Err(Failure::Refused(refusal))) => {
                if !refusal.is_policy_decision() {
                    eprintln!("sentinel serve: request failed: {refusal}");
                }
                wire::refusal(&refusal)
            }
            Ok(Err(Failure::Unidentified(error))) => {
                eprintln!("sentinel serve: request failed: {error}");
                wire::unidentified(&error)
            }
            Err(_) => {
                eprintln!(
                    "sentinel serve: request failed: no answer within {:?}",
                    self.request_timeout
                );
                Rejection::Timeout.reply()
            }
        }
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
        let host = headers.get(HOST).map(|value| value.as_bytes());
        if !host.is_some_and(|host| host_allowed(host, local)) {
            return Err(Rejection::ForeignHost);
        }
        let presented = headers.get(AUTHORIZATION).map(|value| value.as_bytes());
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
