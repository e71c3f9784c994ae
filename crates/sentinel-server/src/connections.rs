//! The accept loop both servers share: hyper's HTTP/1.1 server over plain TCP or TLS, with the
//! limits that keep one client from starving the others (header size, a deadline of its own for
//! the TLS handshake and for the request head, connection count, connections per client network,
//! and a deadline for each connection, so that a client that keeps a connection busy, or never
//! reads its responses, cannot hold a slot for good), and a
//! graceful shutdown that stops accepting, lets every in-flight request finish (and so write its
//! decision-log lines), and only then returns.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::client::OpenPerClient;
use crate::wire::Reply;

/// How much a client may send and how long it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a client may take to complete the TLS handshake.
    pub handshake_timeout: Duration,
    /// How long a client may take to send a request's head (request line and headers); an idle
    /// keep-alive connection is closed after the same time.
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body, once its head is in (`408`).
    pub body_timeout: Duration,
    /// How long the broker may take for one request before it is answered `504`.
    pub request_timeout: Duration,
    /// The largest request head (request line and headers) accepted, in bytes; more is `431`.
    pub max_header_bytes: usize,
    /// The most connections open at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// The most connections open at once from one client network (an IPv4 address, or an IPv6
    /// /64); more are closed as soon as they are accepted.
    pub max_connections_per_client: usize,
    /// How long a connection may stay open. Then it is closed once the response in progress
    /// (if any) is sent; one that is still open a request timeout and a header timeout later
    /// (its client does not read) is dropped.
    pub connection_timeout: Duration,
}

impl Default for Limits {
    /// 5 s each for the handshake, the head and the body, 30 s per request, 8 KiB of headers,
    /// 1024 connections (64 per client network) of at most 60 s.
    fn default() -> Limits {
        Limits {
            handshake_timeout: Duration::from_secs(5),
            header_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_header_bytes: 8 * 1024,
            max_connections: 1024,
            max_connections_per_client: 64,
            connection_timeout: Duration::from_secs(60),
        }
    }
}

impl Limits {
    /// How long a connection told to close may take to finish its response: the longest a
    /// request may run, plus the time a client is given to act.
    fn closing_grace(&self) -> Duration {
        self.request_timeout + self.header_timeout
    }
}

/// How a shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Connections still open when the drain deadline passed (0 after a clean shutdown).
    pub abandoned: usize,
}

/// The two ends of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ends {
    /// The address the client connected to.
    pub(crate) local: SocketAddr,
    /// The client's address.
    pub(crate) peer: SocketAddr,
}

/// Answers the requests of one server.
pub(crate) trait Handle: Send + Sync + 'static {
    /// The answer to `request`, which came over a connection between `ends`.
    fn handle(
        &self,
        request: hyper::Request<Incoming>,
        ends: Ends,
    ) -> impl Future<Output = Reply> + Send;
}

/// What a connection speaks below HTTP.
#[derive(Clone)]
pub(crate) enum Transport {
    /// HTTP straight over TCP.
    Plain,
    /// HTTP inside TLS.
    Tls(TlsAcceptor),
}

/// A bound listening socket, with the address it is bound to.
pub(crate) struct Bound {
    pub(crate) listener: TcpListener,
    pub(crate) local: SocketAddr,
}

/// How many connections the kernel may queue before the server accepts them (it caps this at
/// `net.core.somaxconn`): enough for hundreds of clients connecting at once, whose handshakes a
/// short queue would drop.
const LISTEN_BACKLOG: u32 = 4096;

impl Bound {
    /// Binds `addr`.
    pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<Bound> {
        let socket = match addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        // As a listener bound by the standard library: a restarted server can bind again while
        // the previous one's connections linger in TIME_WAIT.
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(LISTEN_BACKLOG)?;
        let local = listener.local_addr()?;
        Ok(Bound { listener, local })
    }

    /// Serves `handler` on every accepted connection until `shutdown` completes, then stops
    /// accepting and waits for in-flight requests (at most the request timeout plus the header
    /// timeout) before returning. `name` prefixes the server's own log lines.
    pub(crate) async fn serve<H: Handle>(
        self,
        name: &'static str,
        transport: Transport,
        limits: Limits,
        handler: Arc<H>,
        shutdown: impl Future<Output = ()>,
    ) -> Drained {
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_buf_size(limits.max_header_bytes.max(8192))
            .max_header_size(limits.max_header_bytes);
        let (stopping, stop_seen) = watch::channel(false);
        let most = limits.max_connections.max(1);
        let connections = Arc::new(Semaphore::new(most));
        let per_client = OpenPerClient::new(limits.max_connections_per_client);
        let mut accept_failures = Throttled::new(ACCEPT_FAILURE_REPORT_INTERVAL);
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                () = &mut shutdown => break,
                permit = Arc::clone(&connections).acquire_owned() => permit,
            };
            // The semaphore is never closed, so this always holds.
            let Ok(permit) = permit else { break };
            let (stream, peer) = tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Usually out of file descriptors: back off instead of spinning, and
                        // say so now and then rather than for every failed attempt.
                        if let Some(more) = accept_failures.note(Instant::now()) {
                            let since = match more {
                                0 => String::new(),
                                n => format!(" (and {n} more times since the last report)"),
                            };
                            tracing::warn!(server = name, "cannot accept a connection: {error}{since}");
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            // A client network with its share open already gets no more: closed at once, before
            // any handshake, and its place in the total is free again.
            let Some(slot) = per_client.open(peer.ip()) else {
                continue;
            };
            let connection = Connection {
                builder: builder.clone(),
                handler: Arc::clone(&handler),
                ends: Ends {
                    local: stream.local_addr().unwrap_or(self.local),
                    peer,
                },
                stopping: stop_seen.clone(),
                limits,
            };
            let transport = transport.clone();
            tokio::spawn(async move {
                // Errors here are the client's doing (a reset, a failed handshake, a header
                // timeout, `431`): the connection is closed and nothing else is affected.
                connection.run(stream, transport).await;
                drop((slot, permit));
            });
        }
        drop(self.listener);
        stopping.send_replace(true);
        // Every connection's permit is back once every connection has closed.
        let all = u32::try_from(most).unwrap_or(u32::MAX);
        let closed = connections.acquire_many(all);
        match tokio::time::timeout(limits.closing_grace(), closed).await {
            Ok(_) => Drained { abandoned: 0 },
            Err(_) => Drained {
                abandoned: most - connections.available_permits(),
            },
        }
    }
}

/// How often a failure to accept connections is reported while it lasts.
const ACCEPT_FAILURE_REPORT_INTERVAL: Duration = Duration::from_secs(10);

/// Lets a repeated event through at most once per interval, counting the others.
#[derive(Debug)]
struct Throttled {
    interval: Duration,
    last: Option<Instant>,
    held_back: u64,
}

impl Throttled {
    fn new(interval: Duration) -> Throttled {
        Throttled {
            interval,
            last: None,
            held_back: 0,
        }
    }

    /// Notes an event at `now`: `Some(n)` if it is to be reported, `n` being how many were held
    /// back since the last report; `None` if it is held back.
    fn note(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < self.interval => {
                self.held_back += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.held_back))
            }
        }
    }
}

/// One accepted connection, until it closes.
struct Connection<H> {
    builder: http1::Builder,
    handler: Arc<H>,
    ends: Ends,
    /// Becomes `true` when the server shuts down.
    stopping: watch::Receiver<bool>,
    limits: Limits,
}

impl<H: Handle> Connection<H> {
    async fn run(self, stream: TcpStream, transport: Transport) {
        let _ = stream.set_nodelay(true);
        match transport {
            Transport::Plain => self.serve(stream).await,
            Transport::Tls(acceptor) => {
                let handshake =
                    tokio::time::timeout(self.limits.handshake_timeout, acceptor.accept(stream));
                if let Ok(Ok(stream)) = handshake.await {
                    self.serve(stream).await;
                }
            }
        }
    }

    /// Serves HTTP on `stream` until the client closes it, the connection's deadline passes or
    /// the server shuts down; in the last two cases, the response in progress is finished
    /// first, for at most the closing grace.
    async fn serve<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            builder,
            handler,
            ends,
            mut stopping,
            limits,
        } = self;
        let service = service_fn(move |request| {
            let handler = Arc::clone(&handler);
            async move { Ok::<_, Infallible>(handler.handle(request, ends).await) }
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => return,
            () = tokio::time::sleep(limits.connection_timeout) => {}
            // A closed channel means the server is gone: stop as well.
            _ = stopping.wait_for(|&stop| stop) => {}
        }
        connection.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(limits.closing_grace(), connection).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_failure_is_reported_once_per_interval_with_the_count_held_back() {
        let mut throttled = Throttled::new(Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(throttled.note(start), Some(0));
        for ms in [1, 500, 9_999] {
            assert_eq!(throttled.note(start + Duration::from_millis(ms)), None);
        }
        assert_eq!(throttled.note(start + Duration::from_secs(10)), Some(3));
        assert_eq!(throttled.note(start + Duration::from_secs(11)), None);
        assert_eq!(throttled.note(start + Duration::from_secs(25)), Some(1));
    }
}
