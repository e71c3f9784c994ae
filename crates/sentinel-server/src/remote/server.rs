//! The remote server's listener: TLS by default, plain HTTP only on a loopback address (for a
//! TLS-terminating load balancer or sidecar in front of it), through the shared accept loop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;

use sentinel_protocol::REMOTE_CREDENTIALS_PATH;

use super::service::{RemoteHandler, RemoteService};
use crate::connections::{Bound, Drained, Limits, Transport};
use crate::server::ServeError;

/// Whether the remote server speaks TLS itself.
pub enum Security {
    /// TLS with this acceptor's certificate.
    Tls(TlsAcceptor),
    /// Plain HTTP: allowed only on a loopback address.
    PlainLoopback,
}

/// A bound remote server, not yet serving.
pub struct RemoteServer {
    bound: Bound,
    transport: Transport,
    handler: Arc<RemoteHandler>,
    limits: Limits,
}

impl RemoteServer {
    /// Binds `addr` for `service`; plain HTTP is refused unless `addr` is a loopback address.
    pub async fn bind(
        addr: SocketAddr,
        security: Security,
        limits: Limits,
        service: RemoteService,
    ) -> Result<RemoteServer, ServeError> {
        let transport = match security {
            Security::Tls(acceptor) => Transport::Tls(acceptor),
            Security::PlainLoopback if addr.ip().is_loopback() => Transport::Plain,
            Security::PlainLoopback => return Err(ServeError::PlainRemote(addr)),
        };
        let bound = Bound::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        Ok(RemoteServer {
            bound,
            transport,
            handler: Arc::new(RemoteHandler {
                service,
                request_timeout: limits.request_timeout,
            }),
            limits,
        })
    }

    /// The address actually bound (the port is chosen by the OS for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.bound.local
    }

    /// Whether the server speaks TLS itself.
    pub fn is_tls(&self) -> bool {
        matches!(self.transport, Transport::Tls(_))
    }

    /// The URL of the credentials endpoint on the bound address.
    pub fn url(&self) -> String {
        let scheme = if self.is_tls() { "https" } else { "http" };
        format!("{scheme}://{}{REMOTE_CREDENTIALS_PATH}", self.bound.local)
    }

    /// Serves until `shutdown` completes, then stops accepting and waits for in-flight requests
    /// (at most the request timeout plus the header timeout) before returning.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Drained {
        self.bound
            .serve(
                "sentinel server",
                self.transport,
                self.limits,
                self.handler,
                shutdown,
            )
            .await
    }
}
