//! Group commit: an allow's line is on disk (`fdatasync`) before credentials are requested,
//! without one sync per line capping throughput at the disk's sync rate.
//!
//! A writer that needs its line durable joins the batch of lines written to the same file since
//! the last sync began, and waits. A few threads of the log's own each take every batch there
//! is when free, sync each batch's file once, and tell each of its writers how that went. While
//! they sync, new lines gather into the next batch, so under load one sync covers many lines.

use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use tokio::sync::oneshot;

use super::sink::Sink;

/// How many syncs may be in flight at once. With more than one, a batch that gathers while a
/// sync runs starts its own at once instead of waiting for that one to end, so a line waits
/// about one sync rather than one and a half, and a slow sync holds up only its own batch. (With
/// the `issuance` load scenario on a 2-core virtual machine, four gave the shortest tail
/// latency; eight gained nothing.)
const SYNC_THREADS: usize = 4;

/// How a sync went, as each writer it covered learns it.
pub(super) type Synced = Result<(), (io::ErrorKind, String)>;

/// Lines written to one file, waiting for one sync.
#[derive(Debug)]
struct Batch {
    file: Arc<File>,
    waiters: Vec<oneshot::Sender<Synced>>,
}

/// What the writers and the sync threads share, under one lock: where lines go, and the
/// batches no sync thread has taken yet (the last one still gathering lines).
#[derive(Debug)]
pub(super) struct State {
    /// Where lines are written.
    pub(super) sink: Sink,
    batches: Vec<Batch>,
    closing: bool,
}

/// What a log and its sync threads share.
#[derive(Debug)]
pub(super) struct Shared {
    state: Mutex<State>,
    work: Condvar,
    /// Sync threads still running.
    syncers: AtomicUsize,
    /// Lines whose sync succeeded.
    pub(super) synced_lines: AtomicU64,
    /// Syncs performed.
    pub(super) syncs: AtomicU64,
}

impl Shared {
    /// Shared state writing to `sink`, with sync threads if `sink` can be synced.
    pub(super) fn start(sink: Sink) -> io::Result<Arc<Shared>> {
        let syncs = sink.syncs();
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                sink,
                batches: Vec::new(),
                closing: false,
            }),
            work: Condvar::new(),
            syncers: AtomicUsize::new(0),
            synced_lines: AtomicU64::new(0),
            syncs: AtomicU64::new(0),
        });
        if syncs {
            for _ in 0..SYNC_THREADS {
                let syncer = Arc::clone(&shared);
                shared.syncers.fetch_add(1, Ordering::AcqRel);
                let started = std::thread::Builder::new()
                    .name("decision-log-sync".into())
                    .spawn(move || syncer.run());
                if let Err(error) = started {
                    shared.syncers.fetch_sub(1, Ordering::AcqRel);
                    shared.close();
                    return Err(error);
                }
            }
        }
        Ok(shared)
    }

    /// The state, locked. A poisoned lock only means a writer panicked; lines are written
    /// whole or not at all, so the state is still sound.
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Joins the line just written to `state`'s current file to the gathering batch; the
    /// receiver says when a sync covered it. `None` if no sync thread runs (none started
    /// for standard output, or all have stopped), so nothing will ever sync it.
    pub(super) fn join(&self, state: &mut State) -> Option<oneshot::Receiver<Synced>> {
        if self.syncers.load(Ordering::Acquire) == 0 {
            return None;
        }
        let (sender, receiver) = oneshot::channel();
        let file = state.sink.file();
        match state.batches.last_mut() {
            Some(batch) if Arc::ptr_eq(&batch.file, file) => batch.waiters.push(sender),
            _ => state.batches.push(Batch {
                file: Arc::clone(file),
                waiters: vec![sender],
            }),
        }
        self.work.notify_one();
        Some(receiver)
    }

    /// Tells the sync threads to finish the batches there are and stop.
    pub(super) fn close(&self) {
        self.lock().closing = true;
        self.work.notify_all();
    }

    /// A sync thread: takes every batch, syncs each, reports, until closed.
    fn run(&self) {
        // However this thread ends, writers stop waiting for it: their senders are dropped with
        // the batches, and no new line joins a batch.
        let _alive = AliveGuard(self);
        loop {
            let batches = {
                let mut state = self.lock();
                while state.batches.is_empty() && !state.closing {
                    state = self
                        .work
                        .wait(state)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                }
                if state.batches.is_empty() {
                    return;
                }
                std::mem::take(&mut state.batches)
            };
            for batch in batches {
                let result = batch.file.sync_data();
                self.syncs.fetch_add(1, Ordering::Relaxed);
                let synced = match result {
                    Ok(()) => {
                        let lines = batch.waiters.len() as u64;
                        self.synced_lines.fetch_add(lines, Ordering::Release);
                        Ok(())
                    }
                    Err(error) => Err((error.kind(), error.to_string())),
                };
                for waiter in batch.waiters {
                    // A writer that stopped waiting (its request was abandoned) needs no answer.
                    let _ = waiter.send(synced.clone());
                }
            }
        }
    }
}

/// Counts a sync thread out when it ends; the last one drops the batches nobody will sync.
struct AliveGuard<'a>(&'a Shared);

impl Drop for AliveGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        if self.0.syncers.fetch_sub(1, Ordering::AcqRel) == 1 {
            state.batches.clear();
        }
    }
}
