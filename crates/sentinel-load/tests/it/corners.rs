//! The report against targets that misbehave in the corners: one that never answers, one that
//! resets or closes connections under requests, one that cuts answers after their head, one
//! that allows a single stream at a time. Each server logs what it truly did, and the report
//! is checked against that log.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use sentinel_load::http::{HttpOptions, HttpStats, HttpTarget, Opened};
use sentinel_load::{LoadTestConfig, LoadTestResult};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support;

/// The HTTP/2 client preface, before the first frame.
const PREFACE: usize = 24;
/// The type of an HTTP/2 HEADERS frame.
const HEADERS: u8 = 1;

fn http2() -> HttpOptions {
    HttpOptions {
        http2: true,
        ..HttpOptions::default()
    }
}

/// A run of `url` at `rate` for `duration` with `workers` workers and `timeout`.
async fn load(
    url: &str,
    options: HttpOptions,
    workers: usize,
    rate: f64,
    duration: Duration,
    timeout: Duration,
) -> (LoadTestResult, HttpStats, Opened) {
    let mut config = LoadTestConfig::new(rate, duration);
    config.workers = workers;
    config.timeout = timeout;
    let target = HttpTarget::from_url(url).unwrap();
    support::run_config(vec![target], options, config, false).await
}

/// A server that accepts, reads everything and never answers; logs the bytes of each
/// connection.
async fn silent() -> (SocketAddr, Arc<Mutex<Vec<Vec<u8>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let connections = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let index = {
                let mut connections = connections.lock().unwrap();
                connections.push(Vec::new());
                connections.len() - 1
            };
            let connections = Arc::clone(&connections);
            tokio::spawn(async move {
                let mut buffer = [0u8; 4096];
                while let Ok(read @ 1..) = stream.read(&mut buffer).await {
                    connections.lock().unwrap()[index].extend_from_slice(&buffer[..read]);
                }
            });
        }
    });
    (addr, log)
}

/// The log once it has stopped growing (every byte sent has arrived).
async fn settled(log: &Mutex<Vec<Vec<u8>>>) -> Vec<Vec<u8>> {
    let mut last = log.lock().unwrap().clone();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = log.lock().unwrap().clone();
        if now == last {
            return now;
        }
        last = now;
    }
}

/// The HTTP/2 frames of one connection's bytes, as (type, bytes with the frame header).
fn frames(bytes: &[u8]) -> Vec<(u8, usize)> {
    let mut frames = Vec::new();
    let mut at = PREFACE;
    while at + 9 <= bytes.len() {
        let length = usize::from(bytes[at]) << 16
            | usize::from(bytes[at + 1]) << 8
            | usize::from(bytes[at + 2]);
        frames.push((bytes[at + 3], 9 + length));
        at += 9 + length;
    }
    frames
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_times_out_still_counts_its_bytes_and_its_connection() {
    let (addr, log) = silent().await;
    let (result, stats, opened) = load(
        &format!("http://{addr}/ok"),
        HttpOptions::default(),
        2,
        10.0,
        Duration::from_secs(2),
        Duration::from_millis(300),
    )
    .await;
    let log = settled(&log).await;
    let bytes: usize = log.iter().map(Vec::len).sum();
    let requests: usize = log
        .iter()
        .map(|bytes| bytes.windows(4).filter(|w| w == b"\r\n\r\n").count())
        .sum();
    assert!(requests >= 5, "the server got {requests} requests");
    assert_eq!(result.requests.timeouts, requests as u64, "{result:?}");
    assert_eq!(result.bytes.sent, bytes as u64, "what the server received");
    assert_eq!(
        opened.count as u64 + result.connects,
        log.len() as u64,
        "the connections opened before the run and by the requests"
    );
    assert_eq!(stats.connections_opened, log.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_stream_that_times_out_still_counts_its_bytes() {
    let (addr, log) = silent().await;
    let (result, _, _) = load(
        &format!("http://{addr}/ok"),
        http2(),
        2,
        10.0,
        Duration::from_secs(2),
        Duration::from_millis(300),
    )
    .await;
    let log = settled(&log).await;
    let frames: Vec<(u8, usize)> = log.iter().flat_map(|bytes| frames(bytes)).collect();
    let headers: Vec<usize> = frames
        .iter()
        .filter(|(kind, _)| *kind == HEADERS)
        .map(|(_, length)| *length)
        .collect();
    assert!(
        headers.len() >= 10,
        "the server got {} streams",
        headers.len()
    );
    assert_eq!(result.requests.timeouts, headers.len() as u64);
    // The connection's own frames (its settings, the resets of streams given up) are charged to
    // the requests in flight when they go; none is charged twice.
    let every_frame: usize = frames.iter().map(|(_, length)| length).sum();
    assert!(
        (headers.iter().sum::<usize>()..=every_frame).contains(&(result.bytes.sent as usize)),
        "requests {} bytes, frames {} bytes, reported {}",
        headers.iter().sum::<usize>(),
        every_frame,
        result.bytes.sent
    );
}

/// What a misbehaving HTTP/1.1 server did.
#[derive(Default)]
struct Misdeeds {
    requests: AtomicUsize,
    answered: AtomicUsize,
    /// Requests answered by resetting (or closing) the connection.
    dropped: AtomicUsize,
}

/// A keep-alive HTTP/1.1 server that reads each request and answers `200 ok`, except every
/// tenth request, whose connection it resets (SO_LINGER 0) or, with `clean`, closes (FIN)
/// before any byte of an answer.
async fn dropping(clean: bool) -> (SocketAddr, Arc<Misdeeds>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Arc::new(Misdeeds::default());
    let seen = Arc::clone(&log);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let mut pending = Vec::new();
                let mut buffer = [0u8; 4096];
                loop {
                    let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match stream.read(&mut buffer).await {
                            Ok(read @ 1..) => pending.extend_from_slice(&buffer[..read]),
                            _ => return,
                        }
                        continue;
                    };
                    pending.drain(..end + 4);
                    let number = seen.requests.fetch_add(1, Ordering::SeqCst) + 1;
                    if number % 10 == 0 {
                        seen.dropped.fetch_add(1, Ordering::SeqCst);
                        if clean {
                            let _ = stream.shutdown().await;
                        } else {
                            stream.set_zero_linger().unwrap();
                        }
                        return;
                    }
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if stream.write_all(answer).await.is_err() {
                        return;
                    }
                    seen.answered.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    (addr, log)
}

/// 200 requests in 1 s over 2 workers against [`dropping`]`(clean)`; the result, the stats and
/// the server's log.
async fn load_dropping(clean: bool) -> (LoadTestResult, HttpStats, Arc<Misdeeds>) {
    let (addr, seen) = dropping(clean).await;
    let (result, stats, _) = load(
        &format!("http://{addr}/ok"),
        HttpOptions::default(),
        2,
        200.0,
        Duration::from_secs(1),
        Duration::from_secs(2),
    )
    .await;
    (result, stats, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_after_the_request_is_an_error_of_the_target_and_not_retried() {
    let (result, stats, seen) = load_dropping(false).await;
    let resets = seen.dropped.load(Ordering::SeqCst) as u64;
    assert!(resets >= 5, "{resets} resets");
    assert_eq!(
        result.errors_by_kind.get("reset").copied(),
        Some(resets),
        "{:?}",
        result.errors_by_kind
    );
    assert_eq!(
        result.requests.errors, resets,
        "{:?}",
        result.errors_by_kind
    );
    assert_eq!(stats.retried.total(), 0, "{stats:?}");
    assert_eq!(
        seen.requests.load(Ordering::SeqCst) as u64,
        result.requests.sent,
        "no request reached the server twice"
    );
    assert_eq!(
        seen.answered.load(Ordering::SeqCst) as u64,
        result.requests.ok
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_close_of_a_kept_alive_connection_is_retried_once_on_a_fresh_one() {
    let (result, stats, seen) = load_dropping(true).await;
    let closes = seen.dropped.load(Ordering::SeqCst) as u64;
    assert!(closes >= 5, "{closes} closes");
    assert_eq!(result.requests.errors, 0, "{:?}", result.errors_by_kind);
    assert_eq!(stats.retried.closed, closes, "{stats:?}");
    assert_eq!(stats.retried.total(), closes, "{stats:?}");
    assert_eq!(
        seen.requests.load(Ordering::SeqCst) as u64,
        result.requests.sent + closes,
        "each closed request went out once more"
    );
    assert_eq!(
        seen.answered.load(Ordering::SeqCst) as u64,
        result.requests.ok
    );
}

/// A body of one chunk, then, once the chunk has gone out, a failure: the server cuts the
/// answer after its head.
struct Cut {
    sent: bool,
    pause: Pin<Box<tokio::time::Sleep>>,
}

impl Cut {
    fn new() -> Self {
        Self {
            sent: false,
            pause: Box::pin(tokio::time::sleep(Duration::from_millis(5))),
        }
    }
}

impl hyper::body::Body for Cut {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if !std::mem::replace(&mut self.sent, true) {
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"part")))));
        }
        // Pending a moment, so the server flushes the head and the chunk first.
        match self.pause.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => Poll::Ready(Some(Err(std::io::Error::other("cut")))),
        }
    }
}

/// A hyper server (`http2` or HTTP/1.1) that answers every request with a 200 head and a body
/// it cuts after one chunk; counts the answers it cut.
async fn cutting(http2: bool) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cut = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&cut);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counted = Arc::clone(&counted);
            let service = service_fn(move |_: Request<Incoming>| {
                counted.fetch_add(1, Ordering::SeqCst);
                async { Ok::<_, Infallible>(Response::new(Cut::new())) }
            });
            let io = TokioIo::new(stream);
            tokio::spawn(async move {
                if http2 {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(io, service)
                        .await;
                } else {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                }
            });
        }
    });
    (addr, cut)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_cut_after_its_head_counts_no_status_over_either_protocol() {
    for (http2, options, kind) in [
        (true, http2(), "reset"),
        (false, HttpOptions::default(), "io"),
    ] {
        let (addr, cut) = cutting(http2).await;
        let (result, _, _) = load(
            &format!("http://{addr}/"),
            options,
            2,
            100.0,
            Duration::from_millis(300),
            Duration::from_secs(2),
        )
        .await;
        let cut = cut.load(Ordering::SeqCst) as u64;
        // A loaded machine sends fewer in 300 ms; what matters is that each one cut is counted.
        assert!(cut >= 3, "HTTP/2 {http2}: {cut} answers cut");
        assert_eq!(
            result.errors_by_kind.get(kind).copied(),
            Some(cut),
            "HTTP/2 {http2}: {:?}",
            result.errors_by_kind
        );
        assert_eq!(
            result.status.get("200"),
            None,
            "HTTP/2 {http2}: {:?}",
            result.status
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_http2_stream_waiting_for_a_slot_times_out_from_when_it_opens() {
    // One stream at a time, 50 ms each: 60 requests take the server 3 s, so the last ones
    // wait longer than the 2 s timeout for their turn, and then are answered within 51 ms.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let took = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&took);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let log = Arc::clone(&log);
            let service = service_fn(move |_: Request<Incoming>| {
                let log = Arc::clone(&log);
                async move {
                    let started = Instant::now();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    log.lock().unwrap().push(started.elapsed());
                    Ok::<_, Infallible>(Response::new(http_body_util::Full::new(
                        Bytes::from_static(b"ok"),
                    )))
                }
            });
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .max_concurrent_streams(1)
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    let (result, _, _) = load(
        &format!("http://{addr}/"),
        http2(),
        60,
        60.0,
        Duration::from_secs(1),
        Duration::from_secs(2),
    )
    .await;
    let took = took.lock().unwrap().clone();
    assert_eq!(took.len(), 60, "the server answered every request");
    assert!(took.iter().all(|took| *took < Duration::from_secs(2)));
    assert_eq!(result.requests.timeouts, 0, "{:?}", result.errors_by_kind);
    assert_eq!(result.requests.ok, 60);
    assert!(
        result.latency_ms.max > 2000.0,
        "the wait for a slot counts in the latency: {:?}",
        result.latency_ms
    );
}
