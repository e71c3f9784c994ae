//! `sentinel policy push|pull|diff` and `evaluate --policy ssm:...` against the moto emulator:
//! the binary reaches SSM through the standard AWS environment variables only.

use std::process::{Command, Output};

use sentinel_testkit::Moto;

use crate::bin::{stderr, stdout};

const PARAMETER: &str = "/sentinel/policies/prod";
const ALICE: &str = "version: \"1\"\nrules:\n  - name: ops\n    effect: allow\n    conditions:\n      users: [alice]\n";
const INVALID: &str = "version: \"1\"\nrules:\n  - name: ops\n    effect: maybe\n";

/// Runs `sentinel` with `args` against moto.
fn sentinel(moto: &Moto, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .args(args)
        .envs(moto.child_env())
        .output()
        .expect("the sentinel binary runs")
}

/// Writes `text` to `name` in `dir` and returns its path.
fn policy_file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write policy");
    path.display().to_string()
}

fn push(moto: &Moto, file: &str) -> Output {
    sentinel(moto, &["policy", "push", "--profile", "prod", file])
}

fn evaluate(moto: &Moto, user: &str) -> Output {
    sentinel(
        moto,
        &[
            "policy",
            "evaluate",
            "--policy",
            "ssm:/sentinel/policies/prod",
            "--user",
            user,
            "--profile",
            "prod",
        ],
    )
}

#[test]
fn a_pushed_policy_pulls_back_unchanged() {
    let moto = Moto::connect();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = policy_file(&dir, "prod.yaml", ALICE);
    let pushed = push(&moto, &file);
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    assert!(
        stdout(&pushed).contains("ssm:/sentinel/policies/prod"),
        "{}",
        stdout(&pushed)
    );

    let pulled = sentinel(&moto, &["policy", "pull", "--profile", "prod"]);
    assert!(pulled.status.success(), "{}", stderr(&pulled));
    assert_eq!(stdout(&pulled), ALICE);
}

#[test]
fn push_and_pull_take_an_explicit_parameter() {
    let moto = Moto::connect();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = policy_file(&dir, "prod.yaml", ALICE);
    let parameter = ["--parameter", "/team/prod-policy"];
    let pushed = sentinel(
        &moto,
        &[
            &["policy", "push", "--profile", "prod", &file][..],
            &parameter,
        ]
        .concat(),
    );
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    let pulled = sentinel(
        &moto,
        &[&["policy", "pull", "--profile", "prod"][..], &parameter].concat(),
    );
    assert_eq!(stdout(&pulled), ALICE);
    let default = sentinel(&moto, &["policy", "pull", "--profile", "prod"]);
    assert!(
        !default.status.success(),
        "nothing at the default parameter"
    );
}

#[test]
fn an_invalid_policy_is_refused_with_diagnostics_and_nothing_is_written() {
    let moto = Moto::connect();
    let dir = tempfile::tempdir().expect("temp dir");
    let good = policy_file(&dir, "good.yaml", ALICE);
    assert!(push(&moto, &good).status.success());
    let bad = policy_file(&dir, "bad.yaml", INVALID);

    let refused = push(&moto, &bad);
    assert_eq!(refused.status.code(), Some(1));
    let validate = sentinel(&moto, &["policy", "validate", &bad]);
    let problem = stdout(&validate)
        .lines()
        .next()
        .expect("validate reports the problem")
        .to_owned();
    assert!(problem.starts_with(&format!("{bad}:4:")), "{problem}");
    assert!(stderr(&refused).contains(&problem), "{}", stderr(&refused));

    let pulled = sentinel(&moto, &["policy", "pull", "--profile", "prod"]);
    assert_eq!(stdout(&pulled), ALICE, "the stored policy is untouched");
}

#[test]
fn diff_shows_what_a_push_would_change() {
    let moto = Moto::connect();
    let dir = tempfile::tempdir().expect("temp dir");
    let current = policy_file(&dir, "current.yaml", ALICE);
    let next = policy_file(&dir, "next.yaml", &ALICE.replace("[alice]", "[alice, bob]"));

    let before_push = sentinel(&moto, &["policy", "diff", "--profile", "prod", &current]);
    assert_eq!(
        before_push.status.code(),
        Some(1),
        "differences exit 1, as diff does: {}",
        stderr(&before_push)
    );
    assert!(
        stdout(&before_push).contains("+version: \"1\""),
        "{}",
        stdout(&before_push)
    );

    assert!(push(&moto, &current).status.success());
    let same = sentinel(&moto, &["policy", "diff", "--profile", "prod", &current]);
    assert!(stdout(&same).starts_with("no changes"), "{}", stdout(&same));
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));

    let changed = sentinel(&moto, &["policy", "diff", "--profile", "prod", &next]);
    let diff = stdout(&changed);
    assert_eq!(changed.status.code(), Some(1), "{}", stderr(&changed));
    assert!(diff.contains("--- ssm:/sentinel/policies/prod"), "{diff}");
    assert!(diff.contains("-      users: [alice]\n"), "{diff}");
    assert!(diff.contains("+      users: [alice, bob]\n"), "{diff}");
    assert!(
        !diff.contains("-version"),
        "unchanged lines are context: {diff}"
    );
    let pulled = sentinel(&moto, &["policy", "pull", "--profile", "prod"]);
    assert_eq!(stdout(&pulled), ALICE, "diff writes nothing");
}

#[test]
fn evaluate_reads_a_policy_from_ssm() {
    let moto = Moto::connect();
    let dir = tempfile::tempdir().expect("temp dir");
    assert!(
        push(&moto, &policy_file(&dir, "prod.yaml", ALICE))
            .status
            .success()
    );
    let alice = evaluate(&moto, "alice");
    assert!(alice.status.success(), "{}", stderr(&alice));
    assert!(
        stdout(&alice).starts_with("allow by rule \"ops\""),
        "{}",
        stdout(&alice)
    );
    let bob = evaluate(&moto, "bob");
    assert!(stdout(&bob).starts_with("deny"), "{}", stdout(&bob));
    assert_eq!(bob.status.code(), Some(1), "a deny exits 1");
}

#[test]
fn a_missing_parameter_fails_and_names_it() {
    let moto = Moto::connect();
    let pulled = sentinel(&moto, &["policy", "pull", "--profile", "prod"]);
    assert_eq!(pulled.status.code(), Some(1));
    assert!(
        stderr(&pulled).contains("no policy at ssm:/sentinel/policies/prod"),
        "{}",
        stderr(&pulled)
    );
    let evaluated = evaluate(&moto, "alice");
    assert_eq!(evaluated.status.code(), Some(1));
    assert!(
        stdout(&evaluated).is_empty(),
        "no decision: {}",
        stdout(&evaluated)
    );
}

#[test]
fn an_invalid_policy_in_ssm_decides_nothing() {
    let moto = Moto::connect();
    let stored = Command::new(moto.python())
        .args(["-m", "awscli", "ssm", "put-parameter", "--name", PARAMETER])
        .args(["--type", "SecureString", "--value", INVALID])
        .envs(moto.child_env())
        .output()
        .expect("the AWS CLI runs");
    assert!(stored.status.success(), "{}", stderr(&stored));

    let evaluated = evaluate(&moto, "alice");
    assert_eq!(evaluated.status.code(), Some(1));
    assert!(
        stdout(&evaluated).is_empty(),
        "no decision: {}",
        stdout(&evaluated)
    );
    let problems = stderr(&evaluated);
    assert!(
        problems.contains("ssm:/sentinel/policies/prod:4:"),
        "{problems}"
    );
}

#[test]
fn an_unreachable_store_fails_and_says_so() {
    let moto = Moto::connect();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let evaluated = Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .args([
            "policy",
            "evaluate",
            "--policy",
            "ssm:/sentinel/policies/prod",
        ])
        .args(["--user", "alice", "--profile", "prod"])
        .envs(moto.child_env())
        .env("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{port}"))
        .env("AWS_MAX_ATTEMPTS", "1")
        .output()
        .expect("the sentinel binary runs");
    assert_eq!(evaluated.status.code(), Some(1));
    assert!(
        stdout(&evaluated).is_empty(),
        "no decision: {}",
        stdout(&evaluated)
    );
    let error = stderr(&evaluated);
    assert!(
        error.contains("unreachable for ssm:/sentinel/policies/prod"),
        "{error}"
    );
}
