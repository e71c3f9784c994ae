//! What the built-in scenarios share in their load and thresholds: every request times out
//! after 100 ms, and where a scenario sets a throughput threshold it is 80% of the target rate
//! (800 of 1000, 4000 of 5000, 400 of 500 req/s), so it follows `--rate`.

use std::time::Duration;

use sentinel_load::{LoadTestConfig, Threshold};

/// The per-request timeout of every built-in scenario.
const TIMEOUT: Duration = Duration::from_millis(100);

/// The share of the target rate a run must complete per second, where a scenario asks for it.
const THROUGHPUT_SHARE: f64 = 0.8;

/// `rate` requests per second for `seconds`, at most `workers` in flight, the common timeout.
pub(crate) fn config(rate: f64, seconds: u64, workers: usize) -> LoadTestConfig {
    let mut config = LoadTestConfig::new(rate, Duration::from_secs(seconds));
    config.workers = workers;
    config.timeout = TIMEOUT;
    config
}

/// The throughput threshold for a run at `rate`: `throughput>` 80% of it.
pub(crate) fn throughput(rate: f64) -> String {
    format!("throughput>{}", (rate * THROUGHPUT_SHARE).round())
}

/// Parses threshold texts written in a scenario's code.
pub(crate) fn thresholds<S: AsRef<str>>(texts: &[S]) -> Vec<Threshold> {
    texts
        .iter()
        .map(|text| {
            text.as_ref()
                .parse()
                .expect("the built-in thresholds are well formed")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_is_eighty_percent_of_the_rate() {
        assert_eq!(throughput(1000.0), "throughput>800");
        assert_eq!(throughput(5000.0), "throughput>4000");
        assert_eq!(throughput(333.0), "throughput>266");
    }
}
