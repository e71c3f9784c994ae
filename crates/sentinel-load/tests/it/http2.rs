//! HTTP/2 against hyper's server: the workers share `connections` connections with many streams
//! each while `workers` still caps the requests in flight; prior knowledge over cleartext, ALPN
//! over TLS; connections the server shuts down (GOAWAY) are replaced without failing a request.

use std::time::Duration;

use http::Version;
use sentinel_load::http::{HttpOptions, HttpTarget, TlsOptions};
use support::{Options, Protocol};

use crate::support;

fn http2(connections: usize) -> HttpOptions {
    HttpOptions {
        http2: true,
        connections,
        ..HttpOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_share_the_connections_with_many_streams_each() {
    let server = support::serve(Options {
        protocol: Protocol::Http2,
        tls: None,
        close_after: None,
    })
    .await;
    // 20 ms answers at 400/s: about 8 in flight at once, over 8 workers and 2 connections.
    let target = HttpTarget::from_url(&format!("http://{}/slow", server.addr)).unwrap();
    let (result, stats, failure) = support::run(
        vec![target],
        http2(2),
        8,
        400.0,
        Duration::from_millis(500),
        false,
        false,
    )
    .await;
    assert_eq!(failure, None);
    assert_eq!(result.requests.errors, 0, "{:?}", result.errors_by_kind);
    let seen = &server.seen;
    assert_eq!(seen.count(&seen.connections), 2, "the workers share two");
    assert_eq!(stats.connections_opened, 2);
    assert_eq!(stats.protocol, "HTTP/2");
    assert_eq!(seen.count(&seen.requests) as u64, result.requests.ok);
    assert!(
        seen.versions
            .lock()
            .unwrap()
            .iter()
            .all(|v| *v == Version::HTTP_2),
        "prior knowledge over cleartext"
    );
    assert!(
        seen.count(&seen.max_streams_per_connection) >= 2,
        "streams share a connection: at most {} at once",
        seen.count(&seen.max_streams_per_connection)
    );
    assert!(
        seen.count(&seen.max_in_flight) <= 8,
        "never more than --workers in flight: {}",
        seen.count(&seen.max_in_flight)
    );
    assert!(
        result.first_byte_ms.p50 >= 20.0,
        "{:?}",
        result.first_byte_ms
    );
    assert!(
        result.bytes.received > 0 && result.bytes.sent > 0,
        "{:?}",
        result.bytes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_over_tls_is_agreed_by_alpn() {
    let server = support::tls(vec![b"h2", b"http/1.1"]).await;
    let url = format!("https://localhost:{}/ok", server.addr.port());
    let options = HttpOptions {
        tls: TlsOptions {
            ca_file: server.ca.clone(),
            insecure: false,
        },
        ..http2(1)
    };
    let (result, stats, _) = support::run_url(&url, options, 4).await;
    assert_eq!(result.requests.errors, 0, "{:?}", result.errors_by_kind);
    assert_eq!(result.status.get("200"), Some(&result.requests.ok));
    assert_eq!(stats.connections_opened, 1);
    let versions = server.seen.versions.lock().unwrap().clone();
    assert!(!versions.is_empty() && versions.iter().all(|v| *v == Version::HTTP_2));
    assert_eq!(
        server.seen.host.lock().unwrap().as_deref(),
        Some(format!("localhost:{}", server.addr.port()).as_str()),
        "the URL's host and port as :authority"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_the_server_shuts_down_is_replaced_without_an_error() {
    let server = support::serve(Options {
        protocol: Protocol::Http2,
        tls: None,
        close_after: Some(25),
    })
    .await;
    let target = HttpTarget::from_url(&format!("http://{}/ok", server.addr)).unwrap();
    let (result, stats, _) = support::run(
        vec![target],
        http2(1),
        4,
        500.0,
        Duration::from_millis(400),
        false,
        false,
    )
    .await;
    assert_eq!(
        result.requests.errors, 0,
        "{:?} {stats:?}",
        result.errors_by_kind
    );
    assert_eq!(result.requests.ok, result.requests.target);
    let seen = &server.seen;
    assert!(
        seen.count(&seen.connections) >= 6,
        "200 requests, 25 a connection: {} connections",
        seen.count(&seen.connections)
    );
    assert_eq!(
        stats.connections_opened as usize,
        seen.count(&seen.connections)
    );
    assert_eq!(
        seen.count(&seen.requests) as u64,
        result.requests.ok,
        "a retried request reached the server once"
    );
}
