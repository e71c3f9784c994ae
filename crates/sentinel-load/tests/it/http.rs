//! The HTTP/1.1 driver against local hyper servers: success, keep-alive with one connection
//! per worker opened before the run, non-2xx statuses as `http_<code>` errors, a refused
//! connection, every address tried, user info sent as `Authorization`, and a server that
//! closes idle connections.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sentinel_load::http::{DriverError, HttpDriver, HttpOptions, HttpStats, HttpTarget, Route};
use sentinel_load::{LoadTestConfig, LoadTestResult, RunControl, run_load_test};
use tokio::net::TcpListener;

/// What the test server saw.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    requests: AtomicUsize,
    authorization: Mutex<Option<String>>,
    host: Mutex<Option<String>>,
}

/// Serves `/ok` with 200 and anything else with 503, closing a connection once it has been
/// idle for `idle_close` (if given), as servers with a short keep-alive timeout do.
async fn server_closing_idle(idle_close: Option<Duration>) -> (SocketAddr, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let counted = Arc::clone(&seen);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            counted.connections.fetch_add(1, Ordering::SeqCst);
            let seen = Arc::clone(&counted);
            tokio::spawn(async move {
                let last_answer = Arc::new(Mutex::new(Instant::now()));
                let answered = Arc::clone(&last_answer);
                let service = service_fn(move |request: Request<Incoming>| {
                    let seen = Arc::clone(&seen);
                    let answered = Arc::clone(&answered);
                    async move {
                        seen.requests.fetch_add(1, Ordering::SeqCst);
                        let header = |name| {
                            request
                                .headers()
                                .get(name)
                                .map(|v: &http::HeaderValue| v.to_str().unwrap().to_owned())
                        };
                        *seen.authorization.lock().unwrap() = header("authorization");
                        *seen.host.lock().unwrap() = header("host");
                        let status = if request.uri().path() == "/ok" {
                            StatusCode::OK
                        } else {
                            StatusCode::SERVICE_UNAVAILABLE
                        };
                        let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
                        *response.status_mut() = status;
                        *answered.lock().unwrap() = Instant::now();
                        Ok::<_, Infallible>(response)
                    }
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                let mut connection = pin!(connection);
                let Some(idle) = idle_close else {
                    let _ = connection.await;
                    return;
                };
                loop {
                    let idle_until = *last_answer.lock().unwrap() + idle;
                    tokio::select! {
                        _ = connection.as_mut() => return,
                        () = tokio::time::sleep_until(idle_until.into()) => {
                            if last_answer.lock().unwrap().elapsed() >= idle {
                                // Closes at once when idle, else after the request in hand.
                                connection.as_mut().graceful_shutdown();
                                let _ = connection.await;
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    (addr, seen)
}

async fn server() -> (SocketAddr, Arc<Seen>) {
    server_closing_idle(None).await
}

async fn load(url: &str, workers: usize) -> LoadTestResult {
    let target = HttpTarget::from_url(url).unwrap();
    load_target(
        target,
        HttpOptions::default(),
        workers,
        500.0,
        Duration::from_millis(400),
    )
    .await
    .0
}

/// `rate` requests per second for `duration` over connections opened beforehand.
async fn load_target(
    target: HttpTarget,
    options: HttpOptions,
    workers: usize,
    rate: f64,
    duration: Duration,
) -> (LoadTestResult, HttpStats) {
    let driver = HttpDriver::new(vec![target], options, workers)
        .await
        .unwrap();
    let mut config = LoadTestConfig::new(rate, duration);
    config.workers = workers;
    config.timeout = Duration::from_millis(500);
    let control = RunControl::default();
    driver
        .open_connections(config.timeout, &control.cancel)
        .await;
    let request = Arc::clone(&driver);
    let result = run_load_test(config, control, move |ctx| {
        Arc::clone(&request).request(ctx)
    })
    .await
    .unwrap();
    (result, driver.stats())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn succeeds_over_kept_alive_connections_one_per_worker_opened_beforehand() {
    let (addr, seen) = server().await;
    let target = HttpTarget::from_url(&format!("http://{addr}/ok")).unwrap();
    let driver = HttpDriver::new(vec![target], HttpOptions::default(), 4)
        .await
        .unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let opened = driver
        .open_connections(Duration::from_secs(1), &cancel)
        .await;
    assert_eq!((opened.count, opened.failure), (4, None));
    // The server counts a connection when it accepts it, which may come a little after the
    // client's connect completed from the listen backlog.
    let deadline = Instant::now() + Duration::from_secs(2);
    while seen.connections.load(Ordering::SeqCst) < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(seen.connections.load(Ordering::SeqCst), 4);
    assert_eq!(
        seen.requests.load(Ordering::SeqCst),
        0,
        "opening sends nothing"
    );

    let mut config = LoadTestConfig::new(500.0, Duration::from_millis(400));
    config.workers = 4;
    let request = Arc::clone(&driver);
    let result = run_load_test(config, RunControl::default(), move |ctx| {
        Arc::clone(&request).request(ctx)
    })
    .await
    .unwrap();
    assert!(result.requests.ok >= 190, "{:?}", result.requests);
    assert_eq!(result.requests.errors, 0, "{:?}", result.errors_by_kind);
    assert_eq!(seen.connections.load(Ordering::SeqCst), 4, "kept alive");
    let stats = driver.stats();
    assert_eq!((stats.connections_opened, stats.retried.total()), (4, 0));
    assert_eq!(result.connects, 0, "no request opened a connection");
    assert_eq!(
        result.status.get("200"),
        Some(&result.requests.ok),
        "{:?}",
        result.status
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_outside_2xx_is_an_error_of_its_code() {
    let (addr, seen) = server().await;
    let result = load(&format!("http://{addr}/busy"), 2).await;
    assert_eq!(result.requests.ok, 0);
    assert_eq!(
        result.errors_by_kind.get("http_503"),
        Some(&result.requests.sent)
    );
    assert_eq!(
        seen.connections.load(Ordering::SeqCst),
        2,
        "errors keep the connection"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let result = load(&format!("http://{addr}/"), 2).await;
    assert_eq!(result.requests.ok, 0);
    assert!(result.requests.sent > 0);
    assert_eq!(
        result.errors_by_kind.get("connect"),
        Some(&result.requests.sent)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_resolved_address_is_tried_until_one_accepts() {
    let dead = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let (live, seen) = server().await;
    let target = HttpTarget::from_url(&format!("http://{live}/ok")).unwrap();
    // As a name resolving to an address nobody listens on, then to the server.
    let options = HttpOptions {
        route: Route::Addresses(vec![dead, live]),
        ..HttpOptions::default()
    };
    let (result, stats) = load_target(target, options, 2, 500.0, Duration::from_millis(200)).await;
    assert_eq!(result.requests.errors, 0, "{:?}", result.errors_by_kind);
    assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
    assert_eq!(stats.connections_opened, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_user_info_is_sent_as_basic_authorization_not_as_the_host() {
    let (addr, seen) = server().await;
    let target = HttpTarget::from_url(&format!("http://alice:s%40cret@{addr}/ok")).unwrap();
    let (result, _) = load_target(
        target,
        HttpOptions::default(),
        1,
        100.0,
        Duration::from_millis(50),
    )
    .await;
    assert!(result.requests.ok >= 1, "{:?}", result.requests);
    assert_eq!(
        seen.authorization.lock().unwrap().as_deref(),
        Some("Basic YWxpY2U6c0BjcmV0"),
        "base64 of alice:s@cret"
    );
    assert_eq!(
        seen.host.lock().unwrap().as_deref(),
        Some(addr.to_string().as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_on_a_connection_the_server_closed_while_idle_goes_out_on_a_fresh_one() {
    // 95/s over 2 workers: each connection idles about 21 ms between requests, just past the
    // server's 20 ms, so the server closes nearly every connection just before its next use.
    let (addr, seen) = server_closing_idle(Some(Duration::from_millis(20))).await;
    let target = HttpTarget::from_url(&format!("http://{addr}/ok")).unwrap();
    let (result, stats) = load_target(
        target,
        HttpOptions::default(),
        2,
        95.0,
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(result.requests.errors, 0, "{:?}", result.errors_by_kind);
    assert_eq!(result.requests.ok, result.requests.target);
    assert!(
        stats.retried.closed_idle >= 20,
        "the server closed connections under the requests: {stats:?}"
    );
    assert_eq!(
        seen.requests.load(Ordering::SeqCst) as u64,
        result.requests.ok,
        "a retried request reached the server once"
    );
}

#[tokio::test]
async fn workers_that_cannot_fit_in_the_open_file_limit_are_refused() {
    let target = HttpTarget::from_url("http://127.0.0.1:1/").unwrap();
    let error = HttpDriver::new(vec![target], HttpOptions::default(), usize::MAX / 2)
        .await
        .unwrap_err();
    let DriverError::TooManyConnections { limit, .. } = &error else {
        panic!("{error}");
    };
    assert!(*limit > 0);
    assert!(error.to_string().contains("open files"), "{error}");
}

#[tokio::test]
async fn refuses_urls_it_cannot_drive_and_bad_headers() {
    assert!(HttpTarget::from_url("ftp://127.0.0.1/").is_err());
    assert!(HttpTarget::from_url("not a url").is_err());
    let mut target = HttpTarget::from_url("http://127.0.0.1:1/x?y=1").unwrap();
    assert_eq!(target.path, "/x?y=1");
    assert_eq!(target.headers["host"], "127.0.0.1:1");
    assert!(target.header("X-Token: abc").is_ok());
    assert_eq!(target.headers["x-token"], "abc");
    assert!(target.header("no colon").is_err());
    assert!(target.header("bad name: v").is_err());
    let error = target.header("X-Token: s3cret\u{7f}").unwrap_err();
    assert!(!error.to_string().contains("s3cret"), "{error}");
}
