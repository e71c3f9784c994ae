//! Credentials that a `sentinel server` issues, as a local server hands them on: the client
//! side asks the remote server on every request, and a refusal travels on as it came.

use sentinel_core::issuer::Credentials;

/// Credentials that another Sentinel (a `sentinel server`) issues: what a local server hands
/// on, fetched anew for every request, instead of asking a broker of its own.
#[async_trait::async_trait]
pub trait ForwardCredentials: Send + Sync {
    /// Fresh credentials, or the refusal to hand on.
    async fn credentials(&self) -> Result<Credentials, Forwarded>;
}

/// A refusal from where credentials are forwarded from, answered as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    /// The HTTP status to answer with.
    pub status: u16,
    /// The `Code`.
    pub code: String,
    /// The `Message`.
    pub message: String,
}
