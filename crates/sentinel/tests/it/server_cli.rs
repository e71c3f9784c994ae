//! `sentinel server` from the command line, without AWS (an STS of the test's own says who the
//! broker is): `--log-format json` makes every event on stderr one JSON object, as container
//! platforms collect them, `decision_log: "-"` is standard output, a SIGTERM right after the
//! start line is a graceful shutdown, the start line names the broker, the metrics are on the
//! admin listener only, every series there from the start, and a plain-HTTP STS endpoint is
//! refused unless the configuration allows it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

use crate::bin::{SENTINEL, plain_get};
use crate::broker_sts::{BROKER_ARN, BrokerSts};

/// `sentinel server FLAGS` started in `dir`, its stderr piped, with a plain-loopback
/// configuration that writes its decision log to `decision_log` (YAML).
fn start(dir: &Path, decision_log: &str, flags: &[&str]) -> Child {
    let config = dir.join("server.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\ntls: off\naudience: sentinel.test\ndecision_log: {decision_log}\n\
             profiles:\n  prod:\n    role_arn: arn:aws:iam::123456789012:role/prod\n"
        ),
    )
    .expect("config");
    Command::new(SENTINEL)
        .arg("server")
        .args(flags)
        .arg("--config")
        .arg(&config)
        .current_dir(dir)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "not-a-secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", BrokerSts::start().endpoint())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the sentinel binary runs")
}

/// Sends SIGTERM to a server that is still running, and waits for it to exit.
#[allow(unsafe_code)]
fn terminate(server: &mut Child) -> ExitStatus {
    // SAFETY: kill(2) with the pid of our own child, not yet waited for; no memory is touched.
    unsafe { libc::kill(server.id() as libc::pid_t, libc::SIGTERM) };
    server.wait().expect("wait")
}

#[test]
fn log_format_json_writes_one_object_per_event_on_stderr() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("decisions.jsonl");
    let mut server = start(
        dir.path(),
        &log.display().to_string(),
        &["--log-format", "json"],
    );
    let mut lines = BufReader::new(server.stderr.take().expect("stderr")).lines();
    let mut events = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("stderr");
        let event: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("not one JSON object: {line}"));
        let serving = event["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("serving http://127.0.0.1:"));
        events.push(event);
        if serving {
            break;
        }
    }
    let status = terminate(&mut server);
    let rest: Vec<serde_json::Value> = lines
        .map(|line| serde_json::from_str(&line.expect("stderr")).expect("JSON"))
        .collect();
    assert!(status.success(), "{status:?}: {rest:?}");
    assert_eq!(events[0]["level"], "WARN", "{events:?}");
    assert!(
        events[0]["message"]
            .as_str()
            .expect("message")
            .contains("tls is off")
    );
    assert_eq!(events.last().expect("serving")["level"], "INFO");
    assert_eq!(
        rest.last().expect("a last event")["message"],
        "stopped; every request in flight was answered"
    );
}

#[test]
fn a_decision_log_of_dash_is_standard_output_not_a_file_named_dash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path(), "\"-\"", &[]);
    let mut lines = BufReader::new(server.stderr.take().expect("stderr")).lines();
    let serving = lines
        .by_ref()
        .map(|line| line.expect("stderr"))
        .find(|line| line.contains("serving "))
        .expect("the server serves");
    assert!(terminate(&mut server).success());
    assert!(
        serving.contains("decision log standard output"),
        "{serving}"
    );
    assert!(
        !dir.path().join("-").exists(),
        "a file named - in the working directory"
    );
}

/// The address after `marker` in `line`, if it is there.
fn address_after(line: &str, marker: &str) -> Option<String> {
    let rest = line.split(marker).nth(1)?;
    Some(
        rest.chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
            .collect(),
    )
}

#[test]
fn metrics_are_served_on_the_admin_listener_only_with_every_series_at_zero_from_the_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("decisions.jsonl");
    let mut server = start(dir.path(), &log.display().to_string(), &[]);
    let mut lines = BufReader::new(server.stderr.take().expect("stderr")).lines();
    let mut admin = None;
    let mut public = None;
    for line in lines.by_ref() {
        let line = line.expect("stderr");
        admin = admin.or_else(|| address_after(&line, "GET /metrics) at http://"));
        public = address_after(&line, "serving http://");
        if public.is_some() {
            break;
        }
    }
    let public = public.expect("the start line");
    let admin = admin.expect("the admin listener is announced before the start line");
    std::thread::spawn(move || for _ in lines {});

    let (status, body) = plain_get(&public, "/metrics");
    assert_eq!(status, 404, "{body}");
    assert!(!body.contains("sentinel_"), "{body}");
    assert_eq!(plain_get(&public, "/healthz"), (200, "ok\n".to_owned()));
    assert_eq!(plain_get(&admin, "/healthz"), (200, "ok\n".to_owned()));
    let (status, metrics) = plain_get(&admin, "/metrics");
    assert_eq!(status, 200, "{metrics}");
    for series in [
        r#"sentinel_decisions_total{profile="prod",effect="allow"} 0"#,
        r#"sentinel_decisions_total{profile="prod",effect="deny"} 0"#,
        r#"sentinel_refusals_total{kind="client_rate_limited"} 0"#,
        r#"sentinel_refusals_total{kind="proof_stale"} 0"#,
        r#"sentinel_sts_request_duration_seconds_count{call="get_caller_identity"} 0"#,
        r#"sentinel_sts_request_duration_seconds_count{call="assume_role"} 0"#,
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }
    promtool_accepts(&metrics);
    assert!(terminate(&mut server).success());
}

/// Checks `metrics` with Prometheus's own `promtool check metrics` (Debian's prometheus package,
/// which scripts/test.sh installs): the exposition format parses and passes its lints.
fn promtool_accepts(metrics: &str) {
    use std::io::Write as _;
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/test.sh installs Debian's prometheus)");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(metrics.as_bytes())
        .expect("metrics written to promtool");
    let checked = promtool.wait_with_output().expect("promtool ran");
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}\n{metrics}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[test]
fn the_start_line_names_who_the_broker_runs_as() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = start(dir.path(), "\"-\"", &[]);
    let serving = BufReader::new(server.stderr.take().expect("stderr"))
        .lines()
        .map(|line| line.expect("stderr"))
        .find(|line| line.contains("serving "))
        .expect("the server serves");
    assert!(terminate(&mut server).success());
    assert!(
        serving.contains(&format!("as {BROKER_ARN} (account 123456789012)")),
        "{serving}"
    );
}

/// `sentinel server --check` of a configuration that lists `sts_endpoints` and adds `extra`.
fn check_with_endpoints(endpoints: &str, extra: &str) -> std::process::Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("server.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\ntls: off\naudience: sentinel.test\ndecision_log: \"-\"\n\
             sts_endpoints: {endpoints}\n{extra}\
             profiles:\n  prod:\n    role_arn: arn:aws:iam::123456789012:role/prod\n"
        ),
    )
    .expect("config");
    Command::new(SENTINEL)
        .args(["server", "--check", "--config"])
        .arg(&config)
        .output()
        .expect("the sentinel binary runs")
}

#[test]
fn a_plain_http_sts_endpoint_is_refused_at_load_unless_insecure_sts_http_allows_it() {
    let refused = check_with_endpoints("[\"http://127.0.0.1:5000\"]", "");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("server.yaml:5:17: sts_endpoints: \"http://127.0.0.1:5000\" is plain HTTP"),
        "{stderr}"
    );
    assert!(stderr.contains("insecure_sts_http: true"), "{stderr}");
    let allowed = check_with_endpoints("[\"http://127.0.0.1:5000\"]", "insecure_sts_http: true\n");
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    let https = check_with_endpoints("[\"https://sts.internal.example\"]", "");
    assert!(
        https.status.success(),
        "{}",
        String::from_utf8_lossy(&https.stderr)
    );
}
