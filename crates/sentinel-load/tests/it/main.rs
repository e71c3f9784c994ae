//! The integration tests of `sentinel-load`, in one binary: one module per area.

mod corners;
mod http;
mod http2;
mod http_wire;
mod report;
mod run;
mod support;
mod targets;
mod timeline;
mod tls;
