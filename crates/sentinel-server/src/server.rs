//! The listener and its connections: hyper's HTTP/1.1 server with the limits that keep one
//! client from starving the others (header size, header read time, connection count), and a
//! graceful shutdown that stops accepting, lets every in-flight request finish (and so write its
//! decision-log lines), and only then returns.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::handler::{CREDENTIALS_PATH, CredentialService, Handler};
use crate::origin::{RemoteRefused, check_listen};

/// How much a client may send and how long it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How long a client may take to send a request's headers; an idle keep-alive connection is
    /// closed after the same time.
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

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address is not loopback and remote clients were not allowed.
    #[error(transparent)]
    Remote(#[from] RemoteRefused),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// How a shutdown went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Connections still open when the drain deadline passed (0 after a clean shutdown).
    pub abandoned: usize,
}

/// A bound credential server, not yet serving.
pub struct Server {
    listener: TcpListener,
    local: SocketAddr,
    handler: Arc<Handler>,
    limits: Limits,
}

impl Server {
    /// Binds `addr` (refusing a non-loopback one unless `allow_remote`) for `service`.
    pub async fn bind(
        addr: SocketAddr,
        allow_remote: bool,
        limits: Limits,
        service: CredentialService,
    ) -> Result<Server, ServeError> {
        check_listen(addr, allow_remote)?;
        let bind_error = |source| ServeError::Bind { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let local = listener.local_addr().map_err(bind_error)?;
        Ok(Server {
            listener,
            local,
            handler: Arc::new(Handler {
                service,
                request_timeout: limits.request_timeout,
            }),
            limits,
        })
    }

    /// The address actually bound (the port is chosen by the OS for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The URL clients put in `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    pub fn url(&self) -> String {
        format!("http://{}{CREDENTIALS_PATH}", self.local)
    }

    /// Serves until `shutdown` completes, then stops accepting and waits for in-flight requests
    /// (at most the request timeout plus the header timeout) before returning.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Drained {
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout)
            .max_buf_size(self.limits.max_header_bytes.max(8192))
            .max_header_size(self.limits.max_header_bytes);
        let graceful = GracefulShutdown::new();
        let connections = Arc::new(Semaphore::new(self.limits.max_connections.max(1)));
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
                        eprintln!("sentinel serve: cannot accept a connection: {error}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = stream.set_nodelay(true);
            let local = stream.local_addr().unwrap_or(self.local);
            let handler = Arc::clone(&self.handler);
            let service = service_fn(move |request| {
                let handler = Arc::clone(&handler);
                async move { Ok::<_, Infallible>(handler.handle(request, local).await) }
            });
            let connection =
                graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
            tokio::spawn(async move {
                // Errors here are the client's doing (a reset, a header timeout, `431`): the
                // connection is closed and nothing else is affected.
                let _ = connection.await;
                drop(permit);
            });
        }
        drop(self.listener);
        let deadline = self.limits.request_timeout + self.limits.header_timeout;
        let most = self.limits.max_connections.max(1);
        match tokio::time::timeout(deadline, graceful.shutdown()).await {
            Ok(()) => Drained { abandoned: 0 },
            Err(_) => Drained {
                abandoned: most - connections.available_permits(),
            },
        }
    }
}
