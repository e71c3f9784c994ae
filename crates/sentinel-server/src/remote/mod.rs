//! `sentinel server`: the broker as a network service that enforces the policy. It holds the
//! only principal the protected roles trust, and learns who a caller is from AWS itself: the
//! caller signs an STS `GetCallerIdentity` request with its own credentials and hands it over
//! unsent (a [`Proof`]); the server checks it, sends it to STS, and STS's answer names the
//! caller. No shared secret, no user database, no state: replicas behind a load balancer are
//! interchangeable.
//!
//! - [`proof`]: the proof, the request body, and the checks made before anything is called;
//! - [`endpoint`]: the STS endpoints proofs may be sent to;
//! - [`ProofVerifier`]: the step that sends a proof to STS (implemented with the AWS SDK);
//! - [`RemoteService`] and [`RemoteServer`]: the routes and the TLS listener;
//! - [`Metrics`]: what `GET /metrics` reports;
//! - [`ServerConfig`]: the configuration file;
//! - [`trust::trust_policy`]: the trust policy that leaves the broker the only way in.

pub mod config;
pub mod endpoint;
mod metrics;
pub mod proof;
mod server;
mod service;
pub mod trust;
mod verify;

pub use config::{ConfigError, ProfileConfig, ServerConfig, TlsFiles};
pub use endpoint::{Endpoint, StsEndpoints};
pub use metrics::{Metrics, StsCall};
pub use proof::{CheckedProof, CredentialsRequest, Proof, ProofRejection, ProofRules};
pub use server::{RemoteServer, Security};
pub use service::{
    HEALTH_PATH, MAX_BODY_BYTES, METRICS_PATH, REMOTE_CREDENTIALS_PATH, RemoteService,
};
pub use verify::{ProofVerifier, VerifyError};
