//! What a run of a scenario showed beyond the load generator's result: the scenario's own
//! [`Figures`] (one struct per scenario) and the [`CheckResult`]s made on them, together the
//! scenario's fields of the JSON report.

use std::any::Any;
use std::fmt;

use serde::ser::Error as _;
use serde::{Serialize, Serializer};

/// A scenario's own figures: a struct with named fields, serialized into the JSON report beside
/// the load generator's fields, and summarised in a few words for the summary table.
pub trait Figures: Serialize + fmt::Debug + Send + Sync + 'static {
    /// The figures in a few words (`hits 99.98%`), `-` when there are none.
    fn summary(&self) -> String;
}

/// The figures of a scenario that has none beyond the load generator's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NoFigures {}

impl Figures for NoFigures {
    fn summary(&self) -> String {
        "-".to_owned()
    }
}

/// The outcome of one check, as reported next to the thresholds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// The check's name: `mix`, `collisions`, `decision_log_lines`, `cache_hit_ratio`, ...
    pub check: &'static str,
    /// Whether it held.
    pub passed: bool,
    /// What was measured against what was required, e.g. `0 collisions among 25000 IDs`.
    pub detail: String,
}

impl CheckResult {
    /// A result named `check` that passed when `passed`, described by `detail`.
    pub fn new(check: &'static str, passed: bool, detail: String) -> Self {
        Self {
            check,
            passed,
            detail,
        }
    }
}

/// One scenario's findings: `{"scenario": NAME, ...its figures, "checks": [...]}` in JSON.
#[derive(Debug, Serialize)]
pub struct Findings {
    /// The scenario's name.
    pub scenario: &'static str,
    #[serde(flatten)]
    figures: Box<dyn AnyFigures>,
    /// The scenario's checks and whether they held.
    pub checks: Vec<CheckResult>,
}

impl Findings {
    /// The findings of `scenario`: its `figures` and the `checks` made on them.
    pub fn new(scenario: &'static str, figures: impl Figures, checks: Vec<CheckResult>) -> Self {
        Self {
            scenario,
            figures: Box::new(figures),
            checks,
        }
    }

    /// Whether every check held.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.passed)
    }

    /// The figures in a few words, for a summary table.
    pub fn summary(&self) -> String {
        self.figures.summary()
    }

    /// The figures as the scenario's own type, if they are an `F`.
    pub fn figures<F: Figures>(&self) -> Option<&F> {
        self.figures.as_any().downcast_ref()
    }
}

/// [`Figures`] of any scenario, behind one type.
trait AnyFigures: fmt::Debug + Send + Sync {
    fn json(&self) -> serde_json::Result<serde_json::Value>;
    fn summary(&self) -> String;
    fn as_any(&self) -> &dyn Any;
}

impl<F: Figures> AnyFigures for F {
    fn json(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::to_value(self)
    }

    fn summary(&self) -> String {
        Figures::summary(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Serialize for dyn AnyFigures {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json().map_err(S::Error::custom)?.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Serialize)]
    struct Counted {
        count: u64,
    }

    impl Figures for Counted {
        fn summary(&self) -> String {
            format!("{} counted", self.count)
        }
    }

    #[test]
    fn findings_serialize_flat_and_keep_their_type() {
        let check = CheckResult::new("count", true, "3 of 3".to_owned());
        let findings = Findings::new("counting", Counted { count: 3 }, vec![check]);
        let json = serde_json::to_value(&findings).expect("JSON");
        assert_eq!(
            json,
            serde_json::json!({
                "scenario": "counting",
                "count": 3,
                "checks": [{"check": "count", "passed": true, "detail": "3 of 3"}],
            })
        );
        assert_eq!(findings.figures::<Counted>().map(|f| f.count), Some(3));
        assert!(findings.figures::<NoFigures>().is_none());
        assert_eq!(findings.summary(), "3 counted");
        assert!(findings.passed());
    }

    #[test]
    fn no_figures_adds_no_field() {
        let findings = Findings::new("bare", NoFigures {}, Vec::new());
        let json = serde_json::to_string(&findings).expect("JSON");
        assert_eq!(json, r#"{"scenario":"bare","checks":[]}"#);
        assert_eq!(findings.summary(), "-");
    }
}
