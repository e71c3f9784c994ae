//! The highest rate a target sustains: double the rate while the thresholds hold, halve it
//! while they do not, then bisect between the last rate that held and the first that did not
//! until the two are within a few percent. A rate that fails is tried once more before it counts
//! as failed, so one hiccup of a busy machine does not end the search early. Pure bookkeeping:
//! the caller runs each step (a short load run) and says whether it passed, so any target (a
//! scenario, a URL) can be searched.

/// One tried rate and whether every threshold held at it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchStep {
    /// The rate tried, requests per second.
    pub rate: f64,
    /// Whether the run at that rate met its thresholds.
    pub passed: bool,
}

/// A search in progress: ask [`RateSearch::next_rate`], run it, [`RateSearch::record`] the
/// verdict, until there is no next rate.
#[derive(Debug, Clone)]
pub struct RateSearch {
    next: Option<f64>,
    held: Option<f64>,
    broke: Option<f64>,
    /// The next step repeats a rate that just failed once.
    retrying: bool,
    steps: Vec<SearchStep>,
}

/// The search stops once the rate that broke is within this factor of the rate that held.
const PRECISION: f64 = 1.05;
/// The most steps a search runs.
const MAX_STEPS: usize = 24;
/// No rate below this is tried.
const FLOOR: f64 = 1.0;
/// No rate above this is tried (far beyond what one process can generate).
const CEILING: f64 = 1e8;

impl RateSearch {
    /// A search starting at `start` requests per second (clamped to the searchable range).
    pub fn new(start: f64) -> Self {
        let start = if start.is_finite() { start } else { FLOOR };
        Self {
            next: Some(start.round().clamp(FLOOR, CEILING)),
            held: None,
            broke: None,
            retrying: false,
            steps: Vec::new(),
        }
    }

    /// The rate to try next, or `None` when the search is over.
    pub fn next_rate(&self) -> Option<f64> {
        self.next
    }

    /// Records the verdict of the run at [`RateSearch::next_rate`] and picks the next rate.
    pub fn record(&mut self, passed: bool) {
        let Some(rate) = self.next else { return };
        self.steps.push(SearchStep { rate, passed });
        if !passed && !self.retrying && self.steps.len() < MAX_STEPS {
            self.retrying = true;
            return;
        }
        self.retrying = false;
        if passed {
            self.held = Some(self.held.map_or(rate, |held| held.max(rate)));
        } else {
            self.broke = Some(self.broke.map_or(rate, |broke| broke.min(rate)));
        }
        self.next = self.choose();
    }

    fn choose(&self) -> Option<f64> {
        if self.steps.len() >= MAX_STEPS {
            return None;
        }
        let candidate = match (self.held, self.broke) {
            (Some(held), None) => held * 2.0,
            (None, Some(broke)) => (broke / 2.0).round(),
            (Some(held), Some(broke)) => {
                if broke <= held * PRECISION {
                    return None;
                }
                ((held + broke) / 2.0).round()
            }
            (None, None) => return self.next,
        };
        let fresh = !self.steps.iter().any(|step| step.rate == candidate);
        ((FLOOR..=CEILING).contains(&candidate) && fresh).then_some(candidate)
    }

    /// The highest rate that held, if any did.
    pub fn max_rate(&self) -> Option<f64> {
        self.held
    }

    /// Every step so far, in order.
    pub fn steps(&self) -> &[SearchStep] {
        &self.steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a search against a target that holds up to `capacity` req/s.
    fn search(start: f64, capacity: f64) -> RateSearch {
        let mut search = RateSearch::new(start);
        while let Some(rate) = search.next_rate() {
            search.record(rate <= capacity);
        }
        search
    }

    #[test]
    fn doubles_then_bisects_to_within_the_precision() {
        let found = search(1000.0, 50_000.0);
        let max = found.max_rate().expect("1000 holds");
        assert!(max <= 50_000.0 && max * PRECISION >= 50_000.0, "{max}");
        let rates: Vec<f64> = found.steps().iter().map(|s| s.rate).collect();
        assert_eq!(
            &rates[..8],
            &[
                1000.0, 2000.0, 4000.0, 8000.0, 16000.0, 32000.0, 64000.0, 64000.0
            ],
            "doubles, and tries the first failing rate twice"
        );
        assert!(found.steps().len() <= MAX_STEPS);
    }

    #[test]
    fn halves_when_the_start_is_too_fast() {
        let found = search(1000.0, 300.0);
        let max = found.max_rate().expect("250 holds");
        assert!(max <= 300.0 && max * PRECISION >= 300.0, "{max}");
        assert_eq!(found.steps()[2].rate, 500.0);
    }

    #[test]
    fn a_rate_that_fails_once_then_holds_counts_as_held() {
        let mut search = RateSearch::new(1000.0);
        search.record(true);
        assert_eq!(search.next_rate(), Some(2000.0));
        search.record(false);
        assert_eq!(search.next_rate(), Some(2000.0), "tried again");
        search.record(true);
        assert_eq!(search.max_rate(), Some(2000.0));
        assert_eq!(search.next_rate(), Some(4000.0));
        search.record(false);
        search.record(false);
        assert_eq!(
            search.next_rate(),
            Some(3000.0),
            "failed twice: bisect below it"
        );
    }

    #[test]
    fn a_target_that_never_holds_has_no_maximum() {
        let found = search(8.0, 0.5);
        assert_eq!(found.max_rate(), None);
        assert_eq!(found.steps().last().map(|s| s.rate), Some(1.0));
    }

    #[test]
    fn nonsense_starts_are_clamped() {
        assert_eq!(RateSearch::new(f64::NAN).next_rate(), Some(1.0));
        assert_eq!(RateSearch::new(-5.0).next_rate(), Some(1.0));
    }
}
