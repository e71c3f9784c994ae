//! A scenario made ready to run: its request function and, after the run, its findings.
//!
//! A [`Workload`] is prepared once (policy store, warmed cache, decision log file, broker), its
//! [`Workload::request`] is handed to the load generator, and [`Workload::finish`] reads the
//! scenario's own figures afterwards. What a request must record (generated IDs, the class a
//! mixed request belonged to) goes into its worker's own slot, so the hot path shares nothing
//! between workers; the slots are merged in `finish`.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use sentinel_core::broker::{Broker, Profile, Request};
use sentinel_core::caller::Caller;
use sentinel_core::decision_log::{DecisionLog, LogError};
use sentinel_core::identity::RequestId;
use sentinel_core::issuer::LocalIssuer;
use sentinel_core::source::{CacheConfig, CacheStats, CachedSource, PolicySource, SourceError};
use sentinel_load::{LoadTestConfig, LoadTestResult, RequestContext, RequestError};
use sentinel_policy::{Decision, Effect, Policy};
use serde_json::{Map, Value};
use tempfile::TempPath;

use crate::checks::{self, CheckResult, ClassShare};
use crate::fixture::{self, MemorySource};
use crate::scenario::Scenario;

/// The most entries the scenarios' cache may hold.
pub const CACHE_CAPACITY: usize = 64;
/// The least share of cache lookups `cached-eval` must answer from the cache.
pub const MIN_HIT_RATIO: f64 = 0.99;
/// How far, in percentage points, each class of `mixed` may stray from its planned share.
pub const MIX_TOLERANCE_PCT: f64 = 2.0;
/// The classes of `mixed` and their planned shares, in percent.
pub const MIX: [(&str, f64); 3] = [("allow", 80.0), ("deny", 15.0), ("miss", 5.0)];
/// How long the `issuance` broker gives the issuer.
const ISSUER_TIMEOUT: Duration = Duration::from_secs(1);

/// Error kind of a request whose outcome was not the one its scenario asserts.
pub const WRONG_OUTCOME: &str = "wrong_outcome";
/// Error kind of a request whose policy could not be loaded.
pub const POLICY_UNAVAILABLE: &str = "policy_unavailable";
/// Error kind of a request ID the OS random number generator could not provide.
pub const RNG: &str = "rng";

/// Where a scenario keeps what it needs outside memory.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// The decision log `issuance` appends to; `None` for a temporary file, removed after the
    /// run (a load run never touches the user's real log unless told to).
    pub decision_log: Option<PathBuf>,
}

/// Why a scenario could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The built-in policy could not be loaded into the cache.
    #[error("preparing the policy cache: {0}")]
    Policy(#[from] SourceError),
    /// The decision log could not be opened.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The temporary decision log could not be created or measured.
    #[error("preparing the decision log: {0}")]
    Io(#[from] std::io::Error),
}

/// A scenario ready to run.
pub struct Workload {
    scenario: Scenario,
    target: Target,
    slots: Box<[Slot]>,
}

/// What the requests of each scenario go to.
enum Target {
    PolicyEval(Arc<Policy>),
    CachedEval(Cache),
    Identity,
    Mixed(Cache),
    Issuance(Box<Issuance>),
}

/// The whole pipeline of `issuance`, and what its findings read.
struct Issuance {
    broker: Broker,
    caller: Caller,
    profile: Profile,
    cache: Cache,
    log: LogFile,
}

/// The cached example store, and its counters when the run started (after the warm-up).
struct Cache {
    source: Arc<CachedSource<MemorySource>>,
    before: CacheStats,
    loads_before: u64,
}

/// The decision log file of a run and where the run's lines start in it.
struct LogFile {
    path: PathBuf,
    offset: u64,
    /// Removes a temporary log when the workload is dropped.
    _temporary: Option<TempPath>,
}

/// One worker's private records, alone on its cache lines.
#[derive(Default)]
#[repr(align(128))]
struct Slot {
    /// Every request ID this worker generated (`identity`).
    ids: Mutex<Vec<u64>>,
    /// Requests per class that had the asserted outcome (`mixed`).
    right: [AtomicU64; 3],
    /// Requests per class that had another outcome (`mixed`).
    wrong: [AtomicU64; 3],
}

/// What a run of a scenario showed beyond the load generator's result.
#[derive(Debug, Clone)]
pub struct Findings {
    /// The scenario.
    pub scenario: Scenario,
    /// The scenario's own figures (`cache_hit_ratio`, `collisions`, `mix`, `decision_log_lines`),
    /// as they appear in the JSON report.
    pub figures: Map<String, Value>,
    /// The scenario's checks and whether they held.
    pub checks: Vec<CheckResult>,
}

impl Findings {
    /// Whether every check held.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|check| check.passed)
    }

    /// The scenario's figures in a few words, for a summary table (`-` when it has none).
    pub fn summary(&self) -> String {
        let number = |key: &str| self.figures.get(key).and_then(Value::as_f64);
        let mut parts = Vec::new();
        if let Some(ratio) = number("cache_hit_ratio") {
            parts.push(format!("hits {:.2}%", ratio * 100.0));
        }
        if let (Some(collisions), Some(ids)) = (number("collisions"), number("ids")) {
            parts.push(format!("{collisions} collisions/{ids} IDs"));
        }
        if let Some(Value::Array(mix)) = self.figures.get("mix") {
            let shares: Vec<String> = mix
                .iter()
                .filter_map(|class| class.get("observed_pct")?.as_f64())
                .map(|pct| format!("{pct:.1}"))
                .collect();
            parts.push(format!("mix {}%", shares.join("/")));
        }
        if let Some(lines) = number("decision_log_lines") {
            parts.push(format!("{lines} log lines"));
        }
        if parts.is_empty() {
            "-".to_owned()
        } else {
            parts.join(", ")
        }
    }

    /// The fields a JSON report adds to the load generator's: `scenario`, the figures and
    /// `checks`.
    pub fn json_fields(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        fields.insert("scenario".into(), self.scenario.name().into());
        fields.extend(self.figures.clone());
        let checks = serde_json::to_value(&self.checks).unwrap_or(Value::Null);
        fields.insert("checks".into(), checks);
        fields
    }
}

impl Workload {
    /// Prepares `scenario` for a run configured by `config`: builds and warms what it loads.
    pub async fn prepare(
        scenario: Scenario,
        config: &LoadTestConfig,
        setup: &Setup,
    ) -> Result<Arc<Workload>, SetupError> {
        let target = match scenario {
            Scenario::PolicyEval => {
                let source = MemorySource::example()?;
                Target::PolicyEval(source.load(fixture::PROFILE).await?.policy)
            }
            Scenario::CachedEval => Target::CachedEval(Cache::warm().await?),
            Scenario::Identity => Target::Identity,
            Scenario::Mixed => Target::Mixed(Cache::warm().await?),
            Scenario::Issuance => {
                let cache = Cache::warm().await?;
                let log = LogFile::open(setup.decision_log.clone())?;
                let broker = Broker::new(
                    Arc::clone(&cache.source) as Arc<dyn PolicySource>,
                    Arc::new(DecisionLog::open(&log.path)?),
                    Arc::new(LocalIssuer),
                    ISSUER_TIMEOUT,
                );
                Target::Issuance(Box::new(Issuance {
                    broker,
                    caller: fixture::allowed_caller(),
                    profile: fixture::profile(),
                    cache,
                    log,
                }))
            }
        };
        let slots: Box<[Slot]> = (0..config.workers).map(|_| Slot::default()).collect();
        if scenario == Scenario::Identity {
            let expected = config.requests_per_second * config.duration.as_secs_f64();
            let per_worker = (expected / config.workers.max(1) as f64).ceil() as usize;
            for slot in &slots {
                lock(&slot.ids).reserve(per_worker.saturating_add(16));
            }
        }
        Ok(Arc::new(Workload {
            scenario,
            target,
            slots,
        }))
    }

    /// The scenario this workload runs.
    pub fn scenario(&self) -> Scenario {
        self.scenario
    }

    /// The request function for the load generator: one request of the scenario.
    pub fn request(
        self: &Arc<Self>,
        ctx: RequestContext,
    ) -> impl Future<Output = Result<(), RequestError>> + Send + use<> {
        let this = Arc::clone(self);
        async move { this.serve(ctx).await }
    }

    async fn serve(&self, ctx: RequestContext) -> Result<(), RequestError> {
        match &self.target {
            Target::PolicyEval(policy) => expect_allow(policy.evaluate(
                fixture::ALLOWED_USER,
                fixture::PROFILE,
                Timestamp::now(),
            )),
            Target::CachedEval(cache) => {
                let loaded = cache
                    .source
                    .load(fixture::PROFILE)
                    .await
                    .map_err(|_| RequestError::new(POLICY_UNAVAILABLE))?;
                expect_allow(loaded.policy.evaluate(
                    fixture::ALLOWED_USER,
                    fixture::PROFILE,
                    Timestamp::now(),
                ))
            }
            Target::Identity => {
                let id = RequestId::generate().map_err(|_| RequestError::new(RNG))?;
                lock(&self.slot(ctx).ids).push(id.as_u64());
                Ok(())
            }
            Target::Mixed(cache) => {
                let class = mix_class(ctx.seq);
                let right = mixed_request(cache, class, ctx.seq).await;
                let slot = self.slot(ctx);
                let tally = if right { &slot.right } else { &slot.wrong };
                tally[class].fetch_add(1, Ordering::Relaxed);
                if right {
                    Ok(())
                } else {
                    Err(RequestError::new(WRONG_OUTCOME))
                }
            }
            Target::Issuance(issuance) => issuance
                .broker
                .issue(Request {
                    caller: &issuance.caller,
                    profile: &issuance.profile,
                    at: Timestamp::now(),
                })
                .await
                .map(drop)
                .map_err(|refusal| RequestError::new(refusal.kind())),
        }
    }

    fn slot(&self, ctx: RequestContext) -> &Slot {
        // The runner's worker indices are `0..workers`, the length of `slots`.
        &self.slots[ctx.worker % self.slots.len()]
    }

    /// Reads the scenario's figures after `result`'s run and checks them. Call it once: it
    /// takes the generated IDs out of the workers' slots.
    pub fn finish(&self, result: &LoadTestResult) -> Findings {
        let mut figures = Map::new();
        let mut checks = Vec::new();
        match &self.target {
            Target::PolicyEval(_) => {}
            Target::CachedEval(cache) => {
                let ratio = cache.report(&mut figures);
                checks.push(checks::check_hit_ratio(ratio, MIN_HIT_RATIO));
            }
            Target::Identity => {
                let sets = self
                    .slots
                    .iter()
                    .map(|slot| std::mem::take(&mut *lock(&slot.ids)))
                    .collect();
                let (collisions, ids) = checks::count_collisions(sets);
                figures.insert("collisions".into(), collisions.into());
                figures.insert("ids".into(), ids.into());
                checks.push(checks::check_collisions(collisions, ids));
            }
            Target::Mixed(cache) => {
                cache.report(&mut figures);
                let mix = self.observed_mix();
                figures.insert("mix".into(), to_value(&mix));
                checks.push(checks::check_mix(&mix, MIX_TOLERANCE_PCT));
                let entries = cache.source.stats().entries;
                checks.push(CheckResult::new(
                    "cache_size",
                    entries <= CACHE_CAPACITY,
                    format!("{entries} entries, at most {CACHE_CAPACITY}"),
                ));
            }
            Target::Issuance(issuance) => {
                let Issuance { cache, log, .. } = &**issuance;
                cache.report(&mut figures);
                let sent = result.requests.sent;
                match checks::count_decision_lines(&log.path, log.offset) {
                    Ok(lines) => {
                        figures.insert("decision_log_lines".into(), lines.into());
                        checks.push(checks::check_decision_lines(lines, sent));
                    }
                    Err(error) => checks.push(CheckResult::new(
                        "decision_log_lines",
                        false,
                        format!("cannot read {}: {error}", log.path.display()),
                    )),
                }
            }
        }
        Findings {
            scenario: self.scenario,
            figures,
            checks,
        }
    }

    fn observed_mix(&self) -> Vec<ClassShare> {
        let sum = |pick: fn(&Slot) -> &[AtomicU64; 3]| -> Vec<u64> {
            (0..MIX.len())
                .map(|class| {
                    self.slots
                        .iter()
                        .map(|slot| pick(slot)[class].load(Ordering::Relaxed))
                        .sum()
                })
                .collect()
        };
        checks::observe_mix(&MIX, &sum(|s| &s.right), &sum(|s| &s.wrong))
    }
}

impl Cache {
    /// The example store behind a cache, warmed with the one stored policy.
    async fn warm() -> Result<Cache, SetupError> {
        let config = CacheConfig {
            capacity: CACHE_CAPACITY,
            ..CacheConfig::default()
        };
        let source = Arc::new(CachedSource::new(MemorySource::example()?, config));
        source.load(fixture::PROFILE).await?;
        Ok(Cache {
            before: source.stats(),
            loads_before: source.inner().loads(),
            source,
        })
    }

    /// Adds the run's `cache_hit_ratio` and `source_loads` to `figures`; returns the ratio.
    fn report(&self, figures: &mut Map<String, Value>) -> f64 {
        let now = self.source.stats();
        let hits = now.hits - self.before.hits;
        let misses = now.misses - self.before.misses;
        let lookups = hits + misses;
        let ratio = if lookups == 0 {
            0.0
        } else {
            hits as f64 / lookups as f64
        };
        figures.insert("cache_hit_ratio".into(), ratio.into());
        let loads = self.source.inner().loads() - self.loads_before;
        figures.insert("source_loads".into(), loads.into());
        ratio
    }
}

impl LogFile {
    /// Opens `path` for appending after its current end, or a fresh temporary file.
    fn open(path: Option<PathBuf>) -> Result<LogFile, SetupError> {
        match path {
            Some(path) => {
                let offset = match std::fs::metadata(&path) {
                    Ok(metadata) => metadata.len(),
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => 0,
                    Err(error) => return Err(error.into()),
                };
                Ok(LogFile {
                    path,
                    offset,
                    _temporary: None,
                })
            }
            None => {
                let temporary = tempfile::Builder::new()
                    .prefix("sentinel-load-decisions-")
                    .suffix(".jsonl")
                    .tempfile()?
                    .into_temp_path();
                Ok(LogFile {
                    path: temporary.to_path_buf(),
                    offset: 0,
                    _temporary: Some(temporary),
                })
            }
        }
    }
}

/// Which class of [`MIX`] request `seq` belongs to: 16, 3 and 1 of every 20, interleaved.
fn mix_class(seq: u64) -> usize {
    match (seq.wrapping_mul(7)) % 20 {
        0..16 => 0,
        16..19 => 1,
        _ => 2,
    }
}

/// Runs one `mixed` request of `class`; true when its outcome is the one the class asserts:
/// alice allowed and bob denied by their rules, a never-seen policy name denied as missing.
async fn mixed_request(cache: &Cache, class: usize, seq: u64) -> bool {
    let now = Timestamp::now();
    match class {
        0 | 1 => {
            let (user, effect, rule) = if class == 0 {
                (fixture::ALLOWED_USER, Effect::Allow, fixture::ALLOW_RULE)
            } else {
                (fixture::DENIED_USER, Effect::Deny, fixture::DENY_RULE)
            };
            match cache.source.load(fixture::PROFILE).await {
                Ok(loaded) => {
                    let decision = loaded.policy.evaluate(user, fixture::PROFILE, now);
                    decision.effect == effect && decision.rule == Some(rule)
                }
                Err(_) => false,
            }
        }
        _ => {
            let key = format!("never-seen-{seq}");
            matches!(
                cache.source.load(&key).await,
                Err(SourceError::NotFound { .. })
            )
        }
    }
}

/// Success when the decision is the example's allow for alice.
fn expect_allow(decision: Decision<'_>) -> Result<(), RequestError> {
    if decision.effect == Effect::Allow && decision.rule == Some(fixture::ALLOW_RULE) {
        Ok(())
    } else {
        Err(RequestError::new(WRONG_OUTCOME))
    }
}

fn to_value(mix: &[ClassShare]) -> Value {
    serde_json::to_value(mix).unwrap_or(Value::Null)
}

/// Locks a worker's slot; a poisoned lock still holds every ID pushed before the panic.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_sends_the_planned_shares() {
        let mut counts = [0u64; 3];
        for seq in 0..1000 {
            counts[mix_class(seq)] += 1;
        }
        assert_eq!(counts, [800, 150, 50]);
        // Interleaved: no class waits for a long run of another.
        let first_miss = (0..20).find(|&seq| mix_class(seq) == 2);
        assert!(first_miss.is_some());
    }

    #[test]
    fn the_summary_names_each_figure_briefly() {
        let mut figures = Map::new();
        figures.insert("cache_hit_ratio".into(), 0.95.into());
        figures.insert("collisions".into(), 0.into());
        figures.insert("ids".into(), 25000.into());
        figures.insert(
            "mix".into(),
            to_value(&checks::observe_mix(&MIX, &[8, 1, 1], &[0, 0, 0])),
        );
        figures.insert("decision_log_lines".into(), 10.into());
        let findings = Findings {
            scenario: Scenario::Mixed,
            figures,
            checks: Vec::new(),
        };
        assert_eq!(
            findings.summary(),
            "hits 95.00%, 0 collisions/25000 IDs, mix 80.0/10.0/10.0%, 10 log lines"
        );
        assert_eq!(findings.json_fields()["scenario"], "mixed");
        let empty = Findings {
            figures: Map::new(),
            ..findings
        };
        assert_eq!(empty.summary(), "-");
    }
}
