//! How a command ended, and the one place that turns it into the exit status a script sees.

use std::io;
use std::process::ExitCode;

/// How a command ended. Every subcommand returns `anyhow::Result<Outcome>`; [`exit_code`] is the
/// only mapping to a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: it did what was asked (credentials issued, every threshold and check held, no
    /// differences, help printed).
    Success,
    /// 1: it checked and the check failed: denied, a threshold breached, a check failed, an
    /// invalid policy, differences found. An error (`Err`) ends with 1 as well.
    Failure,
    /// 2: arguments, flags or input that cannot be used; nothing was done.
    Usage,
    /// 3: the request needs an approval that is pending; no credentials yet.
    Pending,
    /// 127: the command `exec` was to run could not be started.
    CannotRun,
    /// 130: stopped by Ctrl-C (SIGINT), by shell convention; a load reports what it measured.
    Interrupted,
    /// The exit status of the command `exec --server` ran (128 + N if signal N ended it).
    Child(u8),
}

impl Outcome {
    /// The exit status.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Failure => 1,
            Outcome::Usage => 2,
            Outcome::Pending => 3,
            Outcome::CannotRun => 127,
            Outcome::Interrupted => 130,
            Outcome::Child(code) => code,
        }
    }
}

/// The exit status for a command's result (an error as [`failed`] tells).
pub fn exit_code(result: anyhow::Result<Outcome>) -> ExitCode {
    ExitCode::from(result.unwrap_or_else(|error| failed(&error)).code())
}

/// The outcome of a command that ended in `error`: printed as one line on stderr, it ends
/// with [`Outcome::Failure`]. An error from writing to a closed stdout (`EPIPE`, as when the
/// output is piped into `head`) ends quietly with success: whoever read it has what they wanted.
pub fn failed(error: &anyhow::Error) -> Outcome {
    if is_closed_stdout(error) {
        return Outcome::Success;
    }
    eprintln!("sentinel: {}", one_line(&format!("{error:#}")));
    Outcome::Failure
}

/// `text` on one line: a line that introduces the next (ends with `:`) runs on with a space,
/// the others are separated by `; ` (`is invalid:\n1:10: unknown key` becomes `is invalid:
/// 1:10: unknown key`).
fn one_line(text: &str) -> String {
    let mut joined = String::with_capacity(text.len());
    for line in text
        .lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
    {
        if !joined.is_empty() {
            joined.push_str(if joined.ends_with(':') { " " } else { "; " });
        }
        joined.push_str(line);
    }
    joined
}

/// Whether `error` comes from writing to a pipe whose reader has gone.
fn is_closed_stdout(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_of_several_lines_prints_as_one_that_reads() {
        assert_eq!(
            one_line("the policy at ssm:/p is invalid:\n1:10: unknown key\n2:3: no rules\n"),
            "the policy at ssm:/p is invalid: 1:10: unknown key; 2:3: no rules"
        );
        assert_eq!(one_line("one line"), "one line");
    }

    #[test]
    fn a_closed_stdout_is_not_an_error_but_other_io_errors_are() {
        let closed = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("writing the schema");
        assert!(is_closed_stdout(&closed));
        let denied = anyhow::Error::from(io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(!is_closed_stdout(&denied));
    }

    #[test]
    fn each_outcome_has_its_documented_status() {
        let table = [
            (Outcome::Success, 0),
            (Outcome::Failure, 1),
            (Outcome::Usage, 2),
            (Outcome::CannotRun, 127),
            (Outcome::Interrupted, 130),
            (Outcome::Child(143), 143),
        ];
        for (outcome, code) in table {
            assert_eq!(outcome.code(), code, "{outcome:?}");
        }
    }
}
