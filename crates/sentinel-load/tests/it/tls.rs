//! HTTPS against a local rustls server whose certificate a test CA signed: refused (as `tls`,
//! not `io`) by the system's roots, served with the CA given, served with `--insecure`; SNI
//! from the URL's host; handshakes before the run with keep-alive, one per request without it,
//! and resumed sessions on reconnect; HTTP/2 refused by a server that does not agree to it.

use sentinel_load::http::{HttpOptions, TLS, TlsOptions};

use crate::support;

fn trusting(ca: &std::path::Path) -> HttpOptions {
    HttpOptions {
        tls: TlsOptions {
            ca_file: Some(ca.to_owned()),
            insecure: false,
        },
        ..HttpOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_an_unknown_ca_is_a_tls_error_not_io() {
    let server = support::tls(vec![b"http/1.1"]).await;
    let url = format!("https://localhost:{}/ok", server.addr.port());
    let (result, stats, failure) = support::run_url(&url, HttpOptions::default(), 2).await;
    assert_eq!(result.requests.ok, 0);
    assert!(result.requests.sent > 0);
    assert_eq!(
        result.errors_by_kind.get(TLS),
        Some(&result.requests.sent),
        "{:?}",
        result.errors_by_kind
    );
    assert_eq!(stats.connections_opened, 0);
    let failure = failure.expect("opening before the run failed");
    assert!(
        failure.contains("TLS handshake with localhost") && failure.contains("certificate"),
        "{failure}"
    );
    assert_eq!(server.seen.count(&server.seen.requests), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_private_ca_is_trusted_with_cacert_and_sni_names_the_urls_host() {
    let server = support::tls(vec![b"http/1.1"]).await;
    let ca = server.ca.clone().unwrap();
    let url = format!("https://localhost:{}/ok", server.addr.port());
    let (result, stats, failure) = support::run_url(&url, trusting(&ca), 2).await;
    assert_eq!(failure, None);
    assert_eq!(result.requests.errors, 0, "{:?}", result.errors_by_kind);
    assert_eq!(result.status.get("200"), Some(&result.requests.ok));
    assert_eq!(stats.tls, Some("verified"));
    assert_eq!(stats.protocol, "HTTP/1.1");
    let names = server.seen.server_names.lock().unwrap().clone();
    assert!(!names.is_empty());
    assert!(
        names
            .iter()
            .all(|name| name.as_deref() == Some("localhost")),
        "{names:?}"
    );
    // An address is checked against the certificate's IP name, and never sent as SNI.
    let server = support::tls(vec![b"http/1.1"]).await;
    let url = format!("https://{}/ok", server.addr);
    let (result, _, _) = support::run_url(&url, trusting(server.ca.as_ref().unwrap()), 1).await;
    assert_eq!(result.requests.errors, 0, "{:?}", result.errors_by_kind);
    let names = server.seen.server_names.lock().unwrap().clone();
    assert!(names.iter().all(Option::is_none), "{names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_accepts_any_certificate_and_says_so() {
    let server = support::tls(vec![b"http/1.1"]).await;
    let url = format!("https://localhost:{}/ok", server.addr.port());
    let options = HttpOptions {
        tls: TlsOptions {
            ca_file: None,
            insecure: true,
        },
        ..HttpOptions::default()
    };
    let (result, stats, _) = support::run_url(&url, options, 2).await;
    assert_eq!(result.requests.errors, 0, "{:?}", result.errors_by_kind);
    assert!(result.requests.ok > 0);
    assert_eq!(stats.tls, Some("insecure"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_come_before_the_run_unless_every_request_opens_its_own() {
    let server = support::tls(vec![b"http/1.1"]).await;
    let ca = server.ca.clone().unwrap();
    let url = format!("https://localhost:{}/ok", server.addr.port());
    let (kept, stats, _) = support::run_url(&url, trusting(&ca), 4).await;
    assert_eq!(kept.requests.errors, 0, "{:?}", kept.errors_by_kind);
    assert_eq!(
        stats.connections_opened, 4,
        "one per worker, before the run"
    );
    assert_eq!(kept.connects, 0, "no request paid for a handshake");
    assert_eq!(server.seen.count(&server.seen.connections), 4);

    let server = support::tls(vec![b"http/1.1"]).await;
    let url = format!("https://localhost:{}/ok", server.addr.port());
    let options = HttpOptions {
        keepalive: false,
        ..trusting(server.ca.as_ref().unwrap())
    };
    let (each, stats, _) = support::run_url(&url, options, 4).await;
    let sent = each.requests.sent;
    assert_eq!(each.requests.errors, 0, "{:?}", each.errors_by_kind);
    assert_eq!(each.connects, sent, "every request opened a connection");
    assert_eq!(stats.connections_opened, sent);
    assert!(each.connect_ms.p50 > 0.0, "{:?}", each.connect_ms);
    assert!(
        each.service_time_ms.p50 >= each.connect_ms.p50,
        "the handshake is part of the service time: {:?} {:?}",
        each.service_time_ms,
        each.connect_ms
    );
    // The first connections find no session to resume; the later ones resume one.
    assert!(
        stats.tls_resumed * 2 >= sent && stats.tls_resumed < sent,
        "{stats:?} of {sent}"
    );
    assert_eq!(
        server.seen.count(&server.seen.resumed) as u64,
        stats.tls_resumed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_to_a_server_that_speaks_only_http1_is_a_tls_error() {
    let server = support::tls(vec![b"http/1.1"]).await;
    let url = format!("https://localhost:{}/ok", server.addr.port());
    let options = HttpOptions {
        http2: true,
        ..trusting(server.ca.as_ref().unwrap())
    };
    let (result, _, failure) = support::run_url(&url, options, 2).await;
    assert_eq!(result.errors_by_kind.get(TLS), Some(&result.requests.sent));
    assert!(failure.is_some());
}
