//! The `sentinel` binary under test: where it is, running it, and reading what it wrote.

use std::process::{Command, Output, Stdio};

/// The binary's path.
pub const SENTINEL: &str = env!("CARGO_BIN_EXE_sentinel");

/// `sentinel ARGS`, with no input, run to its end.
pub fn sentinel(args: &[&str]) -> Output {
    Command::new(SENTINEL)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the sentinel binary runs")
}

/// Bytes a process wrote, as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What a process wrote on standard output, as text.
pub fn stdout(output: &Output) -> String {
    text(&output.stdout)
}

/// What a process wrote on standard error, as text.
pub fn stderr(output: &Output) -> String {
    text(&output.stderr)
}
