//! Real servers for the HTTP client's tests: hyper over TCP or a Unix socket, HTTP/1.1 or
//! HTTP/2 (chosen, or agreed by ALPN), with TLS from a test CA (`rcgen`, through the testkit),
//! each recording what it saw: connections, requests, streams in flight, the TLS name asked
//! for, resumed handshakes, paths and `Host` headers.
//!
//! Every server answers `/ok` with 200 `ok`, `/busy` with 503 `busy!`, `/slow` with 200 `ok`
//! after 20 ms, anything else with 404 `no`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, Version};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sentinel_load::http::{HttpDriver, HttpOptions, HttpStats, HttpTarget, Opened};
use sentinel_load::{LoadTestConfig, LoadTestResult, RunControl, run_load_test};
use sentinel_testkit::TestCertificates;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_rustls::TlsAcceptor;

/// What a server saw.
#[derive(Default)]
pub struct Seen {
    pub connections: AtomicUsize,
    pub requests: AtomicUsize,
    /// TLS handshakes that resumed an earlier session.
    pub resumed: AtomicUsize,
    in_flight: AtomicUsize,
    /// The most requests in flight at once, over every connection.
    pub max_in_flight: AtomicUsize,
    /// The most streams in flight at once on one connection.
    pub max_streams_per_connection: AtomicUsize,
    /// The TLS name (SNI) each TLS connection asked for.
    pub server_names: Mutex<Vec<Option<String>>>,
    /// The HTTP version of each request.
    pub versions: Mutex<Vec<Version>>,
    /// Requests by path.
    pub paths: Mutex<BTreeMap<String, usize>>,
    /// The `Host` header (or `:authority`) of the last request.
    pub host: Mutex<Option<String>>,
}

impl Seen {
    pub fn count(&self, counter: &AtomicUsize) -> usize {
        counter.load(Ordering::SeqCst)
    }

    pub fn path(&self, path: &str) -> usize {
        self.paths.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// Which protocol a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    Http2,
    /// Whatever ALPN agreed on (HTTP/1.1 without ALPN).
    Alpn,
}

/// How a server is set up.
pub struct Options {
    pub protocol: Protocol,
    /// TLS with a certificate from a test CA, offering these ALPN protocols.
    pub tls: Option<Vec<&'static [u8]>>,
    /// HTTP/2: shut each connection down gracefully (GOAWAY) after this many requests.
    pub close_after: Option<usize>,
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub seen: Arc<Seen>,
    /// The CA that signed its certificate (with TLS).
    pub ca: Option<std::path::PathBuf>,
    _certificates: Option<tempfile::TempDir>,
}

/// A plain HTTP/1.1 server.
pub async fn http1() -> Server {
    serve(Options {
        protocol: Protocol::Http1,
        tls: None,
        close_after: None,
    })
    .await
}

/// A TLS server (certificate for `localhost` and 127.0.0.1 from a test CA) offering `alpn`.
pub async fn tls(alpn: Vec<&'static [u8]>) -> Server {
    serve(Options {
        protocol: Protocol::Alpn,
        tls: Some(alpn),
        close_after: None,
    })
    .await
}

/// Starts a server on 127.0.0.1.
pub async fn serve(options: Options) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let (acceptor, ca, dir) = match &options.tls {
        None => (None, None, None),
        Some(alpn) => {
            let dir = tempfile::tempdir().unwrap();
            let certificates = TestCertificates::create(dir.path());
            let acceptor = acceptor(&certificates.cert, &certificates.key, alpn);
            (Some(acceptor), Some(certificates.ca), Some(dir))
        }
    };
    let counted = Arc::clone(&seen);
    let (protocol, close_after) = (options.protocol, options.close_after);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            counted.connections.fetch_add(1, Ordering::SeqCst);
            let seen = Arc::clone(&counted);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Some(acceptor) = acceptor else {
                    return serve_connection(stream, protocol, close_after, seen).await;
                };
                let Ok(stream) = acceptor.accept(stream).await else {
                    return;
                };
                let connection = stream.get_ref().1;
                seen.server_names
                    .lock()
                    .unwrap()
                    .push(connection.server_name().map(str::to_owned));
                if connection.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
                    seen.resumed.fetch_add(1, Ordering::SeqCst);
                }
                let protocol = match (protocol, connection.alpn_protocol()) {
                    (Protocol::Alpn, Some(b"h2")) => Protocol::Http2,
                    (Protocol::Alpn, _) => Protocol::Http1,
                    (chosen, _) => chosen,
                };
                serve_connection(stream, protocol, close_after, seen).await;
            });
        }
    });
    Server {
        addr,
        seen,
        ca,
        _certificates: dir,
    }
}

/// Serves HTTP/1.1 on a Unix socket at `path`.
pub async fn unix(path: &Path) -> Arc<Seen> {
    let listener = tokio::net::UnixListener::bind(path).unwrap();
    let seen = Arc::new(Seen::default());
    let counted = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.connections.fetch_add(1, Ordering::SeqCst);
            let seen = Arc::clone(&counted);
            tokio::spawn(serve_connection(stream, Protocol::Http1, None, seen));
        }
    });
    seen
}

fn acceptor(cert: &Path, key: &Path, alpn: &[&[u8]]) -> TlsAcceptor {
    let chain = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    TlsAcceptor::from(Arc::new(config))
}

async fn serve_connection<S>(
    stream: S,
    protocol: Protocol,
    close_after: Option<usize>,
    seen: Arc<Seen>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let streams = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let enough = Arc::new(Notify::new());
    let service = {
        let enough = Arc::clone(&enough);
        service_fn(move |request: Request<Incoming>| {
            let (seen, streams, served) =
                (Arc::clone(&seen), Arc::clone(&streams), Arc::clone(&served));
            let enough = Arc::clone(&enough);
            async move {
                let open = streams.fetch_add(1, Ordering::SeqCst) + 1;
                seen.max_streams_per_connection
                    .fetch_max(open, Ordering::SeqCst);
                let in_flight = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                seen.max_in_flight.fetch_max(in_flight, Ordering::SeqCst);
                let response = answer(&request, &seen).await;
                seen.in_flight.fetch_sub(1, Ordering::SeqCst);
                streams.fetch_sub(1, Ordering::SeqCst);
                if close_after
                    .is_some_and(|limit| served.fetch_add(1, Ordering::SeqCst) + 1 == limit)
                {
                    enough.notify_one();
                }
                Ok::<_, Infallible>(response)
            }
        })
    };
    let io = TokioIo::new(stream);
    if protocol == Protocol::Http2 {
        let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .serve_connection(io, service);
        let mut connection = pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => return,
            () = enough.notified() => connection.as_mut().graceful_shutdown(),
        }
        let _ = connection.await;
    } else {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(io, service)
            .await;
    }
}

async fn answer(request: &Request<Incoming>, seen: &Seen) -> Response<Full<Bytes>> {
    seen.requests.fetch_add(1, Ordering::SeqCst);
    seen.versions.lock().unwrap().push(request.version());
    let path = request.uri().path().to_owned();
    *seen.paths.lock().unwrap().entry(path.clone()).or_default() += 1;
    let host = request
        .headers()
        .get("host")
        .and_then(|host| host.to_str().ok())
        .map(str::to_owned)
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(std::string::ToString::to_string)
        });
    *seen.host.lock().unwrap() = host;
    let (status, body) = match path.as_str() {
        "/ok" => (StatusCode::OK, "ok"),
        "/busy" => (StatusCode::SERVICE_UNAVAILABLE, "busy!"),
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(20)).await;
            (StatusCode::OK, "ok")
        }
        _ => (StatusCode::NOT_FOUND, "no"),
    };
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}

/// A short run: `rate` requests per second for `duration` with `workers` workers, over
/// connections opened beforehand, to `targets` in turn or `weighted`, kept apart `by_target`.
/// Returns the result, the driver's stats and why opening a connection failed, if it did.
pub async fn run(
    targets: Vec<HttpTarget>,
    options: HttpOptions,
    workers: usize,
    rate: f64,
    duration: Duration,
    weighted: bool,
    by_target: bool,
) -> (LoadTestResult, HttpStats, Option<String>) {
    let mut config = LoadTestConfig::new(rate, duration);
    config.workers = workers;
    config.by_target = by_target;
    let (result, stats, opened) = run_config(targets, options, config, weighted).await;
    (result, stats, opened.failure)
}

/// A run of `config` (its mix made by the driver, in turn or `weighted`) over connections
/// opened beforehand; the result, the driver's stats and the connections opened before it.
pub async fn run_config(
    targets: Vec<HttpTarget>,
    options: HttpOptions,
    mut config: LoadTestConfig,
    weighted: bool,
) -> (LoadTestResult, HttpStats, Opened) {
    let driver = HttpDriver::new(targets, options, config.workers)
        .await
        .unwrap();
    config.mix = driver.mix(weighted).unwrap();
    let control = RunControl::default();
    let opened = driver
        .open_connections(config.timeout, &control.cancel)
        .await;
    let request = Arc::clone(&driver);
    let result = run_load_test(config, control, move |ctx| {
        Arc::clone(&request).request(ctx)
    })
    .await
    .unwrap();
    (result, driver.stats(), opened)
}

/// [`run`] of one URL: 100 requests at 500/s with `workers` workers.
pub async fn run_url(
    url: &str,
    options: HttpOptions,
    workers: usize,
) -> (LoadTestResult, HttpStats, Option<String>) {
    let target = HttpTarget::from_url(url).unwrap();
    run(
        vec![target],
        options,
        workers,
        500.0,
        Duration::from_millis(200),
        false,
        false,
    )
    .await
}
