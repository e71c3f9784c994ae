//! A policy's problems as people read them: `FILE:LINE:COLUMN: message`, the source line and a
//! caret under the column, as compilers print them.

use std::fmt::Write as _;

use sentinel_policy::Diagnostic;

/// One `FILE:LINE:COLUMN: message` line per problem (`FILE:LINE:COLUMN: warning: message` for
/// a warning), each followed by the source line and a caret under the column.
pub fn report<'a>(
    name: &str,
    source: &[u8],
    problems: impl IntoIterator<Item = &'a Diagnostic>,
) -> String {
    let text = String::from_utf8_lossy(source);
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for problem in problems {
        let _ = writeln!(out, "{name}:{problem}");
        if let Some(line) = problem.line.checked_sub(1).and_then(|i| lines.get(i)) {
            let number = problem.line.to_string();
            let pad = " ".repeat(number.len());
            // Keep tabs so the caret lines up under the offending character.
            let indent: String = line
                .chars()
                .take(problem.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = writeln!(out, "  {number} | {line}");
            let _ = writeln!(out, "  {pad} | {indent}^");
        }
    }
    out
}
