//! The integration tests of `sentinel-server`, in one binary: one module per area.

mod notify;
mod remote;
mod server;
mod unreachable;
