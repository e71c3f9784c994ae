//! Pass/fail criteria for CI (`p99<10ms`, `success>=99%`, `throughput>=800`), parsed from
//! text and checked against a result; a breach names the criterion and the measured value.
//!
//! Every criterion is judged over the requests that were *due*, so a failing target never
//! passes one:
//! - `pX<D` holds only if at least X% of the due requests (sent or missed) succeeded within D.
//!   An error, a timeout or a missed request counts as slower than any bound; `max<D` asks it
//!   of every due request. A latency criterion is an upper bound (`<`, `<=`).
//! - `success>=S` compares the successful share of the due requests with S, written as a
//!   percentage (`99%`) or a fraction (`0.99`); a bare number above 1 is refused as ambiguous.
//! - `throughput>=R` compares successful requests per second of the schedule with R.
//!
//! Success and throughput are lower bounds (`>`, `>=`): a criterion that a dead target meets
//! would pass every broken run, so none can be written.

use std::fmt;
use std::str::FromStr;

use hdrhistogram::Histogram;
use sentinel_duration::parse_duration;

use crate::result::LoadTestResult;

/// One criterion a result must meet.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    metric: Metric,
    op: Op,
    /// The limit in the metric's unit: milliseconds, a percentage, or requests per second.
    limit: f64,
    /// The limit as printed (a success limit always as a percentage).
    limit_text: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Metric {
    Latency(Quantile),
    Success,
    Throughput,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Quantile {
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
}

impl Quantile {
    /// The share of due requests that must have succeeded within the bound.
    fn fraction(self) -> f64 {
        match self {
            Quantile::P50 => 0.50,
            Quantile::P90 => 0.90,
            Quantile::P95 => 0.95,
            Quantile::P99 => 0.99,
            Quantile::P999 => 0.999,
            Quantile::Max => 1.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Op::Lt => actual < limit,
            Op::Le => actual <= limit,
            Op::Gt => actual > limit,
            Op::Ge => actual >= limit,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    /// The comparison that holds when this one does not.
    fn negated(self) -> &'static str {
        match self {
            Op::Lt => ">=",
            Op::Le => ">",
            Op::Gt => "<=",
            Op::Ge => "<",
        }
    }

    fn is_upper_bound(self) -> bool {
        matches!(self, Op::Lt | Op::Le)
    }
}

/// Why a threshold expression was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    /// No comparison operator.
    #[error("`{0}` has no comparison: expected METRIC<LIMIT, <=, > or >=, like p99<10ms")]
    Operator(String),
    /// Unknown metric name.
    #[error("`{0}` is not a metric: expected p50, p90, p95, p99, p999, max, success or throughput")]
    Metric(String),
    /// The comparison points the wrong way for the metric.
    #[error("`{expr}`: {why}")]
    Direction {
        /// The whole expression.
        expr: String,
        /// Which comparisons the metric takes.
        why: &'static str,
    },
    /// The limit does not fit the metric.
    #[error("`{expr}`: {why}")]
    Limit {
        /// The whole expression.
        expr: String,
        /// What was expected.
        why: String,
    },
}

/// A threshold a result did not meet, rendered as `p99 12.3ms >= 10ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Breach {
    /// The measured value with its unit, as printed.
    pub actual: String,
    /// The text of the breach.
    pub message: String,
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl FromStr for Threshold {
    type Err = ThresholdError;

    fn from_str(expr: &str) -> Result<Self, Self::Err> {
        let at = expr
            .find(['<', '>'])
            .ok_or_else(|| ThresholdError::Operator(expr.to_owned()))?;
        let (name, rest) = expr.split_at(at);
        let (op, limit_text) = if let Some(limit) = rest.strip_prefix("<=") {
            (Op::Le, limit)
        } else if let Some(limit) = rest.strip_prefix(">=") {
            (Op::Ge, limit)
        } else if let Some(limit) = rest.strip_prefix('<') {
            (Op::Lt, limit)
        } else if let Some(limit) = rest.strip_prefix('>') {
            (Op::Gt, limit)
        } else {
            return Err(ThresholdError::Operator(expr.to_owned()));
        };
        let limit_text = limit_text.trim();
        let metric = match name.trim() {
            "p50" => Metric::Latency(Quantile::P50),
            "p90" => Metric::Latency(Quantile::P90),
            "p95" => Metric::Latency(Quantile::P95),
            "p99" => Metric::Latency(Quantile::P99),
            "p999" | "p99.9" => Metric::Latency(Quantile::P999),
            "max" => Metric::Latency(Quantile::Max),
            "success" => Metric::Success,
            "throughput" => Metric::Throughput,
            other => return Err(ThresholdError::Metric(other.to_owned())),
        };
        let direction = |why| ThresholdError::Direction {
            expr: expr.to_owned(),
            why,
        };
        match metric {
            Metric::Latency(_) if !op.is_upper_bound() => {
                return Err(direction(
                    "a latency threshold is an upper bound: use < or <=, like p99<10ms",
                ));
            }
            Metric::Success | Metric::Throughput if op.is_upper_bound() => {
                return Err(direction(
                    "success and throughput thresholds are lower bounds: use > or >=, \
                     like success>=99%",
                ));
            }
            _ => {}
        }
        let bad = |why: &str| ThresholdError::Limit {
            expr: expr.to_owned(),
            why: why.to_owned(),
        };
        let (limit, limit_text) = match metric {
            Metric::Latency(_) => {
                let limit = parse_duration(limit_text).map_err(|e| bad(&e.to_string()))?;
                (limit.as_secs_f64() * 1e3, limit_text.to_owned())
            }
            Metric::Success => {
                let percent = parse_share(limit_text).ok_or_else(|| {
                    bad(
                        "expected a percentage from 0% to 100% (99%) or a fraction from 0 to 1 \
                         (0.99); a bare number above 1 is ambiguous",
                    )
                })?;
                (percent, format!("{}%", trim_number(percent)))
            }
            Metric::Throughput => {
                let number = limit_text.strip_suffix("/s").unwrap_or(limit_text).trim();
                match number.parse::<f64>() {
                    Ok(r) if r.is_finite() && r >= 0.0 => (r, limit_text.to_owned()),
                    _ => return Err(bad("expected requests per second, like 800")),
                }
            }
        };
        Ok(Self {
            metric,
            op,
            limit,
            limit_text,
        })
    }
}

/// A success limit as a percentage: `99%` or `99.5 %` as written, `0.99` as a fraction.
fn parse_share(text: &str) -> Option<f64> {
    let (number, scale) = match text.strip_suffix('%') {
        Some(number) => (number.trim(), 1.0),
        None => (text, 100.0),
    };
    let value: f64 = number.parse().ok()?;
    let percent = value * scale;
    ((0.0..=100.0).contains(&percent) && (scale == 1.0 || value <= 1.0)).then_some(percent)
}

impl Threshold {
    /// The latency bound of a latency threshold (`p99<10ms`: 10 ms), `None` for the others.
    pub fn latency_limit(&self) -> Option<std::time::Duration> {
        matches!(self.metric, Metric::Latency(_))
            .then(|| std::time::Duration::from_secs_f64(self.limit / 1e3))
    }

    /// Whether this is a `success` threshold.
    pub fn is_success(&self) -> bool {
        self.metric == Metric::Success
    }

    /// Checks the threshold against a result: `Ok` is the measured value with its unit, as
    /// printed (`3.2ms`, `99.5%`), `Err` names the breach.
    pub fn check(&self, result: &LoadTestResult) -> Result<String, Breach> {
        let (actual, unit) = match self.metric {
            Metric::Latency(quantile) => {
                return self.check_latency(
                    quantile,
                    (result.requests.target, "due requests failed or were missed"),
                    &result.histograms.ok_latency,
                );
            }
            Metric::Success => (result.success_rate() * 100.0, "%"),
            Metric::Throughput => (result.throughput, ""),
        };
        self.compare(actual, unit)
    }

    /// Checks the threshold against the target's own answers only: as if every due request had
    /// been sent on time and answered as the sent ones were. Missed requests leave the count,
    /// a latency runs from the actual send (the service time), and throughput is what the
    /// answers' success share would have made of the whole schedule. A breach here is the
    /// target's, whatever the generator did; nothing sent, nothing to blame (`Ok` then says
    /// so).
    pub fn check_answers(&self, result: &LoadTestResult) -> Result<String, Breach> {
        let r = &result.requests;
        if r.sent == 0 {
            return Ok("nothing sent".to_owned());
        }
        let answered_share = r.ok as f64 / r.sent as f64;
        let (actual, unit) = match self.metric {
            Metric::Latency(quantile) => {
                return self.check_latency(
                    quantile,
                    (r.sent, "sent requests failed"),
                    &result.histograms.ok_service_time,
                );
            }
            Metric::Success => (answered_share * 100.0, "%"),
            Metric::Throughput => (answered_share * r.target as f64 / result.scheduled_s(), ""),
        };
        self.compare(actual, unit)
    }

    fn compare(&self, actual: f64, unit: &str) -> Result<String, Breach> {
        let measured = format!("{}{unit}", trim_number(actual));
        if self.op.holds(actual, self.limit) {
            return Ok(measured);
        }
        Err(self.breach(measured))
    }

    /// `pX<D`: the latency within which X% of `due` requests (all those due, or only the sent
    /// ones when judging the answers) succeeded (`ok` holds the successful ones' latencies), or
    /// a breach naming how many failed when fewer than X% succeeded at all, as "N of M
    /// `unanswered`".
    fn check_latency(
        &self,
        quantile: Quantile,
        (due, unanswered): (u64, &str),
        ok: &Histogram<u64>,
    ) -> Result<String, Breach> {
        let unmet = |detail: String| Breach {
            actual: "unbounded".to_owned(),
            message: format!(
                "{} {} {}: {detail}",
                self.metric_name(),
                self.op.negated(),
                self.limit_text
            ),
        };
        if due == 0 {
            return Err(unmet("no request was due".to_owned()));
        }
        let rank = ((quantile.fraction() * due as f64 - 1e-9).ceil() as u64).clamp(1, due);
        let Some(nanos) = value_at_rank(ok, rank) else {
            let failed = due - ok.len().min(due);
            return Err(unmet(format!("{failed} of {due} {unanswered}")));
        };
        let ms = nanos as f64 / 1e6;
        self.compare(ms, "ms")
    }

    fn breach(&self, actual: String) -> Breach {
        Breach {
            message: format!(
                "{} {actual} {} {}",
                self.metric_name(),
                self.op.negated(),
                self.limit_text
            ),
            actual,
        }
    }

    fn metric_name(&self) -> &'static str {
        match self.metric {
            Metric::Latency(Quantile::P50) => "p50",
            Metric::Latency(Quantile::P90) => "p90",
            Metric::Latency(Quantile::P95) => "p95",
            Metric::Latency(Quantile::P99) => "p99",
            Metric::Latency(Quantile::P999) => "p999",
            Metric::Latency(Quantile::Max) => "max",
            Metric::Success => "success",
            Metric::Throughput => "throughput",
        }
    }
}

/// The `rank`-th smallest recorded value (1-based, as the highest value its bucket stands
/// for), or `None` when fewer values were recorded.
fn value_at_rank(histogram: &Histogram<u64>, rank: u64) -> Option<u64> {
    let mut seen = 0;
    for value in histogram.iter_recorded() {
        seen += value.count_at_value();
        if seen >= rank {
            return Some(histogram.highest_equivalent(value.value_iterated_to()));
        }
    }
    None
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}{}",
            self.metric_name(),
            self.op.symbol(),
            self.limit_text
        )
    }
}

/// A number with at most three decimals and no trailing zeros (`12.3`, `0.042`, `800`).
fn trim_number(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::testing::{run, run_lagging};

    #[test]
    fn the_targets_own_answers_leave_out_missed_requests_and_the_generators_lag() {
        let fast = |n: usize| vec![1.0; n];
        // (what the run was, the run, the threshold, held as measured, held by the answers)
        let table: Vec<(&str, LoadTestResult, &str, bool, bool)> = vec![
            ("all fast", run(&fast(100), 0, 0), "p99<10ms", true, true),
            ("10% missed", run(&fast(90), 0, 10), "p95<10ms", false, true),
            (
                "10% missed",
                run(&fast(90), 0, 10),
                "success>=99%",
                false,
                true,
            ),
            (
                "10% missed",
                run(&fast(90), 0, 10),
                "throughput>=95",
                false,
                true,
            ),
            (
                "sent 20 ms late",
                run_lagging(&fast(100), 0, 0, 20.0),
                "p99<10ms",
                false,
                true,
            ),
            (
                "2% failed",
                run(&fast(98), 2, 0),
                "success>=99%",
                false,
                false,
            ),
            ("2% failed", run(&fast(98), 2, 0), "p99<10ms", false, false),
            (
                "2% failed",
                run(&fast(98), 2, 0),
                "throughput>=99",
                false,
                false,
            ),
            (
                "2% slow",
                run(&[fast(98), vec![50.0; 2]].concat(), 0, 0),
                "p99<10ms",
                false,
                false,
            ),
            ("nothing sent", run(&[], 0, 10), "success>=99%", false, true),
        ];
        for (what, result, threshold, measured, answered) in table {
            let threshold: Threshold = threshold.parse().expect("well formed");
            assert_eq!(
                threshold.check(&result).is_ok(),
                measured,
                "{what}: {threshold} measured"
            );
            assert_eq!(
                threshold.check_answers(&result).is_ok(),
                answered,
                "{what}: {threshold} by the answers"
            );
        }
        // Two of 10 sent failed and 10 more were never sent: the answers count the sent.
        let threshold: Threshold = "p90<10ms".parse().expect("well formed");
        let breach = threshold.check_answers(&run(&fast(8), 2, 10)).unwrap_err();
        assert_eq!(
            breach.to_string(),
            "p90 >= 10ms: 2 of 10 sent requests failed"
        );
    }

    #[test]
    fn every_threshold_is_judged_over_the_due_requests() {
        let fast = |n: usize| vec![1.0; n];
        let with_slow = {
            let mut ms = fast(98);
            ms.extend([50.0, 50.0]);
            ms
        };
        // (what the run was, the run, the threshold, Ok or the breach it prints)
        let table: Vec<(&str, LoadTestResult, &str, Result<(), &str>)> = vec![
            ("all fast", run(&fast(100), 0, 0), "p99<10ms", Ok(())),
            ("all fast", run(&fast(100), 0, 0), "max<=2ms", Ok(())),
            ("1% failed", run(&fast(99), 1, 0), "p99<10ms", Ok(())),
            (
                "1% failed",
                run(&fast(99), 1, 0),
                "max<10ms",
                Err("max >= 10ms: 1 of 100 due requests failed or were missed"),
            ),
            (
                "2% failed",
                run(&fast(98), 2, 0),
                "p99<10ms",
                Err("p99 >= 10ms: 2 of 100 due requests failed or were missed"),
            ),
            (
                "every connection refused",
                run(&[], 400, 0),
                "p99<10ms",
                Err("p99 >= 10ms: 400 of 400 due requests failed or were missed"),
            ),
            (
                "2% slow",
                run(&with_slow, 0, 0),
                "p99<10ms",
                Err("p99 50.004ms >= 10ms"),
            ),
            ("2% slow", run(&with_slow, 0, 0), "p95<10ms", Ok(())),
            ("10% missed", run(&fast(90), 0, 10), "p90<10ms", Ok(())),
            (
                "10% missed",
                run(&fast(90), 0, 10),
                "p95<10ms",
                Err("p95 >= 10ms: 10 of 100 due requests failed or were missed"),
            ),
            (
                "nothing due",
                run(&[], 0, 0),
                "p50<1s",
                Err("p50 >= 1s: no request was due"),
            ),
            ("99 of 100 ok", run(&fast(99), 1, 0), "success>=99%", Ok(())),
            (
                "99 of 100 ok",
                run(&fast(99), 1, 0),
                "success>=0.99",
                Ok(()),
            ),
            (
                "98 of 100 ok",
                run(&fast(98), 0, 2),
                "success>=0.99",
                Err("success 98% < 99%"),
            ),
            (
                "nothing due",
                run(&[], 0, 0),
                "success>=1%",
                Err("success 0% < 1%"),
            ),
            (
                "a 2 s drain after a 1 s schedule",
                run(&fast(100), 0, 0),
                "throughput>=100",
                Ok(()),
            ),
            (
                "half failed",
                run(&fast(50), 50, 0),
                "throughput>=100",
                Err("throughput 50 < 100"),
            ),
        ];
        for (case, result, expr, expected) in table {
            let threshold: Threshold = expr.parse().unwrap();
            let verdict = threshold
                .check(&result)
                .map(|_| ())
                .map_err(|breach| breach.message);
            assert_eq!(verdict, expected.map_err(str::to_owned), "{case}: {expr}");
        }
    }

    #[test]
    fn parses_the_documented_forms() {
        for text in ["p99<10ms", "p50 <= 1.5ms", "p999<1s", "p99.9<1s", "max<2s"] {
            assert!(text.parse::<Threshold>().is_ok(), "{text}");
        }
        let t: Threshold = "success>=99%".parse().unwrap();
        assert_eq!(t.limit, 99.0);
        let t: Threshold = "throughput>=800".parse().unwrap();
        assert_eq!((t.limit, t.op), (800.0, Op::Ge));
        let t: Threshold = "p99<10ms".parse().unwrap();
        assert_eq!((t.limit, t.op), (10.0, Op::Lt));
        assert_eq!(t.to_string(), "p99<10ms");
    }

    #[test]
    fn a_success_limit_is_a_percentage_or_a_fraction_never_a_guess() {
        let share = |text: &str| text.parse::<Threshold>().map(|t| (t.limit, t.to_string()));
        assert_eq!(share("success>=99%"), Ok((99.0, "success>=99%".to_owned())));
        assert_eq!(
            share("success>=0.99"),
            Ok((99.0, "success>=99%".to_owned()))
        );
        assert_eq!(share("success>=1"), Ok((100.0, "success>=100%".to_owned())));
        assert_eq!(share("success>0.5%"), Ok((0.5, "success>0.5%".to_owned())));
        for ambiguous in [
            "success>=99",
            "success>=1.5",
            "success>=120%",
            "success>=-1%",
        ] {
            assert!(
                matches!(
                    ambiguous.parse::<Threshold>(),
                    Err(ThresholdError::Limit { .. })
                ),
                "{ambiguous}"
            );
        }
    }

    #[test]
    fn a_threshold_a_dead_target_would_meet_is_refused() {
        for text in ["p99>10ms", "max>=1s", "success<50%", "throughput<=100"] {
            assert!(
                matches!(
                    text.parse::<Threshold>(),
                    Err(ThresholdError::Direction { .. })
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_malformed_expressions_with_the_reason() {
        assert!(matches!(
            "p99=10ms".parse::<Threshold>(),
            Err(ThresholdError::Operator(_))
        ));
        assert!(matches!(
            "p42<10ms".parse::<Threshold>(),
            Err(ThresholdError::Metric(_))
        ));
        assert!(matches!(
            "p99<10".parse::<Threshold>(),
            Err(ThresholdError::Limit { .. })
        ));
        assert!(matches!(
            "p99<".parse::<Threshold>(),
            Err(ThresholdError::Limit { .. })
        ));
        assert!(matches!(
            "throughput>=fast".parse::<Threshold>(),
            Err(ThresholdError::Limit { .. })
        ));
        assert!(matches!(
            "".parse::<Threshold>(),
            Err(ThresholdError::Operator(_))
        ));
    }

    #[test]
    fn the_rank_counts_from_the_fastest() {
        let mut histogram = Histogram::<u64>::new_with_bounds(1, 1_000_000_000, 3).unwrap();
        for ms in 1..=10u64 {
            histogram.record(ms * 1_000_000).unwrap();
        }
        let at = |rank| value_at_rank(&histogram, rank).map(|ns| (ns as f64 / 1e6).round());
        assert_eq!(at(1), Some(1.0));
        assert_eq!(at(10), Some(10.0));
        assert_eq!(at(11), None);
    }

    #[test]
    fn numbers_print_short() {
        assert_eq!(trim_number(12.3), "12.3");
        assert_eq!(trim_number(800.0), "800");
        assert_eq!(trim_number(0.0421), "0.042");
    }
}
