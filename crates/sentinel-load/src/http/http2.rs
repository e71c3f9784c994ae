//! HTTP/2: a few connections per origin (`connections`), shared by every worker, each carrying
//! many streams at once. A worker sends one request at a time on the connection its index
//! picks, so `workers` still caps the requests in flight; the connections only multiplex them.
//!
//! A connection is the `h2` crate's, driven by a task of its own; a request takes a handle on
//! it, opens a stream and reads the answer to its end. A connection found dead (closed by the
//! server, or gone away) is replaced once, by the first worker to notice, while the others
//! wait for the new one. A request the server refused unprocessed (a stream above the last
//! stream ID of its `GOAWAY`) goes out once more on a fresh connection and is counted in the
//! retries, not as an error; a stream the server resets (`RST_STREAM`, whatever its code) is
//! an error of kind `reset`, and is not sent again.
//!
//! A stream waiting for a slot (the server's `SETTINGS_MAX_CONCURRENT_STREAMS`) counts that
//! wait in its latency, but its timeout runs from when it opens, as over HTTP/1.1 it runs from
//! the write.
//!
//! The bytes of a request are those its connection moved (HTTP/2 frames, above TLS) since the
//! previous request on it completed: the totals are exact, and with streams interleaved each
//! request is charged with about its share.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::client::SendRequest;
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, TE, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderValue, Request, Uri};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::dialer::{Dialer, Retry};
use super::kind::{IO, RESET, TLS};
use super::target::{HttpTarget, expects_body};
use super::transport::{OpenError, Stream};
use crate::error::RequestError;
use crate::exchange::Exchange;
use crate::wire::Wire;

/// The flow-control window of each stream, and of each connection: large enough that a
/// response of a few megabytes never waits on a window update.
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 8 * 1024 * 1024;

/// Every origin's shared connections and every target's request.
pub(super) struct Pool {
    requests: Box<[Template]>,
    /// `connections` per origin, origin by origin.
    connections: Box<[Shared]>,
    per_origin: usize,
}

/// A request as HTTP/2 sends it: the head, copied for each stream, and the body.
struct Template {
    origin: usize,
    head: http::request::Parts,
    body: Bytes,
}

/// One connection slot: the live connection, if any, and the lock that lets one worker at a
/// time replace it.
#[derive(Default)]
struct Shared {
    live: Mutex<Option<Live>>,
    dialing: tokio::sync::Mutex<u64>,
}

/// A handle on a live connection.
#[derive(Clone)]
struct Live {
    /// Tells this connection from the one that replaces it.
    generation: u64,
    sender: SendRequest<Bytes>,
    traffic: Arc<Traffic>,
}

/// The bytes a connection moved since they were last taken.
#[derive(Default)]
struct Traffic {
    sent: AtomicU64,
    received: AtomicU64,
}

/// How a request on a stream failed.
enum StreamFailure {
    /// Not processed by the server (the connection could not take it, or went away before
    /// it): it may go out again.
    Unprocessed,
    /// The connection failed under it: it is not reused.
    ConnectionLost,
    /// The server reset the stream (`RST_STREAM`): a failure of the target.
    Reset,
    /// The stream failed otherwise on a connection that stands.
    Stream,
}

impl Pool {
    /// Connections for `targets` (with `origin_of` their origin indices), `per_origin` for each
    /// of `origins` origins.
    pub fn new(
        targets: &[HttpTarget],
        origin_of: &[usize],
        origins: usize,
        per_origin: usize,
    ) -> Self {
        let requests = targets
            .iter()
            .zip(origin_of)
            .map(|(target, &origin)| Template::new(target, origin))
            .collect();
        Self {
            requests,
            connections: (0..origins * per_origin)
                .map(|_| Shared::default())
                .collect(),
            per_origin,
        }
    }

    /// How many connections a run opens before it starts.
    pub fn slots(&self) -> usize {
        self.connections.len()
    }

    /// Opens connection slot `slot` (before a run).
    pub async fn fill(&self, dialer: &Dialer, slot: usize) -> Result<(), OpenError> {
        let origin = slot / self.per_origin;
        self.connections[slot]
            .replace(dialer, origin, None)
            .await
            .map(|_| ())
    }

    /// Sends `target` for `worker` on the connection the worker's index picks and reads the
    /// whole answer, counting the bytes its connection moves and the connection it opens into
    /// `wire` as they happen.
    pub async fn send(
        &self,
        dialer: &Dialer,
        worker: usize,
        target: usize,
        wire: &Wire,
    ) -> Result<Exchange, RequestError> {
        let template = &self.requests[target];
        let shared =
            &self.connections[template.origin * self.per_origin + worker % self.per_origin];
        let mut exchange = Exchange::default();
        let mut retried = false;
        let mut live = match shared.current() {
            Some(live) => live,
            None => {
                shared
                    .replace_for(dialer, template.origin, None, wire)
                    .await?
            }
        };
        loop {
            let outcome = {
                let _charged = Charge {
                    traffic: &live.traffic,
                    wire,
                };
                template.exchange(&live, &mut exchange, wire).await
            };
            match outcome {
                Ok(()) => return Ok(exchange),
                Err(StreamFailure::Unprocessed) if !retried => {
                    retried = true;
                    dialer.retried(Retry::Refused);
                    live = shared
                        .replace_for(dialer, template.origin, Some(live.generation), wire)
                        .await?;
                }
                Err(StreamFailure::Unprocessed | StreamFailure::ConnectionLost) => {
                    shared.forget(live.generation);
                    return Err(RequestError::new(IO).with_exchange(exchange));
                }
                Err(StreamFailure::Reset) => {
                    return Err(RequestError::new(RESET).with_exchange(exchange));
                }
                Err(StreamFailure::Stream) => {
                    return Err(RequestError::new(IO).with_exchange(exchange));
                }
            }
        }
    }
}

/// Charges a request with the bytes its connection moved when it ends, however it ends (a
/// request dropped at its timeout included).
struct Charge<'a> {
    traffic: &'a Traffic,
    wire: &'a Wire,
}

impl Drop for Charge<'_> {
    fn drop(&mut self) {
        let (sent, received) = self.traffic.take();
        self.wire.wrote(sent);
        self.wire.read(received);
    }
}

impl Template {
    fn new(target: &HttpTarget, origin: usize) -> Self {
        let authority = target
            .headers
            .get(HOST)
            .and_then(|host| host.to_str().ok())
            .unwrap_or(&target.origin().host);
        let scheme = if target.origin().https {
            "https"
        } else {
            "http"
        };
        let uri: Uri = format!("{scheme}://{authority}{}", target.path)
            .parse()
            .unwrap_or_else(|_| target.path.clone());
        let mut headers = HeaderMap::with_capacity(target.headers.len() + 1);
        for (name, value) in &target.headers {
            // Connection-specific headers are not allowed in HTTP/2 (RFC 9113 §8.2.2); the
            // Host becomes the :authority.
            let specific = [HOST, CONNECTION, TRANSFER_ENCODING, UPGRADE, CONTENT_LENGTH]
                .contains(name)
                || name.as_str() == "keep-alive"
                || name.as_str() == "proxy-connection"
                || (name == TE && value != "trailers");
            if !specific {
                headers.append(name, value.clone());
            }
        }
        if !target.body.is_empty() || expects_body(&target.method) {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(target.body.len()));
        }
        let mut head = Request::new(()).into_parts().0;
        head.method = target.method.clone();
        head.uri = uri;
        head.headers = headers;
        Self {
            origin,
            head,
            body: target.body.clone(),
        }
    }

    /// A fresh request head (`http::Request` is not `Clone`).
    fn request(&self) -> Request<()> {
        let mut request = Request::new(());
        *request.method_mut() = self.head.method.clone();
        *request.uri_mut() = self.head.uri.clone();
        *request.headers_mut() = self.head.headers.clone();
        request
    }

    /// One stream: the request, the answer's head and its whole body. A stream that must wait
    /// for a slot (the server's `SETTINGS_MAX_CONCURRENT_STREAMS`) stops its timeout on `wire`
    /// until it opens. The status counts only once the whole answer has come.
    async fn exchange(
        &self,
        live: &Live,
        exchange: &mut Exchange,
        wire: &Wire,
    ) -> Result<(), StreamFailure> {
        let mut sender = live
            .sender
            .clone()
            .ready()
            .await
            .map_err(|_| StreamFailure::Unprocessed)?;
        let (response, mut body) = sender
            .send_request(self.request(), self.body.is_empty())
            .map_err(|_| StreamFailure::Unprocessed)?;
        // Ready once this handle's stream has opened: at once unless it waits for a slot.
        let mut waited = false;
        std::future::poll_fn(|cx| {
            let polled = sender.poll_ready(cx);
            if polled.is_pending() && !waited {
                waited = true;
                wire.waiting();
            }
            polled
        })
        .await
        .map_err(|error| classify(&error))?;
        if waited {
            wire.clock_starts();
        }
        if !self.body.is_empty() {
            body.send_data(self.body.clone(), true)
                .map_err(|error| classify(&error))?;
        }
        let response = response.await.map_err(|error| classify(&error))?;
        exchange.first_byte = Some(Instant::now());
        let status = response.status().as_u16();
        let mut answer = response.into_body();
        while let Some(chunk) = answer.data().await {
            let chunk = chunk.map_err(|error| classify(&error))?;
            // Gives the window back, so the server may go on sending.
            let _ = answer.flow_control().release_capacity(chunk.len());
        }
        exchange.status = Some(status);
        Ok(())
    }
}

/// What an `h2` error on a stream says about retrying it and about its connection.
fn classify(error: &h2::Error) -> StreamFailure {
    if error.is_go_away() {
        // A stream above a GOAWAY's last stream ID: the server promised not to process it.
        StreamFailure::Unprocessed
    } else if error.is_io() || !error.is_reset() {
        StreamFailure::ConnectionLost
    } else if error.is_remote() {
        StreamFailure::Reset
    } else {
        StreamFailure::Stream
    }
}

impl Shared {
    /// The live connection, if there is one.
    fn current(&self) -> Option<Live> {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Drops the connection of `generation`, if it is still the live one, so that the next
    /// request opens a new one.
    fn forget(&self, generation: u64) {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if live
            .as_ref()
            .is_some_and(|live| live.generation == generation)
        {
            *live = None;
        }
    }

    /// [`Shared::replace`] for a request: its connect time goes into `wire` if it opened the
    /// connection, and a failure is the request's error.
    async fn replace_for(
        &self,
        dialer: &Dialer,
        origin: usize,
        failed: Option<u64>,
        wire: &Wire,
    ) -> Result<Live, RequestError> {
        let (live, connect) = Box::pin(self.replace(dialer, origin, failed))
            .await
            .map_err(|error| RequestError::new(error.kind))?;
        if let Some(took) = connect {
            wire.connected(took);
        }
        Ok(live)
    }

    /// The connection to use instead of the one of generation `failed` (or instead of none):
    /// the one another worker opened meanwhile, or a new one, with how long opening it took.
    async fn replace(
        &self,
        dialer: &Dialer,
        origin: usize,
        failed: Option<u64>,
    ) -> Result<(Live, Option<Duration>), OpenError> {
        let mut generations = self.dialing.lock().await;
        if let Some(live) = self.current()
            && Some(live.generation) != failed
        {
            return Ok((live, None));
        }
        if let Some(failed) = failed {
            self.forget(failed);
        }
        let connected = dialer.open(origin).await?;
        let tls = matches!(connected.stream, Stream::Tls(_));
        if tls && connected.stream.alpn() != Some(b"h2".as_slice()) {
            return Err(OpenError {
                kind: TLS,
                detail: "the server did not agree to HTTP/2 in the TLS handshake (ALPN): \
                         leave out --http2 to speak HTTP/1.1"
                    .to_owned(),
            });
        }
        let traffic = Arc::new(Traffic::default());
        let io = Counted {
            stream: connected.stream,
            traffic: Arc::clone(&traffic),
        };
        let (sender, connection) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .handshake::<_, Bytes>(io)
            .await
            .map_err(|error| OpenError {
                kind: IO,
                detail: format!("HTTP/2 handshake: {error}"),
            })?;
        tokio::spawn(async move {
            // Ends when the server closes the connection or every handle on it is dropped.
            let _ = connection.await;
        });
        // The preface and settings belong to no request.
        traffic.take();
        *generations += 1;
        let live = Live {
            generation: *generations,
            sender,
            traffic,
        };
        *self.live.lock().unwrap_or_else(PoisonError::into_inner) = Some(live.clone());
        Ok((live, Some(connected.took)))
    }
}

impl Traffic {
    /// The bytes sent and received since the last call.
    fn take(&self) -> (u64, u64) {
        (
            self.sent.swap(0, Ordering::Relaxed),
            self.received.swap(0, Ordering::Relaxed),
        )
    }
}

/// A stream that counts the bytes through it into its connection's [`Traffic`].
struct Counted {
    stream: Stream,
    traffic: Arc<Traffic>,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        this.traffic
            .received
            .fetch_add(read as u64, Ordering::Relaxed);
        polled
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        if let Poll::Ready(Ok(written)) = polled {
            this.traffic
                .sent
                .fetch_add(written as u64, Ordering::Relaxed);
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(written)) = polled {
            this.traffic
                .sent
                .fetch_add(written as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
