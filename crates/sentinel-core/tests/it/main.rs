//! The integration tests of `sentinel-core`, in one binary: one module per area.

mod broker;
mod identity;
