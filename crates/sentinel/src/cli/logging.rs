//! Where events go (the servers' above all): standard error, as text for people (coloured on a
//! terminal) or as JSON lines for container platforms (`--log-format json`), with each event's
//! fields and its request's (`profile`, `request_id`).

use std::io::IsTerminal;

use tracing::Level;

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

/// Sends events at `INFO` and above to standard error in `format`.
pub fn init(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(Level::INFO)
        .with_target(false);
    // Only the first subscriber counts; there is no other, so the result says nothing new.
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}
