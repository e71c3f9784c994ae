//! The policy's `identity` section: which callers may be users at all.
//!
//! A caller's name comes from AWS, but not every ARN carries a name the caller did not choose.
//! An IAM user's name is set by an administrator; so is the session name of a role whose
//! sessions AWS names (IAM Identity Center's `AWSReservedSSO_*` roles) or whose trust policy pins
//! the name (`sts:RoleSessionName = ${aws:username}`). Any other role session is named by
//! whoever assumed the role, and a federated user names itself. This section lists the accounts
//! whose principals may be users and the roles whose session names are user names; everything
//! else is refused before any rule is tried.

/// The roles whose session names are user names when a policy does not say: IAM Identity
/// Center's, whose session names AWS sets to the signed-in user's name.
pub const DEFAULT_SESSION_NAME_ROLES: &[&str] = &["AWSReservedSSO_*"];

/// A policy's `identity` section, with the defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `None`: the account of the role the profile hands out.
    accounts: Option<Box<[Box<str>]>>,
    session_name_roles: Box<[Box<str>]>,
}

impl Default for Identity {
    /// No `identity` section: principals of the profile's role's account, and Identity Center
    /// sessions.
    fn default() -> Identity {
        Identity {
            accounts: None,
            session_name_roles: DEFAULT_SESSION_NAME_ROLES
                .iter()
                .map(|&glob| glob.into())
                .collect(),
        }
    }
}

impl Identity {
    /// The section as given: `accounts` (`None` for the default) and `session_name_roles`
    /// (`None` for the default); the values must already be valid.
    pub(crate) fn new(
        accounts: Option<Vec<String>>,
        session_name_roles: Option<Vec<String>>,
    ) -> Identity {
        let boxed = |items: Vec<String>| items.into_iter().map(Into::into).collect();
        Identity {
            accounts: accounts.map(boxed),
            session_name_roles: match session_name_roles {
                Some(globs) => boxed(globs),
                None => Identity::default().session_name_roles,
            },
        }
    }

    /// The accounts whose principals may be users; `None` means the account of the role the
    /// profile hands out.
    pub fn accounts(&self) -> Option<&[Box<str>]> {
        self.accounts.as_deref()
    }

    /// The globs (`*` the only wildcard) of the roles whose session names are user names.
    pub fn session_name_roles(&self) -> &[Box<str>] {
        &self.session_name_roles
    }

    /// Whether a session of role `role` (its name, without path) carries a user name.
    pub fn is_session_name_role(&self, role: &str) -> bool {
        self.session_name_roles
            .iter()
            .any(|glob| glob_matches(glob.as_bytes(), role.as_bytes()))
    }
}

/// Whether `text` matches `pattern`, in which `*` stands for any run of characters (including
/// none) and every other character for itself. Linear in the common case, never exponential:
/// on a mismatch only the most recent `*` is widened.
pub fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // The position of the last `*` seen, and where in `text` its match currently ends.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    star = Some((star_p, star_t + 1));
                    p = star_p + 1;
                    t = star_t + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Whether `c` may appear in an IAM role name: letters, digits and `_+=,.@-`.
pub(crate) fn is_role_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, by brute force: `*` matches any split of the rest of the text.
    fn reference(pattern: &[u8], text: &[u8]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some((b'*', rest)) => (0..=text.len()).any(|skip| reference(rest, &text[skip..])),
            Some((&c, rest)) => text.first() == Some(&c) && reference(rest, &text[1..]),
        }
    }

    #[test]
    fn the_default_takes_identity_center_roles_only() {
        let identity = Identity::default();
        assert_eq!(identity.accounts(), None);
        assert!(identity.is_session_name_role("AWSReservedSSO_Admin_0123456789abcdef"));
        assert!(identity.is_session_name_role("AWSReservedSSO_"));
        assert!(!identity.is_session_name_role("awsreservedsso_Admin"));
        assert!(!identity.is_session_name_role("dev"));
        assert!(!identity.is_session_name_role("MyAWSReservedSSO_Admin"));
    }

    #[test]
    fn globs_match_as_documented() {
        for (pattern, text, expected) in [
            ("dev", "dev", true),
            ("dev", "devops", false),
            ("dev*", "devops", true),
            ("*ops", "devops", true),
            ("d*v*s", "devops", true),
            ("d*x*s", "devops", false),
            ("*", "", true),
            ("**", "a", true),
            ("a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
        ] {
            assert_eq!(
                glob_matches(pattern.as_bytes(), text.as_bytes()),
                expected,
                "{pattern} ~ {text}"
            );
        }
    }

    proptest! {
        #[test]
        fn glob_matching_agrees_with_its_definition(
            pattern in "[ab*]{0,8}",
            text in "[ab]{0,10}",
        ) {
            prop_assert_eq!(
                glob_matches(pattern.as_bytes(), text.as_bytes()),
                reference(pattern.as_bytes(), text.as_bytes())
            );
        }
    }
}
