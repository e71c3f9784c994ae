//! Where decision lines go, read once from what a flag or a configuration says.

use std::convert::Infallible;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Where a decision log writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// A regular file (created with mode 0600): an allow's line is on disk (`fdatasync`)
    /// before STS is asked for credentials.
    File(PathBuf),
    /// Standard output, for platforms that collect it: an allow's line has been written to the
    /// pipe, whole, before STS is asked, and is never synced; keeping it is the collector's job.
    Stdout,
}

impl LogTarget {
    /// The text that names standard output.
    pub const STDOUT: &'static str = "-";

    /// Reads a target as written: `-` is standard output, anything else a file path.
    pub fn parse(text: &str) -> LogTarget {
        if text == LogTarget::STDOUT {
            LogTarget::Stdout
        } else {
            LogTarget::File(PathBuf::from(text))
        }
    }
}

impl FromStr for LogTarget {
    type Err = Infallible;

    /// As [`LogTarget::parse`]: every text names a target.
    fn from_str(text: &str) -> Result<LogTarget, Infallible> {
        Ok(LogTarget::parse(text))
    }
}

impl fmt::Display for LogTarget {
    /// The file's path, or `standard output`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogTarget::File(path) => path.display().fmt(f),
            LogTarget::Stdout => f.write_str("standard output"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dash_is_standard_output_and_anything_else_a_file() {
        assert_eq!(LogTarget::parse("-"), LogTarget::Stdout);
        assert_eq!(
            LogTarget::parse("./-"),
            LogTarget::File(PathBuf::from("./-"))
        );
        assert_eq!(
            LogTarget::parse("/var/log/decisions.jsonl"),
            LogTarget::File(PathBuf::from("/var/log/decisions.jsonl"))
        );
        assert_eq!(LogTarget::Stdout.to_string(), "standard output");
    }
}
