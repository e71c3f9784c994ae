//! The integration tests of `sentinel-policy`, in one binary: one module per area.

mod diagnostics;
mod evaluate;
mod no_alloc;
mod properties;
