//! Many targets: a targets file's entries in turn or by weight (the server's counts match the
//! weights' shares), each kept apart with its own figures and thresholds; the status
//! distribution and byte counts against a server whose answers are known to the byte; a Unix
//! socket and `--connect-to` as other routes to a URL's host.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use sentinel_load::http::{HttpOptions, HttpTarget, Route, TlsOptions, parse_targets};
use sentinel_load::{Threshold, judge};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support;

fn targets(lines: &str) -> Vec<HttpTarget> {
    parse_targets(lines, Path::new("targets.jsonl")).unwrap()
}

/// Three targets on `addr` of weights 5, 3 and 2.
fn three_weighted(addr: SocketAddr) -> Vec<HttpTarget> {
    targets(&format!(
        "{{\"url\": \"http://{addr}/a\", \"weight\": 5}}\n\
         {{\"url\": \"http://{addr}/b\", \"weight\": 3}}\n\
         \n\
         {{\"url\": \"http://{addr}/c\", \"weight\": 2}}\n"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_targets_get_the_share_their_weights_say() {
    let server = support::http1().await;
    let (result, _, _) = support::run(
        three_weighted(server.addr),
        HttpOptions::default(),
        4,
        1000.0,
        Duration::from_millis(600),
        true,
        false,
    )
    .await;
    let seen = &server.seen;
    let total = (seen.path("/a") + seen.path("/b") + seen.path("/c")) as f64;
    assert!(total >= 500.0, "{:?}", result.requests);
    for (path, share) in [("/a", 0.5), ("/b", 0.3), ("/c", 0.2)] {
        let observed = seen.path(path) as f64 / total;
        assert!(
            (observed - share).abs() < 0.02,
            "{path}: {observed:.3} of the requests, expected {share}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_weighted_the_targets_are_taken_in_turn() {
    let server = support::http1().await;
    support::run(
        three_weighted(server.addr),
        HttpOptions::default(),
        3,
        600.0,
        Duration::from_millis(500),
        false,
        false,
    )
    .await;
    let seen = &server.seen;
    let (a, b, c) = (seen.path("/a"), seen.path("/b"), seen.path("/c"));
    assert!(
        a > 0 && a.abs_diff(b) <= 1 && b.abs_diff(c) <= 1,
        "{a} {b} {c}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_target_kept_apart_has_its_own_figures_and_verdicts() {
    let server = support::http1().await;
    let addr = server.addr;
    let file = format!(
        "{{\"url\": \"http://{addr}/ok\", \"weight\": 3}}\n\
         {{\"url\": \"http://{addr}/busy\"}}\n"
    );
    let (result, _, _) = support::run(
        targets(&file),
        HttpOptions::default(),
        4,
        400.0,
        Duration::from_millis(500),
        true,
        true,
    )
    .await;
    let [ok, busy] = &result.targets[..] else {
        panic!("two targets: {:?}", result.targets.len());
    };
    assert_eq!(
        ok.requests.target + busy.requests.target,
        result.requests.target
    );
    assert_eq!(ok.requests.target, 150, "three quarters of 200");
    assert_eq!(ok.target_rate, 300.0);
    assert_eq!(ok.status.get("200"), Some(&ok.requests.ok));
    assert_eq!(ok.requests.errors, 0);
    assert_eq!(busy.requests.ok, 0);
    assert_eq!(busy.status.get("503"), Some(&busy.requests.sent));
    assert_eq!(
        busy.errors_by_kind.get("http_503"),
        Some(&busy.requests.sent)
    );
    assert_eq!(
        result.status.values().sum::<u64>(),
        ok.requests.sent + busy.requests.sent
    );
    let success: Vec<Threshold> = vec!["success>=90%".parse().unwrap()];
    assert!(judge(&success, ok)[0].passed());
    assert!(!judge(&success, busy)[0].passed());
    assert!(
        !judge(&success, &result)[0].passed(),
        "75% for the whole run"
    );
}

/// A raw server that answers every request with exactly `response` and counts what it read.
async fn exact_server(response: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while let Ok(n @ 1..) = stream.read(&mut buffer).await {
                    request.extend_from_slice(&buffer[..n]);
                    while let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        request.drain(..end + 4);
                        if stream.write_all(response).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_codes_and_bytes_are_counted_to_the_byte() {
    const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
    const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n";
    let (ok, busy) = (exact_server(OK).await, exact_server(BUSY).await);
    let file = format!(
        "{{\"url\": \"http://{ok}/\"}}\n\
         {{\"url\": \"http://{busy}/\", \"method\": \"POST\", \"body\": \"0123456789\"}}\n"
    );
    let (result, _, _) = support::run(
        targets(&file),
        HttpOptions::default(),
        2,
        500.0,
        Duration::from_millis(400),
        false,
        true,
    )
    .await;
    let r = &result.requests;
    let (gets, posts) = (
        result.targets[0].requests.sent,
        result.targets[1].requests.sent,
    );
    assert!(gets >= 90 && posts >= 90, "{r:?}");
    assert_eq!(
        result.status,
        [("200".to_owned(), gets), ("503".to_owned(), posts)].into()
    );
    assert_eq!(result.errors_by_kind.get("http_503"), Some(&posts));
    let get = format!("GET / HTTP/1.1\r\nhost: {ok}\r\n\r\n").len() as u64;
    let post = format!("POST / HTTP/1.1\r\nhost: {busy}\r\ncontent-length: 10\r\n\r\n0123456789")
        .len() as u64;
    assert_eq!(result.bytes.sent, gets * get + posts * post);
    assert_eq!(
        result.bytes.received,
        gets * OK.len() as u64 + posts * BUSY.len() as u64
    );
    let per_second = result.bytes.received as f64 / 0.4;
    assert!(
        (result.bytes.received_per_s - per_second).abs() < per_second * 0.01,
        "{:?}",
        result.bytes
    );
    assert_eq!(result.histograms.first_byte.len(), r.sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unix_socket_serves_the_urls_host_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("server.sock");
    let seen = support::unix(&socket).await;
    let options = HttpOptions {
        route: Route::UnixSocket(socket),
        ..HttpOptions::default()
    };
    let (result, _, _) = support::run_url("http://api.internal/ok", options, 2).await;
    assert_eq!(result.requests.errors, 0, "{:?}", result.errors_by_kind);
    assert_eq!(seen.count(&seen.requests) as u64, result.requests.ok);
    assert_eq!(seen.host.lock().unwrap().as_deref(), Some("api.internal"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_sends_to_another_address_under_the_urls_name() {
    let server = support::tls(vec![b"http/1.1"]).await;
    // Nothing listens on localhost:1; the certificate is for localhost.
    let options = HttpOptions {
        route: Route::ConnectTo(server.addr.to_string()),
        tls: TlsOptions {
            ca_file: server.ca.clone(),
            insecure: false,
        },
        ..HttpOptions::default()
    };
    let (result, _, _) = support::run_url("https://localhost:1/ok", options, 2).await;
    assert_eq!(result.requests.errors, 0, "{:?}", result.errors_by_kind);
    let seen = &server.seen;
    assert_eq!(seen.host.lock().unwrap().as_deref(), Some("localhost:1"));
    let names = seen.server_names.lock().unwrap().clone();
    assert!(
        names
            .iter()
            .all(|name| name.as_deref() == Some("localhost"))
    );
}
