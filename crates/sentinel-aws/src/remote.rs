//! The client of `sentinel server`: sign an identity proof with the caller's own credentials,
//! send it with the profile asked for, and read the credentials (or the refusal) that come back.
//! Each request carries a proof of its own, bound to the server and the profile; proofs travel
//! only over HTTPS, or plain HTTP to this very machine: anyone who saw one could use it, once,
//! for that profile at that server, before the caller did and until it goes stale.

use std::path::Path;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_smithy_http_client::Connector;
use aws_smithy_http_client::tls::{TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use http::Uri;
use http_body_util::{BodyExt, Limited};
use jiff::Timestamp;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use sentinel_core::issuer::Credentials;
use sentinel_core::state::approvals::ApprovalRequest;
use sentinel_protocol::{
    APPROVALS_LIST_PATH, APPROVALS_VOTE_PATH, CredentialsRequest, ForwardCredentials, Forwarded,
    LIST_SCOPE, ListRequest, REMOTE_CREDENTIALS_PATH, VoteRequest, vote_scope,
};
use serde::{Deserialize, Serialize};

use crate::profile::{BaseCredentials, ProfileSettings};
use crate::proof::{ProofError, sign_for};
use crate::{sdk, tls_failure};

/// The largest answer read from a server.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// The largest list of approval requests read (about 50,000 requests).
const MAX_LIST_BYTES: usize = 32 * 1024 * 1024;

/// Why no credentials came from the server.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The server URL is unusable.
    #[error("{url:?} is not a Sentinel server URL: {problem}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The CA bundle could not be read.
    #[error("cannot read the CA bundle {path}: {problem}")]
    CaBundle {
        /// The file.
        path: String,
        /// What went wrong.
        problem: String,
    },
    /// No proof could be signed.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// The base credentials that sign the proof could not be loaded.
    #[error(
        "cannot sign the identity proof for profile {profile:?}: no credentials from {from}: \
         {detail}"
    )]
    NoBaseCredentials {
        /// The profile asked for.
        profile: String,
        /// Where the credentials were looked for.
        from: String,
        /// What the credentials providers said.
        detail: String,
    },
    /// The server could not be reached, or its answer could not be read.
    #[error("cannot get credentials from {url}: {problem}")]
    Unreachable {
        /// The server's credentials URL.
        url: String,
        /// What went wrong.
        problem: String,
    },
    /// The server answered with a refusal.
    #[error("{url} refused ({status} {code}): {message}")]
    Refused {
        /// The server's credentials URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The refusal's `Code` (e.g. `AccessDenied`).
        code: String,
        /// The refusal's `Message` (e.g. naming the rule).
        message: String,
    },
}

/// A client of one Sentinel server.
#[derive(Debug)]
pub struct RemoteClient {
    url: Uri,
    audience: String,
    connector: Connector,
}

/// The `200` answer: container-credentials fields.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    access_key_id: String,
    secret_access_key: String,
    token: String,
    expiration: String,
}

/// The answer of the list route.
#[derive(Deserialize)]
struct Listed {
    requests: Vec<ApprovalRequest>,
}

/// A refusal's body.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RefusalBody {
    code: String,
    message: String,
}

impl RemoteClient {
    /// A client of the server at `server` (`https://host[:port][/prefix]`; plain `http` only
    /// to a loopback address), binding proofs to `audience` (default: the URL's host), trusting
    /// the system's CA certificates and those in `ca_bundle` (PEM), waiting at most `timeout`
    /// to connect and for each answer.
    pub fn new(
        server: &str,
        audience: Option<&str>,
        ca_bundle: Option<&Path>,
        timeout: Duration,
    ) -> Result<RemoteClient, RemoteError> {
        let url = credentials_url(server)?;
        let audience = match audience {
            Some(audience) => audience.to_owned(),
            None => url.host().unwrap_or_default().to_owned(),
        };
        let mut trust = TrustStore::default();
        if let Some(path) = ca_bundle {
            let pem = std::fs::read(path)
                .map_err(|error| error.to_string())
                .and_then(|pem| check_ca_bundle(&pem).map(|()| pem))
                .map_err(|problem| RemoteError::CaBundle {
                    path: path.display().to_string(),
                    problem,
                })?;
            trust = trust.with_pem_certificate(pem);
        }
        let tls = TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .map_err(|error| RemoteError::CaBundle {
                path: ca_bundle
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                problem: error.to_string(),
            })?;
        Ok(RemoteClient {
            url,
            audience,
            connector: sdk::connector(tls, timeout, timeout),
        })
    }

    /// The credentials endpoint asked.
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// The audience proofs for this server are bound to.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// Credentials for `profile`, proving who the caller is with `base`'s credentials in a proof
    /// bound to this server and `profile`, made for this request alone; `break_glass` is the
    /// reason given for breaking the glass, if the caller does.
    pub async fn credentials(
        &self,
        base: &SdkConfig,
        profile: &str,
        break_glass: Option<&str>,
    ) -> Result<Credentials, RemoteError> {
        let proof = sign_for(base, &self.audience, profile).await?;
        self.send(&CredentialsRequest {
            profile: profile.to_owned(),
            proof,
            break_glass: break_glass.map(str::to_owned),
        })
        .await
    }

    /// Sends `request` (a profile and a proof made elsewhere) and reads the answer.
    pub async fn send(&self, request: &CredentialsRequest) -> Result<Credentials, RemoteError> {
        let body = self.post(&self.url, request, MAX_ANSWER_BYTES).await?;
        let answer: Answer = serde_json::from_slice(&body)
            .map_err(|_| self.unreachable("its answer (200) holds no credentials".to_owned()))?;
        let expiration: Timestamp = answer.expiration.parse().map_err(|_| {
            self.unreachable(format!(
                "its answer has an unreadable Expiration {:?}",
                answer.expiration
            ))
        })?;
        Ok(Credentials {
            access_key_id: answer.access_key_id,
            secret_access_key: answer.secret_access_key,
            session_token: answer.token,
            expiration,
        })
    }

    /// Votes on approval request `id` (approve or deny, with an optional reason), proving who
    /// the approver is with `base`'s credentials; answers the request as it is after the vote.
    pub async fn vote(
        &self,
        base: &SdkConfig,
        id: &str,
        approve: bool,
        reason: Option<&str>,
    ) -> Result<ApprovalRequest, RemoteError> {
        let proof = sign_for(base, &self.audience, &vote_scope(id, approve)).await?;
        let request = VoteRequest {
            id: id.to_owned(),
            approve,
            reason: reason.map(str::to_owned),
            proof,
        };
        let body = self
            .post(&self.route(APPROVALS_VOTE_PATH), &request, MAX_ANSWER_BYTES)
            .await?;
        serde_json::from_slice(&body)
            .map_err(|_| self.unreachable("its answer holds no approval request".to_owned()))
    }

    /// The approval requests the caller made and those they may decide, newest first.
    pub async fn requests(&self, base: &SdkConfig) -> Result<Vec<ApprovalRequest>, RemoteError> {
        let proof = sign_for(base, &self.audience, LIST_SCOPE).await?;
        let body = self
            .post(
                &self.route(APPROVALS_LIST_PATH),
                &ListRequest { proof },
                MAX_LIST_BYTES,
            )
            .await?;
        let listed: Listed = serde_json::from_slice(&body)
            .map_err(|_| self.unreachable("its answer holds no list of requests".to_owned()))?;
        Ok(listed.requests)
    }

    /// The server's URL for `path` (its prefix kept).
    fn route(&self, path: &str) -> Uri {
        let current = self.url.path();
        let prefix = current
            .strip_suffix(REMOTE_CREDENTIALS_PATH)
            .unwrap_or(current);
        let mut parts = self.url.clone().into_parts();
        parts.path_and_query = format!("{prefix}{path}").parse().ok();
        Uri::from_parts(parts).unwrap_or_else(|_| self.url.clone())
    }

    /// POSTs `request` as JSON to `url`; the body of a `200` answer (at most `limit` bytes),
    /// else the refusal.
    async fn post(
        &self,
        url: &Uri,
        request: &impl Serialize,
        limit: usize,
    ) -> Result<bytes::Bytes, RemoteError> {
        let body = serde_json::to_vec(request)
            .map_err(|error| self.unreachable(format!("cannot encode the request: {error}")))?;
        let mut request = http::Request::new(SdkBody::from(body));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = url.clone();
        request.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        let request = HttpRequest::try_from(request)
            .map_err(|error| self.unreachable(format!("cannot build the request: {error}")))?;
        let response = self.connector.call(request).await.map_err(|error| {
            let host = self.url.host().unwrap_or_default();
            self.unreachable(tls_failure::describe(&error, host))
        })?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), limit)
            .collect()
            .await
            .map_err(|error| self.unreachable(format!("cannot read the answer: {error}")))?
            .to_bytes();
        if status != 200 {
            let refusal: RefusalBody = serde_json::from_slice(&body).map_err(|_| {
                self.unreachable(format!(
                    "it answered {status} without a Sentinel error body"
                ))
            })?;
            return Err(RemoteError::Refused {
                url: url.to_string(),
                status,
                code: refusal.code,
                message: refusal.message,
            });
        }
        Ok(body)
    }

    fn unreachable(&self, problem: String) -> RemoteError {
        RemoteError::Unreachable {
            url: self.url.to_string(),
            problem,
        }
    }
}

/// Credentials for one profile of a server, proved with one set of the caller's own
/// credentials: what `credentials --remote` and `exec --remote` ask on every fetch.
#[derive(Debug)]
pub struct RemoteSource {
    client: RemoteClient,
    base: SdkConfig,
    /// Where `base`'s credentials come from, for the error when there are none.
    base_source: BaseCredentials,
    profile: String,
    /// The break-glass reason every request carries, if any.
    break_glass: Option<String>,
}

impl RemoteSource {
    /// Asks `client` for `profile`, signing proofs with `base`'s credentials.
    pub async fn new(client: RemoteClient, base: &BaseCredentials, profile: &str) -> RemoteSource {
        RemoteSource {
            client,
            base: base.config(None).await,
            base_source: base.clone(),
            profile: profile.to_owned(),
            break_glass: None,
        }
    }

    /// The source an AWS config profile with `sentinel_server` describes (its
    /// `sentinel_audience`, `sentinel_ca_bundle`, base credentials and region), or `None` when
    /// it names no server.
    pub async fn from_profile(
        settings: &ProfileSettings,
        timeout: Duration,
    ) -> Result<Option<RemoteSource>, RemoteError> {
        let Some(server) = &settings.sentinel_server else {
            return Ok(None);
        };
        let client = RemoteClient::new(
            server,
            settings.sentinel_audience.as_deref(),
            settings.sentinel_ca_bundle.as_deref().map(Path::new),
            timeout,
        )?;
        Ok(Some(RemoteSource {
            client,
            base: settings.base_config().await,
            base_source: settings.base.clone(),
            profile: settings.name.clone(),
            break_glass: None,
        }))
    }

    /// The same source, breaking the glass with `reason` on every request.
    pub fn breaking_glass(self, reason: Option<String>) -> RemoteSource {
        RemoteSource {
            break_glass: reason,
            ..self
        }
    }

    /// The server asked.
    pub fn client(&self) -> &RemoteClient {
        &self.client
    }

    /// The configuration whose credentials sign the proofs.
    pub fn base(&self) -> &SdkConfig {
        &self.base
    }

    /// Fresh credentials from the server.
    pub async fn credentials(&self) -> Result<Credentials, RemoteError> {
        let answer = self
            .client
            .credentials(&self.base, &self.profile, self.break_glass.as_deref())
            .await;
        answer.map_err(|error| self.named(error))
    }

    /// The approval requests the caller made and those they may decide.
    pub async fn requests(&self) -> Result<Vec<ApprovalRequest>, RemoteError> {
        let answer = self.client.requests(&self.base).await;
        answer.map_err(|error| self.named(error))
    }

    /// Votes on request `id`.
    pub async fn vote(
        &self,
        id: &str,
        approve: bool,
        reason: Option<&str>,
    ) -> Result<ApprovalRequest, RemoteError> {
        let answer = self.client.vote(&self.base, id, approve, reason).await;
        answer.map_err(|error| self.named(error))
    }

    /// `error`, saying where base credentials were looked for when there were none.
    fn named(&self, error: RemoteError) -> RemoteError {
        match error {
            RemoteError::Proof(ProofError::Credentials(detail)) => RemoteError::NoBaseCredentials {
                profile: self.profile.clone(),
                from: self.base_source.to_string(),
                detail,
            },
            other => other,
        }
    }

    /// The region of the caller's own configuration, to hand on to a command.
    pub fn region(&self) -> Option<String> {
        self.base.region().map(ToString::to_string)
    }
}

#[async_trait::async_trait]
impl ForwardCredentials for RemoteSource {
    async fn credentials(&self) -> Result<Credentials, Forwarded> {
        RemoteSource::credentials(self)
            .await
            .map_err(|error| match error {
                RemoteError::Refused {
                    status,
                    code,
                    message,
                    ..
                } => Forwarded {
                    status,
                    code,
                    message,
                },
                other => Forwarded {
                    status: 502,
                    code: "RemoteUnavailable".to_owned(),
                    message: other.to_string(),
                },
            })
    }
}

/// `server`'s credentials endpoint: its path with `/v1/credentials` appended.
fn credentials_url(server: &str) -> Result<Uri, RemoteError> {
    let error = |problem| RemoteError::Url {
        url: server.to_owned(),
        problem,
    };
    let uri: Uri = server
        .parse()
        .map_err(|_| error("expected https://HOST[:PORT]"))?;
    let authority = uri
        .authority()
        .filter(|authority| !authority.as_str().contains('@'))
        .ok_or_else(|| error("expected https://HOST[:PORT] without user information"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if is_loopback(authority.host()) => {}
        Some("http") => {
            return Err(error(
                "plain http sends the identity proof in the clear; use https (http is accepted \
                 only to this machine's loopback address)",
            ));
        }
        _ => return Err(error("expected https://HOST[:PORT]")),
    }
    if uri.query().is_some() {
        return Err(error("a server URL has no query"));
    }
    let prefix = uri.path().trim_end_matches('/');
    let path = if prefix.ends_with(REMOTE_CREDENTIALS_PATH) {
        prefix.to_owned()
    } else {
        format!("{prefix}{REMOTE_CREDENTIALS_PATH}")
    };
    Uri::builder()
        .scheme(uri.scheme_str().unwrap_or("https"))
        .authority(authority.as_str())
        .path_and_query(path)
        .build()
        .map_err(|_| error("expected https://HOST[:PORT]"))
}

/// Checks that `pem` holds at least one certificate usable as a trust anchor (the TLS stack
/// would otherwise fail later, and less clearly).
fn check_ca_bundle(pem: &[u8]) -> Result<(), String> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("not PEM certificates: {error}"))?;
    if certificates.is_empty() {
        return Err("it holds no PEM certificate".to_owned());
    }
    let mut roots = RootCertStore::empty();
    for certificate in certificates {
        roots
            .add(certificate)
            .map_err(|error| format!("unusable certificate: {error}"))?;
    }
    Ok(())
}

/// Whether `host` is this machine: `localhost` or a loopback address.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credentials_path_is_appended_to_the_server_url() {
        for (server, url) in [
            (
                "https://sentinel.example.com",
                "https://sentinel.example.com/v1/credentials",
            ),
            (
                "https://sentinel.example.com/",
                "https://sentinel.example.com/v1/credentials",
            ),
            (
                "https://lb.example.com:8443/sentinel/",
                "https://lb.example.com:8443/sentinel/v1/credentials",
            ),
            (
                "https://s.example.com/v1/credentials",
                "https://s.example.com/v1/credentials",
            ),
            (
                "http://127.0.0.1:8080",
                "http://127.0.0.1:8080/v1/credentials",
            ),
            (
                "http://localhost:8080",
                "http://localhost:8080/v1/credentials",
            ),
            ("http://[::1]:8080", "http://[::1]:8080/v1/credentials"),
        ] {
            assert_eq!(credentials_url(server).expect(server).to_string(), url);
        }
    }

    #[test]
    fn plain_http_elsewhere_and_other_shapes_are_refused() {
        for bad in [
            "http://sentinel.example.com",
            "http://10.0.0.1:8080",
            "ftp://sentinel.example.com",
            "sentinel.example.com",
            "https://user@sentinel.example.com",
            "https://sentinel.example.com/?x=1",
        ] {
            assert!(credentials_url(bad).is_err(), "{bad}");
        }
        let message = credentials_url("http://sentinel.example.com")
            .expect_err("plain")
            .to_string();
        assert!(message.contains("in the clear"), "{message}");
    }

    #[test]
    fn a_ca_bundle_must_hold_certificates() {
        assert!(check_ca_bundle(b"").is_err());
        assert!(check_ca_bundle(b"not a certificate").is_err());
        let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(check_ca_bundle(garbage).is_err());
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "nothing").expect("write");
        let error = RemoteClient::new(
            "https://s.example",
            None,
            Some(&path),
            Duration::from_secs(1),
        )
        .expect_err("no certificate");
        assert!(error.to_string().contains("ca.pem"), "{error}");
    }

    #[test]
    fn the_audience_defaults_to_the_host() {
        let client = RemoteClient::new(
            "https://sentinel.example.com:8443",
            None,
            None,
            Duration::from_secs(1),
        )
        .expect("client");
        assert_eq!(client.audience, "sentinel.example.com");
        let named = RemoteClient::new(
            "https://10.1.2.3:8443",
            Some("sentinel.internal"),
            None,
            Duration::from_secs(1),
        )
        .expect("client");
        assert_eq!(named.audience, "sentinel.internal");
    }
}
