//! What a request has done on the wire so far, shared by the request function and the runner
//! while it runs.
//!
//! The runner drops a request that runs past its timeout. What it did until then (the bytes it
//! wrote and read, the connection it opened) still happened, and a report that left it out
//! would show a target that never answers as one that was never sent anything. So a request
//! function counts that progress into its worker's [`Wire`] as it happens, and the runner adds
//! it to the request's figures whatever the outcome.
//!
//! The same cell says when the request's timeout starts: at the send, or later for a request
//! that first waits for room on a shared connection (an HTTP/2 stream slot). That wait counts
//! in the request's latency, as waiting for a worker does, but not against its timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::exchange::Exchange;
use crate::histogram::nanos;

/// `clock` when the timeout runs from the send.
const FROM_SEND: u64 = 0;
/// `clock` while the request waits for room: its timeout does not run.
const WAITING: u64 = u64::MAX;

/// A worker's figures, padded so that two workers never share a cache line.
#[derive(Debug)]
#[repr(align(128))]
struct Cell {
    /// What `clock` counts from.
    epoch: Instant,
    sent: AtomicU64,
    received: AtomicU64,
    /// How long opening a connection took, in nanoseconds plus one; 0 for none.
    connect: AtomicU64,
    /// [`FROM_SEND`], [`WAITING`], or when the timeout started, in nanoseconds after `epoch`
    /// plus one.
    clock: AtomicU64,
}

/// One worker's progress on the wire for the request it runs (see the module documentation).
/// Clones share it; the runner resets it after each request.
#[derive(Debug, Clone)]
pub struct Wire(Arc<Cell>);

impl Default for Wire {
    /// A cell of its own, for a request sent outside a run.
    fn default() -> Self {
        Self(Arc::new(Cell {
            epoch: Instant::now(),
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            connect: AtomicU64::new(0),
            clock: AtomicU64::new(FROM_SEND),
        }))
    }
}

impl Wire {
    /// Counts `bytes` written.
    pub fn wrote(&self, bytes: u64) {
        self.0.sent.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts `bytes` read.
    pub fn read(&self, bytes: u64) {
        self.0.received.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Records that the request opened a connection, which took `took`.
    pub fn connected(&self, took: Duration) {
        self.0
            .connect
            .store(nanos(took).saturating_add(1), Ordering::Relaxed);
    }

    /// The request waits for room on a shared connection: its timeout stops running until
    /// [`Wire::clock_starts`].
    pub fn waiting(&self) {
        self.0.clock.store(WAITING, Ordering::Relaxed);
    }

    /// The request's timeout runs from now.
    pub fn clock_starts(&self) {
        let since = nanos(self.0.epoch.elapsed())
            .saturating_add(1)
            .min(WAITING - 1);
        self.0.clock.store(since, Ordering::Relaxed);
    }

    /// When a request sent at `sent` times out after `timeout`: `None` while it waits for room.
    pub(crate) fn deadline(&self, sent: Instant, timeout: Duration) -> Option<Instant> {
        match self.0.clock.load(Ordering::Relaxed) {
            FROM_SEND => Some(sent + timeout),
            WAITING => None,
            since => Some(self.0.epoch + Duration::from_nanos(since - 1) + timeout),
        }
    }

    /// Adds what was counted to `exchange` and starts afresh for the next request.
    pub(crate) fn settle(&self, exchange: &mut Exchange) {
        let cell = &self.0;
        exchange.bytes_sent += cell.sent.swap(0, Ordering::Relaxed);
        exchange.bytes_received += cell.received.swap(0, Ordering::Relaxed);
        match cell.connect.swap(0, Ordering::Relaxed) {
            0 => {}
            took => {
                exchange
                    .connect
                    .get_or_insert(Duration::from_nanos(took - 1));
            }
        }
        cell.clock.store(FROM_SEND, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settles_what_was_counted_once_and_starts_afresh() {
        let wire = Wire::default();
        wire.wrote(41);
        wire.wrote(9);
        wire.read(7);
        wire.connected(Duration::from_millis(3));
        let mut exchange = Exchange::default();
        wire.settle(&mut exchange);
        assert_eq!((exchange.bytes_sent, exchange.bytes_received), (50, 7));
        assert_eq!(exchange.connect, Some(Duration::from_millis(3)));
        let mut next = Exchange::default();
        wire.settle(&mut next);
        assert_eq!(next, Exchange::default());
    }

    #[test]
    fn the_timeout_stops_while_waiting_and_runs_from_when_the_clock_starts() {
        let wire = Wire::default();
        let sent = Instant::now();
        let timeout = Duration::from_secs(2);
        assert_eq!(wire.deadline(sent, timeout), Some(sent + timeout));
        wire.waiting();
        assert_eq!(wire.deadline(sent, timeout), None);
        std::thread::sleep(Duration::from_millis(5));
        wire.clock_starts();
        let deadline = wire.deadline(sent, timeout).unwrap();
        assert!(deadline >= sent + timeout + Duration::from_millis(5));
        assert!(deadline <= Instant::now() + timeout);
        wire.settle(&mut Exchange::default());
        assert_eq!(wire.deadline(sent, timeout), Some(sent + timeout));
    }
}
