//! Where events go (the servers' above all): standard error, as text for people (coloured on a
//! terminal) or as JSON lines for container platforms (`--log-format json`), with each event's
//! fields and its request's (`profile`, `request_id`). Only Sentinel's own events are written:
//! the AWS SDK's (which name credential providers and access key IDs) are not.

use std::io::IsTerminal;

use tracing::Level;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// How events are written on standard error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event.
    #[default]
    Text,
    /// One JSON object per event: `timestamp`, `level`, `message`, its fields, and `span` with
    /// the request's fields.
    Json,
}

/// Sends Sentinel's events at `INFO` and above to standard error in `format`.
pub fn init(format: LogFormat) {
    let ours = ours();
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    let layer = match format {
        LogFormat::Text => layer
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(ours)
            .boxed(),
        LogFormat::Json => layer
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(ours)
            .boxed(),
    };
    // Only the first subscriber counts; there is no other, so the result says nothing new.
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// The events written: Sentinel's own, at `INFO` and above. Every crate of the workspace is
/// named `sentinel…`, and a target matches by prefix.
fn ours() -> Targets {
    Targets::new().with_target("sentinel", Level::INFO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinels_own_events_are_written_and_the_aws_sdks_are_not() {
        let ours = ours();
        assert!(ours.would_enable("sentinel_server::tail", &Level::WARN));
        assert!(ours.would_enable("sentinel::cli::server", &Level::INFO));
        assert!(!ours.would_enable("sentinel::cli::server", &Level::DEBUG));
        assert!(!ours.would_enable("aws_config::profile::credentials", &Level::INFO));
        assert!(!ours.would_enable("aws_smithy_runtime::client", &Level::WARN));
    }
}
