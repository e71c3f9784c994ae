//! `sentinel credentials` and `sentinel exec` end to end against the moto emulator: real IAM
//! users as callers, real STS calls, and real clients (boto3, the AWS CLI, the Rust SDK's
//! credential-process provider) reading what Sentinel prints.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sentinel_testkit::{AwsHome, Moto};

use crate::bin::{SENTINEL, text};

const ROLE: &str = "arn:aws:iam::123456789012:role/prod";

const POLICY: &str = r#"
version: "1"
rules:
  - name: deny-bob-production
    effect: deny
    conditions: { users: [bob], profiles: [production] }
    reason: bob is read-only in production
  - name: break-glass
    effect: require_approval
    conditions: { profiles: [break-glass] }
  - name: allow-production
    effect: allow
    conditions: { profiles: [production, break-glass] }
"#;

/// A temporary AWS setup: config and credentials files, a policy file, a decision log.
struct Setup {
    moto: Moto,
    home: AwsHome,
}

impl Setup {
    /// IAM users `users` in moto; each gets a `<user>-base` profile with its keys, and
    /// `production` / `break-glass` assume-role profiles sourced from the first one.
    fn new(users: &[&str]) -> Setup {
        let moto = Moto::connect();
        let home = moto.home();
        home.write("policy.yaml", POLICY);
        let credentials: String = users
            .iter()
            .map(|user| {
                AwsHome::credentials_section(&format!("{user}-base"), &moto.create_user(user))
            })
            .collect();
        home.write("credentials", &credentials);
        let policy = home.path("policy.yaml");
        let user = users[0];
        home.write(
            "config",
            &format!(
                "[profile production]\nrole_arn = {ROLE}\nsource_profile = {user}-base\nregion = us-east-1\n\
                 duration_seconds = 900\nsentinel_policy = {policy}\n\n\
                 [profile break-glass]\nrole_arn = {ROLE}\nsource_profile = {user}-base\nregion = us-east-1\n\
                 sentinel_policy = {policy}\n\n\
                 [profile app]\ncredential_process = {SENTINEL} credentials --profile production\nregion = us-east-1\n",
                policy = policy.display()
            ),
        );
        Setup { moto, home }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.home.path(name)
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        self.home.command(program)
    }

    fn sentinel(&self, args: &[&str]) -> Output {
        self.command(SENTINEL)
            .args(args)
            .output()
            .expect("run sentinel")
    }

    fn log_lines(&self) -> Vec<serde_json::Value> {
        self.home.log_lines()
    }

    fn assume_role_calls(&self) -> Vec<std::collections::HashMap<String, String>> {
        self.moto.recorded_calls("AssumeRole")
    }
}

/// STS's rule for SourceIdentity and RoleSessionName.
fn sts_accepts(value: &str) -> bool {
    (2..=64).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

#[test]
fn allow_prints_credential_process_json_and_stamps_the_logged_source_identity() {
    let setup = Setup::new(&["alice"]);
    setup.moto.start_recording();
    let output = setup.sentinel(&["credentials", "--profile", "production"]);
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    assert_eq!(json["Version"], 1);
    for key in [
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
    ] {
        assert!(
            json[key].as_str().is_some_and(|v| !v.is_empty()),
            "missing {key}"
        );
    }
    let expiration = json["Expiration"].as_str().expect("expiration");
    assert!(
        expiration.parse::<jiff::Timestamp>().is_ok(),
        "{expiration} is not RFC 3339"
    );
    let secret = json["SecretAccessKey"].as_str().expect("secret");
    assert!(!text(&output.stderr).contains(secret), "secret on stderr");

    let calls = setup.assume_role_calls();
    assert_eq!(calls.len(), 1, "one AssumeRole call");
    let sent = &calls[0]["SourceIdentity"];
    assert!(sent.starts_with("sentinel.alice."), "{sent}");
    assert!(sts_accepts(sent), "{sent} breaks STS's rule");
    assert!(sts_accepts(&calls[0]["RoleSessionName"]));
    assert_eq!(calls[0]["RoleArn"], ROLE);
    assert_eq!(calls[0]["DurationSeconds"], "900");

    let lines = setup.log_lines();
    assert_eq!(lines.len(), 2, "decision and outcome");
    assert!(
        lines
            .iter()
            .all(|line| line["source_identity"] == sent.as_str())
    );
    assert_eq!(lines[0]["user"], "alice");
    assert_eq!(lines[1]["outcome"], "issued");
    let log = std::fs::read_to_string(setup.path("decisions.jsonl")).expect("log");
    assert!(!log.contains(secret), "secret in the decision log");
}

#[test]
fn deny_prints_nothing_on_stdout_names_the_rule_and_never_calls_assume_role() {
    let setup = Setup::new(&["bob"]);
    setup.moto.start_recording();
    let output = setup.sentinel(&["credentials", "--profile", "production"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("deny-bob-production"), "{stderr}");
    assert!(
        stderr.contains("bob is read-only in production"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(setup.assume_role_calls().is_empty());
    assert_eq!(setup.log_lines()[0]["effect"], "deny");
}

#[test]
fn boto3_and_the_aws_cli_get_the_assumed_role_through_credential_process() {
    let setup = Setup::new(&["alice"]);
    let script = "import boto3; \
        print(boto3.Session(profile_name='app').client('sts').get_caller_identity()['Arn'])";
    let output = setup
        .command(setup.moto.python())
        .args(["-c", script])
        .output()
        .expect("python");
    assert!(output.status.success(), "boto3: {}", text(&output.stderr));
    let arn = text(&output.stdout);
    assert!(
        arn.trim()
            .starts_with("arn:aws:sts::123456789012:assumed-role/prod/sentinel.alice."),
        "{arn}"
    );

    let aws = Path::new(setup.moto.python()).with_file_name("aws");
    let output = setup
        .command(aws)
        .args([
            "sts",
            "get-caller-identity",
            "--profile",
            "app",
            "--output",
            "text",
            "--query",
            "Arn",
        ])
        .output()
        .expect("aws cli");
    assert!(output.status.success(), "aws cli: {}", text(&output.stderr));
    assert!(text(&output.stdout).contains("assumed-role/prod/sentinel.alice."));
}

#[tokio::test]
async fn the_rust_sdk_credential_process_provider_gets_the_assumed_role() {
    use aws_credential_types::provider::ProvideCredentials;
    let setup = Setup::new(&["alice"]);
    // The provider runs the command through `sh -c` in this process's environment.
    let command = setup.command(SENTINEL);
    let env: Vec<String> = command
        .get_envs()
        .filter_map(|(key, value)| Some(format!("{}='{}'", key.to_str()?, value?.to_str()?)))
        .collect();
    let line = format!(
        "env -i {} {SENTINEL} credentials --profile production",
        env.join(" ")
    );
    let provider = aws_config::credential_process::CredentialProcessProvider::new(line);
    let credentials = provider.provide_credentials().await.expect("credentials");
    let config = setup.moto.sdk_config_with(credentials).await;
    let identity = aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .expect("caller identity");
    let arn = identity.arn().expect("arn");
    assert!(arn.contains("assumed-role/prod/sentinel.alice."), "{arn}");
}

#[test]
fn exec_runs_the_command_with_credentials_and_its_exit_code() {
    let setup = Setup::new(&["alice"]);
    let script = "import os, sys; \
        names = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_CREDENTIAL_EXPIRATION']; \
        assert all(os.environ.get(n) for n in names), os.environ; \
        foreign = ['AWS_PROFILE', 'AWS_SECURITY_TOKEN', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_WEB_IDENTITY_TOKEN_FILE']; \
        assert not [n for n in foreign if n in os.environ], os.environ; \
        import boto3; print(boto3.client('sts').get_caller_identity()['Arn']); sys.exit(7)";
    let output = setup
        .command(SENTINEL)
        .env("AWS_PROFILE", "app")
        .env("AWS_SECURITY_TOKEN", "a-stale-token")
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "http://127.0.0.1:9/elsewhere",
        )
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token")
        .args([
            "exec",
            "--profile",
            "production",
            "--",
            setup.moto.python(),
            "-c",
            script,
        ])
        .output()
        .expect("run sentinel exec");
    assert_eq!(
        output.status.code(),
        Some(7),
        "stderr: {}",
        text(&output.stderr)
    );
    assert!(text(&output.stdout).contains("assumed-role/prod/sentinel.alice."));
}

#[test]
fn exec_never_runs_the_command_on_deny() {
    let setup = Setup::new(&["bob"]);
    let marker = setup.path("ran");
    let output = setup.sentinel(&[
        "exec",
        "--profile",
        "production",
        "--",
        "touch",
        marker.to_str().expect("utf-8"),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(!marker.exists(), "the command ran despite the deny");
    assert!(text(&output.stderr).contains("deny-bob-production"));
}

/// Each fail-closed case: exit 1, nothing on stdout, and a reason on stderr.
fn assert_refused(output: &Output, reason: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert!(output.stdout.is_empty(), "stdout: {}", text(&output.stdout));
    assert!(stderr.contains(reason), "expected {reason:?} in: {stderr}");
}

#[test]
fn fails_closed_when_the_policy_store_is_down() {
    let setup = Setup::new(&["alice"]);
    setup.moto.start_recording();
    let dead = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!("http://{}", dead.local_addr().expect("addr"));
    drop(dead);
    let output = setup
        .command(SENTINEL)
        .env("AWS_ENDPOINT_URL_SSM", dead_url)
        .args([
            "credentials",
            "--profile",
            "production",
            "--policy",
            "ssm:/sentinel/policies/production",
        ])
        .output()
        .expect("run");
    assert_refused(&output, "/sentinel/policies/production");
    assert!(setup.assume_role_calls().is_empty());
}

#[test]
fn fails_closed_on_an_invalid_policy() {
    let setup = Setup::new(&["alice"]);
    std::fs::write(
        setup.path("policy.yaml"),
        "version: \"1\"\nrules:\n  - name: x\n    effect: maybe\n",
    )
    .expect("write");
    let output = setup.sentinel(&["credentials", "--profile", "production"]);
    assert_refused(&output, "invalid");
}

#[test]
fn fails_closed_when_sts_is_down() {
    let setup = Setup::new(&["alice"]);
    let dead = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!("http://{}", dead.local_addr().expect("addr"));
    drop(dead);
    let output = setup
        .command(SENTINEL)
        .env("AWS_ENDPOINT_URL_STS", dead_url)
        .args(["credentials", "--profile", "production"])
        .output()
        .expect("run");
    assert_refused(&output, "STS");
}

#[test]
fn fails_closed_when_sts_is_slower_than_the_timeout() {
    let setup = Setup::new(&["alice"]);
    // Accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_url = format!("http://{}", silent.local_addr().expect("addr"));
    let started = std::time::Instant::now();
    let output = setup
        .command(SENTINEL)
        .env("AWS_ENDPOINT_URL_STS", silent_url)
        .args([
            "credentials",
            "--profile",
            "production",
            "--sts-timeout",
            "1s",
        ])
        .output()
        .expect("run");
    assert_refused(&output, "did not answer within 1s");
    assert!(
        started.elapsed().as_secs() < 8,
        "the timeout was not enforced"
    );
    drop(silent);
}

#[test]
fn a_decision_log_that_would_not_keep_decisions_is_refused_before_any_aws_call() {
    let setup = Setup::new(&["alice"]);
    setup.moto.start_recording();
    let before = setup.moto.recording().len();
    for path in ["/dev/null", "/dev/full"] {
        let output = setup.sentinel(&[
            "credentials",
            "--profile",
            "production",
            "--decision-log",
            path,
        ]);
        assert_refused(
            &output,
            &format!("decision log {path} is a character device"),
        );
    }
    let output = setup.sentinel(&[
        "credentials",
        "--profile",
        "production",
        "--decision-log",
        "-",
    ]);
    assert_refused(&output, "standard output carries the credentials");
    assert_eq!(setup.moto.recording().len(), before, "AWS was called");
}

#[test]
fn exec_can_write_the_decision_log_to_standard_output() {
    let setup = Setup::new(&["alice"]);
    let output = setup.sentinel(&[
        "exec",
        "--profile",
        "production",
        "--decision-log",
        "-",
        "--",
        "echo",
        "ran",
    ]);
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    let decision: serde_json::Value = serde_json::from_str(lines[0]).expect("a JSON line");
    let outcome: serde_json::Value = serde_json::from_str(lines[1]).expect("a JSON line");
    assert_eq!(
        (&decision["event"], &decision["effect"]),
        (&"decision".into(), &"allow".into())
    );
    assert_eq!(outcome["outcome"], "issued");
    assert_eq!(lines[2], "ran");
    assert!(
        !setup.path("decisions.jsonl").exists(),
        "the default log was written too"
    );
}

#[test]
fn require_approval_gives_no_credentials() {
    let setup = Setup::new(&["alice"]);
    let output = setup.sentinel(&["credentials", "--profile", "break-glass"]);
    assert_refused(&output, "approval required");
}

#[test]
fn an_unknown_profile_gives_no_credentials() {
    let setup = Setup::new(&["alice"]);
    let output = setup.sentinel(&["credentials", "--profile", "nope"]);
    assert_refused(&output, "\"nope\" is not in the AWS config file");
}

#[test]
fn a_user_name_that_cannot_form_a_source_identity_is_refused() {
    // IAM accepts 64-character user names; the SourceIdentity has room for 38.
    let long_user = "a-very-long-iam-user-name-for-sts-to-carry";
    let setup = Setup::new(&[long_user]);
    setup.moto.start_recording();
    let output = setup.sentinel(&["credentials", "--profile", "production"]);
    assert_refused(&output, long_user);
    assert!(setup.assume_role_calls().is_empty());
}

/// Replaces the base credentials of the setup's profiles with a session of `role` named
/// `session_name`, assumed by the setup's first user: the caller becomes
/// `assumed-role/<role>/<session_name>`.
fn become_role_session(setup: &Setup, user: &str, role: &str, session_name: &str) {
    let key = setup.moto.create_user(&format!("{user}-keys"));
    let role_arn = format!("arn:aws:iam::123456789012:role/{role}");
    let session = setup.moto.assume_role(&key, &role_arn, session_name);
    setup.home.write(
        "credentials",
        &AwsHome::credentials_section(&format!("{user}-base"), &session),
    );
}

#[test]
fn a_session_named_alice_of_an_ordinary_role_is_refused_and_the_log_says_why() {
    let setup = Setup::new(&["mallory"]);
    // Anyone who may assume a role can name the session as they like.
    setup.moto.start_recording();
    become_role_session(&setup, "mallory", "dev", "alice");
    let before = setup.assume_role_calls().len();
    let output = setup.sentinel(&["credentials", "--profile", "production"]);
    let arn = "arn:aws:sts::123456789012:assumed-role/dev/alice";
    assert_refused(&output, arn);
    assert!(text(&output.stderr).contains("identity.session_name_roles"));
    assert_eq!(setup.assume_role_calls().len(), before, "STS issued anyway");

    let lines = setup.log_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line = &lines[0];
    assert_eq!(line["effect"], "deny");
    assert_eq!(line["rule"], serde_json::Value::Null);
    assert_eq!(line["user"], serde_json::Value::Null);
    assert_eq!(line["principal_arn"], arn);
    assert_eq!(line["account"], "123456789012");
    let principal_id = line["principal_id"].as_str().expect("principal_id");
    assert!(
        principal_id.starts_with("AROA") && principal_id.ends_with(":alice"),
        "the role's unique ID and the session: {principal_id}"
    );
    let reason = line["reason"].as_str().expect("reason");
    assert!(
        reason.contains(arn) && reason.contains("identity.session_name_roles"),
        "{reason}"
    );
}

#[test]
fn an_identity_center_session_is_its_user() {
    let setup = Setup::new(&["sso-admin"]);
    become_role_session(
        &setup,
        "sso-admin",
        "AWSReservedSSO_Engineers_0123456789abcdef",
        "alice",
    );
    let output = setup.sentinel(&["credentials", "--profile", "production"]);
    assert!(output.status.success(), "stderr: {}", text(&output.stderr));
    let lines = setup.log_lines();
    assert_eq!(lines[0]["user"], "alice");
    assert_eq!(
        lines[0]["principal_arn"],
        "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Engineers_0123456789abcdef/alice"
    );
    assert!(
        lines[0]["source_identity"]
            .as_str()
            .expect("identity")
            .starts_with("sentinel.alice.")
    );
}
