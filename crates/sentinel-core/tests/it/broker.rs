//! The broker's fail-closed rules, each as a test: only an `allow` that was logged
//! first, and an issuer that answered in time, yield credentials; everything else refuses, says
//! why, and leaves a decision line behind.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use sentinel_core::broker::{Broker, Profile, Request};
use sentinel_core::caller::{Caller, IdentityRule};
use sentinel_core::decision_log::DecisionLog;
use sentinel_core::identity::SourceIdentity;
use sentinel_core::issuer::{Credentials, IssueRequest, Issuer, IssuerError, LocalIssuer};
use sentinel_core::refusal::Refusal;
use sentinel_core::source::FileSource;

const POLICY: &str = r#"
version: "1"
rules:
  - name: deny-bob
    effect: deny
    conditions: { users: [bob] }
    reason: bob is read-only
  - name: break-glass
    effect: require_approval
    conditions: { profiles: [break-glass] }
    reason: page the on-call lead
  - name: allow-engineers
    effect: allow
    conditions: { profiles: [production, break-glass] }
"#;

/// An issuer that counts its calls, notes how many decision-log lines were on disk when it was
/// called, and behaves as told.
struct Probe {
    calls: AtomicUsize,
    log: Arc<DecisionLog>,
    synced_when_called: AtomicU64,
    behaviour: Behaviour,
    /// What a [`Behaviour::Held`] issuer waits for before it answers.
    release: tokio::sync::Semaphore,
}

enum Behaviour {
    Issue,
    Fail,
    Hang,
    /// Answers once the test releases it.
    Held,
}

#[async_trait::async_trait]
impl Issuer for Probe {
    async fn issue(&self, request: &IssueRequest<'_>) -> Result<Credentials, IssuerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.synced_when_called
            .store(self.log.stats().synced_lines, Ordering::SeqCst);
        match self.behaviour {
            Behaviour::Issue => LocalIssuer.issue(request).await,
            Behaviour::Fail => Err(IssuerError::new("STS said no")),
            Behaviour::Hang => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                LocalIssuer.issue(request).await
            }
            Behaviour::Held => {
                let _released = self.release.acquire().await.expect("never closed");
                LocalIssuer.issue(request).await
            }
        }
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    log_path: PathBuf,
    broker: Broker,
    issuer: Arc<Probe>,
}

fn fixture_with(policy: &str, behaviour: Behaviour) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy_path = dir.path().join("policy.yaml");
    std::fs::write(&policy_path, policy).expect("write policy");
    let log_path = dir.path().join("decisions.jsonl");
    let log = Arc::new(DecisionLog::open(&log_path).expect("open log"));
    let issuer = Arc::new(Probe {
        calls: AtomicUsize::new(0),
        log: Arc::clone(&log),
        synced_when_called: AtomicU64::new(0),
        behaviour,
        release: tokio::sync::Semaphore::new(0),
    });
    let broker = Broker::new(
        Arc::new(FileSource::file(policy_path)),
        log,
        issuer.clone(),
        Duration::from_millis(200),
    );
    Fixture {
        _dir: dir,
        log_path,
        broker,
        issuer,
    }
}

fn fixture(behaviour: Behaviour) -> Fixture {
    fixture_with(POLICY, behaviour)
}

fn profile(name: &str) -> Profile {
    Profile {
        name: name.to_owned(),
        policy_key: name.to_owned(),
        role_arn: "arn:aws:iam::123456789012:role/demo".to_owned(),
        session_duration: Duration::from_secs(900),
        external_id: None,
    }
}

/// IAM user `name` of the profiles' account.
fn iam_user(name: &str) -> Caller {
    Caller {
        arn: format!("arn:aws:iam::123456789012:user/{name}"),
        account: "123456789012".to_owned(),
        user_id: format!("AIDA{}", name.to_uppercase()),
    }
}

impl Fixture {
    async fn issue(
        &self,
        user: &str,
        profile_name: &str,
    ) -> Result<sentinel_core::broker::Grant, Refusal> {
        self.issue_as(&iam_user(user), profile_name).await
    }

    async fn issue_as(
        &self,
        caller: &Caller,
        profile_name: &str,
    ) -> Result<sentinel_core::broker::Grant, Refusal> {
        let profile = profile(profile_name);
        self.broker
            .issue(Request {
                caller,
                profile: &profile,
                at: Timestamp::now(),
                break_glass: None,
            })
            .await
    }

    fn lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log_path)
            .expect("read log")
            .lines()
            .map(|line| serde_json::from_str(line).expect("whole JSON line"))
            .collect()
    }

    fn issuer_calls(&self) -> usize {
        self.issuer.calls.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn allow_issues_after_logging_the_decision_then_logs_the_outcome() {
    let fixture = fixture(Behaviour::Issue);
    let grant = fixture.issue("alice", "production").await.expect("allowed");
    assert_eq!(fixture.issuer_calls(), 1);
    let (user, request_id) = SourceIdentity::parse(grant.source_identity.as_str()).expect("parses");
    assert_eq!((user, request_id), ("alice", grant.request_id));

    let lines = fixture.lines();
    assert_eq!(lines.len(), 2);
    let (decision, outcome) = (&lines[0], &lines[1]);
    assert_eq!(decision["event"], "decision");
    assert_eq!(decision["effect"], "allow");
    assert_eq!(decision["rule"], "allow-engineers");
    assert_eq!(decision["rule_index"], 2);
    assert_eq!(decision["outcome"], "pending");
    assert_eq!(outcome["event"], "outcome");
    assert_eq!(outcome["outcome"], "issued");
    for line in &lines {
        assert_eq!(line["user"], "alice");
        assert_eq!(
            line["principal_arn"],
            "arn:aws:iam::123456789012:user/alice"
        );
        assert_eq!(line["account"], "123456789012");
        assert_eq!(line["request_id"], grant.request_id.to_string());
        assert_eq!(line["source_identity"], grant.source_identity.as_str());
        assert_eq!(line["role_arn"], "arn:aws:iam::123456789012:role/demo");
        assert_eq!(line["session_duration_s"], 900);
        assert!(
            line["policy_source"]
                .as_str()
                .expect("source")
                .starts_with("file:")
        );
    }
    let text = std::fs::read_to_string(&fixture.log_path).expect("log");
    assert!(
        !text.contains(&grant.credentials.secret_access_key),
        "a secret reached the log"
    );
    assert!(
        !text.contains(&grant.credentials.session_token),
        "a token reached the log"
    );
}

#[tokio::test]
async fn a_session_name_the_caller_chose_is_no_user_and_the_line_says_why() {
    let fixture = fixture(Behaviour::Issue);
    let arn = "arn:aws:sts::123456789012:assumed-role/dev/alice";
    let chosen = Caller {
        arn: arn.to_owned(),
        account: "123456789012".to_owned(),
        user_id: "AROAEXAMPLE:alice".to_owned(),
    };
    let refusal = fixture
        .issue_as(&chosen, "production")
        .await
        .expect_err("refused");
    assert!(
        matches!(&refusal, Refusal::Principal(refused) if refused.rule == IdentityRule::SessionNameRoles),
        "{refusal:?}"
    );
    assert_eq!(refusal.kind(), "principal_refused");
    assert!(refusal.is_policy_decision());
    assert_eq!(fixture.issuer_calls(), 0);
    let lines = fixture.lines();
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!(line["effect"], "deny");
    assert_eq!(line["rule"], serde_json::Value::Null);
    assert_eq!(line["user"], serde_json::Value::Null);
    assert_eq!(line["source_identity"], serde_json::Value::Null);
    assert_eq!(line["outcome"], "denied");
    assert_eq!(line["principal_arn"], arn);
    assert_eq!(line["account"], "123456789012");
    let reason = line["reason"].as_str().expect("a reason");
    assert!(
        reason.contains(arn) && reason.contains("identity.session_name_roles"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_principal_of_another_account_is_no_user_even_with_a_listed_name() {
    let fixture = fixture(Behaviour::Issue);
    let foreign = Caller {
        arn: "arn:aws:iam::999999999999:user/alice".to_owned(),
        account: "999999999999".to_owned(),
        user_id: "AIDAFOREIGNALICE".to_owned(),
    };
    let refusal = fixture
        .issue_as(&foreign, "production")
        .await
        .expect_err("refused");
    assert!(
        matches!(&refusal, Refusal::Principal(refused) if refused.rule == IdentityRule::Accounts),
        "{refusal:?}"
    );
    assert_eq!(fixture.issuer_calls(), 0);
    assert_eq!(fixture.lines()[0]["account"], "999999999999");
}

#[tokio::test]
async fn a_deny_rule_refuses_without_calling_the_issuer() {
    let fixture = fixture(Behaviour::Issue);
    let refusal = fixture
        .issue("bob", "production")
        .await
        .expect_err("denied");
    assert!(
        matches!(&refusal, Refusal::Denied { rule: Some(rule), reason: Some(reason) }
            if rule == "deny-bob" && reason == "bob is read-only"),
        "{refusal:?}"
    );
    assert_eq!(
        refusal.to_string(),
        "denied by rule deny-bob: bob is read-only"
    );
    assert_eq!(fixture.issuer_calls(), 0);
    let lines = fixture.lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["effect"], "deny");
    assert_eq!(lines[0]["outcome"], "denied");
}

#[tokio::test]
async fn no_matching_rule_is_a_default_deny() {
    let fixture = fixture(Behaviour::Issue);
    let refusal = fixture.issue("alice", "staging").await.expect_err("denied");
    assert!(
        matches!(refusal, Refusal::Denied { rule: None, .. }),
        "{refusal:?}"
    );
    assert_eq!(fixture.issuer_calls(), 0);
    assert_eq!(fixture.lines()[0]["rule"], serde_json::Value::Null);
}

#[tokio::test]
async fn require_approval_is_a_denial() {
    let fixture = fixture(Behaviour::Issue);
    let refusal = fixture
        .issue("alice", "break-glass")
        .await
        .expect_err("not issued");
    assert!(matches!(&refusal, Refusal::ApprovalRequired { rule, .. } if rule == "break-glass"));
    assert!(refusal.to_string().contains("approval required"));
    assert_eq!(fixture.issuer_calls(), 0);
    let lines = fixture.lines();
    assert_eq!(lines[0]["effect"], "require_approval");
    assert_eq!(lines[0]["outcome"], "denied");
}

#[tokio::test]
async fn an_invalid_policy_denies_everyone() {
    let fixture = fixture_with(
        "version: \"1\"\nrules:\n  - name: x\n    effect: allow\n    colour: blue\n",
        Behaviour::Issue,
    );
    let refusal = fixture
        .issue("alice", "production")
        .await
        .expect_err("denied");
    assert!(matches!(refusal, Refusal::Policy(_)), "{refusal:?}");
    assert!(refusal.to_string().contains("invalid"), "{refusal}");
    assert_eq!(fixture.issuer_calls(), 0);
    let lines = fixture.lines();
    assert_eq!(lines[0]["effect"], "deny");
    assert_eq!(lines[0]["reason"], "policy unavailable");
    assert!(
        lines[0]["error"]
            .as_str()
            .expect("error")
            .contains("invalid")
    );
}

#[tokio::test]
async fn a_missing_policy_denies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("log.jsonl");
    let broker = Broker::new(
        Arc::new(FileSource::file(dir.path().join("absent.yaml"))),
        Arc::new(DecisionLog::open(&log).expect("log")),
        Arc::new(LocalIssuer),
        Duration::from_secs(1),
    );
    let profile = profile("production");
    let refusal = broker
        .issue(Request {
            caller: &iam_user("alice"),
            profile: &profile,
            at: Timestamp::now(),
            break_glass: None,
        })
        .await
        .expect_err("denied");
    assert!(matches!(refusal, Refusal::Policy(_)), "{refusal:?}");
    assert!(refusal.to_string().contains("absent.yaml"), "{refusal}");
}

#[tokio::test]
async fn an_issuer_error_gives_no_credentials_and_is_logged() {
    let fixture = fixture(Behaviour::Fail);
    let refusal = fixture
        .issue("alice", "production")
        .await
        .expect_err("failed");
    assert!(matches!(refusal, Refusal::Issuer(_)), "{refusal:?}");
    let lines = fixture.lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["outcome"], "error");
    assert!(
        lines[1]["error"]
            .as_str()
            .expect("error")
            .contains("STS said no")
    );
}

#[tokio::test]
async fn an_issuer_slower_than_the_timeout_gives_no_credentials() {
    let fixture = fixture(Behaviour::Hang);
    let refusal = fixture
        .issue("alice", "production")
        .await
        .expect_err("timed out");
    assert!(matches!(refusal, Refusal::IssuerTimeout(_)), "{refusal:?}");
    assert_eq!(fixture.lines()[1]["outcome"], "error");
}

#[tokio::test]
async fn a_caller_that_goes_away_still_leaves_the_outcome_in_the_log() {
    let fixture = fixture(Behaviour::Held);
    {
        // The caller gives up once the issuer has been asked, and before it answers.
        let issuing = fixture.issue("alice", "production");
        tokio::pin!(issuing);
        while fixture.issuer_calls() == 0 {
            tokio::select! {
                _ = &mut issuing => panic!("the held issuer answered"),
                () = tokio::task::yield_now() => {}
            }
        }
    }
    fixture.issuer.release.add_permits(1);
    let mut lines = fixture.lines();
    for _ in 0..100 {
        if lines.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        lines = fixture.lines();
    }
    assert_eq!(lines.len(), 2, "decision and outcome: {lines:?}");
    assert_eq!(lines[0]["outcome"], "pending");
    assert_eq!(lines[1]["outcome"], "issued");
    assert_eq!(lines[0]["request_id"], lines[1]["request_id"]);
    assert_eq!(fixture.issuer_calls(), 1);
}

#[tokio::test]
async fn the_allowed_decision_is_on_disk_before_the_issuer_is_called() {
    let fixture = fixture(Behaviour::Issue);
    fixture
        .issue("bob", "production")
        .await
        .expect_err("denied");
    fixture.issue("alice", "production").await.expect("allowed");
    // The deny's line is written, not synced; the allow's line was synced before the issuer
    // ran, as the log itself counts it.
    assert_eq!(fixture.issuer.synced_when_called.load(Ordering::SeqCst), 1);
    assert_eq!(fixture.broker.decision_log().stats().lines, 3);
}

#[tokio::test]
async fn a_decision_log_that_cannot_be_written_denies_before_the_issuer_is_called() {
    let fixture = fixture(Behaviour::Issue);
    // The log is rotated away and a directory takes its place, so it cannot be reopened.
    std::fs::remove_file(&fixture.log_path).ok();
    std::fs::create_dir(&fixture.log_path).expect("a directory at the log's path");
    let refusal = fixture
        .issue("alice", "production")
        .await
        .expect_err("denied");
    assert!(matches!(refusal, Refusal::Log(_)), "{refusal:?}");
    assert!(
        refusal.to_string().contains("not a regular file"),
        "{refusal}"
    );
    assert_eq!(fixture.issuer_calls(), 0);
}

#[tokio::test]
async fn a_user_that_cannot_form_a_source_identity_is_refused() {
    let fixture = fixture(Behaviour::Issue);
    for user in [
        "alice:admin",
        "a-user-name-that-is-far-too-long-for-sts-to-accept",
    ] {
        let refusal = fixture
            .issue(user, "production")
            .await
            .expect_err("refused");
        assert!(
            matches!(refusal, Refusal::Identity(_)),
            "{user}: {refusal:?}"
        );
    }
    assert_eq!(fixture.issuer_calls(), 0);
    let lines = fixture.lines();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|line| line["outcome"] == "denied"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_issuances_log_one_decision_per_request() {
    let fixture = Arc::new(fixture(Behaviour::Issue));
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let fixture = Arc::clone(&fixture);
            tokio::spawn(async move {
                let user = if i % 4 == 0 { "bob" } else { "alice" };
                fixture.issue(user, "production").await.is_ok()
            })
        })
        .collect();
    let mut issued = 0;
    for task in tasks {
        issued += usize::from(task.await.expect("task"));
    }
    assert_eq!(issued, 150);
    let lines = fixture.lines();
    let decisions: Vec<_> = lines.iter().filter(|l| l["event"] == "decision").collect();
    assert_eq!(decisions.len(), 200);
    let mut ids: Vec<_> = decisions
        .iter()
        .map(|l| l["request_id"].to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200, "request IDs repeat");
    assert_eq!(lines.len(), 200 + 150);
}
