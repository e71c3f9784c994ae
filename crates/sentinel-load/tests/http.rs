//! The HTTP driver against a local hyper server: success, keep-alive with one connection per
//! worker, non-2xx statuses as `http_<code>` errors, and a refused connection.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sentinel_load::http::{HttpDriver, HttpTarget};
use sentinel_load::{LoadTestConfig, LoadTestResult, run_load_test};
use tokio::net::TcpListener;

/// Serves `/ok` with 200 and anything else with 503; counts accepted connections.
async fn server() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&connections);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let service = service_fn(|request: Request<Incoming>| async move {
                    let status = if request.uri().path() == "/ok" {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    };
                    let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
                    *response.status_mut() = status;
                    Ok::<_, Infallible>(response)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, connections)
}

async fn load(url: &str, workers: usize) -> LoadTestResult {
    let target = HttpTarget::from_url(url).await.unwrap();
    let driver = HttpDriver::new(target, workers);
    let mut config = LoadTestConfig::new(500.0, Duration::from_millis(400));
    config.workers = workers;
    config.timeout = Duration::from_millis(500);
    run_load_test(config, move |ctx| Arc::clone(&driver).request(ctx))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn succeeds_over_kept_alive_connections_one_per_worker() {
    let (addr, connections) = server().await;
    let result = load(&format!("http://{addr}/ok"), 4).await;
    assert!(result.requests.ok >= 190, "{:?}", result.requests);
    assert_eq!(result.requests.errors, 0, "{:?}", result.errors_by_kind);
    let opened = connections.load(Ordering::SeqCst);
    assert!(
        (1..=4).contains(&opened),
        "{opened} connections for 4 workers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_outside_2xx_is_an_error_of_its_code() {
    let (addr, connections) = server().await;
    let result = load(&format!("http://{addr}/busy"), 2).await;
    assert_eq!(result.requests.ok, 0);
    assert_eq!(
        result.errors_by_kind.get("http_503"),
        Some(&result.requests.sent)
    );
    assert!(
        connections.load(Ordering::SeqCst) <= 2,
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

#[tokio::test]
async fn refuses_urls_it_cannot_drive_and_bad_headers() {
    assert!(HttpTarget::from_url("https://127.0.0.1/").await.is_err());
    assert!(HttpTarget::from_url("not a url").await.is_err());
    let mut target = HttpTarget::from_url("http://127.0.0.1:1/x?y=1")
        .await
        .unwrap();
    assert_eq!(target.path, "/x?y=1");
    assert_eq!(target.headers["host"], "127.0.0.1:1");
    assert!(target.header("X-Token: abc").is_ok());
    assert_eq!(target.headers["x-token"], "abc");
    assert!(target.header("no colon").is_err());
    assert!(target.header("bad name: v").is_err());
}
