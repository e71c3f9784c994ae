//! Pass/fail criteria for CI (`p99<10ms`, `success>=99%`, `throughput>=800`), parsed from
//! text and checked against a result; a breach names the criterion and the measured value.

use std::fmt;
use std::str::FromStr;

use sentinel_duration::parse_duration;

use crate::result::LoadTestResult;

/// One criterion a result must meet.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    metric: Metric,
    op: Op,
    /// The limit in the metric's unit: milliseconds, a percentage, or requests per second.
    limit: f64,
    /// The limit as written, for messages.
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

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
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
        let bad = |why: &str| ThresholdError::Limit {
            expr: expr.to_owned(),
            why: why.to_owned(),
        };
        let limit = match metric {
            Metric::Latency(_) => {
                parse_duration(limit_text)
                    .map_err(|e| bad(&e.to_string()))?
                    .as_secs_f64()
                    * 1e3
            }
            Metric::Success => {
                let number = limit_text.strip_suffix('%').unwrap_or(limit_text).trim();
                match number.parse::<f64>() {
                    Ok(p) if (0.0..=100.0).contains(&p) => p,
                    _ => return Err(bad("expected a percentage from 0 to 100, like 99%")),
                }
            }
            Metric::Throughput => {
                let number = limit_text.strip_suffix("/s").unwrap_or(limit_text).trim();
                match number.parse::<f64>() {
                    Ok(r) if r.is_finite() && r >= 0.0 => r,
                    _ => return Err(bad("expected requests per second, like 800")),
                }
            }
        };
        Ok(Self {
            metric,
            op,
            limit,
            limit_text: limit_text.to_owned(),
        })
    }
}

impl Threshold {
    /// Checks the threshold against a result: `Err` names the breach.
    pub fn check(&self, result: &LoadTestResult) -> Result<(), Breach> {
        let (actual, unit) = match self.metric {
            Metric::Latency(q) => {
                let p = &result.latency_ms;
                let ms = match q {
                    Quantile::P50 => p.p50,
                    Quantile::P90 => p.p90,
                    Quantile::P95 => p.p95,
                    Quantile::P99 => p.p99,
                    Quantile::P999 => p.p999,
                    Quantile::Max => p.max,
                };
                (ms, "ms")
            }
            Metric::Success => (result.success_rate() * 100.0, "%"),
            Metric::Throughput => (result.throughput, ""),
        };
        let holds = match self.op {
            Op::Lt => actual < self.limit,
            Op::Le => actual <= self.limit,
            Op::Gt => actual > self.limit,
            Op::Ge => actual >= self.limit,
        };
        if holds {
            return Ok(());
        }
        let negated = match self.op {
            Op::Lt => ">=",
            Op::Le => ">",
            Op::Gt => "<=",
            Op::Ge => "<",
        };
        let actual = format!("{}{unit}", trim_number(actual));
        Err(Breach {
            message: format!(
                "{} {actual} {negated} {}",
                self.metric_name(),
                self.limit_text
            ),
            actual,
        })
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

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        };
        write!(f, "{}{op}{}", self.metric_name(), self.limit_text)
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
            "success>=120%".parse::<Threshold>(),
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
    fn numbers_print_short() {
        assert_eq!(trim_number(12.3), "12.3");
        assert_eq!(trim_number(800.0), "800");
        assert_eq!(trim_number(0.0421), "0.042");
    }
}
