//! The shared secret a client presents in `Authorization`. Anyone on the machine can connect to a
//! loopback port, so the token is what limits the server to the processes it was handed to. It
//! is compared in constant time, so response timing says nothing about how much of a guess was
//! right, and it never appears in `Debug` output.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rand::TryRngCore;
use rand::rngs::OsRng;
use subtle::ConstantTimeEq;

/// Fewer characters than this are too easy to guess for a credential server.
const MIN_LEN: usize = 16;
/// More than this would not fit the server's header limit anyway.
const MAX_LEN: usize = 1024;

/// Why a token could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token file could not be read.
    #[error("cannot read the token file {path}: {source}")]
    Read {
        /// The token file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The token is not usable as an `Authorization` header value, or too short or long.
    #[error("unusable token{}: {problem}", from_path(.path))]
    Invalid {
        /// The file it came from, if any.
        path: Option<PathBuf>,
        /// What is wrong with it.
        problem: String,
    },
    /// The operating system's random number generator failed.
    #[error("cannot generate a token: the operating system's random number generator failed: {0}")]
    Rng(String),
}

fn from_path(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|path| format!(" in {}", path.display()))
        .unwrap_or_default()
}

/// The authorization token. `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A fresh token: 256 bits from the operating system's CSPRNG, as 64 hex digits.
    pub fn generate() -> Result<Token, TokenError> {
        let mut bytes = [0u8; 32];
        OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|error| TokenError::Rng(error.to_string()))?;
        Ok(Token(
            bytes.iter().map(|byte| format!("{byte:02x}")).collect(),
        ))
    }

    /// Reads the token from `path`: its whole content. A file other users can read or write is
    /// refused (anyone who can read it can get credentials). The SDKs send a token file's
    /// content as it is, so a trailing line break would be part of the token (and boto3 refuses
    /// such a header): it is refused here, with how to write the file instead.
    pub fn from_file(path: &Path) -> Result<Token, TokenError> {
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mode = std::fs::metadata(path)
            .map_err(|source| TokenError::Read {
                path: path.to_owned(),
                source,
            })?
            .permissions()
            .mode();
        let parsed = if mode & 0o077 != 0 {
            Err(TokenError::Invalid {
                path: None,
                problem: format!(
                    "other users may read or change it (mode {:o}); make it private: chmod 600 FILE",
                    mode & 0o777
                ),
            })
        } else if text.ends_with('\n') {
            Err(TokenError::Invalid {
                path: None,
                problem: "it ends with a line break, which AWS SDKs would send as part of the \
                          token; write it without one ((umask 077; printf '%s' TOKEN > FILE))"
                    .to_owned(),
            })
        } else {
            Token::parse(&text)
        };
        parsed.map_err(|error| match error {
            TokenError::Invalid { problem, .. } => TokenError::Invalid {
                path: Some(path.to_owned()),
                problem,
            },
            other => other,
        })
    }

    /// Checks `text` as a token: 16 to 1024 visible ASCII characters.
    pub fn parse(text: &str) -> Result<Token, TokenError> {
        let invalid = |problem: String| TokenError::Invalid {
            path: None,
            problem,
        };
        if text.len() < MIN_LEN {
            return Err(invalid(format!(
                "it has {} characters; at least {MIN_LEN} are needed",
                text.len()
            )));
        }
        if text.len() > MAX_LEN {
            return Err(invalid(format!("it is longer than {MAX_LEN} characters")));
        }
        if let Some(position) = text.bytes().position(|byte| !byte.is_ascii_graphic()) {
            return Err(invalid(format!(
                "character {} is not visible ASCII (spaces and control characters are not allowed)",
                position + 1
            )));
        }
        Ok(Token(text.to_owned()))
    }

    /// Whether `presented` is this token, in time that depends only on the lengths.
    pub fn matches(&self, presented: &[u8]) -> bool {
        self.0.as_bytes().ct_eq(presented).into()
    }

    /// The token itself, to hand to a client (never to a log).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token(<{} characters, redacted>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_256_bit_hex_and_differ() {
        let first = Token::generate().expect("token");
        let second = Token::generate().expect("token");
        assert_eq!(first.expose().len(), 64);
        assert!(first.expose().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(first, second);
    }

    #[test]
    fn matches_only_the_exact_token() {
        let token = Token::parse("0123456789abcdef-secret").expect("token");
        assert!(token.matches(b"0123456789abcdef-secret"));
        assert!(!token.matches(b"0123456789abcdef-secreT"));
        assert!(!token.matches(b"0123456789abcdef-secre"));
        assert!(!token.matches(b"0123456789abcdef-secrett"));
        assert!(!token.matches(b""));
    }

    #[test]
    fn refuses_short_blank_or_control_characters() {
        for bad in [
            "short",
            "0123456789abcdef with space",
            "0123456789abcdef\ttab",
        ] {
            let error = Token::parse(bad).expect_err(bad);
            assert!(error.to_string().contains("unusable token"), "{error}");
        }
    }

    #[test]
    fn reads_a_file_and_names_it_on_error() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("token");
        std::fs::write(&path, "0123456789abcdef-from-file").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let error = Token::from_file(&path).expect_err("readable by others");
        assert!(error.to_string().contains("mode 644"), "{error}");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let token = Token::from_file(&path).expect("token");
        assert!(token.matches(b"0123456789abcdef-from-file"));

        std::fs::write(&path, "0123456789abcdef-from-file\n").expect("write");
        let error = Token::from_file(&path).expect_err("line break");
        assert!(error.to_string().contains("line break"), "{error}");

        std::fs::write(&path, "tiny").expect("write");
        let error = Token::from_file(&path).expect_err("too short");
        assert!(
            error.to_string().contains(&path.display().to_string()),
            "{error}"
        );
        let missing = Token::from_file(&dir.path().join("missing")).expect_err("missing");
        assert!(missing.to_string().contains("cannot read the token file"));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let token = Token::parse("0123456789abcdef-secret").expect("token");
        assert!(!format!("{token:?}").contains("secret"));
    }
}
