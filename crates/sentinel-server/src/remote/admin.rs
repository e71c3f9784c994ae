//! The admin listener: `GET /healthz` and `GET /metrics` over plain HTTP, apart from the
//! callers' port, so that probes and Prometheus never wait behind callers and only those who
//! can reach the admin address (loopback by default) read the metrics.

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use sentinel_protocol::{HEALTH_PATH, METRICS_PATH};

use super::metrics::{self, Metrics};
use crate::connections::{Ends, Handle};
use crate::wire::{self, Reply};

/// Answers the admin routes.
pub(crate) struct AdminHandler {
    pub(crate) metrics: Metrics,
}

impl Handle for AdminHandler {
    async fn handle(&self, request: Request<Incoming>, _ends: Ends) -> Reply {
        let path = request.uri().path();
        let method = request.method();
        match path {
            HEALTH_PATH if method == Method::GET => wire::health(),
            METRICS_PATH if method == Method::GET => {
                wire::plain(StatusCode::OK, metrics::CONTENT_TYPE, self.metrics.render())
            }
            HEALTH_PATH | METRICS_PATH => wire::method_not_allowed(path, method),
            _ => wire::not_found("the admin listener serves GET /healthz and GET /metrics"),
        }
    }
}
