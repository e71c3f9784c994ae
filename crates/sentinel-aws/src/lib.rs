//! Sentinel's AWS edge, the only crate that links the AWS SDK: the SSM policy source, the STS
//! issuer, the caller's identity, IAM role look-ups, the AWS config file's profiles, and both ends of the remote
//! server's identity proof (signing one, sending one to STS) and its client, and the SNS topics
//! that notifications are published to.

pub mod base;
pub mod caller;
pub mod dynamodb;
pub mod error;
pub mod iam_roles;
pub mod location;
pub mod profile;
pub mod proof;
pub mod remote;
pub mod sdk;
pub mod sns;
pub mod ssm;
pub mod sts;
pub mod sts_proof;
pub mod tls_failure;
