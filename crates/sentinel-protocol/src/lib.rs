//! The wire protocol of `sentinel server`, the broker as a network service, shared by the
//! server and its clients.
//!
//! The server holds the only principal the protected roles trust, and learns who a caller is
//! from AWS itself: the caller signs an STS `GetCallerIdentity` request with its own credentials
//! and hands it over unsent (a [`Proof`]); the server checks it, sends it to STS, and STS's
//! answer names the caller.
//!
//! - [`proof`]: the proof, the request body, and the checks made before anything is called;
//! - [`endpoint`]: the STS endpoints proofs may be sent to;
//! - [`ProofVerifier`]: the step that sends a proof to STS (implemented with the AWS SDK);
//! - [`ForwardCredentials`]: how a local server hands on what the remote server issues;
//! - [`VoteRequest`] and [`ListRequest`]: the approval routes' bodies;
//! - the paths the server answers at.
//!
//! This crate links no HTTP server and no AWS SDK.

mod approvals;
pub mod endpoint;
mod forward;
pub mod proof;
mod verify;

pub use approvals::{
    APPROVALS_LIST_PATH, APPROVALS_VOTE_PATH, LIST_SCOPE, ListRequest, MAX_BREAK_GLASS_REASON,
    VoteRequest, check_reason, vote_scope,
};
pub use endpoint::{Endpoint, StsEndpoints};
pub use forward::{ForwardCredentials, Forwarded};
pub use proof::{
    CheckedProof, CredentialsRequest, Proof, ProofRejection, ProofRules, ProofSignature,
};
pub use verify::{ProofVerifier, VerifyError};

/// The path credentials are asked for at.
pub const REMOTE_CREDENTIALS_PATH: &str = "/v1/credentials";
/// The liveness path: `200 ok` while the server accepts requests.
pub const HEALTH_PATH: &str = "/healthz";
/// The Prometheus metrics path.
pub const METRICS_PATH: &str = "/metrics";
/// The largest request body the server reads; a proof is well under 4 KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
