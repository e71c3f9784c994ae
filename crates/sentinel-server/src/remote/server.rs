//! The remote server's listeners: the callers' one, TLS by default, plain HTTP only on a
//! loopback address (for a TLS-terminating load balancer or sidecar in front of it); and the
//! admin one, plain HTTP, for probes and metrics. Both go through the shared accept loop and
//! stop together.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use sentinel_protocol::REMOTE_CREDENTIALS_PATH;

use super::admin::AdminHandler;
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
    admin: Bound,
    transport: Transport,
    handler: Arc<RemoteHandler>,
    limits: Limits,
}

impl RemoteServer {
    /// Binds `addr` for `service` and `admin` for its health and metrics; plain HTTP is refused
    /// on `addr` unless it is a loopback address.
    pub async fn bind(
        addr: SocketAddr,
        admin: SocketAddr,
        security: Security,
        limits: Limits,
        service: RemoteService,
    ) -> Result<RemoteServer, ServeError> {
        let transport = match security {
            Security::Tls(acceptor) => Transport::Tls(acceptor),
            Security::PlainLoopback if addr.ip().is_loopback() => Transport::Plain,
            Security::PlainLoopback => return Err(ServeError::PlainRemote(addr)),
        };
        let bind = |addr| async move {
            Bound::bind(addr)
                .await
                .map_err(|source| ServeError::Bind { addr, source })
        };
        let bound = bind(addr).await?;
        let admin = bind(admin).await?;
        Ok(RemoteServer {
            bound,
            admin,
            transport,
            handler: Arc::new(RemoteHandler::new(
                service,
                limits.request_timeout,
                limits.body_timeout,
            )),
            limits,
        })
    }

    /// The address actually bound (the port is chosen by the OS for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.bound.local
    }

    /// The admin listener's address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin.local
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

    /// The admin listener's base URL.
    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin.local)
    }

    /// Serves until `shutdown` completes, then stops accepting and waits for in-flight requests
    /// (at most the request timeout plus the header timeout) before returning. The admin
    /// listener answers until the callers' one has drained, so probes see the server to the end.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Drained {
        let (drained, done) = watch::channel(false);
        let admin = AdminHandler {
            metrics: self.handler.metrics().clone(),
        };
        let callers = async {
            let result = self
                .bound
                .serve(
                    "sentinel server",
                    self.transport,
                    self.limits,
                    self.handler,
                    shutdown,
                )
                .await;
            drained.send_replace(true);
            result
        };
        let mut done = done.clone();
        let admin = self.admin.serve(
            "sentinel server (admin)",
            Transport::Plain,
            self.limits,
            Arc::new(admin),
            async move {
                let _ = done.wait_for(|&done| done).await;
            },
        );
        let (callers, _) = tokio::join!(callers, admin);
        callers
    }
}
