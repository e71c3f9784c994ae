//! The `sentinel policy` contract scripts rely on: `validate` prints `FILE: ok` or one
//! `FILE:LINE:COLUMN: message` line per problem and exits 1 on any; `evaluate` prints the
//! decision (text or one JSON object) and exits 0 on any decision, 1 on an invalid policy or
//! bad arguments; `schema` prints a JSON Schema.

use std::path::{Path, PathBuf};

use crate::bin::{sentinel, stderr, stdout};

fn example() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/policy.yaml")
        .display()
        .to_string()
}

fn write(dir: &tempfile::TempDir, name: &str, contents: &[u8]) -> String {
    let path: PathBuf = dir.path().join(name);
    std::fs::write(&path, contents).unwrap();
    path.display().to_string()
}

const BROKEN: &str = "version: \"1\"\nrules:\n  - name: a\n    effect: permit\n    \
                      conditions:\n      time: { timezone: Mars/Base }\n";

#[test]
fn validate_prints_ok_for_a_valid_policy() {
    let file = example();
    let output = sentinel(&["policy", "validate", &file]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), format!("{file}: ok\n"));
}

#[test]
fn validate_prints_every_problem_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let broken = write(&dir, "broken.yaml", BROKEN.as_bytes());
    let good = example();
    let output = sentinel(&["policy", "validate", &broken, &good]);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let problems: Vec<&str> = text.lines().filter(|l| l.starts_with(&broken)).collect();
    assert_eq!(
        problems,
        [
            format!(
                "{broken}:4:13: unknown effect \"permit\"; expected allow, deny or require_approval"
            ),
            format!(
                "{broken}:6:25: unknown time zone \"Mars/Base\"; expected an IANA name such as \
                 Europe/London or America/New_York"
            ),
        ]
    );
    assert!(
        text.contains("  4 |     effect: permit\n    |             ^\n"),
        "{text}"
    );
    assert!(text.contains(&format!("{good}: ok")), "{text}");
}

#[test]
fn validate_reports_bytes_that_are_not_text_without_crashing() {
    let dir = tempfile::tempdir().unwrap();
    let binary = write(
        &dir,
        "binary.yaml",
        b"version: \"1\"\nrules: [\xff\xfe\x00]\n",
    );
    let output = sentinel(&["policy", "validate", &binary]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with(&format!("{binary}:2:9: the policy is not valid UTF-8")),
        "{}",
        stdout(&output)
    );
}

#[test]
fn validate_never_crashes_whatever_the_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let inputs: [&[u8]; 6] = [
        b"",
        b"\x00\x01\x02",
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        b"a: &a [*a, *a]\n",
        b"version: \"1\"\nrules:\n  - !!binary aGk=\n",
        b"\xef\xbb\xbfversion: \"1\"\n---\nrules: []\n",
    ];
    for (i, bytes) in inputs.iter().enumerate() {
        let file = write(&dir, &format!("f{i}.yaml"), bytes);
        let output = sentinel(&["policy", "validate", &file]);
        assert_eq!(
            output.status.code(),
            Some(1),
            "input {i}: {}",
            stderr(&output)
        );
        assert!(
            stdout(&output).starts_with(&format!("{file}:")),
            "input {i}"
        );
    }
}

#[test]
fn validate_of_a_missing_file_is_a_clear_error() {
    let output = sentinel(&["policy", "validate", "/nonexistent/policy.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("cannot read policy /nonexistent/policy.yaml") && err.contains("No such file"),
        "{err}"
    );
}

#[test]
fn evaluate_prints_the_decision_as_json() {
    let file = example();
    let allow = sentinel(&[
        "policy",
        "evaluate",
        "--policy",
        &file,
        "--user",
        "alice",
        "--profile",
        "production",
        "--json",
    ]);
    assert_eq!(allow.status.code(), Some(0), "{}", stderr(&allow));
    assert_eq!(
        stdout(&allow),
        "{\"effect\":\"allow\",\"rule\":\"allow-production\",\"rule_index\":1,\
         \"reason\":\"on-call engineers\"}\n"
    );
    let deny = sentinel(&[
        "policy",
        "evaluate",
        "--policy",
        &file,
        "--user",
        "mallory",
        "--profile",
        "production",
        "--json",
    ]);
    assert_eq!(deny.status.code(), Some(1), "a deny is a check that failed");
    let json: serde_json::Value = serde_json::from_slice(&deny.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"effect": "deny", "rule": null, "rule_index": null, "reason": null})
    );
}

#[test]
fn evaluate_uses_the_given_instant() {
    let file = example();
    let args = |at: &'static str| {
        [
            "policy",
            "evaluate",
            "--policy",
            &file,
            "--user",
            "dave",
            "--profile",
            "staging",
            "--at",
            at,
        ]
        .map(str::to_owned)
    };
    let monday = sentinel(&args("2026-11-30T10:00:00Z").each_ref().map(String::as_str));
    assert_eq!(
        stdout(&monday),
        "allow by rule \"allow-staging-office-hours\" (index 2): \
         staging is open during London office hours\n"
    );
    let saturday = sentinel(
        &args("2026-11-28T10:00:00+00:00")
            .each_ref()
            .map(String::as_str),
    );
    assert_eq!(stdout(&saturday), "deny: no rule matched (default deny)\n");
    assert_eq!(saturday.status.code(), Some(1));
    assert_eq!(monday.status.code(), Some(0));
}

#[test]
fn evaluate_refuses_to_decide_on_an_invalid_policy() {
    let dir = tempfile::tempdir().unwrap();
    let broken = write(&dir, "broken.yaml", BROKEN.as_bytes());
    let output = sentinel(&[
        "policy",
        "evaluate",
        "--policy",
        &broken,
        "--user",
        "a",
        "--profile",
        "b",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty(), "no decision is printed");
    let err = stderr(&output);
    assert!(
        err.contains(&format!("{broken}:4:13: unknown effect")),
        "{err}"
    );
}

#[test]
fn evaluate_rejects_bad_arguments_with_exit_2_and_a_missing_policy_with_1() {
    let file = example();
    let bad_instant = sentinel(&[
        "policy",
        "evaluate",
        "--policy",
        &file,
        "--user",
        "a",
        "--profile",
        "b",
        "--at",
        "yesterday",
    ]);
    assert_eq!(bad_instant.status.code(), Some(2));
    assert!(
        stderr(&bad_instant).contains("RFC 3339"),
        "{}",
        stderr(&bad_instant)
    );
    let no_user = sentinel(&["policy", "evaluate", "--policy", &file, "--profile", "b"]);
    assert_eq!(no_user.status.code(), Some(2));
    assert!(stderr(&no_user).contains("--user"), "{}", stderr(&no_user));
    let missing = sentinel(&[
        "policy",
        "evaluate",
        "--policy",
        "/nonexistent.yaml",
        "--user",
        "a",
        "--profile",
        "b",
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("cannot read policy /nonexistent.yaml"));
    let help = sentinel(&["policy", "evaluate", "--help"]);
    assert_eq!(help.status.code(), Some(0), "help is not an error");
}

#[test]
fn schema_prints_a_json_schema_of_the_policy_format() {
    let output = sentinel(&["policy", "schema"]);
    assert_eq!(output.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(schema["required"], serde_json::json!(["version", "rules"]));
}

#[test]
fn a_closed_stdout_ends_the_command_quietly_with_success() {
    // What `sentinel policy schema | head -c 10` comes to when `head` has gone before the
    // write: a pipe with no reader. Closing the read end first makes the write fail every time.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .args(["policy", "schema"])
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stderr(&output),
        "",
        "no error is printed for a reader that has gone"
    );
}
