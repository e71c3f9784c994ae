//! The stable code of each kind of problem a policy can have, so that tools and tests can tell
//! problems apart without reading their messages, which may be reworded.

/// What kind of problem a diagnostic reports. The text of each code ([`Code::as_str`]) is
/// stable: a code is never reused for another kind of problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Code {
    /// The source is not valid YAML (or holds a value no policy can, such as binary data).
    YamlSyntax,
    /// The source is not valid UTF-8 text.
    NotUtf8,
    /// The document holds nothing.
    EmptyPolicy,
    /// A section (`identity`, `conditions`) is present with no value.
    EmptySection,
    /// A value that must be a mapping is something else.
    NotAMapping,
    /// A mapping key is not a string.
    KeyNotAString,
    /// A value that must be a list is something else.
    NotAList,
    /// A value that must be a string is something else.
    NotAString,
    /// A key the language does not have at that level.
    UnknownKey,
    /// A key given twice in one mapping.
    DuplicateKey,
    /// A required key is absent.
    MissingKey,
    /// A list that must have items has none.
    EmptyList,
    /// A user, profile or role name is the empty string.
    EmptyName,
    /// `version` names a format version this crate does not read.
    UnsupportedVersion,
    /// An account is not a 12-digit AWS account ID.
    InvalidAccount,
    /// A role name has a character IAM role names cannot have.
    InvalidRoleName,
    /// Two rules have the same name.
    DuplicateRuleName,
    /// An effect the language does not have.
    UnknownEffect,
    /// A weekday name the language does not have.
    UnknownWeekday,
    /// A time of day that is not `HH:MM` or is out of range.
    InvalidTime,
    /// An `hours` window whose start and end are equal.
    InvalidHours,
    /// A time zone that is not in the IANA database.
    UnknownTimezone,
    /// The checker found no problem yet could not read the policy; it fails closed.
    Unreadable,
    /// An `approval` block on a rule whose effect is not `require_approval`.
    ApprovalNeedsRequireApproval,
    /// An approval `count` larger than the number of distinct approvers.
    CountAboveApprovers,
    /// A `break_glass` block without the `break_glass: true` condition, or the reverse.
    BreakGlassMismatch,
    /// The `break_glass` condition is something other than `true`.
    InvalidBreakGlassCondition,
    /// A count that is not a whole number in range.
    InvalidCount,
    /// A duration that does not parse or is out of range.
    InvalidDuration,
}

impl Code {
    /// Every code, in the order they are declared.
    pub const ALL: [Code; 29] = [
        Code::YamlSyntax,
        Code::NotUtf8,
        Code::EmptyPolicy,
        Code::EmptySection,
        Code::NotAMapping,
        Code::KeyNotAString,
        Code::NotAList,
        Code::NotAString,
        Code::UnknownKey,
        Code::DuplicateKey,
        Code::MissingKey,
        Code::EmptyList,
        Code::EmptyName,
        Code::UnsupportedVersion,
        Code::InvalidAccount,
        Code::InvalidRoleName,
        Code::DuplicateRuleName,
        Code::UnknownEffect,
        Code::UnknownWeekday,
        Code::InvalidTime,
        Code::InvalidHours,
        Code::UnknownTimezone,
        Code::Unreadable,
        Code::ApprovalNeedsRequireApproval,
        Code::CountAboveApprovers,
        Code::BreakGlassMismatch,
        Code::InvalidBreakGlassCondition,
        Code::InvalidCount,
        Code::InvalidDuration,
    ];

    /// The code as text: short, kebab-case and stable.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::YamlSyntax => "yaml-syntax",
            Code::NotUtf8 => "not-utf8",
            Code::EmptyPolicy => "empty-policy",
            Code::EmptySection => "empty-section",
            Code::NotAMapping => "not-a-mapping",
            Code::KeyNotAString => "key-not-a-string",
            Code::NotAList => "not-a-list",
            Code::NotAString => "not-a-string",
            Code::UnknownKey => "unknown-key",
            Code::DuplicateKey => "duplicate-key",
            Code::MissingKey => "missing-key",
            Code::EmptyList => "empty-list",
            Code::EmptyName => "empty-name",
            Code::UnsupportedVersion => "unsupported-version",
            Code::InvalidAccount => "invalid-account",
            Code::InvalidRoleName => "invalid-role-name",
            Code::DuplicateRuleName => "duplicate-rule-name",
            Code::UnknownEffect => "unknown-effect",
            Code::UnknownWeekday => "unknown-weekday",
            Code::InvalidTime => "invalid-time",
            Code::InvalidHours => "invalid-hours",
            Code::UnknownTimezone => "unknown-timezone",
            Code::Unreadable => "unreadable",
            Code::ApprovalNeedsRequireApproval => "approval-needs-require-approval",
            Code::CountAboveApprovers => "count-above-approvers",
            Code::BreakGlassMismatch => "break-glass-mismatch",
            Code::InvalidBreakGlassCondition => "invalid-break-glass-condition",
            Code::InvalidCount => "invalid-count",
            Code::InvalidDuration => "invalid-duration",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Code;

    #[test]
    fn codes_are_distinct_and_kebab_case() {
        let mut seen: Vec<&str> = Vec::new();
        for code in Code::ALL {
            let text = code.as_str();
            assert!(!seen.contains(&text), "{text} is used twice");
            assert!(
                !text.is_empty()
                    && !text.starts_with('-')
                    && !text.ends_with('-')
                    && !text.contains("--")
                    && text
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{text} is not kebab-case"
            );
            seen.push(text);
        }
    }
}
