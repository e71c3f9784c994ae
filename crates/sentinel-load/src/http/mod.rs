//! A request function for HTTP targets that behaves like a good client: HTTP/1.1 with a
//! kept-alive connection per worker, or HTTP/2 with a few connections shared by every worker;
//! over TCP or a Unix socket, with TLS for `https://`; connections opened before the schedule
//! starts, so a run's latency is request latency, handshakes not included (without keep-alive,
//! every request opens its own connection and its latency includes the handshake).
//!
//! The pieces, each in its own module: [`HttpTarget`] is one request (from a URL, or a line
//! of a targets file read by [`read_targets_file`]); `transport` opens connections (TCP, Unix,
//! TLS) and `dialer` opens them to each origin and counts them; `tls` is the client's trust and
//! protocol negotiation; `http1` and `http2` are the two protocols' connection pools and
//! exchanges; `kind` names the errors. [`HttpDriver`] ties them together: it resolves
//! each origin once, opens the connections, and sends the target that the run's
//! [`Mix`](crate::Mix) gives each request, reporting back what came back (status, bytes,
//! connect time, first byte) as an [`Exchange`].
//!
//! A status counts only for a complete response (a stream reset after its head, or a truncated
//! body, has none). A status outside 2xx is an error of kind `http_<code>`; failing to connect
//! to every resolved address is `connect`; a failed TLS handshake (an untrusted certificate, a
//! server that does not speak HTTP/2) is `tls`; a request the target reset after it was written
//! and before any answer byte (TCP reset, `RST_STREAM`) is `reset`; a connection that closed
//! cleanly before any answer byte, when the request cannot go out again, is `closed`; any
//! other failure on a connection is `io`.

mod dialer;
mod http1;
mod http2;
mod kind;
mod target;
mod targets_file;
mod tls;
mod transport;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;
use tokio_util::sync::CancellationToken;

use self::dialer::Dialer;
pub use self::dialer::Retries;
use self::kind::status_kind;
pub use self::kind::{CLOSED, CONNECT, IO, NO_TARGET, RESET, TLS};
pub use self::target::{HttpTarget, Origin, TargetError, hide_user_info};
pub use self::targets_file::{TargetsFileError, parse_targets, read_targets_file};
pub use self::tls::{TlsError, TlsOptions};
use self::transport::{Endpoint, Peer};
use crate::error::RequestError;
use crate::exchange::Exchange;
use crate::mix::{Mix, MixError};
use crate::open_files;
use crate::runner::RequestContext;

/// File descriptors kept for everything but the connections (standard streams, the runtime's
/// own, a report file).
const RESERVED_FILES: u64 = 64;
/// At most this many connections are opened at once before a run.
const CONNECTING_AT_ONCE: usize = 64;

/// How the driver speaks to its targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// HTTP/2 (by ALPN over TLS, by prior knowledge over cleartext) instead of HTTP/1.1.
    pub http2: bool,
    /// With HTTP/2, the connections to each origin that the workers share (at least 1).
    pub connections: usize,
    /// Keep connections open between requests (HTTP/1.1; HTTP/2 always does).
    pub keepalive: bool,
    /// Which server certificates are trusted.
    pub tls: TlsOptions,
    /// Where connections go.
    pub route: Route,
}

impl Default for HttpOptions {
    /// HTTP/1.1 with keep-alive to the URL's host, the system's roots trusted.
    fn default() -> Self {
        Self {
            http2: false,
            connections: 1,
            keepalive: true,
            tls: TlsOptions::default(),
            route: Route::Url,
        }
    }
}

/// Where a run's connections go; the URL still gives the `Host` header and the TLS name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Route {
    /// To the host of each target's URL, resolved once.
    #[default]
    Url,
    /// To `HOST:PORT` instead (as curl's `--connect-to`), for every target: for loading one
    /// replica of several behind one name.
    ConnectTo(String),
    /// To these addresses, tried in turn until one accepts.
    Addresses(Vec<SocketAddr>),
    /// To the Unix socket at this path.
    UnixSocket(PathBuf),
}

/// Why a driver could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// No target was given.
    #[error("no target to load")]
    NoTargets,
    /// The options cannot work together.
    #[error("{0}")]
    Options(&'static str),
    /// A host did not resolve.
    #[error("cannot resolve `{host}`: {why}")]
    Resolve {
        /// The host and port.
        host: String,
        /// The resolver's message.
        why: String,
    },
    /// A host cannot be named in a TLS handshake.
    #[error("`{0}` is not a host name TLS can check a certificate against")]
    ServerName(String),
    /// The TLS configuration could not be made.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The process may not open the connections the run needs.
    #[error(
        "{connections} connections need {needed} open files, but this process may open only \
         {limit} (its limit, already raised to the hard limit): use fewer workers, or raise the \
         hard limit (`ulimit -Hn`, or LimitNOFILE= in a systemd unit)"
    )]
    TooManyConnections {
        /// The connections the run may hold at once.
        connections: u64,
        /// The descriptors they need, with a reserve for the rest of the process.
        needed: u64,
        /// The open-file limit in force.
        limit: u64,
    },
}

/// What the driver is and did besides sending requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpStats {
    /// `HTTP/1.1` or `HTTP/2`.
    pub protocol: &'static str,
    /// `verified` when an `https://` target's certificate is checked, `insecure` when it is
    /// not (`--insecure`), absent without TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<&'static str>,
    /// Whether connections are kept open between requests.
    pub keepalive: bool,
    /// Connections opened, before and during the run.
    pub connections_opened: u64,
    /// Of those, the TLS ones whose handshake resumed an earlier session.
    pub tls_resumed: u64,
    /// Requests sent again on a fresh connection because their kept-alive one had closed (or,
    /// with HTTP/2, the server refused them unprocessed), by cause.
    pub retried: Retries,
}

/// The connections opened before a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// How many opened.
    pub count: usize,
    /// Why one did not, if one did not (opening stops at the first failure): the address or
    /// server and the reason, with no secret in it.
    pub failure: Option<String>,
}

/// The protocol a driver speaks, with its connections.
enum Client {
    Http1(http1::Pool),
    Http2(http2::Pool),
}

/// Sends a run's requests; see the module documentation.
pub struct HttpDriver {
    targets: Box<[HttpTarget]>,
    dialer: Dialer,
    client: Client,
    tls: Option<&'static str>,
    keepalive: bool,
}

impl std::fmt::Debug for HttpDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpDriver")
            .field("targets", &self.targets.len())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl HttpDriver {
    /// A driver for `targets` with `workers` workers: resolves each origin once (or follows
    /// `options.route`), makes the TLS configuration if a target is `https://`, raises the
    /// process's soft open-file limit to its hard limit, and refuses a run whose connections
    /// cannot fit in it.
    pub async fn new(
        targets: Vec<HttpTarget>,
        options: HttpOptions,
        workers: usize,
    ) -> Result<Arc<Self>, DriverError> {
        if targets.is_empty() {
            return Err(DriverError::NoTargets);
        }
        if options.http2 && !options.keepalive {
            return Err(DriverError::Options(
                "HTTP/2 multiplexes requests over kept-alive connections: --no-keepalive \
                 applies to HTTP/1.1 only",
            ));
        }
        if options.http2 && options.connections == 0 {
            return Err(DriverError::Options("HTTP/2 needs at least one connection"));
        }
        let mut origins: Vec<Origin> = Vec::new();
        let mut index: HashMap<Origin, usize> = HashMap::new();
        let origin_of: Vec<usize> = targets
            .iter()
            .map(|target| {
                *index.entry(target.origin().clone()).or_insert_with(|| {
                    origins.push(target.origin().clone());
                    origins.len() - 1
                })
            })
            .collect();
        let connections = if options.http2 {
            origins.len() * options.connections
        } else if options.keepalive {
            origins.len() * workers
        } else {
            workers
        } as u64;
        let limit = open_files::raise_limit();
        let needed = connections.saturating_add(RESERVED_FILES);
        if needed > limit {
            return Err(DriverError::TooManyConnections {
                connections,
                needed,
                limit,
            });
        }
        let endpoints = endpoints(&origins, &options).await?;
        let client = if options.http2 {
            Client::Http2(http2::Pool::new(
                &targets,
                &origin_of,
                origins.len(),
                options.connections,
            ))
        } else {
            Client::Http1(http1::Pool::new(
                &targets,
                &origin_of,
                origins.len(),
                workers,
                options.keepalive,
            ))
        };
        let tls = origins
            .iter()
            .any(|origin| origin.https)
            .then_some(if options.tls.insecure {
                "insecure"
            } else {
                "verified"
            });
        Ok(Arc::new(Self {
            targets: targets.into(),
            dialer: Dialer::new(endpoints),
            client,
            tls,
            keepalive: options.keepalive,
        }))
    }

    /// The run's mix of the targets: in turn, or as often as their weights say.
    pub fn mix(&self, weighted: bool) -> Result<Mix, MixError> {
        if weighted {
            let weights: Vec<u32> = self.targets.iter().map(|target| target.weight).collect();
            Mix::weighted(&weights)
        } else {
            Mix::round_robin(self.targets.len())
        }
    }

    /// The targets, in the order of the mix.
    pub fn targets(&self) -> &[HttpTarget] {
        &self.targets
    }

    /// Opens the connections a run starts with (every worker's to every origin with
    /// HTTP/1.1, the shared ones with HTTP/2, none without keep-alive), a few at a time, each
    /// within `timeout`. Stops at the first failure (a target that refuses one connection
    /// would refuse the rest: the run then shows it as errors, and [`Opened::failure`] says
    /// why) and when `cancel` fires.
    pub async fn open_connections(
        self: &Arc<Self>,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Opened {
        let slots = match &self.client {
            Client::Http1(pool) => pool.slots(),
            Client::Http2(pool) => pool.slots(),
        };
        let mut connecting = JoinSet::new();
        let mut next = 0;
        let mut opened = Opened {
            count: 0,
            failure: None,
        };
        loop {
            while connecting.len() < CONNECTING_AT_ONCE && next < slots {
                let driver = Arc::clone(self);
                let slot = next;
                connecting.spawn(async move {
                    let filled = match &driver.client {
                        Client::Http1(pool) => pool.fill(&driver.dialer, slot).await,
                        Client::Http2(pool) => pool.fill(&driver.dialer, slot).await,
                    };
                    filled.map_err(|error| error.detail)
                });
                next += 1;
            }
            let joined = tokio::select! {
                joined = tokio::time::timeout(timeout, connecting.join_next()) => joined,
                () = cancel.cancelled() => break,
            };
            match joined {
                Ok(None) => return opened,
                Ok(Some(Ok(Ok(())))) => opened.count += 1,
                Ok(Some(Ok(Err(failure)))) => {
                    opened.failure = Some(failure);
                    break;
                }
                Ok(Some(Err(_))) => break,
                Err(_) => {
                    opened.failure = Some(format!("no connection opened within {timeout:?}"));
                    break;
                }
            }
        }
        connecting.abort_all();
        while let Some(joined) = connecting.join_next().await {
            opened.count += usize::from(matches!(joined, Ok(Ok(()))));
        }
        opened
    }

    /// What the driver is and did so far.
    pub fn stats(&self) -> HttpStats {
        HttpStats {
            protocol: match self.client {
                Client::Http1(_) => "HTTP/1.1",
                Client::Http2(_) => "HTTP/2",
            },
            tls: self.tls,
            keepalive: self.keepalive,
            connections_opened: self.dialer.opened.load(Ordering::Relaxed),
            tls_resumed: self.dialer.resumed.load(Ordering::Relaxed),
            retried: self.dialer.retries(),
        }
    }

    /// Sends the target of `ctx` for its worker and reads the whole answer, counting the bytes
    /// it moves and the connection it opens into `ctx.wire` as they happen (so they count even
    /// when the run drops the request at its timeout). Use it as the request function:
    /// `move |ctx| Arc::clone(&driver).request(ctx)`.
    pub async fn request(self: Arc<Self>, ctx: RequestContext) -> Result<Exchange, RequestError> {
        let target = ctx.target;
        if target >= self.targets.len() {
            return Err(RequestError::new(NO_TARGET));
        }
        let exchange = match &self.client {
            Client::Http1(pool) => {
                pool.send(&self.dialer, ctx.worker, target, &ctx.wire)
                    .await?
            }
            Client::Http2(pool) => {
                pool.send(&self.dialer, ctx.worker, target, &ctx.wire)
                    .await?
            }
        };
        match exchange.status {
            Some(status) if (200..300).contains(&status) => Ok(exchange),
            Some(status) => Err(RequestError::new(status_kind(status)).with_exchange(exchange)),
            None => Err(RequestError::new(IO).with_exchange(exchange)),
        }
    }
}

/// Where each origin's connections go, and the TLS each speaks.
async fn endpoints(
    origins: &[Origin],
    options: &HttpOptions,
) -> Result<Box<[Endpoint]>, DriverError> {
    let connector = if origins.iter().any(|origin| origin.https) || options.tls.ca_file.is_some() {
        let alpn: &[u8] = if options.http2 { b"h2" } else { b"http/1.1" };
        Some(TlsConnector::from(tls::client_config(&options.tls, alpn)?))
    } else {
        None
    };
    let shared_route = match &options.route {
        Route::Url | Route::UnixSocket(_) => None,
        Route::ConnectTo(host_port) => Some(resolve(host_port).await?),
        Route::Addresses(addrs) => Some(addrs.clone()),
    };
    let mut endpoints = Vec::with_capacity(origins.len());
    for origin in origins {
        let peer = match (&options.route, &shared_route) {
            #[cfg(unix)]
            (Route::UnixSocket(path), _) => Peer::Unix(path.clone()),
            #[cfg(not(unix))]
            (Route::UnixSocket(_), _) => {
                return Err(DriverError::Options("Unix sockets exist only on Unix"));
            }
            (_, Some(addrs)) => Peer::tcp(addrs.clone()),
            (_, None) => Peer::tcp(resolve(&host_port(origin)).await?),
        };
        let tls = match (&connector, origin.https) {
            (Some(connector), true) => {
                let name = tls::server_name(&origin.host)
                    .ok_or_else(|| DriverError::ServerName(origin.host.clone()))?;
                Some((connector.clone(), name))
            }
            _ => None,
        };
        endpoints.push(Endpoint { peer, tls });
    }
    Ok(endpoints.into())
}

/// `host:port`, an IPv6 host in brackets.
fn host_port(origin: &Origin) -> String {
    if origin.host.contains(':') {
        format!("[{}]:{}", origin.host, origin.port)
    } else {
        format!("{}:{}", origin.host, origin.port)
    }
}

/// Every address `host_port` resolves to.
async fn resolve(host_port: &str) -> Result<Vec<SocketAddr>, DriverError> {
    let resolve_error = |why: String| DriverError::Resolve {
        host: host_port.to_owned(),
        why,
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(host_port)
        .await
        .map_err(|error| resolve_error(error.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(resolve_error("no address".to_owned()));
    }
    Ok(addrs)
}
