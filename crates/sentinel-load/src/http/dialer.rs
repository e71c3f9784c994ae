//! Opening a driver's connections: to which endpoint each origin's go, and how many were
//! opened, resumed and retried.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::transport::{Connected, Endpoint, OpenError};

/// Why a request went out again on a fresh connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Retry {
    /// Its kept-alive connection had closed while idle, before anything was written.
    ClosedIdle,
    /// Its kept-alive connection closed cleanly after it was written, before any answer byte.
    Closed,
    /// HTTP/2: the server refused it unprocessed (a stream above its `GOAWAY`'s last stream).
    Refused,
}

/// Requests sent again on a fresh connection, by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Retries {
    /// A kept-alive connection had closed while idle, before the request was written.
    pub closed_idle: u64,
    /// A kept-alive connection closed cleanly after the request was written, before any
    /// answer byte.
    pub closed: u64,
    /// HTTP/2: the server went away before the stream, promising not to have processed it.
    pub refused: u64,
}

impl Retries {
    /// Every retry, whatever its cause.
    pub fn total(&self) -> u64 {
        self.closed_idle + self.closed + self.refused
    }
}

/// Opens connections to the origins and counts what it did.
pub(super) struct Dialer {
    endpoints: Box<[Endpoint]>,
    /// Connections opened.
    pub(super) opened: AtomicU64,
    /// Of those, the TLS ones whose handshake resumed an earlier session.
    pub(super) resumed: AtomicU64,
    /// Requests sent again on a fresh connection, by [`Retry`] cause (counted by the
    /// protocols).
    retried: [AtomicU64; 3],
}

impl Dialer {
    /// A dialer to `endpoints`, one per origin, that has opened nothing yet.
    pub(super) fn new(endpoints: Box<[Endpoint]>) -> Self {
        Self {
            endpoints,
            opened: AtomicU64::new(0),
            resumed: AtomicU64::new(0),
            retried: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
        }
    }

    /// Counts a request sent again, and why.
    pub(super) fn retried(&self, cause: Retry) {
        self.retried[cause as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The retries so far.
    pub(super) fn retries(&self) -> Retries {
        let [closed_idle, closed, refused] = [Retry::ClosedIdle, Retry::Closed, Retry::Refused]
            .map(|cause| self.retried[cause as usize].load(Ordering::Relaxed));
        Retries {
            closed_idle,
            closed,
            refused,
        }
    }

    /// Opens a connection to origin `origin`.
    pub(super) async fn open(&self, origin: usize) -> Result<Connected, OpenError> {
        let connected = self.endpoints[origin].open().await?;
        self.opened.fetch_add(1, Ordering::Relaxed);
        if connected.resumed {
            self.resumed.fetch_add(1, Ordering::Relaxed);
        }
        Ok(connected)
    }
}
