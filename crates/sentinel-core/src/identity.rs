//! Who a credential was issued for, in a form AWS keeps: a random request ID per decision and
//! the STS `SourceIdentity` `sentinel.<user>.<request-id>` that carries it into CloudTrail.
//!
//! STS accepts `SourceIdentity` and `RoleSessionName` only as 2–64 characters of
//! `[A-Za-z0-9_+=,.@-]`, and the local emulator does not check, so this module does. A user name
//! that cannot fit is rejected, never rewritten, so two users can never share an identity.

use std::cell::RefCell;
use std::fmt;
use std::str::FromStr;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

/// Why an identity could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The operating system's random number generator could not seed the request ID generator.
    #[error(
        "cannot generate a request ID: the operating system's random number generator failed: {0}"
    )]
    Rng(String),
    /// A value breaks STS's rule for names: 2–64 characters of `[A-Za-z0-9_+=,.@-]`.
    #[error("{field} {value:?} is not accepted by STS: {problem}")]
    StsName {
        /// Which field was checked (e.g. "RoleSessionName", "user name").
        field: String,
        /// The rejected value.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The text is not 16 lowercase hexadecimal digits.
    #[error("invalid request ID {0:?}: expected 16 lowercase hexadecimal digits")]
    RequestId(String),
    /// The text is not of the form `sentinel.<user>.<request-id>`.
    #[error("invalid SourceIdentity {value:?}: {problem}")]
    SourceIdentity {
        /// The rejected text.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// A 64-bit random identifier for one request, shown as 16 lowercase hexadecimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

thread_local! {
    /// Each thread's generator, seeded from the OS on first use.
    static GENERATOR: RefCell<Option<StdRng>> = const { RefCell::new(None) };
}

impl RequestId {
    /// A fresh ID from this thread's CSPRNG (seeded from the OS on first use). Fails, rather
    /// than fall back to anything predictable, if the OS cannot provide a seed.
    pub fn generate() -> Result<RequestId, IdentityError> {
        GENERATOR.with(|cell| {
            let mut slot = cell.borrow_mut();
            let rng = match slot.as_mut() {
                Some(rng) => rng,
                None => slot.insert(
                    StdRng::try_from_os_rng().map_err(|e| IdentityError::Rng(e.to_string()))?,
                ),
            };
            Ok(RequestId(rng.next_u64()))
        })
    }

    /// The ID with this exact value (for replaying logs and for tests).
    pub const fn from_u64(value: u64) -> RequestId {
        RequestId(value)
    }

    /// The ID's 64-bit value.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Number of characters in a rendered request ID.
const REQUEST_ID_LEN: usize = 16;

impl FromStr for RequestId {
    type Err = IdentityError;

    /// Parses exactly 16 lowercase hexadecimal digits (what `Display` writes).
    fn from_str(text: &str) -> Result<RequestId, IdentityError> {
        let well_formed = text.len() == REQUEST_ID_LEN
            && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        match well_formed {
            true => u64::from_str_radix(text, 16)
                .map(RequestId)
                .map_err(|_| IdentityError::RequestId(text.to_owned())),
            false => Err(IdentityError::RequestId(text.to_owned())),
        }
    }
}

impl serde::Serialize for RequestId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RequestId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<RequestId, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Shortest and longest value STS accepts for `SourceIdentity` and `RoleSessionName`.
const STS_MIN_LEN: usize = 2;
const STS_MAX_LEN: usize = 64;

/// Whether STS accepts `c` in a `SourceIdentity` or `RoleSessionName` (`[\w+=,.@-]`).
fn is_sts_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}

/// The first character of `value` STS would reject, with its 0-based position, as a message.
fn bad_char(value: &str) -> Option<String> {
    value
        .chars()
        .enumerate()
        .find(|(_, c)| !is_sts_char(*c))
        .map(|(i, c)| {
            format!(
                "character {c:?} at position {i} is not allowed; \
                 only letters, digits and _+=,.@- are"
            )
        })
}

fn sts_error(field: &str, value: &str, problem: String) -> IdentityError {
    IdentityError::StsName {
        field: field.to_owned(),
        value: value.to_owned(),
        problem,
    }
}

/// Checks `value` against STS's rule for names (2–64 characters of `[A-Za-z0-9_+=,.@-]`),
/// as required of `SourceIdentity` and `RoleSessionName`; `field` names it in the error.
pub fn check_sts_name(field: &str, value: &str) -> Result<(), IdentityError> {
    let length = value.chars().count();
    if !(STS_MIN_LEN..=STS_MAX_LEN).contains(&length) {
        let problem =
            format!("it is {length} characters long; STS allows {STS_MIN_LEN} to {STS_MAX_LEN}");
        return Err(sts_error(field, value, problem));
    }
    match bad_char(value) {
        Some(problem) => Err(sts_error(field, value, problem)),
        None => Ok(()),
    }
}

/// The fixed start of every Sentinel `SourceIdentity`.
const PREFIX: &str = "sentinel.";
/// The longest user name that fits: 64 minus the prefix, a dot and the request ID.
const MAX_USER_LEN: usize = STS_MAX_LEN - PREFIX.len() - 1 - REQUEST_ID_LEN;

/// An STS `SourceIdentity` of the form `sentinel.<user>.<request-id>`, valid by construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceIdentity(String);

impl SourceIdentity {
    /// Builds the identity for `user` and `request_id`; rejects (never rewrites) a user name
    /// that is empty, longer than 38 characters, or has characters STS does not accept.
    ///
    /// It runs once per allow, so it is built without formatting machinery: a checked user
    /// fits by construction (the prefix, the dot and the hex digits are all characters STS
    /// accepts, and the total is at most 64), so only the user is checked.
    pub fn new(user: &str, request_id: RequestId) -> Result<SourceIdentity, IdentityError> {
        check_user(user)?;
        let mut identity = String::with_capacity(PREFIX.len() + user.len() + 1 + REQUEST_ID_LEN);
        identity.push_str(PREFIX);
        identity.push_str(user);
        identity.push('.');
        push_hex(&mut identity, request_id.as_u64());
        Ok(SourceIdentity(identity))
    }

    /// Reads a `sentinel.<user>.<request-id>` identity back into its user and request ID.
    pub fn parse(text: &str) -> Result<(&str, RequestId), IdentityError> {
        let malformed = |problem: &str| IdentityError::SourceIdentity {
            value: text.to_owned(),
            problem: problem.to_owned(),
        };
        let rest = text
            .strip_prefix(PREFIX)
            .ok_or_else(|| malformed("it does not start with \"sentinel.\""))?;
        let split = rest
            .len()
            .checked_sub(REQUEST_ID_LEN + 1)
            .filter(|&at| rest.is_char_boundary(at))
            .ok_or_else(|| malformed("it does not end with \".<16 hex digits>\""))?;
        let (user, id) = rest.split_at(split);
        let id = id
            .strip_prefix('.')
            .ok_or_else(|| malformed("it does not end with \".<16 hex digits>\""))?;
        let request_id = id.parse()?;
        check_user(user)?;
        Ok((user, request_id))
    }

    /// The identity as sent to STS.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SourceIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for SourceIdentity {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Appends `value` as 16 lowercase hexadecimal digits, as [`RequestId`]'s `Display` writes it.
fn push_hex(text: &mut String, value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..REQUEST_ID_LEN).rev() {
        let nibble = (value >> (shift * 4)) & 0xf;
        text.push(char::from(DIGITS[nibble as usize]));
    }
}

/// Checks that `user` fits in a `SourceIdentity` unchanged.
fn check_user(user: &str) -> Result<(), IdentityError> {
    let field = "user name";
    // The common case, in one pass over the bytes: STS's characters are all ASCII.
    let fits = (1..=MAX_USER_LEN).contains(&user.len())
        && user.bytes().all(|b| is_sts_char(char::from(b)));
    if fits {
        return Ok(());
    }
    if user.is_empty() {
        return Err(sts_error(field, user, "it is empty".to_owned()));
    }
    if let Some(problem) = bad_char(user) {
        return Err(sts_error(
            field,
            user,
            format!("{problem} in a SourceIdentity"),
        ));
    }
    if user.len() > MAX_USER_LEN {
        let problem = format!(
            "it is {} characters long; a SourceIdentity leaves room for at most {MAX_USER_LEN}",
            user.len()
        );
        return Err(sts_error(field, user, problem));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn request_ids_render_as_16_lowercase_hex_digits() {
        assert_eq!(RequestId::from_u64(0xab).to_string(), "00000000000000ab");
        assert_eq!(
            RequestId::from_u64(u64::MAX).to_string(),
            "ffffffffffffffff"
        );
    }

    #[test]
    fn request_id_parsing_accepts_only_what_display_writes() {
        assert_eq!(
            "00000000000000ab".parse::<RequestId>().unwrap(),
            RequestId::from_u64(0xab)
        );
        for bad in [
            "00000000000000AB",
            "ab",
            "+000000000000000a",
            "0x0000000000000a",
            "000000000000000g",
            "00000000000000ab0",
        ] {
            assert!(bad.parse::<RequestId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_request_ids_differ() {
        let ids: std::collections::HashSet<RequestId> = (0..10_000)
            .map(|_| RequestId::generate().unwrap())
            .collect();
        assert_eq!(ids.len(), 10_000);
    }

    #[test]
    fn request_ids_serialize_as_their_text() {
        let json = serde_json::to_string(&RequestId::from_u64(1)).unwrap();
        assert_eq!(json, "\"0000000000000001\"");
    }

    #[test]
    fn source_identity_has_the_documented_form() {
        let id = SourceIdentity::new("alice@example.com", RequestId::from_u64(0x1234)).unwrap();
        assert_eq!(id.as_str(), "sentinel.alice@example.com.0000000000001234");
    }

    #[test]
    fn users_that_do_not_fit_are_rejected_with_the_reason() {
        let id = RequestId::from_u64(1);
        let colon = SourceIdentity::new("a:b", id).unwrap_err().to_string();
        assert!(colon.contains("':' at position 1"), "{colon}");
        let long = SourceIdentity::new(&"a".repeat(39), id)
            .unwrap_err()
            .to_string();
        assert!(long.contains("at most 38"), "{long}");
        assert!(SourceIdentity::new(&"a".repeat(38), id).is_ok());
        assert!(
            SourceIdentity::new("", id)
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        assert!(SourceIdentity::new("josé", id).is_err());
    }

    #[test]
    fn sts_names_follow_the_sts_rule() {
        assert!(check_sts_name("RoleSessionName", "ab").is_ok());
        assert!(check_sts_name("RoleSessionName", &"x".repeat(64)).is_ok());
        assert!(check_sts_name("RoleSessionName", "a").is_err());
        assert!(check_sts_name("RoleSessionName", &"x".repeat(65)).is_err());
        let err = check_sts_name("RoleSessionName", "a:b")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("RoleSessionName \"a:b\""), "{err}");
    }

    #[test]
    fn malformed_source_identities_are_rejected() {
        for bad in [
            "sentinel:alice:0000000000000001",
            "sentinel.alice.00000000000001",
            "sentinel..0000000000000001",
            "other.alice.0000000000000001",
            "sentinel.alice-0000000000000001",
            "sentinel.a:b.0000000000000001",
            "sentinel.é0000000000000001",
        ] {
            assert!(SourceIdentity::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn source_identities_round_trip_and_satisfy_sts(
            user in "[A-Za-z0-9_+=,.@-]{1,38}",
            raw in any::<u64>(),
        ) {
            let id = RequestId::from_u64(raw);
            let identity = SourceIdentity::new(&user, id).unwrap();
            prop_assert_eq!(identity.as_str(), format!("sentinel.{user}.{id}"));
            prop_assert!(check_sts_name("SourceIdentity", identity.as_str()).is_ok());
            prop_assert_eq!(SourceIdentity::parse(identity.as_str()).unwrap(), (user.as_str(), id));
        }

        #[test]
        fn any_user_is_either_kept_exactly_or_rejected(user in "\\PC{0,50}", raw in any::<u64>()) {
            let id = RequestId::from_u64(raw);
            if let Ok(identity) = SourceIdentity::new(&user, id) {
                prop_assert!(check_sts_name("SourceIdentity", identity.as_str()).is_ok());
                prop_assert_eq!(SourceIdentity::parse(identity.as_str()).unwrap().0, user.as_str());
            } else {
                prop_assert!(
                    user.is_empty() || user.len() > MAX_USER_LEN || !user.chars().all(is_sts_char)
                );
            }
        }

        #[test]
        fn request_ids_round_trip(raw in any::<u64>()) {
            let id = RequestId::from_u64(raw);
            prop_assert_eq!(id.to_string().parse::<RequestId>().unwrap(), id);
        }
    }
}
