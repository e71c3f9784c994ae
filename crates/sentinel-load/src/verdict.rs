//! A result judged against its thresholds, once: each threshold with the breach it showed, if
//! any. The report prints these verdicts and the exit status reads them, so no threshold is
//! checked twice or two ways.

use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::result::LoadTestResult;
use crate::threshold::{Breach, Threshold};

/// One threshold and whether a result met it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The threshold checked.
    pub threshold: Threshold,
    /// The value measured against it, with its unit, as printed (`3.2ms`, `99.5%`; for a
    /// latency threshold that fewer requests met than its percentile, `unbounded`).
    pub measured: String,
    /// What the result showed instead, when the threshold did not hold.
    pub breach: Option<Breach>,
}

impl Verdict {
    /// Whether the threshold held.
    pub fn passed(&self) -> bool {
        self.breach.is_none()
    }
}

/// Checks every threshold against `result`.
pub fn judge(thresholds: &[Threshold], result: &LoadTestResult) -> Vec<Verdict> {
    thresholds
        .iter()
        .map(|threshold| {
            let (measured, breach) = match threshold.check(result) {
                Ok(measured) => (measured, None),
                Err(breach) => (breach.actual.clone(), Some(breach)),
            };
            Verdict {
                threshold: threshold.clone(),
                measured,
                breach,
            }
        })
        .collect()
}

/// The JSON form: `{"threshold": "p99<10ms", "measured": "12.1ms", "passed": false,
/// "breach": "p99 12.1ms >= 10ms"}`, `breach` null when it held.
impl Serialize for Verdict {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut object = serializer.serialize_struct("Verdict", 4)?;
        object.serialize_field("threshold", &self.threshold.to_string())?;
        object.serialize_field("measured", &self.measured)?;
        object.serialize_field("passed", &self.passed())?;
        object.serialize_field("breach", &self.breach.as_ref().map(|b| &b.message))?;
        object.end()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::LoadTestConfig;
    use crate::control::RunControl;
    use crate::runner::run_load_test;

    #[tokio::test]
    async fn each_threshold_is_judged_and_serialized_with_its_breach() {
        let config = LoadTestConfig::new(100.0, Duration::from_millis(50));
        let result = run_load_test(config, RunControl::default(), |_| async { Ok(()) })
            .await
            .expect("a valid configuration");
        let thresholds: Vec<Threshold> = ["success>=0%", "throughput>=1000000"]
            .iter()
            .map(|text| text.parse().expect("well formed"))
            .collect();
        let verdicts = judge(&thresholds, &result);
        assert!(verdicts[0].passed());
        assert!(!verdicts[1].passed());
        let breach = verdicts[1].breach.as_ref().expect("breached");
        let json = serde_json::to_value(&verdicts).expect("JSON");
        assert_eq!(
            json,
            serde_json::json!([
                {"threshold": "success>=0%", "measured": "100%", "passed": true, "breach": null},
                {"threshold": "throughput>=1000000", "measured": breach.actual,
                 "passed": false, "breach": breach.message},
            ])
        );
    }
}
