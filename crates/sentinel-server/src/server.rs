//! The container-credentials server: a loopback listener (a non-loopback one only on request)
//! serving [`CredentialService`] over plain HTTP through the shared accept loop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use sentinel_protocol::ForwardCredentials;

use crate::connections::{Bound, Drained, Limits, Transport};
use crate::handler::{CREDENTIALS_PATH, CredentialService, Handler, Source};
use crate::origin::{RemoteRefused, check_listen};
use crate::token::Token;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address is not loopback and remote clients were not allowed.
    #[error(transparent)]
    Remote(#[from] RemoteRefused),
    /// Plain HTTP was asked for on an address other machines can reach.
    #[error(
        "refusing plain HTTP on {0}: without TLS, only a loopback address may be used (for a \
         TLS-terminating proxy on the same host); configure tls: {{cert, key}}"
    )]
    PlainRemote(SocketAddr),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// A bound credential server, not yet serving.
pub struct Server {
    bound: Bound,
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
        let bound = Bound::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        Ok(Server {
            bound,
            handler: Arc::new(Handler {
                source: Source::Broker(service),
                request_timeout: limits.request_timeout,
            }),
            limits,
        })
    }

    /// Binds the loopback address `addr` for credentials `forward` fetches on every request
    /// from another Sentinel, for clients presenting `token`.
    pub async fn bind_forwarding(
        addr: SocketAddr,
        limits: Limits,
        token: Token,
        forward: Arc<dyn ForwardCredentials>,
    ) -> Result<Server, ServeError> {
        check_listen(addr, false)?;
        let bound = Bound::bind(addr)
            .await
            .map_err(|source| ServeError::Bind { addr, source })?;
        Ok(Server {
            bound,
            handler: Arc::new(Handler {
                source: Source::Forward { forward, token },
                request_timeout: limits.request_timeout,
            }),
            limits,
        })
    }

    /// The address actually bound (the port is chosen by the OS for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.bound.local
    }

    /// The URL clients put in `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    pub fn url(&self) -> String {
        format!("http://{}{CREDENTIALS_PATH}", self.bound.local)
    }

    /// Serves until `shutdown` completes, then stops accepting and waits for in-flight requests
    /// (at most the request timeout plus the header timeout) before returning.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Drained {
        self.bound
            .serve(
                "sentinel serve",
                Transport::Plain,
                self.limits,
                self.handler,
                shutdown,
            )
            .await
    }
}
