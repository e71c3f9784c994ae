//! What a run is given besides its configuration: the handles through which the caller stops
//! it and follows its timeline while it goes.

use tokio_util::sync::CancellationToken;

use crate::timeline::TimelineSink;

/// The caller's handles on one run: a token that stops it and, if a timeline is wanted, the
/// sink each second goes to. The default is a fresh token and no timeline.
#[derive(Debug, Clone, Default)]
pub struct RunControl {
    /// Cancelling this token stops scheduling; the run drains and returns a partial result.
    pub cancel: CancellationToken,
    /// Record a per-second timeline (keyed by due time) into the result, handing each second to
    /// the sink as it closes.
    pub timeline: Option<TimelineSink>,
}

impl RunControl {
    /// This control, recording a timeline into `sink`.
    pub fn with_timeline(self, sink: TimelineSink) -> Self {
        Self {
            timeline: Some(sink),
            ..self
        }
    }
}
