//! Problems found in a policy, each with the line and column of the offending text, so a user
//! can fix every one of them in a single pass, and with a severity and a stable code, so a tool
//! can tell what stops a policy loading from what does not.

use std::fmt;

use crate::code::Code;

/// A place in the source: 1-based line and (character) column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub(crate) line: usize,
    pub(crate) column: usize,
}

impl Pos {
    /// The start of the document, for problems that belong to no particular node.
    pub(crate) const START: Pos = Pos { line: 1, column: 1 };
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// How much a problem matters: an error keeps the policy from loading, a warning does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The policy is refused: it never evaluates, and every request is denied.
    Error,
    /// The policy loads and evaluates as written, but probably not as meant.
    Warning,
}

/// One problem in a policy source: where it is (1-based line and column), how much it matters,
/// what kind of problem it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line of the offending text.
    pub line: usize,
    /// 1-based column (in characters) of the offending text.
    pub column: usize,
    /// Whether the problem keeps the policy from loading.
    pub severity: Severity,
    /// The kind of problem, stable across releases.
    pub code: Code,
    /// What is wrong and, where it helps, what was expected.
    pub message: String,
}

impl Diagnostic {
    /// An error of kind `code` at `pos`.
    pub(crate) fn error(pos: Pos, code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            line: pos.line,
            column: pos.column,
            severity: Severity::Error,
            code,
            message: message.into(),
        }
    }
}

/// `LINE:COLUMN: message` for an error and `LINE:COLUMN: warning: message` for a warning.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.line, self.column)?;
        if self.severity == Severity::Warning {
            f.write_str("warning: ")?;
        }
        f.write_str(&self.message)
    }
}

/// Problems found in a policy, in source order; never empty. A policy that fails to load
/// reports its errors as one of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    /// Wraps the problems found, sorted by position; `None` when there are none.
    pub(crate) fn from_vec(mut problems: Vec<Diagnostic>) -> Option<Diagnostics> {
        if problems.is_empty() {
            return None;
        }
        in_source_order(&mut problems);
        Some(Diagnostics(problems))
    }

    /// The problems, in source order.
    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// How many problems were found (at least one).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a `Diagnostics` holds at least one problem.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Sorts problems by position; problems at the same place keep the order they were found in.
pub(crate) fn in_source_order(problems: &mut [Diagnostic]) {
    problems.sort_by_key(|d| (d.line, d.column));
}

impl From<Diagnostic> for Diagnostics {
    fn from(problem: Diagnostic) -> Diagnostics {
        Diagnostics(vec![problem])
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_displays_as_position_and_message() {
        let error = Diagnostic::error(
            Pos {
                line: 4,
                column: 13,
            },
            Code::UnknownEffect,
            "bad",
        );
        assert_eq!(error.severity, Severity::Error);
        assert_eq!(error.to_string(), "4:13: bad");
    }

    #[test]
    fn a_warning_says_so_after_its_position() {
        let warning = Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(Pos { line: 2, column: 5 }, Code::UnknownKey, "odd")
        };
        assert_eq!(warning.to_string(), "2:5: warning: odd");
    }
}
