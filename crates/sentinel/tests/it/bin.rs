//! The `sentinel` binary under test: where it is, running it, and reading what it wrote.

use std::ffi::OsStr;
use std::path::Path;
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

/// `program` with none of this machine's AWS settings: the environment cleared but `PATH`,
/// `HOME` and the AWS config and credentials files set to `home/config` and
/// `home/credentials`, and the instance metadata lookup off.
pub fn isolated(program: impl AsRef<OsStr>, home: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
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
