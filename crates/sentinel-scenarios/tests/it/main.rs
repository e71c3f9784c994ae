//! The integration tests of `sentinel-scenarios`, in one binary: one module per area.

mod json_contract;
mod scenarios;
mod sixth_scenario;
mod support;
