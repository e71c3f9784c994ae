//! Sentinel's AWS edge, the only crate that links the AWS SDK: the SSM policy source, the STS
//! issuer, the caller's identity, and the AWS config file's profiles.

pub mod caller;
pub mod error;
pub mod location;
pub mod profile;
pub mod sdk;
pub mod ssm;
pub mod sts;
