//! `sentinel-duration`: human durations (`10s`, `1.5ms`, `250us`) for command-line flags,
//! configuration and load thresholds, parsed strictly: a unit is required, so `10` is never
//! silently read as seconds or milliseconds.
//!
//! One parser serves every place that reads a duration, so `--sts-timeout 5s`,
//! `--duration 5s` and `p99<5s` all mean the same thing.
//!
//! ```
//! use std::time::Duration;
//!
//! assert_eq!(sentinel_duration::parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
//! assert!(sentinel_duration::parse_duration("10").is_err(), "a unit is required");
//! ```

use std::time::Duration;

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The text has no number before the unit.
    #[error("`{0}` is not a duration: expected a number and a unit, like 10ms or 1.5s")]
    Malformed(String),
    /// The number is followed by no unit or an unknown one.
    #[error("`{0}` has no known unit: use ns, us, µs, ms, s, m or h")]
    Unit(String),
    /// The value is negative, not finite or too large to represent.
    #[error("`{0}` is out of range")]
    Range(String),
}

/// Parses `NUMBER UNIT` (units `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`; the number may be
/// fractional) into a [`Duration`].
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    if number.is_empty() {
        return Err(DurationError::Malformed(text.to_owned()));
    }
    let value: f64 = number
        .parse()
        .map_err(|_| DurationError::Malformed(text.to_owned()))?;
    let nanos_per_unit = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        _ => return Err(DurationError::Unit(text.to_owned())),
    };
    let nanos = value * nanos_per_unit;
    if !nanos.is_finite() || nanos < 0.0 || nanos > u64::MAX as f64 {
        return Err(DurationError::Range(text.to_owned()));
    }
    Ok(Duration::from_nanos(nanos.round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_fractions() {
        assert_eq!(parse_duration("10ms"), Ok(Duration::from_millis(10)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("250µs"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("7ns"), Ok(Duration::from_nanos(7)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration(" 3 s "), Ok(Duration::from_secs(3)));
    }

    #[test]
    fn rejects_missing_or_unknown_units_and_garbage() {
        assert!(matches!(parse_duration("10"), Err(DurationError::Unit(_))));
        assert!(matches!(
            parse_duration("10 parsecs"),
            Err(DurationError::Unit(_))
        ));
        assert!(matches!(
            parse_duration("ms"),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            parse_duration(""),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            parse_duration("1.2.3s"),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            parse_duration("-1s"),
            Err(DurationError::Malformed(_))
        ));
        assert!(matches!(
            parse_duration("1e400s"),
            Err(DurationError::Unit(_))
        ));
    }
}
