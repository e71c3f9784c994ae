//! Test doubles for the source tests: a valid policy and a scriptable in-memory source.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Semaphore;

use super::{LoadedPolicy, PolicySource, SourceError};

/// A valid one-rule policy.
pub const ALLOW_ALICE: &str = "version: \"1\"\nrules:\n  - name: ops\n    effect: allow\n    conditions:\n      users: [alice]\n";

/// Runs a future to completion on a fresh current-thread runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(future)
}

/// An in-memory source: every key holds [`ALLOW_ALICE`] unless a failure is set; loads of
/// blocked keys wait until the gate is opened.
#[derive(Debug)]
pub struct FakeSource {
    loads: AtomicU64,
    failure: Mutex<Option<SourceError>>,
    blocked: Mutex<HashSet<String>>,
    gate: Semaphore,
}

impl Default for FakeSource {
    fn default() -> FakeSource {
        FakeSource {
            loads: AtomicU64::new(0),
            failure: Mutex::new(None),
            blocked: Mutex::new(HashSet::new()),
            gate: Semaphore::new(0),
        }
    }
}

impl FakeSource {
    /// How many loads reached this source.
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::SeqCst)
    }

    /// Makes every later load fail with `error` (or succeed again with `None`).
    pub fn fail_with(&self, error: Option<SourceError>) {
        *self.failure.lock().expect("failure lock") = error;
    }

    /// Makes loads of `key` wait until [`FakeSource::open_gate`].
    pub fn block(&self, key: &str) {
        self.blocked
            .lock()
            .expect("blocked lock")
            .insert(key.to_owned());
    }

    /// Lets every waiting and future load of a blocked key through.
    pub fn open_gate(&self) {
        self.gate.close();
    }
}

/// A transient store failure for `key`.
pub fn unreachable(key: &str) -> SourceError {
    SourceError::Unreachable {
        location: format!("fake:{key}"),
        detail: "connection refused".into(),
    }
}

#[async_trait::async_trait]
impl PolicySource for FakeSource {
    async fn load(&self, key: &str) -> Result<LoadedPolicy, SourceError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        let blocked = self.blocked.lock().expect("blocked lock").contains(key);
        if blocked {
            // A closed semaphore is the open gate.
            let _ = self.gate.acquire().await;
        }
        let failure = self.failure.lock().expect("failure lock").clone();
        match failure {
            Some(error) => Err(error),
            None => LoadedPolicy::parse(ALLOW_ALICE.as_bytes(), &format!("fake:{key}")),
        }
    }
}
