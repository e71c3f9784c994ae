//! `issuance`: the whole broker for alice on `production`: the cached source, the evaluation,
//! the decision log (a real file) and the in-process issuer. The log must hold exactly one
//! decision line per request sent, and every credential issued must have had its line synced.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use sentinel_core::broker::{Broker, Profile, Request};
use sentinel_core::caller::Caller;
use sentinel_core::decision_log::DecisionLog;
use sentinel_core::issuer::LocalIssuer;
use sentinel_core::source::PolicySource;
use sentinel_load::{LoadTestConfig, LoadTestResult, RequestContext, RequestError, Threshold};
use serde::Serialize;
use tempfile::TempPath;

use crate::cache::{Cache, CacheFigures};
use crate::defaults;
use crate::findings::{CheckResult, Figures};
use crate::fixture;
use crate::scenario::{LoadScenario, Setup, SetupError, Workload};

/// How long the broker gives the issuer.
const ISSUER_TIMEOUT: Duration = Duration::from_secs(1);

/// The substring that marks a decision line: the log is compact JSON and string values
/// escape their quotes, so it occurs only as the `event` field of a decision.
const DECISION_MARK: &[u8] = br#""event":"decision""#;

/// Issues for alice through the whole broker.
#[derive(Debug, Clone, Copy)]
pub struct Issuance;

/// The broker, and what the findings read: its cache and its decision log.
pub struct IssuanceWorkload {
    broker: Broker,
    caller: Caller,
    profile: Profile,
    cache: Cache,
    log: LogFile,
    synced: SyncedLines,
}

/// The decision log file of a run and where the run's lines start in it.
pub(crate) struct LogFile {
    pub(crate) path: PathBuf,
    offset: u64,
    /// Removes a temporary log when the workload is dropped.
    _temporary: Option<TempPath>,
}

/// What a run of `issuance` showed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IssuanceFigures {
    /// The cache's counters over the run.
    #[serde(flatten)]
    pub cache: CacheFigures,
    /// Decision lines the run added to the log; absent when the log could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_log_lines: Option<u64>,
    /// Decision lines the run synced to disk before issuing.
    pub decision_lines_synced: u64,
}

impl LoadScenario for Issuance {
    type Workload = IssuanceWorkload;

    fn name(&self) -> &'static str {
        "issuance"
    }

    fn summary(&self) -> &'static str {
        "the whole broker: cache, evaluate, decision log, issuer"
    }

    fn config(&self) -> LoadTestConfig {
        defaults::config(1000.0, 10, 50)
    }

    fn thresholds(&self, _rate: f64) -> Vec<Threshold> {
        defaults::thresholds(&["success>99%", "p99<10ms"])
    }

    async fn prepare(
        &self,
        _config: &LoadTestConfig,
        setup: &Setup,
    ) -> Result<IssuanceWorkload, SetupError> {
        let cache = Cache::warm().await?;
        let log = LogFile::open(setup.decision_log.clone())?;
        let decisions = Arc::new(DecisionLog::open(&log.path)?);
        let broker = Broker::new(
            Arc::clone(&cache.source) as Arc<dyn PolicySource>,
            Arc::clone(&decisions),
            Arc::new(LocalIssuer),
            ISSUER_TIMEOUT,
        );
        Ok(IssuanceWorkload {
            broker,
            caller: fixture::allowed_caller(),
            profile: fixture::profile(),
            cache,
            log,
            synced: SyncedLines::from_now(decisions),
        })
    }
}

impl Workload for IssuanceWorkload {
    type Figures = IssuanceFigures;

    async fn request(&self, _ctx: RequestContext) -> Result<(), RequestError> {
        let request = Request {
            caller: &self.caller,
            profile: &self.profile,
            at: Timestamp::now(),
            break_glass: None,
        };
        self.broker
            .issue(request)
            .await
            .map(drop)
            .map_err(|refusal| RequestError::new(refusal.kind()))
    }

    fn finish(&self, result: &LoadTestResult) -> (IssuanceFigures, Vec<CheckResult>) {
        let (lines, check) = self.log.check(result.requests.sent);
        let (synced, synced_check) = self.synced.check(result);
        let figures = IssuanceFigures {
            cache: self.cache.figures(),
            decision_log_lines: lines,
            decision_lines_synced: synced,
        };
        (figures, vec![check, synced_check])
    }
}

impl Figures for IssuanceFigures {
    fn summary(&self) -> String {
        match self.decision_log_lines {
            Some(lines) => format!("{}, {lines} log lines", self.cache.summary()),
            None => self.cache.summary(),
        }
    }
}

impl LogFile {
    /// This log, counting from its current end, and keeping `earlier`'s temporary file (if it
    /// was one) alive as long as itself.
    pub(crate) fn keeping(mut self, earlier: LogFile) -> LogFile {
        self._temporary = earlier._temporary;
        self
    }

    /// The decision lines the run added to the log.
    pub(crate) fn lines(&self) -> io::Result<u64> {
        count_decision_lines(&self.path, self.offset)
    }

    /// The decision lines the run added, and the check that there is one per request sent.
    pub(crate) fn check(&self, sent: u64) -> (Option<u64>, CheckResult) {
        match self.lines() {
            Ok(lines) => (Some(lines), check_decision_lines(lines, sent)),
            Err(error) => (
                None,
                CheckResult::new(
                    "decision_log_lines",
                    false,
                    format!("cannot read {}: {error}", self.path.display()),
                ),
            ),
        }
    }

    /// Opens `path` for appending after its current end, or a fresh temporary file.
    pub(crate) fn open(path: Option<PathBuf>) -> Result<LogFile, SetupError> {
        if let Some(path) = path {
            let offset = match std::fs::metadata(&path) {
                Ok(metadata) => metadata.len(),
                Err(error) if error.kind() == io::ErrorKind::NotFound => 0,
                Err(error) => return Err(error.into()),
            };
            Ok(LogFile {
                path,
                offset,
                _temporary: None,
            })
        } else {
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

/// Counts the lines a decision log synced from a point on.
pub(crate) struct SyncedLines {
    log: Arc<DecisionLog>,
    before: u64,
}

impl SyncedLines {
    /// Counts `log`'s synced lines from now on.
    pub(crate) fn from_now(log: Arc<DecisionLog>) -> SyncedLines {
        let before = log.stats().synced_lines;
        SyncedLines { log, before }
    }

    /// The lines synced since, and the check that every credential `result` counted as issued
    /// had its line synced first: at least one line per success, and at most one per request
    /// sent (a request the generator gave up on may still have been decided).
    pub(crate) fn check(&self, result: &LoadTestResult) -> (u64, CheckResult) {
        let synced = self.log.stats().synced_lines - self.before;
        let (sent, ok) = (result.requests.sent, result.requests.ok);
        let check = CheckResult::new(
            "decision_log_synced",
            (ok..=sent).contains(&synced),
            format!("{synced} decision lines synced for {ok} issued of {sent} requests sent"),
        );
        (synced, check)
    }
}

/// Counts the decision lines written to the log at `path` after byte `offset`.
fn count_decision_lines(path: &Path, offset: u64) -> io::Result<u64> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let finder = memchr::memmem::Finder::new(DECISION_MARK);
    let mut line = Vec::with_capacity(1024);
    let mut count = 0;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(count);
        }
        if finder.find(&line).is_some() {
            count += 1;
        }
    }
}

/// Passes when the log holds exactly one decision line per request sent.
fn check_decision_lines(lines: u64, sent: u64) -> CheckResult {
    CheckResult::new(
        "decision_log_lines",
        lines == sent,
        format!("{lines} decision lines for {sent} requests sent"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision_lines_are_counted_after_the_offset() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("log.jsonl");
        let before = "{\"event\":\"decision\",\"user\":\"x\"}\n";
        let after = "{\"event\":\"decision\"}\n{\"event\":\"outcome\"}\n\
                     {\"user\":\"\\\"event\\\":\\\"decision\\\"\",\"event\":\"outcome\"}\n\
                     {\"event\":\"decision\"}\n";
        std::fs::write(&path, format!("{before}{after}")).expect("write");
        assert_eq!(count_decision_lines(&path, 0).ok(), Some(3));
        assert_eq!(
            count_decision_lines(&path, before.len() as u64).ok(),
            Some(2)
        );
        assert!(check_decision_lines(2, 2).passed);
        assert!(!check_decision_lines(3, 2).passed);
    }

    #[test]
    fn an_unreadable_log_has_no_line_count() {
        let figures = IssuanceFigures {
            cache: CacheFigures {
                cache_hit_ratio: 1.0,
                source_loads: 0,
            },
            decision_log_lines: None,
            decision_lines_synced: 0,
        };
        let json = serde_json::to_string(&figures).expect("JSON");
        assert_eq!(
            json,
            r#"{"cache_hit_ratio":1.0,"source_loads":0,"decision_lines_synced":0}"#
        );
        assert_eq!(figures.summary(), "hits 100.00%");
        let counted = IssuanceFigures {
            decision_log_lines: Some(10),
            ..figures
        };
        assert_eq!(counted.summary(), "hits 100.00%, 10 log lines");
    }
}
