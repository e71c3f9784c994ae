//! The HDR histograms a run keeps its durations in, in nanoseconds: how they are made, how a
//! duration becomes a value, and how two histograms (and the counts kept beside them) are
//! added up.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Significant decimal digits kept by every histogram of a run's figures.
pub(crate) const SIGNIFICANT_DIGITS: u8 = 3;

/// An empty histogram of nanoseconds from 1 to `highest`, at [`SIGNIFICANT_DIGITS`].
pub(crate) fn bounded(highest: Duration) -> Histogram<u64> {
    let highest = nanos(highest).max(2);
    Histogram::new_with_bounds(1, highest, SIGNIFICANT_DIGITS)
        .expect("bounds 1..highest with highest >= 2 at 3 digits are always valid")
}

/// An empty histogram at `digits` significant digits (at most 5) that grows to the values it
/// is given.
pub(crate) fn resizing(digits: u8) -> Histogram<u64> {
    Histogram::new(digits).expect("up to 5 significant digits are valid")
}

/// `duration` in nanoseconds (`u64::MAX` for one too long to count).
pub(crate) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Adds the values of `from` into `into`, which resizes itself to take them.
pub(crate) fn add_histogram(into: &mut Histogram<u64>, from: &Histogram<u64>) {
    into.auto(true);
    into.add(from)
        .expect("a histogram that resizes itself takes any value");
}

/// Adds the counts of `from` into `into`, key by key (errors by kind, status codes).
pub(crate) fn add_counts(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (key, count) in from {
        *into.entry(key.clone()).or_default() += count;
    }
}
