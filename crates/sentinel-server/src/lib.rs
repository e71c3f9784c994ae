//! The credential server behind `sentinel serve`: the AWS container-credentials protocol
//! (`AWS_CONTAINER_CREDENTIALS_FULL_URI` + `AWS_CONTAINER_AUTHORIZATION_TOKEN`) over HTTP/1.1,
//! so any AWS SDK on the machine gets policy-gated credentials and refreshes them as it needs.
//!
//! Every request that passes the server's own checks (the `Host`, the token, `GET
//! /credentials`, no body) goes through the broker: the policy is evaluated, the decision logged,
//! fresh credentials issued on `allow`. A deny is `403` naming the rule; a failure is `5xx`; both
//! carry `{"Code", "Message"}`. The crate links no AWS SDK: the issuer is whatever the broker
//! was built with.
//!
//! [`remote`] is `sentinel server`, the broker as a network service, served over TLS
//! ([`tls`]) through the same accept loop; its wire protocol is [`sentinel_protocol`]'s.

mod client;
mod connections;
mod handler;
mod open_files;
mod origin;
pub mod remote;
mod server;
mod tail;
pub mod tls;
mod token;
mod wire;

pub use connections::{Drained, Limits};
pub use handler::CredentialService;
pub use open_files::{ConnectionBudget, RESERVED_DESCRIPTORS, fit_connections};
pub use origin::{RemoteRefused, check_listen};
pub use server::{ServeError, Server};
pub use token::{Token, TokenError};
