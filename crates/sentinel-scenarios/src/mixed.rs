//! `mixed`: allowed, denied and never-seen policy names in fixed shares (80%, 15% and 5%),
//! through the policy cache, each outcome asserted. [`MIX`] states the shares once: the
//! request choice and the check both read it.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use sentinel_core::source::{PolicySource, SourceError};
use sentinel_load::{LoadTestConfig, LoadTestResult, RequestContext, RequestError, Threshold};
use sentinel_policy::{Effect, Request};
use serde::{Serialize, Serializer};

use crate::cache::{CACHE_CAPACITY, Cache, CacheFigures};
use crate::defaults;
use crate::findings::{CheckResult, Figures};
use crate::fixture;
use crate::per_worker::PerWorker;
use crate::scenario::{LoadScenario, Setup, SetupError, Workload};

/// The classes of request and how many of every [`CYCLE`] requests belong to each.
pub const MIX: [(Class, u64); 3] = [(Class::Allow, 16), (Class::Deny, 3), (Class::Miss, 1)];

/// Requests per turn of the mix: every `CYCLE` consecutive requests hold each class's count.
pub const CYCLE: u64 = MIX[0].1 + MIX[1].1 + MIX[2].1;

/// Steps through a cycle's slots in an order that interleaves the classes; coprime with
/// [`CYCLE`], so a turn visits every slot once.
const STRIDE: u64 = 7;

/// How far, in percentage points, each class may stray from its share.
const TOLERANCE_PCT: f64 = 2.0;

/// A class of `mixed` request and the outcome it asserts; serialized as its [`Class::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Alice on `production`: allowed by `allow-production`.
    Allow,
    /// Bob on `production`: denied by `deny-bob-production`.
    Deny,
    /// A policy name never stored: the store answers "not found" (a denial).
    Miss,
}

impl Class {
    /// The class of request `seq`.
    pub fn of(seq: u64) -> Class {
        let mut slot = seq.wrapping_mul(STRIDE) % CYCLE;
        for (class, count) in MIX {
            if slot < count {
                return class;
            }
            slot -= count;
        }
        unreachable!("the counts of MIX add up to CYCLE")
    }

    /// The class's name in reports: `allow`, `deny` or `miss`.
    pub fn name(self) -> &'static str {
        match self {
            Class::Allow => "allow",
            Class::Deny => "deny",
            Class::Miss => "miss",
        }
    }

    /// The share of requests in this class, in percent.
    pub fn expected_pct(self) -> f64 {
        let count = MIX[self.index()].1;
        count as f64 * 100.0 / CYCLE as f64
    }

    /// The class's position in [`MIX`] (which lists the classes in declaration order).
    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Class {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// Mixes allowed, denied and never-seen requests through the warmed cache.
#[derive(Debug, Clone, Copy)]
pub struct Mixed;

/// The warmed cache and, per worker, the outcomes seen per class.
pub struct MixedWorkload {
    cache: Cache,
    tallies: PerWorker<Tally>,
}

/// One worker's requests per class that had the asserted outcome, and those that had another.
#[derive(Default)]
struct Tally {
    right: [AtomicU64; MIX.len()],
    wrong: [AtomicU64; MIX.len()],
}

/// What a run of `mixed` showed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MixedFigures {
    /// The cache's counters over the run.
    #[serde(flatten)]
    pub cache: CacheFigures,
    /// Each class, in the order of [`MIX`].
    pub mix: Vec<ClassShare>,
}

/// One class's expected and observed share, and how many of its requests had an outcome other
/// than the one it asserts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassShare {
    /// The class.
    pub class: Class,
    /// Its share of the requests sent, in percent.
    pub expected_pct: f64,
    /// Its share among requests that completed with the asserted outcome, in percent.
    pub observed_pct: f64,
    /// Its requests that completed with the asserted outcome.
    pub count: u64,
    /// Its requests that completed with another outcome.
    pub wrong_outcome: u64,
}

impl LoadScenario for Mixed {
    type Workload = MixedWorkload;

    fn name(&self) -> &'static str {
        "mixed"
    }

    fn summary(&self) -> &'static str {
        "80% allow, 15% deny by rule, 5% never-seen policy (deny)"
    }

    fn config(&self) -> LoadTestConfig {
        defaults::config(500.0, 30, 25)
    }

    fn tour_duration(&self) -> Duration {
        Duration::from_secs(4)
    }

    fn thresholds(&self, rate: f64) -> Vec<Threshold> {
        defaults::thresholds(&["success>99%", "p99<10ms", &defaults::throughput(rate)])
    }

    async fn prepare(
        &self,
        config: &LoadTestConfig,
        _setup: &Setup,
    ) -> Result<MixedWorkload, SetupError> {
        Ok(MixedWorkload {
            cache: Cache::warm().await?,
            tallies: PerWorker::new(config.workers),
        })
    }
}

impl Workload for MixedWorkload {
    type Figures = MixedFigures;

    async fn request(&self, ctx: RequestContext) -> Result<(), RequestError> {
        let class = Class::of(ctx.seq);
        let right = self.serve(class, ctx.seq).await;
        let tally = self.tallies.get(ctx.worker);
        let counts = if right { &tally.right } else { &tally.wrong };
        counts[class.index()].fetch_add(1, Ordering::Relaxed);
        if right {
            Ok(())
        } else {
            Err(RequestError::new(fixture::WRONG_OUTCOME))
        }
    }

    fn finish(&self, _result: &LoadTestResult) -> (MixedFigures, Vec<CheckResult>) {
        let sum = |counts: fn(&Tally) -> &[AtomicU64; MIX.len()]| -> Vec<u64> {
            (0..MIX.len())
                .map(|class| {
                    self.tallies
                        .iter()
                        .map(|tally| counts(tally)[class].load(Ordering::Relaxed))
                        .sum()
                })
                .collect()
        };
        let mix = observe_mix(&sum(|t| &t.right), &sum(|t| &t.wrong));
        let entries = self.cache.source.stats().entries;
        let checks = vec![
            check_mix(&mix, TOLERANCE_PCT),
            CheckResult::new(
                "cache_size",
                entries <= CACHE_CAPACITY,
                format!("{entries} entries, at most {CACHE_CAPACITY}"),
            ),
        ];
        let figures = MixedFigures {
            cache: self.cache.figures(),
            mix,
        };
        (figures, checks)
    }
}

impl MixedWorkload {
    /// Runs one request of `class`; true when its outcome is the one the class asserts.
    async fn serve(&self, class: Class, seq: u64) -> bool {
        let (user, effect, rule) = match class {
            Class::Allow => (fixture::ALLOWED_USER, Effect::Allow, fixture::ALLOW_RULE),
            Class::Deny => (fixture::DENIED_USER, Effect::Deny, fixture::DENY_RULE),
            Class::Miss => {
                let key = format!("never-seen-{seq}");
                return matches!(
                    self.cache.source.load(&key).await,
                    Err(SourceError::NotFound { .. })
                );
            }
        };
        match self.cache.source.load(fixture::PROFILE).await {
            Ok(loaded) => {
                let request = Request::new(user, fixture::PROFILE, Timestamp::now());
                let decision = loaded.policy.evaluate(&request);
                decision.effect == effect && decision.rule == Some(rule)
            }
            Err(_) => false,
        }
    }
}

impl Figures for MixedFigures {
    fn summary(&self) -> String {
        let shares: Vec<String> = self
            .mix
            .iter()
            .map(|class| format!("{:.1}", class.observed_pct))
            .collect();
        format!("{}, mix {}%", self.cache.summary(), shares.join("/"))
    }
}

/// The observed mix: `counts` and `wrong` (in the order of [`MIX`]) are the requests of each
/// class with the asserted outcome and with another.
fn observe_mix(counts: &[u64], wrong: &[u64]) -> Vec<ClassShare> {
    let total: u64 = counts.iter().sum();
    MIX.iter()
        .zip(counts)
        .zip(wrong)
        .map(|((&(class, _), &count), &wrong_outcome)| ClassShare {
            class,
            expected_pct: class.expected_pct(),
            observed_pct: if total == 0 {
                0.0
            } else {
                count as f64 * 100.0 / total as f64
            },
            count,
            wrong_outcome,
        })
        .collect()
}

/// Passes when every class's observed share is within `tolerance_pct` points of its expected
/// share and no request had the wrong outcome for its class.
fn check_mix(mix: &[ClassShare], tolerance_pct: f64) -> CheckResult {
    let mut problems = Vec::new();
    for share in mix {
        let class = share.class;
        if (share.observed_pct - share.expected_pct).abs() > tolerance_pct {
            problems.push(format!(
                "{class} is {:.2}% of requests, expected {}% ± {tolerance_pct}",
                share.observed_pct, share.expected_pct
            ));
        }
        if share.wrong_outcome > 0 {
            problems.push(format!(
                "{} {class} requests had the wrong outcome",
                share.wrong_outcome
            ));
        }
    }
    if mix.iter().all(|share| share.count == 0) {
        problems.push("no request completed".to_owned());
    }
    let detail = if problems.is_empty() {
        let shares: Vec<String> = mix
            .iter()
            .map(|share| format!("{} {:.2}%", share.class, share.observed_pct))
            .collect();
        format!("{} (± {tolerance_pct} points)", shares.join(", "))
    } else {
        problems.join("; ")
    };
    CheckResult::new("mix", problems.is_empty(), detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_requests_follow_the_mix_interleaved() {
        let mut counts = [0u64; MIX.len()];
        for seq in 0..1000 {
            counts[Class::of(seq).index()] += 1;
        }
        assert_eq!(counts, [800, 150, 50]);
        for (index, (class, _)) in MIX.iter().enumerate() {
            assert_eq!(class.index(), index, "{class} is where MIX has it");
        }
        let shares: Vec<f64> = MIX.iter().map(|(class, _)| class.expected_pct()).collect();
        assert_eq!(shares, [80.0, 15.0, 5.0]);
        // Every CYCLE consecutive requests, wherever they start, hold each class's count: no
        // class waits for a long run of another.
        for start in [0, 1, 7, 13, 999] {
            for (class, count) in MIX {
                let seen = (start..start + CYCLE)
                    .filter(|&seq| Class::of(seq) == class)
                    .count();
                assert_eq!(seen as u64, count, "{class} from {start}");
            }
        }
    }

    #[test]
    fn the_expected_mix_passes() {
        let mix = observe_mix(&[8010, 1495, 495], &[0, 0, 0]);
        let check = check_mix(&mix, 2.0);
        assert!(check.passed, "{}", check.detail);
        assert!((mix[0].observed_pct - 80.1).abs() < 1e-9);
    }

    #[test]
    fn a_wrong_mix_fails_and_names_the_class() {
        let mix = observe_mix(&[7700, 1800, 500], &[0, 0, 0]);
        let check = check_mix(&mix, 2.0);
        assert!(!check.passed);
        assert!(check.detail.contains("allow is 77.00%"), "{}", check.detail);
        assert!(check.detail.contains("deny is 18.00%"), "{}", check.detail);
        assert!(!check.detail.contains("miss is"), "{}", check.detail);
    }

    #[test]
    fn a_wrong_outcome_fails_even_in_the_right_mix() {
        let mix = observe_mix(&[800, 150, 50], &[0, 1, 0]);
        let check = check_mix(&mix, 2.0);
        assert!(!check.passed);
        assert!(
            check
                .detail
                .contains("1 deny requests had the wrong outcome")
        );
    }

    #[test]
    fn an_empty_run_fails_the_mix() {
        let mix = observe_mix(&[0, 0, 0], &[0, 0, 0]);
        assert!(!check_mix(&mix, 2.0).passed);
    }

    #[test]
    fn the_summary_gives_the_hits_and_the_observed_shares() {
        let figures = MixedFigures {
            cache: CacheFigures {
                cache_hit_ratio: 0.95,
                source_loads: 1,
            },
            mix: observe_mix(&[8, 1, 1], &[0, 0, 0]),
        };
        assert_eq!(figures.summary(), "hits 95.00%, mix 80.0/10.0/10.0%");
    }
}
