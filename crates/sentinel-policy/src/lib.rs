//! Sentinel's policy language (described in docs/policy.md): parse YAML with positions, validate every rule of
//! the language while collecting all problems, compile into an immutable evaluator, and
//! evaluate requests (first match wins, default deny) without allocating.
//!
//! Pure: no I/O, no async, no AWS, so it is quick to build, fuzz and benchmark.
//!
//! ```
//! use sentinel_policy::{Effect, Policy, Request};
//!
//! let policy = Policy::from_yaml(
//!     "version: \"1\"\nrules:\n  - name: ops\n    effect: allow\n    conditions:\n      users: [alice]\n",
//! )
//! .expect("valid policy");
//! let now = jiff::Timestamp::now();
//! let alice = Request::new("alice", "production", now);
//! assert_eq!(policy.evaluate(&alice).effect, Effect::Allow);
//! let mallory = Request::new("mallory", "production", now);
//! assert_eq!(policy.evaluate(&mallory).rule, None);
//! ```

mod check;
mod code;
mod decision;
mod diagnostic;
mod identity;
mod index;
mod policy;
mod request;
mod rule;
mod schema;
mod validation;
mod window;
mod workflow;
mod yaml;

pub use code::Code;
pub use decision::{Decision, Effect};
pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use identity::{DEFAULT_SESSION_NAME_ROLES, Identity, glob_matches};
pub use policy::Policy;
pub use request::Request;
pub use schema::json_schema;
pub use validation::Validation;
pub use workflow::{
    Approval, BreakGlass, DEFAULT_APPROVAL_COUNT, DEFAULT_EXPIRES_AFTER, DEFAULT_VALID_FOR,
    SESSION_LIMITS,
};
