//! Opening a driver's connections: to which endpoint each origin's go, and how many were
//! opened, resumed and retried.

use std::sync::atomic::{AtomicU64, Ordering};

use super::transport::{Connected, Endpoint, OpenError};

/// Opens connections to the origins and counts what it did.
pub(super) struct Dialer {
    endpoints: Box<[Endpoint]>,
    /// Connections opened.
    pub(super) opened: AtomicU64,
    /// Of those, the TLS ones whose handshake resumed an earlier session.
    pub(super) resumed: AtomicU64,
    /// Requests sent again on a fresh connection (counted by the protocols).
    pub(super) retried: AtomicU64,
}

impl Dialer {
    /// A dialer to `endpoints`, one per origin, that has opened nothing yet.
    pub(super) fn new(endpoints: Box<[Endpoint]>) -> Self {
        Self {
            endpoints,
            opened: AtomicU64::new(0),
            resumed: AtomicU64::new(0),
            retried: AtomicU64::new(0),
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
