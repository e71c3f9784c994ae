//! The step after the checks: sending a proof to its STS endpoint and reading who signed it. The
//! server knows only this trait; the implementation that speaks to STS lives with the AWS SDK.

use sentinel_core::caller::Caller;

use crate::proof::CheckedProof;

/// Why a proof did not say who the caller is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// STS answered, and not with `200` (a bad signature, an expired token...): `401`.
    #[error("STS refused the proof ({status}): {code}: {message}")]
    Refused {
        /// The HTTP status STS answered with.
        status: u16,
        /// STS's error code, e.g. `SignatureDoesNotMatch`.
        code: String,
        /// STS's message, with its request ID when it gave one.
        message: String,
    },
    /// STS could not be reached or gave an answer that could not be read: `502`.
    #[error("STS could not verify the proof: {0}")]
    Unavailable(String),
}

/// Sends checked proofs to STS.
#[async_trait::async_trait]
pub trait ProofVerifier: Send + Sync {
    /// Sends `proof` to its endpoint and returns who STS says signed it.
    async fn verify(&self, proof: &CheckedProof) -> Result<Caller, VerifyError>;
}
