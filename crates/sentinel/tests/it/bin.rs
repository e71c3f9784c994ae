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

/// `GET path` on the plain-HTTP listener at `base` (`127.0.0.1:9090`, or with `http://`): the
/// status and the body.
pub fn plain_get(base: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .unwrap_or_default();
    (status, body.to_owned())
}
