//! `sentinel server`: the broker as a network service that enforces the policy. It holds the
//! only principal the protected roles trust, and learns who a caller is from AWS itself: the
//! caller signs an STS `GetCallerIdentity` request with its own credentials and hands it over
//! unsent (a [`Proof`](sentinel_protocol::Proof)); the server checks it, sends it to STS, and STS's answer names the
//! caller. No shared secret, no user database: the only state is the proofs already used, each
//! kept for the minutes it is fresh, and, with `state` configured, approval requests and
//! break-glass uses, shared by every replica through a [`sentinel_core::state`] store.
//!
//! The proof, its checks and the verifier trait belong to the wire protocol, in
//! [`sentinel_protocol`], which the clients share.
//!
//! - [`RemoteService`] and [`RemoteServer`]: the routes, the TLS listener and the admin
//!   listener (health and metrics);
//! - [`RateLimits`]: the token buckets per client network and per principal;
//! - [`Metrics`]: what `GET /metrics` reports;
//! - [`MemorySeenProofs`]: single use of proofs within one replica;
//! - [`Admission`]: who may be a caller at all, decided before any policy is read, with the
//!   roles it looks up kept in a [`RoleCache`];
//! - [`ServerConfig`]: the configuration file;
//! - [`notify`]: the webhooks and SNS topics told of approvals and break-glass;
//! - [`trust::trust_policy`]: the trust policy that leaves the broker the only way in.

mod admin;
pub mod admission;
mod announce;
mod approvals;
pub mod config;
mod metrics;
pub mod notify;
mod rate;
mod role_cache;
mod seen;
mod server;
mod service;
pub mod trust;

pub use admission::{Admission, BrokerIdentity};
pub use announce::Announcer;
pub use config::{CallerConfig, ConfigError, ProfileConfig, ServerConfig, StateConfig, TlsFiles};
pub use metrics::{Metrics, StsCall};
pub use notify::config::{NotifyTarget, SnsTarget, WebhookTarget};
pub use rate::{MAX_BUCKETS, Rate, RateLimits};
pub use role_cache::{MAX_CACHED_ROLES, RoleCache};
pub use seen::{DEFAULT_MAX_SEEN_PROOFS, MemorySeenProofs};
pub use server::{RemoteServer, Security};
pub use service::RemoteService;
