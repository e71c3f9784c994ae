//! `sentinel serve` and `sentinel exec --server` end to end against the moto emulator: real
//! clients (boto3, the Rust SDK's container-credentials provider) that know nothing but the two
//! environment variables get the assumed role and call STS with it; a deny reaches them as a
//! credential error; a shutdown under load loses no decision-log line.

use std::process::Stdio;
use std::time::Duration;

use aws_credential_types::provider::ProvideCredentials;
use serve_support::{Setup, count};

use crate::serve_support;

use crate::bin::{SENTINEL, text};

const CALLER_ARN: &str = "import boto3; print(boto3.client('sts').get_caller_identity()['Arn'])";

/// A boto3 script that prints the error and exits 3 when it gets no credentials.
const EXPECT_NO_CREDENTIALS: &str = "import sys, boto3\n\
    try:\n    boto3.client('sts').get_caller_identity()\n\
    except Exception as error:\n    print(type(error).__name__, error); sys.exit(3)\n";

#[test]
fn boto3_gets_the_assumed_role_from_the_server_and_every_fetch_is_logged() {
    let setup = Setup::new("alice");
    let server = setup.serve(&[]);
    let output = setup
        .client(setup.moto.python(), &server)
        .args(["-c", CALLER_ARN])
        .output()
        .expect("python");
    assert!(output.status.success(), "boto3: {}", text(&output.stderr));
    let arn = text(&output.stdout);
    assert!(
        arn.trim()
            .starts_with("arn:aws:sts::123456789012:assumed-role/prod/sentinel.alice."),
        "{arn}"
    );
    let token = server.token.clone();
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");
    assert!(
        !stderr.contains(&token),
        "the token in the server's log: {stderr}"
    );
    let log = std::fs::read_to_string(setup.path("decisions.jsonl")).expect("log");
    assert!(!log.contains(&token), "the token in the decision log");
    let lines = setup.log_lines();
    assert!(count(&lines, "outcome", "issued") >= 1, "{lines:?}");
    assert_eq!(
        count(&lines, "outcome", "pending"),
        count(&lines, "event", "outcome")
    );
}

#[test]
fn a_token_file_keeps_the_token_off_the_terminal_and_clients_read_it() {
    let setup = Setup::new("alice");
    let token_file = setup.path("token");
    std::fs::write(&token_file, "a-token-from-a-file-0123456789").expect("token file");
    std::fs::set_permissions(
        &token_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .expect("private token file");
    let server = setup.serve(&["--token-file", token_file.to_str().expect("utf-8")]);
    let shown = server.announced.join("\n");
    assert!(!shown.contains("a-token-from-a-file"), "{shown}");
    assert!(
        shown.contains("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE="),
        "{shown}"
    );
    let output = setup
        .client(setup.moto.python(), &server)
        .env_remove("AWS_CONTAINER_AUTHORIZATION_TOKEN")
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file)
        .args(["-c", CALLER_ARN])
        .output()
        .expect("python");
    assert!(output.status.success(), "boto3: {}", text(&output.stderr));
    assert!(text(&output.stdout).contains("assumed-role/prod/sentinel.alice."));
}

#[test]
#[allow(unsafe_code)]
fn the_rust_sdk_container_provider_gets_the_assumed_role() {
    let setup = Setup::new("alice");
    let server = setup.serve(&[]);
    // SAFETY: nextest runs each test in its own process, and no other thread exists yet.
    unsafe {
        std::env::set_var("AWS_CONTAINER_CREDENTIALS_FULL_URI", &server.url);
        std::env::set_var("AWS_CONTAINER_AUTHORIZATION_TOKEN", &server.token);
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let arn = runtime.block_on(async {
        let config = aws_config::provider_config::ProviderConfig::empty()
            .with_http_client(sentinel_aws::sdk::http_client());
        let provider = aws_config::ecs::EcsCredentialsProvider::builder()
            .configure(&config)
            .build();
        let credentials = provider.provide_credentials().await.expect("credentials");
        assert!(credentials.expiry().is_some(), "no expiration passed on");
        let config = setup.moto.sdk_config_with(credentials).await;
        let identity = aws_sdk_sts::Client::new(&config)
            .get_caller_identity()
            .send()
            .await
            .expect("caller identity");
        identity.arn().expect("arn").to_owned()
    });
    assert!(arn.contains("assumed-role/prod/sentinel.alice."), "{arn}");
}

#[test]
#[allow(unsafe_code)]
fn a_deny_reaches_boto3_and_the_rust_sdk_as_a_credential_error_naming_the_rule() {
    let setup = Setup::new("bob");
    let server = setup.serve(&[]);
    let output = setup
        .client(setup.moto.python(), &server)
        .args(["-c", EXPECT_NO_CREDENTIALS])
        .output()
        .expect("python");
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{stdout} {}",
        text(&output.stderr)
    );
    assert!(stdout.contains("deny-bob-production"), "{stdout}");

    // SAFETY: nextest runs each test in its own process, and no other thread exists yet.
    unsafe {
        std::env::set_var("AWS_CONTAINER_CREDENTIALS_FULL_URI", &server.url);
        std::env::set_var("AWS_CONTAINER_AUTHORIZATION_TOKEN", &server.token);
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let error = runtime.block_on(async {
        let config = aws_config::provider_config::ProviderConfig::empty()
            .with_http_client(sentinel_aws::sdk::http_client());
        aws_config::ecs::EcsCredentialsProvider::builder()
            .configure(&config)
            .build()
            .provide_credentials()
            .await
            .expect_err("denied")
    });
    let shown = format!("{error:?}");
    // The Rust SDK reports the status, not the body: a 4xx, so it does not retry.
    assert!(shown.contains("StatusCode(403)"), "{shown}");
    let lines = setup.log_lines();
    assert!(!lines.is_empty() && lines.iter().all(|line| line["effect"] == "deny"));
    assert_eq!(count(&lines, "outcome", "issued"), 0);
}

#[test]
fn exec_server_gives_the_command_a_server_not_keys() {
    let setup = Setup::new("alice");
    let script = "import os, sys\n\
        assert 'AWS_ACCESS_KEY_ID' not in os.environ, 'static keys leaked'\n\
        assert os.environ['AWS_CONTAINER_CREDENTIALS_FULL_URI'].startswith('http://127.0.0.1:')\n\
        import boto3\n\
        print(boto3.client('sts').get_caller_identity()['Arn']); sys.exit(7)\n";
    let output = setup
        .command(SENTINEL)
        .env("AWS_ACCESS_KEY_ID", "host-key-that-must-not-reach-cmd")
        .args(["exec", "--server", "--profile", "production", "--"])
        .args([setup.moto.python(), "-c", script])
        .output()
        .expect("run sentinel exec --server");
    assert_eq!(
        output.status.code(),
        Some(7),
        "stderr: {}",
        text(&output.stderr)
    );
    assert!(text(&output.stdout).contains("assumed-role/prod/sentinel.alice."));
    assert!(count(&setup.log_lines(), "outcome", "issued") >= 1);
}

#[test]
fn exec_server_never_gives_credentials_on_deny() {
    let setup = Setup::new("bob");
    let output = setup
        .command(SENTINEL)
        .args(["exec", "--server", "--profile", "production", "--"])
        .args([setup.moto.python(), "-c", EXPECT_NO_CREDENTIALS])
        .output()
        .expect("run sentinel exec --server");
    assert_eq!(
        output.status.code(),
        Some(3),
        "stderr: {}",
        text(&output.stderr)
    );
}

#[test]
fn a_shutdown_under_load_loses_no_decision_log_line() {
    let setup = Setup::new("alice");
    let server = setup.serve(&["--issuer", "local"]);
    let load = setup
        .command(SENTINEL)
        .args([
            "load",
            "--url",
            &server.url,
            "--header",
            &server.auth_header(),
        ])
        .args([
            "--rate",
            "500",
            "--duration",
            "4s",
            "--timeout",
            "5s",
            "--json",
            "--quiet",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sentinel load");
    std::thread::sleep(Duration::from_millis(1500));
    let (status, stderr) = server.terminate();
    assert!(
        status.success(),
        "the server did not stop cleanly: {stderr}"
    );
    assert!(stderr.contains("WARNING: --issuer local"), "{stderr}");
    let output = load.wait_with_output().expect("sentinel load");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("no report: {}", text(&output.stderr)));
    let ok = report["requests"]["ok"].as_u64().expect("ok count") as usize;
    assert!(ok > 100, "too few requests before the shutdown: {report}");

    let lines = setup.log_lines();
    let decisions = count(&lines, "event", "decision");
    let outcomes = count(&lines, "event", "outcome");
    assert_eq!(
        count(&lines, "outcome", "pending"),
        decisions,
        "every decision was an allow"
    );
    assert_eq!(outcomes, decisions, "a decision without its outcome line");
    assert_eq!(
        count(&lines, "outcome", "issued"),
        ok,
        "issued lines vs answered requests"
    );
}

/// Sends `signal` (a name `kill` knows) to `pid`.
fn send_signal(signal: &str, pid: u32) {
    let sent = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(sent.success(), "could not send {signal}");
}

/// Reads lines from `lines` until one equals `expected`; panics if the output ends first.
fn wait_for_line(lines: &mut impl Iterator<Item = std::io::Result<String>>, expected: &str) {
    for line in lines.by_ref() {
        if line.expect("a line from the command") == expected {
            return;
        }
    }
    panic!("the command's output ended before {expected:?}");
}

#[test]
fn exec_server_passes_signals_on_and_exits_with_the_commands_status() {
    use std::io::{BufRead, BufReader};
    let setup = Setup::new("alice");
    // A TERM trap that cleans up and exits 42, and traps that only report.
    let script = "trap 'echo got-usr1' USR1; trap 'echo got-hup' HUP; trap 'echo got-int' INT; \
                  trap 'echo cleaning-up; exit 42' TERM; echo ready; \
                  while :; do sleep 0.05; done";
    let mut sentinel = setup
        .command(SENTINEL)
        .args(["exec", "--server", "--profile", "production", "--"])
        .args(["sh", "-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sentinel exec --server");
    let pid = sentinel.id();
    let mut lines = BufReader::new(sentinel.stdout.take().expect("stdout")).lines();
    wait_for_line(&mut lines, "ready");
    for (signal, answer) in [("USR1", "got-usr1"), ("HUP", "got-hup"), ("INT", "got-int")] {
        send_signal(signal, pid);
        wait_for_line(&mut lines, answer);
    }
    send_signal("TERM", pid);
    wait_for_line(&mut lines, "cleaning-up");
    let status = sentinel.wait().expect("wait");
    assert_eq!(
        status.code(),
        Some(42),
        "Sentinel exits with the command's status"
    );
}

#[test]
fn exec_server_kills_a_command_that_ignores_termination_after_the_grace_period() {
    use std::io::{BufRead, BufReader};
    let setup = Setup::new("alice");
    let script = "trap '' TERM; echo ready; while :; do sleep 0.05; done";
    let mut sentinel = setup
        .command(SENTINEL)
        .args([
            "exec",
            "--server",
            "--kill-after",
            "300ms",
            "--profile",
            "production",
        ])
        .args(["--", "sh", "-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sentinel exec --server");
    let mut lines = BufReader::new(sentinel.stdout.take().expect("stdout")).lines();
    wait_for_line(&mut lines, "ready");
    send_signal("TERM", sentinel.id());
    let output = sentinel.wait_with_output().expect("wait");
    // 128 + SIGKILL.
    assert_eq!(output.status.code(), Some(137));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("did not exit within 300ms"), "{stderr}");
}

/// A `credential_process` answer holding `key`, expiring in two minutes: soon enough that
/// Sentinel fetches it again for every request.
fn process_credentials(key: &aws_credential_types::Credentials) -> String {
    let expiration = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(120);
    serde_json::json!({
        "Version": 1,
        "AccessKeyId": key.access_key_id(),
        "SecretAccessKey": key.secret_access_key(),
        "Expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
    })
    .to_string()
}

#[test]
fn serve_identifies_the_caller_again_when_the_base_credentials_change() {
    let setup = Setup::new("alice");
    let carol = setup.moto.create_user("carol");
    let bob = setup.moto.create_user("bob");
    // Base credentials from a process, as IAM Identity Center or a vault would give them.
    let keys = setup.path("base-credentials.json");
    std::fs::write(&keys, process_credentials(&carol)).expect("keys");
    std::fs::write(setup.path("credentials"), "").expect("no static keys");
    std::fs::write(
        setup.path("config"),
        format!(
            "[profile base]\ncredential_process = cat {}\n\n\
             [profile production]\nrole_arn = {}\nsource_profile = base\nregion = us-east-1\n\
             duration_seconds = 900\nsentinel_policy = {}\n",
            keys.display(),
            serve_support::ROLE,
            setup.path("policy.yaml").display()
        ),
    )
    .expect("config");
    let server = setup.serve(&[]);
    let first = server.get();
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");

    // The base credentials are refreshed as someone else's.
    std::fs::write(&keys, process_credentials(&bob)).expect("keys");
    let second = server.get();
    assert!(second.starts_with("HTTP/1.1 403"), "{second}");
    assert!(second.contains("deny-bob-production"), "{second}");
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");

    let decided_for: Vec<serde_json::Value> = setup
        .log_lines()
        .iter()
        .filter(|line| line["event"] == "decision")
        .map(|line| line["principal_arn"].clone())
        .collect();
    assert_eq!(
        decided_for,
        [
            "arn:aws:iam::123456789012:user/carol",
            "arn:aws:iam::123456789012:user/bob"
        ]
    );
}
