//! The issuance pipeline without any AWS dependency: who is asking (identity), where policies
//! come from (sources and their cache), what was decided (the decision log), and the broker that
//! ties them to an issuer; and the notifications of the approval workflow, queued for their
//! receivers.

pub mod broker;
pub mod caller;
pub mod decision_log;
pub mod identity;
pub mod issuer;
pub mod notify;
pub mod refusal;
pub mod roles;
pub mod source;
pub mod state;
pub mod workflow;
