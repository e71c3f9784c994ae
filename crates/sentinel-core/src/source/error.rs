//! Why a policy could not be had. Each kind leads to a different remedy (create the policy, fix
//! it, grant access, wait), and only a failing store may be bridged by a stale cached copy, so
//! the kinds are kept apart; every message names the policy's location.

use sentinel_policy::Diagnostics;

/// A policy could not be loaded (or stored); every variant names where.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SourceError {
    /// Nothing is stored there.
    #[error("no policy at {location}")]
    NotFound {
        /// Where the policy was looked for.
        location: String,
    },
    /// The stored text is not a valid policy.
    #[error("the policy at {location} is invalid:\n{diagnostics}")]
    Invalid {
        /// Where the policy was read from.
        location: String,
        /// Every problem found, with line and column.
        diagnostics: Diagnostics,
    },
    /// The store refused us access.
    #[error("access denied to the policy at {location}: {detail}")]
    AccessDenied {
        /// The policy's location.
        location: String,
        /// What the store said.
        detail: String,
    },
    /// The store asked us to slow down.
    #[error("throttled while reaching the policy at {location}: {detail}")]
    Throttled {
        /// The policy's location.
        location: String,
        /// What the store said.
        detail: String,
    },
    /// The store could not be reached or is failing (network, timeout, server error).
    #[error("the policy store is unreachable for {location}: {detail}")]
    Unreachable {
        /// The policy's location.
        location: String,
        /// What went wrong.
        detail: String,
    },
    /// Any other failure of the store.
    #[error("the policy store failed for {location}: {detail}")]
    Failed {
        /// The policy's location.
        location: String,
        /// What went wrong.
        detail: String,
    },
    /// The key cannot name a policy in this source (e.g. a profile name with a `/`).
    #[error("{key:?} does not name a policy: {reason}")]
    InvalidKey {
        /// The key as given.
        key: String,
        /// Why it was refused.
        reason: &'static str,
    },
}

impl SourceError {
    /// True when the store itself is failing (unreachable or throttling) rather than answering:
    /// only then may a cache serve an expired copy within its `max_stale` window.
    pub fn is_store_failure(&self) -> bool {
        matches!(
            self,
            SourceError::Throttled { .. } | SourceError::Unreachable { .. }
        )
    }
}
