//! The shared state in this process's memory: the same conditional writes as a real store,
//! for tests (the races and the model of the approval rules) and for benchmarks that must not
//! measure a network. A server's replicas cannot share it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use jiff::Timestamp;

use super::approvals::{ApprovalId, ApprovalRequest};
use super::break_glass::Ledger;
use super::{ApprovalStore, BreakGlassStore, StateError, UsedProofs};

/// Approval requests, break-glass ledgers and used proofs in memory.
#[derive(Debug, Default)]
pub struct MemoryState {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    requests: HashMap<ApprovalId, ApprovalRequest>,
    /// (requester, profile, rule) → the open request.
    open: HashMap<(String, String, String), ApprovalId>,
    ledgers: HashMap<String, Ledger>,
    /// Proof key → the second its claim expires.
    proofs: HashMap<Vec<u8>, Timestamp>,
}

impl MemoryState {
    /// An empty store.
    pub fn new() -> MemoryState {
        MemoryState::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change below is one map operation, so a panic cannot leave a half-made change.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl UsedProofs for MemoryState {
    async fn claim_once(
        &self,
        key: &[u8],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StateError> {
        let mut inner = self.lock();
        if inner.proofs.get(key).is_some_and(|kept| *kept >= now) {
            return Ok(false);
        }
        inner.proofs.insert(key.to_vec(), expires_at);
        Ok(true)
    }
}

#[async_trait::async_trait]
impl ApprovalStore for MemoryState {
    async fn open(
        &self,
        requester: &str,
        profile: &str,
        rule: &str,
    ) -> Result<Option<ApprovalRequest>, StateError> {
        let inner = self.lock();
        let key = (requester.to_owned(), profile.to_owned(), rule.to_owned());
        Ok(inner
            .open
            .get(&key)
            .and_then(|id| inner.requests.get(id))
            .cloned())
    }

    async fn create(
        &self,
        request: &ApprovalRequest,
        replacing: Option<ApprovalId>,
    ) -> Result<bool, StateError> {
        let mut inner = self.lock();
        let key = (
            request.requester.clone(),
            request.profile.clone(),
            request.rule.clone(),
        );
        if inner.open.get(&key).copied() != replacing || inner.requests.contains_key(&request.id) {
            return Ok(false);
        }
        inner.open.insert(key, request.id);
        inner.requests.insert(request.id, request.clone());
        Ok(true)
    }

    async fn get(&self, id: ApprovalId) -> Result<Option<ApprovalRequest>, StateError> {
        Ok(self.lock().requests.get(&id).cloned())
    }

    async fn transition(
        &self,
        from: &ApprovalRequest,
        to: &ApprovalRequest,
    ) -> Result<bool, StateError> {
        let mut inner = self.lock();
        match inner.requests.get_mut(&from.id) {
            Some(stored) if stored.version == from.version => {
                *stored = to.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn list(&self, user: &str) -> Result<Vec<ApprovalRequest>, StateError> {
        let inner = self.lock();
        let mut found: Vec<ApprovalRequest> = inner
            .requests
            .values()
            .filter(|r| r.requester == user || r.approvers.iter().any(|a| a == user))
            .cloned()
            .collect();
        found.sort_by_key(|request| std::cmp::Reverse(request.created_at));
        Ok(found)
    }
}

#[async_trait::async_trait]
impl BreakGlassStore for MemoryState {
    async fn ledger(&self, user: &str) -> Result<Ledger, StateError> {
        Ok(self.lock().ledgers.get(user).cloned().unwrap_or_default())
    }

    async fn record(&self, user: &str, from: &Ledger, to: &Ledger) -> Result<bool, StateError> {
        let mut inner = self.lock();
        let stored = inner.ledgers.get(user).map_or(0, |ledger| ledger.version);
        if stored != from.version {
            return Ok(false);
        }
        inner.ledgers.insert(user.to_owned(), to.clone());
        Ok(true)
    }
}
