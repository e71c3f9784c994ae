//! Sentinel's AWS edge, the only crate that links the AWS SDK: the SSM policy source, the STS
//! issuer, the caller's identity, and the AWS config file's profiles.

pub mod location;
pub mod sdk;
pub mod ssm;
