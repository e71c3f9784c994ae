//! Live counters for a progress display, cheap enough to update on every request.
//!
//! Each worker writes only its own cache-line-sized slot, so updating them costs no contention;
//! a reader sums the slots whenever it wants a snapshot.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// A worker's counters, padded so that two workers never share a cache line.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct WorkerCounters {
    pub sent: AtomicU64,
    pub ok: AtomicU64,
    pub errors: AtomicU64,
    /// The request this worker claimed last (not yet recorded, or recorded and about to be
    /// followed by a higher one); `u64::MAX` once it has nothing more to claim. Every request
    /// below the lowest of these (and below the next unclaimed one) has been recorded.
    pub claimed: AtomicU64,
}

/// A shared handle on a run's live counters; clone it freely and read it from any thread.
#[derive(Debug, Clone)]
pub struct Progress {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    start: OnceLock<Instant>,
    target: u64,
    workers: Box<[WorkerCounters]>,
}

/// The counters of a run at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressSnapshot {
    /// Time since the run started (zero before it starts).
    pub elapsed: Duration,
    /// Requests the run will schedule in total.
    pub target: u64,
    /// Requests sent so far.
    pub sent: u64,
    /// Requests that succeeded so far.
    pub ok: u64,
    /// Requests that failed so far (timeouts included).
    pub errors: u64,
}

impl Progress {
    pub(crate) fn new(workers: usize, target: u64) -> Self {
        Self {
            inner: Arc::new(Inner {
                start: OnceLock::new(),
                target,
                workers: (0..workers).map(|_| WorkerCounters::default()).collect(),
            }),
        }
    }

    pub(crate) fn start(&self, start: Instant) {
        let _ = self.inner.start.set(start);
    }

    pub(crate) fn worker(&self, index: usize) -> &WorkerCounters {
        &self.inner.workers[index]
    }

    /// The lowest request index some worker may still record (see
    /// [`WorkerCounters::claimed`]).
    pub(crate) fn lowest_claimed(&self) -> u64 {
        self.inner
            .workers
            .iter()
            .map(|worker| worker.claimed.load(Ordering::Acquire))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Sums the workers' counters now.
    pub fn snapshot(&self) -> ProgressSnapshot {
        let mut snapshot = ProgressSnapshot {
            elapsed: self
                .inner
                .start
                .get()
                .map_or(Duration::ZERO, Instant::elapsed),
            target: self.inner.target,
            sent: 0,
            ok: 0,
            errors: 0,
        };
        for worker in &self.inner.workers {
            snapshot.sent += worker.sent.load(Ordering::Relaxed);
            snapshot.ok += worker.ok.load(Ordering::Relaxed);
            snapshot.errors += worker.errors.load(Ordering::Relaxed);
        }
        snapshot
    }
}
