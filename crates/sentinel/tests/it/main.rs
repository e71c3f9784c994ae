//! The integration tests of `sentinel`, in one binary: one module per area.

mod bin;
mod broker_sts;
mod container;
mod deploy;
mod docs_flags;
mod load_cli;
mod load_over_time;
mod load_scenarios_cli;
mod load_support;
mod load_truth;
mod moto_credentials;
mod moto_policy_cli;
mod moto_serve;
mod moto_server;
mod policy_cli;
mod profile_errors;
mod secrets;
mod serve_load;
mod serve_support;
mod server_cli;
mod server_tls;
mod test_ca;
mod tls_errors;
