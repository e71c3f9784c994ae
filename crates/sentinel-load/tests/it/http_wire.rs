//! The HTTP client on the wire: how it frames the responses real servers send (hyper's
//! fixed-length, chunked, `HEAD`, 204 and `Connection: close` answers; chunked bodies split at
//! any byte with extensions and trailers) and what it sends (the request line, `Host`,
//! `Content-Length` and the body).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use proptest::prelude::*;
use sentinel_load::http::{HttpDriver, HttpOptions, HttpTarget};
use sentinel_load::{RequestContext, Wire};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// A hyper server: `/chunked` streams three chunks (hyper frames them chunked), `/empty`
/// answers 204, `/close` answers with `Connection: close`, anything else a fixed-length
/// `hello`. Records the last request's method, headers and body; counts connections.
async fn hyper_server() -> (SocketAddr, Arc<AtomicUsize>, Arc<Mutex<Option<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let last = Arc::new(Mutex::new(None));
    let (count, record) = (Arc::clone(&connections), Arc::clone(&last));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            let record = Arc::clone(&record);
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let record = Arc::clone(&record);
                    async move { Ok::<_, Infallible>(answer(request, &record).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, connections, last)
}

/// What the server saw of a request.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    host: Option<String>,
    content_length: Option<String>,
    body: Bytes,
}

async fn answer(request: Request<Incoming>, record: &Mutex<Option<Seen>>) -> Response<Body> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let (host, content_length) = (header("host"), header("content-length"));
    let body = request.into_body().collect().await.unwrap().to_bytes();
    *record.lock().unwrap() = Some(Seen {
        method,
        path: path.clone(),
        host,
        content_length,
        body,
    });
    match path.as_str() {
        "/chunked" => Response::new(BodyExt::boxed(Chunks(vec!["a", "bb", "ccc"].into_iter()))),
        "/empty" => {
            let mut response = Response::new(BodyExt::boxed(Full::new(Bytes::new())));
            *response.status_mut() = StatusCode::NO_CONTENT;
            response
        }
        "/close" => {
            let mut response = Response::new(BodyExt::boxed(Full::new(Bytes::from("bye"))));
            response
                .headers_mut()
                .insert("connection", "close".parse().unwrap());
            response
        }
        _ => Response::new(BodyExt::boxed(Full::new(Bytes::from("hello")))),
    }
}

/// A body of a few parts and no declared length, which hyper sends chunked.
struct Chunks(std::vec::IntoIter<&'static str>);

impl hyper::body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let part = self.0.next();
        std::task::Poll::Ready(
            part.map(|part| Ok(Frame::data(Bytes::from_static(part.as_bytes())))),
        )
    }
}

/// `times` requests of `method` to `url` on one worker; the outcomes.
async fn send(
    url: &str,
    method: Method,
    body: &'static str,
    times: usize,
) -> Vec<Result<(), String>> {
    let mut target = HttpTarget::from_url(url).unwrap();
    target.method = method;
    target.body = Bytes::from_static(body.as_bytes());
    let driver = HttpDriver::new(vec![target], HttpOptions::default(), 1)
        .await
        .unwrap();
    let mut outcomes = Vec::new();
    for seq in 0..times as u64 {
        let outcome = Arc::clone(&driver)
            .request(RequestContext {
                worker: 0,
                seq,
                target: 0,
                wire: Wire::default(),
            })
            .await;
        outcomes.push(outcome.map(|_| ()).map_err(|error| error.kind().to_owned()));
    }
    outcomes
}

#[tokio::test]
async fn reads_fixed_length_chunked_and_empty_answers_on_one_kept_alive_connection() {
    let (addr, connections, _) = hyper_server().await;
    for path in ["/fixed", "/chunked", "/empty"] {
        let outcomes = send(&format!("http://{addr}{path}"), Method::GET, "", 3).await;
        assert_eq!(outcomes, vec![Ok(()); 3], "{path}");
    }
    let head = send(&format!("http://{addr}/fixed"), Method::HEAD, "", 3).await;
    assert_eq!(head, vec![Ok(()); 3], "HEAD: a length but no body");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        4,
        "one connection per driver"
    );
}

#[tokio::test]
async fn a_connection_the_server_closes_after_its_answer_is_not_reused() {
    let (addr, connections, _) = hyper_server().await;
    let outcomes = send(&format!("http://{addr}/close"), Method::GET, "", 3).await;
    assert_eq!(outcomes, vec![Ok(()); 3]);
    assert_eq!(connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn sends_the_request_line_host_length_and_body() {
    let (addr, _, last) = hyper_server().await;
    let outcomes = send(
        &format!("http://{addr}/submit?x=1"),
        Method::POST,
        "payload",
        1,
    )
    .await;
    assert_eq!(outcomes, [Ok(())]);
    let seen = last.lock().unwrap().clone().unwrap();
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.path, "/submit");
    assert_eq!(seen.host, Some(addr.to_string()));
    assert_eq!(seen.content_length.as_deref(), Some("7"));
    assert_eq!(seen.body, "payload");

    let outcomes = send(&format!("http://{addr}/submit"), Method::POST, "", 1).await;
    assert_eq!(outcomes, [Ok(())]);
    let seen = last.lock().unwrap().clone().unwrap();
    assert_eq!(
        seen.content_length.as_deref(),
        Some("0"),
        "an empty POST says so"
    );
}

/// A server that answers every request on a connection with `response`, written in pieces
/// at the given cut points, and closes the connection after it when `close` is set.
/// Returns its address and a count of the connections it accepted.
async fn raw_server(
    response: Vec<u8>,
    cuts: Vec<usize>,
    close: bool,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let accepted = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            accepted.fetch_add(1, Ordering::SeqCst);
            let (response, cuts) = (response.clone(), cuts.clone());
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                loop {
                    let Ok(n) = stream.read(&mut buffer).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..n]);
                    if !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        continue;
                    }
                    request.clear();
                    let mut from = 0;
                    for &cut in cuts.iter().chain([&response.len()]) {
                        let cut = cut.clamp(from, response.len());
                        if stream.write_all(&response[from..cut]).await.is_err() {
                            return;
                        }
                        let _ = stream.flush().await;
                        tokio::time::sleep(Duration::from_micros(200)).await;
                        from = cut;
                    }
                    if close {
                        return;
                    }
                }
            });
        }
    });
    (addr, connections)
}

fn chunked_response(chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for (i, chunk) in chunks.iter().enumerate() {
        let size = if i % 2 == 0 {
            format!("{:x}\r\n", chunk.len())
        } else {
            format!("{:X};name=value\r\n", chunk.len())
        };
        response.extend_from_slice(size.as_bytes());
        response.extend_from_slice(chunk);
        response.extend_from_slice(b"\r\n");
    }
    response.extend_from_slice(b"0\r\nX-Trailer: yes\r\n\r\n");
    response
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn a_chunked_body_split_anywhere_is_read_exactly(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..9000), 0..5),
        cuts in proptest::collection::vec(0usize..40_000, 0..6),
    ) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let mut cuts = cuts;
        cuts.sort_unstable();
        let (outcomes, connections) = runtime.block_on(async {
            let (addr, connections) = raw_server(chunked_response(&chunks), cuts, false).await;
            let outcomes = send(&format!("http://{addr}/"), Method::GET, "", 3).await;
            (outcomes, connections.load(Ordering::SeqCst))
        });
        prop_assert_eq!(outcomes, vec![Ok(()); 3]);
        // All on one connection: each response was consumed to its last byte, no further.
        prop_assert_eq!(connections, 1);
    }
}

#[tokio::test]
async fn malformed_and_truncated_answers_are_io_errors() {
    for response in [
        &b"SSH-2.0-OpenSSH_9.2\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Le",
    ] {
        let (addr, _) = raw_server(response.to_vec(), Vec::new(), true).await;
        let outcomes = send(&format!("http://{addr}/"), Method::GET, "", 1).await;
        assert_eq!(
            outcomes,
            [Err("io".to_owned())],
            "{}",
            String::from_utf8_lossy(response)
        );
    }
}
