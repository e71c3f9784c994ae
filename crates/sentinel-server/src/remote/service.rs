//! One request to the remote server, start to finish. `POST /v1/credentials`: take a token from
//! the client network's bucket, read the body (a bounded JSON document, within the body
//! timeout), check the proof (no call yet), send it to STS (who signed it?), take a token from
//! the principal's bucket, spend the proof (each is accepted once), admit the caller (the
//! server's own rule for who may be a caller at all, before anything profile-specific), pick the
//! profile, and hand the caller to the broker, which applies the policy's identity rules and
//! rules, logs the decision and issues with the server's own credentials. A refusal tells the
//! caller its `Code` and a short message; the detail goes to the decision log and the server's
//! log. `GET /healthz` answers without any of that; the metrics are on the admin listener only.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::{CONNECTION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use jiff::Timestamp;
use sentinel_core::broker::{self, APPROVALS_NEED_STATE, Broker, Grant, Profile};
use sentinel_core::notify::Notifications;
use sentinel_core::refusal::Refusal;
use sentinel_core::state::UsedProofs;
use sentinel_core::state::approvals::VoteRefused;
use sentinel_core::workflow::WorkflowError;
use sentinel_policy::Effect;
use sentinel_protocol::{
    APPROVALS_LIST_PATH, APPROVALS_VOTE_PATH, CredentialsRequest, HEALTH_PATH, MAX_BODY_BYTES,
    Proof, ProofRejection, ProofRules, ProofVerifier, REMOTE_CREDENTIALS_PATH, VerifyError,
    check_reason,
};
use serde::de::DeserializeOwned;

use super::admission::Admission;
use super::metrics::{Metrics, StsCall};
use super::rate::{Buckets, MAX_BUCKETS, RateLimit, RateLimits, RetryAfter};
use super::seen::{self, SingleUse};
use crate::client;
use crate::connections::{Ends, Handle};
use crate::tail;
use crate::wire::{self, Reply};

/// What the remote server issues, for whom it accepts proofs, and how it checks them.
pub struct RemoteService {
    /// The issuance pipeline (its issuer uses the server's own credentials).
    pub broker: Broker,
    /// The profiles served, by name.
    pub profiles: HashMap<String, Profile>,
    /// What a proof must match before it is sent to STS.
    pub rules: ProofRules,
    /// Sends proofs to STS.
    pub verifier: Arc<dyn ProofVerifier>,
    /// How long STS may take to answer a proof.
    pub sts_timeout: Duration,
    /// Where the server counts what it did.
    pub metrics: Metrics,
    /// The proofs already used (see the `seen` module for when a proof counts as used).
    pub seen_proofs: Arc<dyn UsedProofs>,
    /// How many requests each client network and each principal may make.
    pub rate_limits: RateLimits,
    /// Who may be a caller at all.
    pub admission: Admission,
    /// Where approvals and break-glass are announced ([`Notifications::none`] for nobody).
    pub notifications: Notifications,
}

/// A [`RemoteService`] with the time limits each request gets and the rate limits' buckets.
pub(crate) struct RemoteHandler {
    pub(super) service: RemoteService,
    pub(super) request_timeout: Duration,
    pub(super) body_timeout: Duration,
    pub(super) per_client: Buckets<IpAddr>,
    per_principal: Buckets<String>,
}

/// Why a request got no credentials (or its vote or list was refused).
#[derive(Debug)]
pub(super) enum Failure {
    /// The request itself (not the proof in it) is unusable.
    Request {
        status: StatusCode,
        code: &'static str,
        kind: &'static str,
        message: String,
    },
    /// The body did not arrive within the body timeout.
    BodyTimeout(Duration),
    /// A rate limit was reached.
    RateLimited(RateLimit, RetryAfter),
    /// The proof failed a check; nothing was called.
    Proof(ProofRejection),
    /// STS did not accept the proof, or could not be asked.
    Verify(VerifyError),
    /// STS did not answer the proof in time.
    StsTimeout(Duration),
    /// STS accepted the proof, and it was used before (or cannot be recorded).
    SingleUse(SingleUse),
    /// The server's own rule for callers refused this one, before any profile was looked at.
    Admission(Refusal),
    /// The caller is known, the profile is not.
    UnknownProfile(String),
    /// The broker refused (the policy, or a failure in the pipeline).
    Broker(Refusal),
    /// The whole request took longer than the request timeout.
    Timeout(Duration),
    /// Approvals were asked for where the server keeps no `state`.
    NoState,
    /// No approval request has this ID.
    UnknownApproval(String),
    /// The vote is not counted.
    Vote(VoteRefused),
    /// The approvals could not be read or written.
    Workflow(WorkflowError),
}

impl tail::Failure for Failure {
    fn timed_out(limit: Duration) -> Self {
        Failure::Timeout(limit)
    }

    fn is_policy_decision(&self) -> bool {
        match self {
            Failure::Broker(refusal) => refusal.is_policy_decision(),
            Failure::Request { .. }
            | Failure::BodyTimeout(_)
            | Failure::RateLimited(..)
            | Failure::Proof(_)
            | Failure::Verify(_)
            | Failure::StsTimeout(_)
            | Failure::SingleUse(_)
            | Failure::Admission(_)
            | Failure::UnknownProfile(_)
            | Failure::Timeout(_)
            | Failure::NoState
            | Failure::UnknownApproval(_)
            | Failure::Vote(_)
            | Failure::Workflow(_) => false,
        }
    }

    fn is_logged(&self) -> bool {
        !self.is_policy_decision() && !matches!(self, Failure::RateLimited(..))
    }

    fn kind(&self) -> &'static str {
        match self {
            Failure::Request { kind, .. } => kind,
            Failure::BodyTimeout(_) => "request_body_timeout",
            Failure::RateLimited(RateLimit::Client, _) => "client_rate_limited",
            Failure::RateLimited(RateLimit::Principal, _) => "principal_rate_limited",
            Failure::Proof(rejection) => rejection.kind(),
            Failure::Verify(VerifyError::Refused { .. }) => "proof_refused_by_sts",
            Failure::Verify(VerifyError::Unavailable(_)) => "sts_unavailable",
            Failure::StsTimeout(_) => "sts_timeout",
            Failure::SingleUse(refused) => refused.kind(),
            Failure::UnknownProfile(_) => "unknown_profile",
            Failure::Admission(refusal) | Failure::Broker(refusal) => refusal.kind(),
            Failure::Timeout(_) => "request_timeout",
            Failure::NoState => "no_state",
            Failure::UnknownApproval(_) => "unknown_approval",
            Failure::Vote(refused) => refused.kind(),
            Failure::Workflow(_) => "state_unavailable",
        }
    }

    fn reply(&self) -> Reply {
        let (status, code) = match self {
            Failure::Request { status, code, .. } => (*status, *code),
            Failure::BodyTimeout(_) => {
                let mut reply = wire::error(
                    StatusCode::REQUEST_TIMEOUT,
                    "RequestBodyTimeout",
                    &self.to_string(),
                );
                // The rest of the body may still be on its way: the connection is done.
                reply
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
                return reply;
            }
            Failure::RateLimited(_, RetryAfter(seconds)) => {
                let mut reply = wire::error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequests",
                    &self.to_string(),
                );
                reply
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(*seconds));
                return reply;
            }
            Failure::Proof(ProofRejection::Malformed(_)) => {
                (StatusCode::BAD_REQUEST, "MalformedProof")
            }
            Failure::Proof(_) => (StatusCode::UNAUTHORIZED, "InvalidProof"),
            Failure::Verify(VerifyError::Refused { .. }) => {
                (StatusCode::UNAUTHORIZED, "ProofRefused")
            }
            Failure::Verify(VerifyError::Unavailable(_)) => {
                (StatusCode::BAD_GATEWAY, "StsUnavailable")
            }
            Failure::StsTimeout(_) => (StatusCode::GATEWAY_TIMEOUT, "StsTimeout"),
            Failure::SingleUse(refused) => refused.status(),
            Failure::UnknownProfile(_) => (StatusCode::NOT_FOUND, "UnknownProfile"),
            Failure::Admission(refusal) | Failure::Broker(refusal) => {
                return wire::public_refusal(refusal);
            }
            Failure::Timeout(_) => (StatusCode::GATEWAY_TIMEOUT, "RequestTimeout"),
            Failure::NoState => (StatusCode::NOT_IMPLEMENTED, "ApprovalsNeedState"),
            Failure::UnknownApproval(_) => (StatusCode::NOT_FOUND, "UnknownApprovalRequest"),
            Failure::Vote(refused) => (StatusCode::CONFLICT, refused.code()),
            // The store's own words stay in the server's log.
            Failure::Workflow(_) => {
                return wire::error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "StateUnavailable",
                    "the server's shared state is unavailable; try again",
                );
            }
        };
        wire::error(status, code, &self.to_string())
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Request { message, .. } => f.write_str(message),
            Failure::BodyTimeout(limit) => {
                write!(f, "the request body did not arrive within {limit:?}")
            }
            Failure::RateLimited(limited, RetryAfter(seconds)) => {
                let whose = match limited {
                    RateLimit::Client => "this client network",
                    RateLimit::Principal => "this principal",
                };
                write!(f, "too many requests from {whose}; retry in {seconds} s")
            }
            Failure::Proof(rejection) => rejection.fmt(f),
            Failure::Verify(error) => error.fmt(f),
            Failure::SingleUse(refused) => refused.fmt(f),
            Failure::StsTimeout(limit) => {
                write!(f, "STS did not answer the identity proof within {limit:?}")
            }
            Failure::UnknownProfile(profile) => {
                write!(
                    f,
                    "this server issues no credentials for profile {profile:?}"
                )
            }
            Failure::Admission(refusal) | Failure::Broker(refusal) => refusal.fmt(f),
            Failure::Timeout(limit) => write!(
                f,
                "the request took longer than the server's request timeout ({limit:?})"
            ),
            Failure::NoState => f.write_str(APPROVALS_NEED_STATE),
            Failure::UnknownApproval(id) => write!(f, "no approval request {id:?}"),
            Failure::Vote(refused) => refused.fmt(f),
            Failure::Workflow(error) => error.fmt(f),
        }
    }
}

impl Handle for RemoteHandler {
    async fn handle(&self, request: Request<Incoming>, ends: Ends) -> Reply {
        let path = request.uri().path();
        let method = request.method();
        match path {
            HEALTH_PATH if method == Method::GET => wire::health(),
            REMOTE_CREDENTIALS_PATH if method == Method::POST => {
                self.credentials(request, ends.peer.ip()).await
            }
            APPROVALS_VOTE_PATH | APPROVALS_LIST_PATH if method == Method::POST => {
                self.approvals(request, ends.peer.ip()).await
            }
            HEALTH_PATH | REMOTE_CREDENTIALS_PATH | APPROVALS_VOTE_PATH | APPROVALS_LIST_PATH => {
                wire::method_not_allowed(path, method)
            }
            _ => wire::not_found("credentials are asked for with POST /v1/credentials"),
        }
    }
}

impl RemoteHandler {
    /// `service`, each request under `request_timeout` and its body under `body_timeout`.
    pub(crate) fn new(
        service: RemoteService,
        request_timeout: Duration,
        body_timeout: Duration,
    ) -> RemoteHandler {
        let rates = service.rate_limits;
        RemoteHandler {
            service,
            request_timeout,
            body_timeout,
            per_client: Buckets::new(rates.per_client, MAX_BUCKETS),
            per_principal: Buckets::new(rates.per_principal, MAX_BUCKETS),
        }
    }

    /// Where the server counts what it did.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.service.metrics
    }

    /// Answers `POST /v1/credentials` from `client`, counting what happened.
    async fn credentials(&self, request: Request<Incoming>, client: IpAddr) -> Reply {
        let issued = async {
            self.per_client
                .take(&client::network(client), Instant::now())
                .map_err(|wait| Failure::RateLimited(RateLimit::Client, wait))?;
            self.issue(request).await.map(|grant| grant.credentials)
        };
        let metrics = &self.service.metrics;
        let span = tail::request_span(None);
        tail::respond(self.request_timeout, span, issued, |kind| {
            metrics.refusal(kind);
        })
        .await
    }

    /// The pipeline of one credentials request.
    async fn issue(&self, request: Request<Incoming>) -> Result<Grant, Failure> {
        let asked: CredentialsRequest = read_json(request, self.body_timeout).await?;
        if let Some(reason) = &asked.break_glass {
            check_reason(reason).map_err(|problem| Failure::Request {
                status: StatusCode::BAD_REQUEST,
                code: "InvalidBreakGlassReason",
                kind: "invalid_break_glass_reason",
                message: format!("the break-glass reason is refused: {problem}"),
            })?;
        }
        let caller = self.identify(&asked.proof, &asked.profile).await?;
        let service = &self.service;
        let admitted = service.admission.admit(&caller).await;
        let Some(profile) = service.profiles.get(&asked.profile) else {
            return Err(match admitted {
                Err(refusal) => Failure::Admission(refusal),
                Ok(()) => Failure::UnknownProfile(asked.profile.clone()),
            });
        };
        tracing::Span::current().record("profile", profile.name.as_str());
        let request = broker::Request {
            caller: &caller,
            profile,
            at: Timestamp::now(),
            break_glass: asked.break_glass.as_deref(),
        };
        let result = match admitted {
            Ok(()) => service.broker.issue(request).await,
            Err(refusal) => Err(service.broker.refuse_before_policy(request, refusal)),
        };
        let effect = match &result {
            Ok(_) => Some(Effect::Allow),
            Err(refusal) => refusal.effect(),
        };
        if let Some(effect) = effect {
            service.metrics.decision(&profile.name, effect.as_str());
        }
        result.map_err(Failure::Broker)
    }
}

impl RemoteHandler {
    /// Who signed `proof`, bound to `scope` (a profile, or what an approval route does): the
    /// offline checks, STS, the principal's rate limit, and the proof spent.
    pub(super) async fn identify(
        &self,
        proof: &Proof,
        scope: &str,
    ) -> Result<sentinel_core::caller::Caller, Failure> {
        let service = &self.service;
        let proof = service
            .rules
            .check(proof, scope, Timestamp::now())
            .map_err(Failure::Proof)?;
        let started = Instant::now();
        let verified = tokio::time::timeout(service.sts_timeout, service.verifier.verify(&proof))
            .await
            .map_err(|_| Failure::StsTimeout(service.sts_timeout));
        service
            .metrics
            .sts_latency(StsCall::GetCallerIdentity, started.elapsed());
        let caller = verified?.map_err(Failure::Verify)?;
        self.per_principal
            .take(&caller.arn, Instant::now())
            .map_err(|wait| Failure::RateLimited(RateLimit::Principal, wait))?;
        seen::spend(service.seen_proofs.as_ref(), &proof)
            .await
            .map_err(Failure::SingleUse)?;
        Ok(caller)
    }
}

/// Reads (within `body_timeout`) and parses a request's JSON body.
pub(super) async fn read_json<T: DeserializeOwned>(
    request: Request<Incoming>,
    body_timeout: Duration,
) -> Result<T, Failure> {
    let is_json = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(Failure::Request {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "UnsupportedMediaType",
            kind: "unsupported_media_type",
            message: "the request body must be JSON (Content-Type: application/json)".to_owned(),
        });
    }
    let body = Limited::new(request.into_body(), MAX_BODY_BYTES).collect();
    let body = tokio::time::timeout(body_timeout, body)
        .await
        .map_err(|_| Failure::BodyTimeout(body_timeout))?
        .map_err(|error| {
            if error.is::<http_body_util::LengthLimitError>() {
                Failure::Request {
                    status: StatusCode::PAYLOAD_TOO_LARGE,
                    code: "RequestTooLarge",
                    kind: "request_too_large",
                    message: format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
                }
            } else {
                Failure::Request {
                    status: StatusCode::BAD_REQUEST,
                    code: "MalformedRequest",
                    kind: "malformed_request",
                    message: "the request body could not be read".to_owned(),
                }
            }
        })?
        .to_bytes();
    serde_json::from_slice(&body).map_err(|error| Failure::Request {
        status: StatusCode::BAD_REQUEST,
        code: "MalformedRequest",
        kind: "malformed_request",
        message: format!("the body is not a request this route reads: {error}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::metrics::REFUSAL_KINDS;
    use crate::tail::Failure as _;

    #[test]
    fn every_kind_of_failure_is_a_registered_series_and_a_rate_limit_is_429_with_retry_after() {
        let at = Timestamp::from_second(1_700_000_000).expect("instant");
        let failures = [
            Failure::BodyTimeout(Duration::from_secs(5)),
            Failure::RateLimited(RateLimit::Client, RetryAfter(1)),
            Failure::RateLimited(RateLimit::Principal, RetryAfter(3)),
            Failure::Proof(ProofRejection::UnsignedAudience),
            Failure::Proof(ProofRejection::Stale { date: at, now: at }),
            Failure::StsTimeout(Duration::from_secs(5)),
            Failure::SingleUse(SingleUse::Reused),
            Failure::UnknownProfile("staging".into()),
            Failure::Broker(Refusal::Denied {
                rule: None,
                reason: None,
            }),
            Failure::Broker(Refusal::ApprovalRequired {
                rule: "ask".into(),
                reason: None,
                cause: APPROVALS_NEED_STATE,
            }),
            Failure::Broker(Refusal::ApprovalPending {
                id: "00000000000000ff".parse().expect("id"),
                profile: "production".into(),
                rule: "ask".into(),
                approvers: vec!["carol".into()],
            }),
            Failure::Broker(Refusal::BreakGlassUnmatched { rule: None }),
            Failure::NoState,
            Failure::UnknownApproval("nope".into()),
            Failure::Vote(VoteRefused::OwnRequest(
                "00000000000000ff".parse().expect("id"),
            )),
            Failure::Vote(VoteRefused::AlreadyDecided(
                "00000000000000ff".parse().expect("id"),
                "approved",
            )),
            Failure::Broker(Refusal::IssuerTimeout(Duration::from_secs(5))),
            Failure::Timeout(Duration::from_secs(30)),
        ];
        for failure in &failures {
            assert!(
                REFUSAL_KINDS.contains(&failure.kind()),
                "{} is not registered",
                failure.kind()
            );
        }
        let reply = failures[2].reply();
        assert_eq!(reply.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(reply.headers()[RETRY_AFTER], "3");
        assert!(!failures[2].is_logged(), "a flood is counted, not logged");
        assert!(failures[0].is_logged());
        let reply = failures[0].reply();
        assert_eq!(reply.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(reply.headers()[CONNECTION], "close");
    }
}
