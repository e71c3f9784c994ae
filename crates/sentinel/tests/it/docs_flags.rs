//! The docs keep up with the binary: every flag a command's `--help` prints is documented in
//! that command's page under docs/.

use crate::bin::{sentinel, stdout};

/// The flags (`--name`) that `sentinel ARGS --help` lists.
fn flags(args: &[&str]) -> Vec<String> {
    let mut command: Vec<&str> = args.to_vec();
    command.push("--help");
    let output = sentinel(&command);
    assert!(output.status.success(), "{command:?}");
    let mut flags: Vec<String> = stdout(&output)
        .lines()
        .filter_map(|line| {
            // An option's line starts with it (`-q, --quiet`, `--url <URL>`).
            let line = line.trim_start();
            let at = line.find("--").filter(|_| line.starts_with('-'))?;
            let name: String = line[at..]
                .chars()
                .take_while(|c| *c == '-' || c.is_ascii_alphanumeric())
                .collect();
            // Every command has these; they need no page of their own.
            (name != "--help" && name != "--version").then_some(name)
        })
        .collect();
    flags.sort();
    flags.dedup();
    flags
}

/// Whether `text` has `flag` as a whole word (not as the start of a longer flag).
fn mentions(text: &str, flag: &str) -> bool {
    let is_name = |c: char| c == '-' || c.is_ascii_alphanumeric();
    text.match_indices(flag).any(|(at, _)| {
        !text[..at].ends_with(is_name) && !text[at + flag.len()..].starts_with(is_name)
    })
}

/// The flags of `args --help` that `page` does not mention.
fn undocumented(args: &[&str], page: &str) -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/").to_owned() + page;
    let text = std::fs::read_to_string(&path).expect("the docs page");
    let listed = flags(args);
    assert!(!listed.is_empty(), "{args:?} --help listed no flag");
    listed
        .into_iter()
        .filter(|flag| !mentions(&text, flag))
        .collect()
}

#[test]
fn every_flag_of_load_and_its_subcommands_is_in_docs_load_md() {
    for args in [&["load"][..], &["load", "report"], &["load", "merge"]] {
        assert_eq!(
            undocumented(args, "load.md"),
            Vec::<String>::new(),
            "{args:?}"
        );
    }
}

#[test]
fn every_flag_of_server_is_in_docs_server_md() {
    assert_eq!(undocumented(&["server"], "server.md"), Vec::<String>::new());
}

#[test]
fn every_flag_of_serve_is_in_docs_serve_md() {
    assert_eq!(undocumented(&["serve"], "serve.md"), Vec::<String>::new());
}

#[test]
fn every_flag_of_the_policy_commands_is_in_docs_policy_md() {
    for command in ["evaluate", "push", "pull", "diff"] {
        let args = ["policy", command];
        assert_eq!(
            undocumented(&args, "policy.md"),
            Vec::<String>::new(),
            "{args:?}"
        );
    }
}
