//! A request function for plain HTTP/1.1 targets that behaves like a good client: keep-alive,
//! one connection per worker, opened before the schedule starts.
//!
//! The request is serialised once, when the driver is made, from the [`HttpTarget`]: its
//! method, path, headers (`Content-Length` computed from the body, any given one replaced) and
//! body; each request writes those bytes and reads the response (see the `connection` module).
//!
//! Each worker owns one connection slot, so no connection is ever shared or locked against
//! another worker. [`HttpDriver::open_connections`] fills the slots before the run; a worker
//! whose slot is empty (the connection failed, was closed, or was never opened) connects at
//! its next request, and that time counts in the request's latency like any other. A request
//! that finds its kept-alive connection closed by the server before anything was written goes
//! out on a fresh connection and is not an error; an idempotent request (`GET`, `PUT`, ...)
//! whose kept-alive connection closed before any response is sent once more the same way, as
//! browsers and curl do. Both are counted in [`HttpStats::retried`].
//!
//! A status outside 2xx is an error of kind `http_<code>`; failing to connect to every
//! resolved address is `connect`; any other failure on a connection is `io`.

mod connection;
mod target;

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::Method;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use self::connection::{Connection, Failure, Response};
pub use self::target::{HttpTarget, TargetError, hide_user_info};
use crate::error::RequestError;
use crate::open_files;
use crate::runner::RequestContext;

/// Error kind: no resolved address accepted a connection.
pub const CONNECT: &str = "connect";
/// Error kind: an established connection failed while sending or receiving.
pub const IO: &str = "io";

/// File descriptors kept for everything but the workers' sockets (standard streams, the
/// runtime's own, a report file).
const RESERVED_FILES: u64 = 64;
/// At most this many connections are opened at once before a run.
const CONNECTING_AT_ONCE: usize = 64;

/// A connection slot per worker; see the module documentation.
#[derive(Debug)]
pub struct HttpDriver {
    target: HttpTarget,
    /// The request as written on the wire.
    request: Box<[u8]>,
    slots: Box<[Slot]>,
    /// The address that accepted the last connection: tried first next time.
    preferred: AtomicUsize,
    opened: AtomicU64,
    retried: AtomicU64,
}

/// One worker's kept-alive connection, if it has one.
#[derive(Default)]
struct Slot(Mutex<Option<Connection>>);

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Slot")
    }
}

impl Slot {
    fn take(&self) -> Option<Connection> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn put(&self, connection: Connection) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(connection);
    }
}

/// Why a driver could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// The process may not open a socket per worker.
    #[error(
        "{workers} workers need {needed} open files, but this process may open only {limit} \
         (its limit, already raised to the hard limit): use fewer workers, or raise the hard \
         limit (`ulimit -Hn`, or LimitNOFILE= in a systemd unit)"
    )]
    TooManyWorkers {
        /// The workers asked for.
        workers: usize,
        /// The descriptors they need, with a reserve for the rest of the process.
        needed: u64,
        /// The open-file limit in force.
        limit: u64,
    },
}

/// What the driver did besides sending requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct HttpStats {
    /// Connections opened, before and during the run.
    pub connections_opened: u64,
    /// Requests sent again on a fresh connection because their kept-alive one had closed.
    pub retried: u64,
}

impl HttpDriver {
    /// A driver for `workers` workers, one connection each. Raises the process's soft
    /// open-file limit to its hard limit first, and refuses a worker count that cannot fit.
    pub fn new(target: HttpTarget, workers: usize) -> Result<Arc<Self>, DriverError> {
        let limit = open_files::raise_limit();
        let needed = workers as u64 + RESERVED_FILES;
        if needed > limit {
            return Err(DriverError::TooManyWorkers {
                workers,
                needed,
                limit,
            });
        }
        Ok(Arc::new(Self {
            request: serialize(&target),
            target,
            slots: (0..workers).map(|_| Slot::default()).collect(),
            preferred: AtomicUsize::new(0),
            opened: AtomicU64::new(0),
            retried: AtomicU64::new(0),
        }))
    }

    /// Opens every worker's connection, a few at a time, each within `timeout`, and returns
    /// how many opened. Stops at the first failure (a target that refuses or ignores one
    /// connection would refuse the rest: the run then shows it as `connect` errors) and when
    /// `cancel` fires.
    pub async fn open_connections(
        self: &Arc<Self>,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> usize {
        let mut connecting = JoinSet::new();
        let mut next = 0;
        let mut opened = 0;
        loop {
            while connecting.len() < CONNECTING_AT_ONCE && next < self.slots.len() {
                let driver = Arc::clone(self);
                let slot = next;
                connecting.spawn(async move {
                    let connection = tokio::time::timeout(timeout, driver.connect()).await;
                    match connection {
                        Ok(Ok(connection)) => {
                            driver.slots[slot].put(connection);
                            true
                        }
                        _ => false,
                    }
                });
                next += 1;
            }
            tokio::select! {
                joined = connecting.join_next() => match joined {
                    None => return opened,
                    Some(Ok(true)) => opened += 1,
                    Some(_) => break,
                },
                () = cancel.cancelled() => break,
            }
        }
        connecting.abort_all();
        while let Some(joined) = connecting.join_next().await {
            opened += usize::from(matches!(joined, Ok(true)));
        }
        opened
    }

    /// What the driver did so far.
    pub fn stats(&self) -> HttpStats {
        HttpStats {
            connections_opened: self.opened.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
        }
    }

    /// The target every request goes to.
    pub fn target(&self) -> &HttpTarget {
        &self.target
    }

    /// Sends one request on the connection of the context's worker, opening it if needed.
    /// Use it as the request function: `move |ctx| Arc::clone(&driver).request(ctx)`.
    pub async fn request(self: Arc<Self>, ctx: RequestContext) -> Result<(), RequestError> {
        let slot = self
            .slots
            .get(ctx.worker)
            .ok_or_else(|| RequestError::new(CONNECT))?;
        // A connection from the slot sat idle and may have been closed by the server since.
        let (mut connection, mut kept_alive) = match slot.take() {
            Some(connection) => (connection, true),
            None => (self.connect_boxed().await?, false),
        };
        let head_only = self.target.method == Method::HEAD;
        let mut retried = false;
        let response = loop {
            let failure = match connection.exchange(&self.request, head_only).await {
                Ok(response) => break response,
                Err(failure) => failure,
            };
            let again = match failure {
                Failure::NotSent => true,
                Failure::Closed => kept_alive && self.target.method.is_idempotent(),
                Failure::Broken => false,
            };
            if !again || retried {
                return Err(RequestError::new(IO));
            }
            retried = true;
            self.retried.fetch_add(1, Ordering::Relaxed);
            connection = self.connect_boxed().await?;
            kept_alive = false;
        };
        let Response { status, reusable } = response;
        if reusable {
            slot.put(connection);
        }
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(RequestError::new(status_kind(status)))
        }
    }

    /// [`HttpDriver::connect`] on the heap: connecting is rare, and keeping its state out of
    /// the request's future keeps every worker's task small.
    async fn connect_boxed(&self) -> Result<Connection, RequestError> {
        Box::pin(self.connect()).await
    }

    /// Connects to the first resolved address that accepts, starting from the one that
    /// accepted last time.
    async fn connect(&self) -> Result<Connection, RequestError> {
        let addrs = &self.target.addrs;
        let first = self.preferred.load(Ordering::Relaxed);
        for offset in 0..addrs.len() {
            let index = (first + offset) % addrs.len();
            if let Ok(connection) = Connection::open(addrs[index]).await {
                if index != first {
                    self.preferred.store(index, Ordering::Relaxed);
                }
                self.opened.fetch_add(1, Ordering::Relaxed);
                return Ok(connection);
            }
        }
        Err(RequestError::new(CONNECT))
    }
}

/// The request line, the headers and the body of `target`, as sent.
fn serialize(target: &HttpTarget) -> Box<[u8]> {
    let mut bytes = Vec::with_capacity(256 + target.body.len());
    bytes.extend_from_slice(target.method.as_str().as_bytes());
    bytes.push(b' ');
    bytes.extend_from_slice(target.path.to_string().as_bytes());
    bytes.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &target.headers {
        if name == CONTENT_LENGTH || name == TRANSFER_ENCODING {
            continue;
        }
        bytes.extend_from_slice(name.as_str().as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    let expects_body = [Method::POST, Method::PUT, Method::PATCH].contains(&target.method);
    if !target.body.is_empty() || expects_body {
        bytes.extend_from_slice(format!("content-length: {}\r\n", target.body.len()).as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(&target.body);
    bytes.into_boxed_slice()
}

/// `http_<code>`, without an allocation for the common codes.
fn status_kind(code: u16) -> Cow<'static, str> {
    match code {
        400 => "http_400".into(),
        401 => "http_401".into(),
        403 => "http_403".into(),
        404 => "http_404".into(),
        429 => "http_429".into(),
        500 => "http_500".into(),
        502 => "http_502".into(),
        503 => "http_503".into(),
        504 => "http_504".into(),
        other => format!("http_{other}").into(),
    }
}
