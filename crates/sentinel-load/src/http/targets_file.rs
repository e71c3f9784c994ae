//! `--targets FILE`: the requests of a run, one JSON object per line (JSON Lines):
//!
//! ```text
//! {"url": "https://api.example.com/health"}
//! {"method": "POST", "url": "https://api.example.com/orders", "headers": {"Content-Type": "application/json"}, "body": "{\"item\": 1}", "weight": 3}
//! {"method": "PUT", "url": "https://api.example.com/blob", "body_file": "blob.bin"}
//! ```
//!
//! `url` is required; `method` defaults to `GET`, `headers` to none, `weight` to 1. `body` is
//! the body as text, `body_file` a file whose bytes are the body (relative to the targets
//! file's directory); at most one of them. Blank lines are skipped. Every line is checked
//! before the run starts, and the first bad one refuses the run, named by its line number.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use http::Method;
use serde::Deserialize;

use super::target::HttpTarget;

/// One line of a targets file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    method: Option<String>,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
    body_file: Option<PathBuf>,
    weight: Option<u32>,
}

/// Why a targets file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetsFileError {
    /// The file could not be read.
    #[error("cannot read the targets file {path}: {why}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The system's message.
        why: String,
    },
    /// A line is not a valid target.
    #[error("{path} line {line}: {why}")]
    Line {
        /// The file.
        path: PathBuf,
        /// The line, counted from 1.
        line: usize,
        /// What is wrong with it.
        why: String,
    },
    /// The file holds no target.
    #[error(
        "{0} holds no target: expected one JSON object per line, like {{\"url\": \"https://host/\"}}"
    )]
    Empty(PathBuf),
}

/// Reads the targets of the file at `path`.
pub fn read_targets_file(path: &Path) -> Result<Vec<HttpTarget>, TargetsFileError> {
    let text = std::fs::read_to_string(path).map_err(|error| TargetsFileError::Read {
        path: path.to_owned(),
        why: error.to_string(),
    })?;
    parse_targets(&text, path)
}

/// Parses the text of a targets file read from `path` (which names it in errors, and whose
/// directory `body_file`s are relative to).
pub fn parse_targets(text: &str, path: &Path) -> Result<Vec<HttpTarget>, TargetsFileError> {
    let base = path.parent().unwrap_or(Path::new(""));
    let mut targets = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let target = parse_line(line, base).map_err(|why| TargetsFileError::Line {
            path: path.to_owned(),
            line: index + 1,
            why,
        })?;
        targets.push(target);
    }
    if targets.is_empty() {
        return Err(TargetsFileError::Empty(path.to_owned()));
    }
    Ok(targets)
}

/// One line as a target, or what is wrong with it.
fn parse_line(line: &str, base: &Path) -> Result<HttpTarget, String> {
    let entry: Entry = serde_json::from_str(line).map_err(|error| describe(&error))?;
    let mut target = HttpTarget::from_url(&entry.url).map_err(|error| error.to_string())?;
    if let Some(method) = &entry.method {
        target.method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("`{method}` is not an HTTP method"))?;
    }
    for (name, value) in &entry.headers {
        target
            .insert_header(name, value)
            .map_err(|error| error.to_string())?;
    }
    target.body = match (entry.body, &entry.body_file) {
        (Some(_), Some(_)) => return Err("give `body` or `body_file`, not both".to_owned()),
        (Some(body), None) => body.into_bytes().into(),
        (None, Some(file)) => {
            let file = base.join(file);
            std::fs::read(&file)
                .map_err(|error| format!("cannot read body_file {}: {error}", file.display()))?
                .into()
        }
        (None, None) => bytes::Bytes::new(),
    };
    match entry.weight {
        Some(0) => return Err("`weight` must be a whole number of at least 1".to_owned()),
        Some(weight) => target.weight = weight,
        None => {}
    }
    Ok(target)
}

/// A JSON error of one line: its message and column (the line is always 1 within it).
fn describe(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let message = match message.rfind(" at line ") {
        Some(at) => &message[..at],
        None => &message,
    };
    format!("column {}: {message}", error.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<HttpTarget>, TargetsFileError> {
        parse_targets(text, Path::new("dir/targets.jsonl"))
    }

    fn line_error(text: &str) -> (usize, String) {
        match parse(text) {
            Err(TargetsFileError::Line { line, why, .. }) => (line, why),
            other => panic!("expected a line error, got {other:?}"),
        }
    }

    #[test]
    fn every_field_becomes_part_of_the_request() {
        let targets = parse(concat!(
            "{\"url\": \"http://127.0.0.1:9/a\"}\n",
            "\n",
            "{\"method\": \"post\", \"url\": \"https://example.com/b?c=1\", ",
            "\"headers\": {\"X-Test\": \"yes\", \"Authorization\": \"Bearer t\"}, ",
            "\"body\": \"hello\", \"weight\": 3}\n",
        ))
        .unwrap();
        assert_eq!(targets.len(), 2);
        assert_eq!(targets[0].method, Method::GET);
        assert_eq!(targets[0].weight, 1);
        assert!(targets[0].body.is_empty());
        let post = &targets[1];
        assert_eq!(post.method, Method::POST);
        assert_eq!(post.path, "/b?c=1");
        assert!(post.origin().https);
        assert_eq!(post.headers["x-test"], "yes");
        assert!(post.headers["authorization"].is_sensitive());
        assert_eq!(post.body, "hello");
        assert_eq!(post.weight, 3);
    }

    #[test]
    fn a_bad_line_is_named_by_its_number_and_says_what_is_wrong() {
        let good = "{\"url\": \"http://127.0.0.1:9/\"}\n";
        let cases = [
            (
                "{\"url\": \"http://h/\", \"heders\": {}}",
                "unknown field `heders`",
            ),
            ("{\"method\": \"GET\"}", "missing field `url`"),
            ("{\"url\": \"ftp://h/\"}", "only http:// and https://"),
            (
                "{\"url\": \"http://h/\", \"method\": \"GE T\"}",
                "is not an HTTP method",
            ),
            ("{\"url\": \"http://h/\", \"weight\": 0}", "at least 1"),
            ("{\"url\": \"http://h/\", \"weight\": 1.5}", "invalid type"),
            (
                "{\"url\": \"http://h/\", \"headers\": {\"bad name\": \"v\"}}",
                "header",
            ),
            (
                "{\"url\": \"http://h/\", \"body\": \"a\", \"body_file\": \"b\"}",
                "not both",
            ),
            (
                "{\"url\": \"http://h/\", \"body_file\": \"missing.bin\"}",
                "missing.bin",
            ),
            ("{\"url\": \"http://h/\"", "column"),
            ("not json", "expected"),
        ];
        for (bad, expected) in cases {
            let (line, why) = line_error(&format!("{good}\n{bad}\n{good}"));
            assert_eq!(line, 3, "{bad}");
            assert!(why.contains(expected), "{bad}: {why}");
        }
        let error = parse(&format!("{good}{{\"url\": 1}}\n")).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("dir/targets.jsonl line 2: column "),
            "{error}"
        );
    }

    #[test]
    fn a_file_without_a_target_is_refused() {
        assert_eq!(
            parse("\n  \n").unwrap_err(),
            TargetsFileError::Empty(PathBuf::from("dir/targets.jsonl"))
        );
    }

    #[test]
    fn a_body_file_is_read_relative_to_the_targets_file() {
        let dir = std::env::temp_dir().join(format!("sentinel-targets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("body.bin"), [0u8, 1, 2, 255]).unwrap();
        let file = dir.join("targets.jsonl");
        std::fs::write(
            &file,
            "{\"method\": \"PUT\", \"url\": \"http://h/\", \"body_file\": \"body.bin\"}\n",
        )
        .unwrap();
        let targets = read_targets_file(&file).unwrap();
        assert_eq!(targets[0].body.as_ref(), [0u8, 1, 2, 255]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(
            read_targets_file(&file),
            Err(TargetsFileError::Read { .. })
        ));
    }
}
