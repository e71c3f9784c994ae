//! The state that `sentinel server`'s replicas share, so that each replica stays stateless: the
//! proofs already used, approval requests and their votes, and break-glass uses. Each trait is
//! named after the operations that make it correct (a claim that succeeds once, a transition
//! that succeeds only from the state it read), so that any store with conditional writes can
//! hold it. An unreachable store refuses: nothing is let through that could not be recorded.

pub mod approvals;
pub mod break_glass;
pub mod memory;

use jiff::Timestamp;

use approvals::{ApprovalId, ApprovalRequest};
use break_glass::Ledger;

/// Why the store could not answer or record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The store could not be reached or refused the call.
    #[error("the state store is unavailable: {0}")]
    Unavailable(String),
    /// The store holds something that does not read as what was stored.
    #[error("the state store holds an unreadable item: {0}")]
    Corrupt(String),
    /// The store is full (an in-memory store's capacity).
    #[error("the state store is full: {0}")]
    Full(String),
}

/// The proofs already used: each may be claimed once while it is fresh.
#[async_trait::async_trait]
pub trait UsedProofs: Send + Sync {
    /// Claims the proof named `key` until `expires_at`: `true` the first time, `false` if it
    /// was claimed before and that claim has not expired at `now`. Of claims made at once with
    /// one key, exactly one answers `true`.
    async fn claim_once(
        &self,
        key: &[u8],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StateError>;
}

/// Approval requests, each stored once with copies for the lists of its requester and its
/// approvers.
#[async_trait::async_trait]
pub trait ApprovalStore: Send + Sync {
    /// The request last opened by `requester` for `profile` under `rule`, if any.
    async fn open(
        &self,
        requester: &str,
        profile: &str,
        rule: &str,
    ) -> Result<Option<ApprovalRequest>, StateError>;

    /// Stores `request` as the open request of its requester, profile and rule, if the open
    /// one is still `replacing` (`None`: there is none). `false`: another writer got there
    /// first, and nothing was written.
    async fn create(
        &self,
        request: &ApprovalRequest,
        replacing: Option<ApprovalId>,
    ) -> Result<bool, StateError>;

    /// The request with `id`, read consistently.
    async fn get(&self, id: ApprovalId) -> Result<Option<ApprovalRequest>, StateError>;

    /// Replaces `from` with `to` if the stored request is still at `from.version`. `false`:
    /// it changed since it was read, and nothing was written.
    async fn transition(
        &self,
        from: &ApprovalRequest,
        to: &ApprovalRequest,
    ) -> Result<bool, StateError>;

    /// The requests `user` made and those `user` may decide, newest first, found by key (a
    /// query, never a scan of every request).
    async fn list(&self, user: &str) -> Result<Vec<ApprovalRequest>, StateError>;
}

/// Break-glass uses per user.
#[async_trait::async_trait]
pub trait BreakGlassStore: Send + Sync {
    /// The ledger of `user` (empty, version 0, if none is stored).
    async fn ledger(&self, user: &str) -> Result<Ledger, StateError>;

    /// Replaces the ledger `from` of `user` with `to` if it is still at `from.version`.
    /// `false`: it changed since it was read, and nothing was written.
    async fn record(&self, user: &str, from: &Ledger, to: &Ledger) -> Result<bool, StateError>;
}
