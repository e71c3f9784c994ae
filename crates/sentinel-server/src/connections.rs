//! The accept loop both servers share: hyper's HTTP/1.1 server over plain TCP or TLS, with the
//! limits that keep one client from starving the others (header size, header read time, TLS
//! handshake time, connection count), and a graceful shutdown that stops accepting, lets every
//! in-flight request finish (and so write its decision-log lines), and only then returns.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::wire::Reply;

/// How much a client may send and how long it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a client may take to send a request's headers (and, over TLS, to complete the
    /// handshake); an idle keep-alive connection is closed after the same time.
    pub header_timeout: Duration,
    /// How long the broker may take for one request before it is answered `504`.
    pub request_timeout: Duration,
    /// The largest request head (request line and headers) accepted, in bytes; more is `431`.
    pub max_header_bytes: usize,
    /// The most connections open at once; more wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for Limits {
    /// 5 s for headers, 30 s per request, 8 KiB of headers, 1024 connections.
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            max_header_bytes: 8 * 1024,
            max_connections: 1024,
        }
    }
}

/// How a shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Connections still open when the drain deadline passed (0 after a clean shutdown).
    pub abandoned: usize,
}

/// Answers the requests of one server; `local` is the address the client connected to.
pub(crate) trait Handle: Send + Sync + 'static {
    /// The answer to `request`.
    fn handle(
        &self,
        request: hyper::Request<Incoming>,
        local: SocketAddr,
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

impl Bound {
    /// Binds `addr`.
    pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<Bound> {
        let listener = TcpListener::bind(addr).await?;
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
        let graceful = GracefulShutdown::new();
        let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
        tokio::pin!(shutdown);
        loop {
            let permit = tokio::select! {
                () = &mut shutdown => break,
                permit = Arc::clone(&connections).acquire_owned() => permit,
            };
            // The semaphore is never closed, so this always holds.
            let Ok(permit) = permit else { break };
            let (stream, _) = tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Usually out of file descriptors: back off instead of spinning.
                        eprintln!("{name}: cannot accept a connection: {error}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let connection = Connection {
                builder: builder.clone(),
                handler: Arc::clone(&handler),
                local: stream.local_addr().unwrap_or(self.local),
                watcher: graceful.watcher(),
            };
            let transport = transport.clone();
            let handshake_timeout = limits.header_timeout;
            tokio::spawn(async move {
                // Errors here are the client's doing (a reset, a failed handshake, a header
                // timeout, `431`): the connection is closed and nothing else is affected.
                connection.run(stream, transport, handshake_timeout).await;
                drop(permit);
            });
        }
        drop(self.listener);
        let deadline = limits.request_timeout + limits.header_timeout;
        let most = limits.max_connections.max(1);
        match tokio::time::timeout(deadline, graceful.shutdown()).await {
            Ok(()) => Drained { abandoned: 0 },
            Err(_) => Drained {
                abandoned: most - connections.available_permits(),
            },
        }
    }
}

/// One accepted connection, until it closes.
struct Connection<H> {
    builder: http1::Builder,
    handler: Arc<H>,
    local: SocketAddr,
    watcher: Watcher,
}

impl<H: Handle> Connection<H> {
    async fn run(self, stream: TcpStream, transport: Transport, handshake_timeout: Duration) {
        let _ = stream.set_nodelay(true);
        match transport {
            Transport::Plain => self.serve(stream).await,
            Transport::Tls(acceptor) => {
                let handshake = tokio::time::timeout(handshake_timeout, acceptor.accept(stream));
                if let Ok(Ok(stream)) = handshake.await {
                    self.serve(stream).await;
                }
            }
        }
    }

    async fn serve<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            builder,
            handler,
            local,
            watcher,
        } = self;
        let service = service_fn(move |request| {
            let handler = Arc::clone(&handler);
            async move { Ok::<_, Infallible>(handler.handle(request, local).await) }
        });
        let _ = watcher
            .watch(builder.serve_connection(TokioIo::new(stream), service))
            .await;
    }
}
