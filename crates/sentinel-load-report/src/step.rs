//! One step of a find-max search: the rate tried and how it fared.

/// One step of a find-max search, as the page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FindMaxStep {
    /// The rate tried, requests per second.
    pub rate: f64,
    /// Its p99 latency from the due time, milliseconds.
    pub p99_ms: f64,
    /// The step's verdict as the search named it (`pass`, `fail`, ...).
    pub verdict: String,
    /// Whether the step passed.
    pub passed: bool,
}
