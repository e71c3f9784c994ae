//! The decision log: what was decided for every request and what came of it, one JSON object per
//! line. It is the audit trail that a CloudTrail event's `SourceIdentity` points back to, so the
//! broker writes each decision here before it asks for credentials, and denies if it cannot.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use std::sync::Arc;

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
    /// A line could not be written whole.
    #[error("cannot write to decision log {path}: {cause}")]
    Write {
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
}

fn display<S: Serializer>(value: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

fn shared_text<S: Serializer>(value: &Option<Arc<str>>, serializer: S) -> Result<S::Ok, S::Error> {
    value.as_deref().serialize(serializer)
}

/// An append-only JSON Lines file, safe to share between threads and processes.
///
/// Each line is written whole, under a lock, to a file opened with `O_APPEND` (one `write` for
/// a line of this size), so lines from concurrent requests and concurrent `sentinel` processes
/// never interleave, and `append` returns only once the line is written. A write that fails
/// part-way ends its fragment with a line break, so no later record is glued to it. Lines are
/// not `fsync`ed.
#[derive(Debug)]
pub struct DecisionLog {
    file: Mutex<File>,
    path: PathBuf,
}

impl DecisionLog {
    /// Opens (creating with mode 0600, and its directory with 0700) the log at `path`.
    pub fn open(path: &Path) -> Result<DecisionLog, LogError> {
        let open_error = |cause| LogError::Open {
            path: path.to_owned(),
            cause,
        };
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(open_error)?;
        }
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(open_error)?;
        Ok(DecisionLog {
            file: Mutex::new(file),
            path: path.to_owned(),
        })
    }

    /// The file this log writes to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one record as one whole line.
    pub fn append(&self, record: &LogRecord) -> Result<(), LogError> {
        let mut line =
            serde_json::to_vec(record).map_err(|error| self.write_error(error.into()))?;
        line.push(b'\n');
        // A poisoned lock only means another writer panicked; the file itself is still whole.
        let mut file = self
            .file
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let mut written = 0;
        while written < line.len() {
            match file.write(&line[written..]) {
                Ok(0) => return Err(self.write_error(ErrorKind::WriteZero.into())),
                Ok(n) => written += n,
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => {
                    if written > 0 {
                        // End the fragment, so the next record starts on a line of its own
                        // (best effort: the same failure may stop this too).
                        let _ = file.write_all(b"\n");
                    }
                    return Err(self.write_error(error));
                }
            }
        }
        Ok(())
    }

    fn write_error(&self, cause: std::io::Error) -> LogError {
        LogError::Write {
            path: self.path.clone(),
            cause,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    fn record(request_id: u64) -> LogRecord {
        let request_id = RequestId::from_u64(request_id);
        LogRecord {
            timestamp: Timestamp::from_second(1_700_000_000).expect("valid instant"),
            event: Event::Decision,
            request_id,
            user: Some("alice".into()),
            principal_arn: "arn:aws:iam::123456789012:user/alice".into(),
            account: "123456789012".into(),
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
}
