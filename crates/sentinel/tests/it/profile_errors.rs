//! A profile that lacks what a command needs: the error names the profile and what it lacks,
//! without AWS (the instance metadata lookup is off, no credentials anywhere).

use std::path::Path;
use std::process::Output;

use crate::bin::{SENTINEL, isolated, stderr, stdout};

/// `sentinel ARGS` with only the AWS config file `config` and no credentials of any kind.
fn with_config(dir: &Path, config: &str, args: &[&str]) -> Output {
    std::fs::write(dir.join("config"), config).expect("config");
    isolated(SENTINEL, dir)
        .args(args)
        .output()
        .expect("sentinel runs")
}

const PROFILE: &str =
    "[profile prod]\nregion = us-east-1\nrole_arn = arn:aws:iam::123456789012:role/prod\n";

#[test]
fn no_base_credentials_names_the_profile_and_where_they_were_looked_for() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = with_config(dir.path(), PROFILE, &["credentials", "--profile", "prod"]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("profile \"prod\" takes its base credentials from the SDK's default chain"),
        "{text}"
    );
    assert!(text.contains("AWS_EC2_METADATA_DISABLED"), "{text}");
}

#[test]
fn a_missing_source_profile_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = format!("{PROFILE}source_profile = nosuch\n");
    let output = with_config(dir.path(), &config, &["credentials", "--profile", "prod"]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("profile \"prod\" takes its base credentials from source_profile \"nosuch\""),
        "{text}"
    );
    assert!(text.contains("profile `nosuch` was not defined"), "{text}");
}

#[test]
fn trust_policy_refuses_a_profile_without_a_role_and_names_the_missing_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = [
        "iam",
        "trust-policy",
        "--profile",
        "dev",
        "--broker-role",
        "arn:aws:iam::123456789012:role/sentinel",
    ];
    let output = with_config(dir.path(), "[profile dev]\nregion = us-east-1\n", &args);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("profile \"dev\" has no role_arn"), "{text}");
    assert_eq!(stdout(&output), "", "no policy is printed");
}

#[test]
fn remote_without_credentials_to_sign_names_the_profile_and_the_source_profile() {
    let dir = tempfile::tempdir().expect("temp dir");
    let args = [
        "credentials",
        "--remote",
        "https://127.0.0.1:9",
        "--audience",
        "sentinel.test",
        "--source-profile",
        "nosuch",
        "--profile",
        "prod",
    ];
    let output = with_config(dir.path(), PROFILE, &args);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "cannot sign the identity proof for profile \"prod\": no credentials from \
             source_profile \"nosuch\""
        ),
        "{text}"
    );
    assert!(text.contains("`nosuch` was not defined"), "{text}");
}
