//! The YAML layer: turns source text into a tree of nodes that each remember their line and
//! column, so that validation can check everything in one pass and point at every problem.
//!
//! Deserializing straight into typed structs would stop at the first mistake; a positioned tree
//! lets the checker report all of them.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{DuplicateKeyPolicy, SnippetMode, Spanned};

use crate::code::Code;
use crate::diagnostic::{Diagnostic, Pos};

/// A YAML value with its position.
#[derive(Debug)]
pub(crate) struct Node {
    pub(crate) pos: Pos,
    pub(crate) value: Value,
}

/// The shapes a YAML value can take after tag resolution.
#[derive(Debug)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    /// A number, with its value when it is a whole number that fits in a `u64`.
    Number(Option<u64>),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// How the value reads in a message ("a string", "a list", ...).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Parses `source` as one YAML document. Syntax errors stop parsing, so there is at most one.
pub(crate) fn parse(source: &str) -> Result<Node, Diagnostic> {
    // Duplicate keys reach the checker, which reports each one with both positions.
    let options = serde_saphyr::options! { duplicate_keys: DuplicateKeyPolicy::PassThrough };
    match serde_saphyr::from_str_with_options::<Spanned<Raw>>(source, options) {
        Ok(spanned) => Ok(spanned.into()),
        Err(error) => Err(syntax_diagnostic(&error)),
    }
}

fn syntax_diagnostic(error: &serde_saphyr::Error) -> Diagnostic {
    let pos = error
        .location()
        .map(|loc| Pos {
            line: loc.line() as usize,
            column: loc.column() as usize,
        })
        .filter(|pos| pos.line > 0)
        .unwrap_or(Pos::START);
    let plain = error.render_with_options(serde_saphyr::render_options! {
        snippets: SnippetMode::Off,
    });
    // The plain rendering ends with the location, which the diagnostic carries separately.
    let suffix = format!(" at line {}, column {}", pos.line, pos.column);
    let message = plain.strip_suffix(&suffix).unwrap_or(&plain);
    Diagnostic::error(pos, Code::YamlSyntax, format!("invalid YAML: {message}"))
}

/// The deserialized form before positions are flattened into [`Node`].
enum Raw {
    Null,
    Bool(bool),
    Number(Option<u64>),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

impl From<Spanned<Raw>> for Node {
    fn from(spanned: Spanned<Raw>) -> Node {
        let pos = Pos {
            line: spanned.referenced.line() as usize,
            column: spanned.referenced.column() as usize,
        };
        let value = match spanned.value {
            Raw::Null => Value::Null,
            Raw::Bool(value) => Value::Bool(value),
            Raw::Number(value) => Value::Number(value),
            Raw::Str(text) => Value::Str(text),
            Raw::Seq(items) => Value::Seq(items.into_iter().map(Node::from).collect()),
            Raw::Map(entries) => Value::Map(
                entries
                    .into_iter()
                    .map(|(key, value)| (Node::from(key), Node::from(value)))
                    .collect(),
            ),
        };
        Node { pos, value }
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Raw, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Raw, E> {
        Ok(Raw::Number(u64::try_from(value).ok()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Raw, E> {
        Ok(Raw::Number(Some(value)))
    }

    fn visit_i128<E: de::Error>(self, value: i128) -> Result<Raw, E> {
        Ok(Raw::Number(u64::try_from(value).ok()))
    }

    fn visit_u128<E: de::Error>(self, value: u128) -> Result<Raw, E> {
        Ok(Raw::Number(u64::try_from(value).ok()))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Raw, E> {
        Ok(Raw::Number(None))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Raw, E> {
        Ok(Raw::Str(text.to_owned()))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Raw, E> {
        Ok(Raw::Str(text))
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Raw, E> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Raw::Str(text.to_owned())),
            Err(_) => Err(E::custom("binary values are not allowed in a policy")),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key()? {
            let value = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Raw::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Raw, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}
