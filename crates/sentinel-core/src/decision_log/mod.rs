//! The decision log: what was decided for every request and what came of it, one JSON object per
//! line. It is the audit trail that a CloudTrail event's `SourceIdentity` points back to, so the
//! broker writes each decision here before it asks for credentials, and denies if it cannot; an
//! allow's line is on disk before the credentials are asked for, so it survives a crash of the
//! machine as well as of the process.

mod commit;
mod sink;
mod target;
mod workflow;

pub use target::LogTarget;
pub use workflow::WorkflowRecord;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::Timestamp;
use sentinel_policy::Effect;
use serde::{Serialize, Serializer};

use crate::identity::{RequestId, SourceIdentity};

/// Why the decision log could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The file or its directory could not be created or opened.
    #[error("cannot open decision log {path}: {cause}")]
    Open {
        /// The log file.
        path: PathBuf,
        /// What the OS said (in the message, so not repeated as a separate cause).
        cause: std::io::Error,
    },
    /// Something other than a regular file is at the path: it would not keep the lines.
    #[error(
        "decision log {path} is {kind}, not a regular file, so it would not keep decisions; \
         give a file path (or - for standard output)"
    )]
    NotAFile {
        /// The path given.
        path: PathBuf,
        /// What is there instead.
        kind: &'static str,
    },
    /// A line could not be written whole.
    #[error("cannot write to decision log {path}: {cause}")]
    Write {
        /// The log file.
        path: PathBuf,
        /// What the OS said (in the message, so not repeated as a separate cause).
        cause: std::io::Error,
    },
    /// A line was written but could not be made durable.
    #[error("cannot sync decision log {path} to disk: {cause}")]
    Sync {
        /// The log file.
        path: PathBuf,
        /// What the OS said (in the message, so not repeated as a separate cause).
        cause: std::io::Error,
    },
}

/// Which step of a request a log line records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The policy's decision, written before any credentials are requested.
    Decision,
    /// What happened after an `allow`: credentials issued, or the error that stopped them.
    Outcome,
    /// An approval request was made.
    ApprovalRequested,
    /// An approver voted.
    Vote,
    /// A request got its last approval.
    Approved,
    /// An approver denied a request.
    ApprovalDenied,
    /// A request lapsed undecided.
    Expired,
}

/// How a request ended, as far as this line knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Allowed; credentials are being requested (an `outcome` line follows).
    Pending,
    /// No credentials: the policy denied, required approval, or could not be evaluated.
    Denied,
    /// Credentials were issued.
    Issued,
    /// Allowed, but issuing failed; no credentials.
    Error,
}

/// One line of the decision log, owned, so that an allowed request's decision line can become
/// its outcome line after the caller has gone. Never holds a secret.
#[derive(Debug, Clone, Serialize)]
pub struct LogRecord {
    /// When the line was written (RFC 3339, UTC).
    #[serde(serialize_with = "display")]
    pub timestamp: Timestamp,
    /// Which step this line records.
    pub event: Event,
    /// The request's ID, shared by all lines of one request.
    pub request_id: RequestId,
    /// The user the caller is under the policy's identity rules; `None` when it is no user (or
    /// the policy that says so could not be loaded).
    pub user: Option<String>,
    /// The caller's full ARN, as AWS named it.
    pub principal_arn: String,
    /// The caller's account.
    pub account: String,
    /// The caller's unique ID (`AIDA…`, or `AROA…:session`), which tells a re-created user or
    /// role from the one that had its name before.
    pub principal_id: String,
    /// The profile asked for.
    pub profile: String,
    /// What the policy decided; `deny` when it could not be evaluated.
    pub effect: Effect,
    /// The deciding rule; `None` for the default deny or when no policy could be evaluated.
    pub rule: Option<String>,
    /// The deciding rule's position in the policy.
    pub rule_index: Option<usize>,
    /// Why: the rule's reason, or what stopped the evaluation.
    pub reason: Option<String>,
    /// Where the policy came from (`ssm:...`, `file:...`), if it could be loaded.
    #[serde(serialize_with = "shared_text")]
    pub policy_source: Option<Arc<str>>,
    /// The `SourceIdentity` the credentials carry (or would have carried).
    pub source_identity: Option<SourceIdentity>,
    /// The role the credentials are for.
    pub role_arn: String,
    /// The lifetime asked for, in seconds.
    pub session_duration_s: u64,
    /// How the request ended, as far as this line knows.
    pub outcome: Outcome,
    /// The error that denied the request or stopped the issuance.
    pub error: Option<String>,
    /// The approval request the credentials are issued under, for a `require_approval` rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_id: Option<RequestId>,
    /// The reason given for breaking the glass, for a break-glass request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<String>,
}

/// What the log writes: the line of a request, or of a change in an approval request.
pub trait Line: Serialize + sealed::Sealed {}

impl Line for LogRecord {}
impl Line for WorkflowRecord {}

mod sealed {
    /// Only the log's own line types are lines.
    pub trait Sealed {}
    impl Sealed for super::LogRecord {}
    impl Sealed for super::WorkflowRecord {}
}

fn display<S: Serializer>(value: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

fn shared_text<S: Serializer>(value: &Option<Arc<str>>, serializer: S) -> Result<S::Ok, S::Error> {
    value.as_deref().serialize(serializer)
}

/// An append-only JSON Lines file (or standard output), safe to share between threads and
/// processes.
///
/// Each line is written whole, in one `write` to a file opened with `O_APPEND` under a lock, so
/// lines from concurrent requests and concurrent `sentinel` processes never interleave; a write
/// that takes only part of a line is an error. [`DecisionLog::append_durable`] returns only
/// once an `fdatasync` that began after the write has succeeded; concurrent callers share one
/// (group commit). A file renamed or deleted under the log (log rotation) is noticed at the
/// next line and reopened at its path.
#[derive(Debug)]
pub struct DecisionLog {
    shared: Arc<commit::Shared>,
    path: PathBuf,
    lines: AtomicU64,
    reopened: AtomicU64,
}

/// What a log has done since it was opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogStats {
    /// Lines written.
    pub lines: u64,
    /// Lines asked to be durable whose sync succeeded.
    pub synced_lines: u64,
    /// `fdatasync` calls made (one covers every line of its batch).
    pub syncs: u64,
    /// Times the file was reopened after being renamed or deleted.
    pub reopened: u64,
}

/// `3 lines, 3 synced to disk by 2 fsyncs, reopened 0 times`, each noun in the number it has
/// (`1 line`, `1 fsync`, `once`).
impl fmt::Display for LogStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counted =
            |count: u64, noun: &str| format!("{count} {noun}{}", if count == 1 { "" } else { "s" });
        write!(
            f,
            "{}, {} synced to disk by {}, reopened {}",
            counted(self.lines, "line"),
            self.synced_lines,
            counted(self.syncs, "fsync"),
            match self.reopened {
                1 => "once".to_owned(),
                n => format!("{n} times"),
            }
        )
    }
}

impl DecisionLog {
    /// Opens (creating with mode 0600, and its directory with 0700) the log at `path`, which
    /// must be a regular file if it exists: `/dev/null`, pipes and the like are refused.
    pub fn open(path: &Path) -> Result<DecisionLog, LogError> {
        DecisionLog::start(sink::Sink::open(path)?, path)
    }

    /// Opens the log `target` names: [`DecisionLog::open`] for a file, [`DecisionLog::stdout`]
    /// for standard output.
    pub fn to(target: &LogTarget) -> Result<DecisionLog, LogError> {
        match target {
            LogTarget::File(path) => DecisionLog::open(path),
            LogTarget::Stdout => DecisionLog::stdout(),
        }
    }

    /// A log on standard output, for platforms that collect it. Lines are written whole but
    /// never synced: keeping them is the collector's job.
    pub fn stdout() -> Result<DecisionLog, LogError> {
        DecisionLog::start(sink::Sink::stdout()?, Path::new("-"))
    }

    fn start(sink: sink::Sink, path: &Path) -> Result<DecisionLog, LogError> {
        let shared = commit::Shared::start(sink).map_err(|cause| LogError::Open {
            path: path.to_owned(),
            cause,
        })?;
        Ok(DecisionLog {
            shared,
            path: path.to_owned(),
            lines: AtomicU64::new(0),
            reopened: AtomicU64::new(0),
        })
    }

    /// The file this log writes to (`-` for standard output).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the log has done so far.
    pub fn stats(&self) -> LogStats {
        LogStats {
            lines: self.lines.load(Ordering::Relaxed),
            synced_lines: self.shared.synced_lines.load(Ordering::Acquire),
            syncs: self.shared.syncs.load(Ordering::Relaxed),
            reopened: self.reopened.load(Ordering::Relaxed),
        }
    }

    /// Writes one record as one whole line.
    pub fn append(&self, record: &impl Line) -> Result<(), LogError> {
        let line = self.serialize(record)?;
        let mut state = self.shared.lock();
        self.write(&mut state, &line)
    }

    /// Writes one record as one whole line and returns once it is on disk (standard output:
    /// once it is written). If the sync fails, so does this.
    pub async fn append_durable(&self, record: &impl Line) -> Result<(), LogError> {
        let line = self.serialize(record)?;
        let synced = {
            let mut state = self.shared.lock();
            self.write(&mut state, &line)?;
            if !state.sink.syncs() {
                return Ok(());
            }
            self.shared.join(&mut state)
        };
        let stopped = || {
            (
                std::io::ErrorKind::Other,
                "the log's sync threads have stopped".to_owned(),
            )
        };
        let synced = match synced {
            Some(receiver) => receiver.await.unwrap_or_else(|_| Err(stopped())),
            None => Err(stopped()),
        };
        synced.map_err(|(kind, message)| LogError::Sync {
            path: self.path.clone(),
            cause: std::io::Error::new(kind, message),
        })
    }

    fn serialize(&self, record: &impl Line) -> Result<Vec<u8>, LogError> {
        let mut line = serde_json::to_vec(record).map_err(|error| LogError::Write {
            path: self.path.clone(),
            cause: error.into(),
        })?;
        line.push(b'\n');
        Ok(line)
    }

    /// Writes `line` to the file the path names now.
    fn write(&self, state: &mut commit::State, line: &[u8]) -> Result<(), LogError> {
        if state.sink.follow_rotation()? {
            self.reopened.fetch_add(1, Ordering::Relaxed);
        }
        state
            .sink
            .write_line(line)
            .map_err(|cause| LogError::Write {
                path: self.path.clone(),
                cause,
            })?;
        self.lines.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

impl Drop for DecisionLog {
    fn drop(&mut self) {
        self.shared.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn stats_read_with_each_noun_in_its_number() {
        let one = LogStats {
            lines: 1,
            synced_lines: 1,
            syncs: 1,
            reopened: 1,
        };
        assert_eq!(
            one.to_string(),
            "1 line, 1 synced to disk by 1 fsync, reopened once"
        );
        let many = LogStats {
            lines: 3,
            synced_lines: 3,
            syncs: 2,
            reopened: 0,
        };
        assert_eq!(
            many.to_string(),
            "3 lines, 3 synced to disk by 2 fsyncs, reopened 0 times"
        );
    }

    fn record(request_id: u64) -> LogRecord {
        let request_id = RequestId::from_u64(request_id);
        LogRecord {
            timestamp: Timestamp::from_second(1_700_000_000).expect("valid instant"),
            event: Event::Decision,
            request_id,
            user: Some("alice".into()),
            principal_arn: "arn:aws:iam::123456789012:user/alice".into(),
            account: "123456789012".into(),
            principal_id: "AIDAEXAMPLEALICE".into(),
            profile: "production".into(),
            effect: Effect::Allow,
            rule: Some("allow-production".into()),
            rule_index: Some(1),
            reason: None,
            policy_source: Some("file:examples/policy.yaml".into()),
            source_identity: Some(SourceIdentity::new("alice", request_id).expect("identity")),
            role_arn: "arn:aws:iam::123456789012:role/prod".into(),
            session_duration_s: 3600,
            outcome: Outcome::Pending,
            error: None,
            approval_id: None,
            break_glass: None,
        }
    }

    #[test]
    fn creates_the_file_and_its_directory_private() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("state/sentinel/decisions.jsonl");
        let log = DecisionLog::open(&path).expect("open");
        log.append(&record(0xff)).expect("append");
        let file_mode = std::fs::metadata(&path).expect("file").permissions().mode();
        let dir_mode = std::fs::metadata(path.parent().expect("parent"))
            .expect("dir")
            .permissions()
            .mode();
        assert_eq!(file_mode & 0o777, 0o600);
        assert_eq!(dir_mode & 0o777, 0o700);
    }

    #[test]
    fn writes_every_field_as_one_json_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("decisions.jsonl");
        let log = DecisionLog::open(&path).expect("open");
        log.append(&record(0xff)).expect("append");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.ends_with('\n') && text.lines().count() == 1);
        let line: serde_json::Value = serde_json::from_str(text.trim_end()).expect("JSON");
        assert_eq!(line["timestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(line["event"], "decision");
        assert_eq!(line["request_id"], "00000000000000ff");
        assert_eq!(line["effect"], "allow");
        assert_eq!(line["source_identity"], "sentinel.alice.00000000000000ff");
        assert_eq!(line["rule"], "allow-production");
        assert_eq!(line["rule_index"], 1);
        assert_eq!(line["reason"], serde_json::Value::Null);
        assert_eq!(line["session_duration_s"], 3600);
        assert_eq!(line["outcome"], "pending");
        assert_eq!(
            line["principal_arn"],
            "arn:aws:iam::123456789012:user/alice"
        );
        assert_eq!(line["account"], "123456789012");
        assert_eq!(line["principal_id"], "AIDAEXAMPLEALICE");
        for field in [
            "user",
            "profile",
            "effect",
            "policy_source",
            "source_identity",
            "role_arn",
            "error",
        ] {
            assert!(line.get(field).is_some(), "missing field {field}");
        }
    }

    #[test]
    fn appends_to_an_existing_log() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("decisions.jsonl");
        DecisionLog::open(&path)
            .expect("open")
            .append(&record(1))
            .expect("first");
        DecisionLog::open(&path)
            .expect("reopen")
            .append(&record(2))
            .expect("second");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 2);
    }

    #[test]
    fn concurrent_writers_never_interleave() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("decisions.jsonl");
        let log = Arc::new(DecisionLog::open(&path).expect("open"));
        let threads: Vec<_> = (0..8)
            .map(|thread| {
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    for i in 0..500 {
                        log.append(&record((thread << 32) | i)).expect("append");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("writer thread");
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let mut ids: Vec<String> = text
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).expect("whole line");
                value["request_id"].as_str().expect("id").to_owned()
            })
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 8 * 500);
    }

    #[test]
    fn an_unwritable_location_is_an_error() {
        let error = DecisionLog::open(Path::new("/proc/sentinel-cannot-write-here/log.jsonl"))
            .expect_err("cannot create under /proc");
        assert!(error.to_string().contains("cannot open decision log"));
    }

    #[test]
    fn only_a_regular_file_is_a_log() {
        let dir = tempfile::tempdir().expect("temp dir");
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        for (path, kind) in [
            (Path::new("/dev/null"), "a character device"),
            (Path::new("/dev/full"), "a character device"),
            (fifo.as_path(), "a named pipe"),
            (dir.path(), "a directory"),
        ] {
            match DecisionLog::open(path) {
                Err(error @ LogError::NotAFile { .. }) => {
                    let message = error.to_string();
                    assert!(message.contains(kind), "{}: {message}", path.display());
                }
                other => panic!("{} was not refused: {other:?}", path.display()),
            }
        }
        // A symbolic link to a regular file is that file.
        let target = dir.path().join("real.jsonl");
        std::fs::write(&target, "").expect("target");
        let link = dir.path().join("link.jsonl");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        DecisionLog::open(&link)
            .expect("a link to a file")
            .append(&record(1))
            .expect("append");
        assert_eq!(
            std::fs::read_to_string(&target)
                .expect("read")
                .lines()
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn a_durable_line_is_synced_before_append_durable_returns() {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = DecisionLog::open(&dir.path().join("decisions.jsonl")).expect("open");
        log.append(&record(1)).expect("plain");
        assert_eq!(log.stats().synced_lines, 0, "a plain append is not synced");
        log.append_durable(&record(2)).await.expect("durable");
        let stats = log.stats();
        assert_eq!((stats.lines, stats.synced_lines), (2, 1));
        assert!(stats.syncs >= 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_durable_lines_are_all_synced() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("decisions.jsonl");
        let log = Arc::new(DecisionLog::open(&path).expect("open"));
        let tasks: Vec<_> = (0..400u64)
            .map(|id| {
                let log = Arc::clone(&log);
                tokio::spawn(async move { log.append_durable(&record(id)).await })
            })
            .collect();
        for task in tasks {
            task.await.expect("task").expect("durable append");
        }
        let stats = log.stats();
        assert_eq!((stats.lines, stats.synced_lines), (400, 400));
        // Never more syncs than lines; how many fewer depends on the disk.
        assert!(stats.syncs <= 400, "{stats:?}");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 400);
    }

    #[tokio::test]
    async fn a_log_renamed_or_deleted_away_is_reopened_at_its_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("decisions.jsonl");
        let log = DecisionLog::open(&path).expect("open");
        log.append(&record(1)).expect("first");
        let rotated = dir.path().join("decisions.jsonl.1");
        std::fs::rename(&path, &rotated).expect("rotate");
        log.append_durable(&record(2))
            .await
            .expect("after the rename");
        std::fs::remove_file(&path).expect("delete");
        log.append(&record(3)).expect("after the deletion");
        let ids = |path: &Path| -> Vec<String> {
            std::fs::read_to_string(path)
                .expect("read")
                .lines()
                .map(|line| {
                    let value: serde_json::Value = serde_json::from_str(line).expect("JSON");
                    value["request_id"].as_str().expect("id").to_owned()
                })
                .collect()
        };
        assert_eq!(ids(&rotated), ["0000000000000001"]);
        assert_eq!(ids(&path), ["0000000000000003"]);
        let stats = log.stats();
        assert_eq!((stats.reopened, stats.synced_lines), (2, 1));
        let mode = std::fs::metadata(&path).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_log_that_cannot_be_reopened_refuses_the_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("decisions.jsonl");
        let log = DecisionLog::open(&path).expect("open");
        std::fs::remove_file(&path).expect("delete");
        std::fs::create_dir(&path).expect("a directory where the log was");
        let error = log.append(&record(1)).expect_err("refused");
        assert!(matches!(error, LogError::NotAFile { .. }), "{error:?}");
    }
}
