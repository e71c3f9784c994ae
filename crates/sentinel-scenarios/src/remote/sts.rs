//! The STS of the `remote` scenario, answered in-process over HTTP on loopback: it checks each
//! proof's signature by signing the same request again with the one caller's secret (so a
//! forged proof is refused as STS would refuse it), and names that caller. Real STS, and the
//! emulator the tests use, cannot answer thousands of proofs a second; the path to them is the
//! same up to the socket.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use jiff::Timestamp;
use sentinel_aws::proof::{Binding, ProofTarget, sign};
use sentinel_core::caller::Caller;
use sentinel_protocol::proof::{AUDIENCE_HEADER, NONCE_HEADER, PROFILE_HEADER};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// An in-process STS that knows one caller.
pub(crate) struct LocalSts {
    /// Where it listens, as a proof's URL.
    pub(crate) target: ProofTarget,
    /// Proofs it accepted.
    pub(crate) accepted: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

/// What the STS knows.
struct Known {
    credentials: Credentials,
    caller: Caller,
    target: ProofTarget,
    accepted: Arc<AtomicU64>,
}

impl LocalSts {
    /// Starts an STS on a free loopback port that accepts proofs signed with `credentials`
    /// and says they are `caller`'s.
    pub(crate) async fn start(
        credentials: Credentials,
        caller: Caller,
    ) -> std::io::Result<LocalSts> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let target = ProofTarget {
            url: format!("http://{}/", listener.local_addr()?),
            region: "us-east-1".to_owned(),
        };
        let accepted = Arc::new(AtomicU64::new(0));
        let known = Arc::new(Known {
            credentials,
            caller,
            target: target.clone(),
            accepted: Arc::clone(&accepted),
        });
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let known = Arc::clone(&known);
                let service = service_fn(move |request| {
                    let known = Arc::clone(&known);
                    async move { Ok::<_, Infallible>(known.answer(request).await) }
                });
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(LocalSts {
            target,
            accepted,
            task,
        })
    }
}

impl Drop for LocalSts {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Known {
    /// `GetCallerIdentity`'s answer when the signature is the caller's, STS's error otherwise.
    async fn answer(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let headers = request.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let _ = request.into_body().collect().await;
        let expected = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", header("x-amz-date"))
            .ok()
            .and_then(|civil| jiff::tz::TimeZone::UTC.to_timestamp(civil).ok())
            .and_then(|instant| u64::try_from(instant.as_second()).ok())
            .map(|seconds| SystemTime::UNIX_EPOCH + Duration::from_secs(seconds))
            .and_then(|time| {
                let binding = Binding {
                    audience: header(AUDIENCE_HEADER),
                    profile: header(PROFILE_HEADER),
                    nonce: header(NONCE_HEADER),
                };
                sign(&self.credentials, &self.target, &binding, time).ok()
            })
            .map(|proof| proof.headers["authorization"].clone());
        if expected.as_deref() != Some(header("authorization").as_str()) {
            return xml(
                StatusCode::FORBIDDEN,
                "<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code>\
                 <Message>The request signature we calculated does not match the signature you \
                 provided.</Message></Error><RequestId>local</RequestId></ErrorResponse>"
                    .to_owned(),
            );
        }
        self.accepted.fetch_add(1, Ordering::Relaxed);
        xml(
            StatusCode::OK,
            format!(
                "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>{}</Arn>\
                 <UserId>{}</UserId><Account>{}</Account></GetCallerIdentityResult>\
                 <ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata>\
                 </GetCallerIdentityResponse>",
                self.caller.arn,
                self.caller.user_id,
                self.caller.account,
                Timestamp::now().as_nanosecond()
            ),
        )
    }
}

fn xml(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/xml"),
    );
    response
}
