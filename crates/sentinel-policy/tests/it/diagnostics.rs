//! Malformed policies, each in `tests/fixtures/invalid`, must be rejected with exactly the
//! problems listed at the end of the file as `# expect: LINE:COLUMN: text` lines (the text is
//! a fragment of the message), each an error with the code listed for it in [`CODES`].

use std::fs;
use std::path::Path;

use sentinel_policy::{Code, Policy, Severity};

struct Expected {
    line: usize,
    column: usize,
    text: String,
}

fn expectations(source: &str) -> Vec<Expected> {
    source
        .lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|spec| {
            let mut parts = spec.splitn(3, ':');
            let mut number = || parts.next().unwrap().trim().parse().unwrap();
            let (line, column) = (number(), number());
            let text = parts.next().unwrap().trim().to_owned();
            Expected { line, column, text }
        })
        .collect()
}

#[test]
fn every_malformed_fixture_reports_its_expected_problems() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut checked = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let source = fs::read_to_string(&path).unwrap();
        let expected = expectations(&source);
        assert!(
            !expected.is_empty(),
            "{} lists no expectations",
            path.display()
        );
        let problems = Policy::from_yaml(&source)
            .err()
            .unwrap_or_else(|| panic!("{} was accepted", path.display()));
        let actual: Vec<String> = problems
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        assert_eq!(
            actual.len(),
            expected.len(),
            "{}: got {actual:#?}",
            path.display()
        );
        for (got, want) in problems.iter().zip(&expected) {
            assert!(
                got.line == want.line
                    && got.column == want.column
                    && got.message.contains(&want.text),
                "{}: expected {}:{}: …{}…, got {got}",
                path.display(),
                want.line,
                want.column,
                want.text
            );
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} fixtures found");
}

#[test]
fn invalid_utf8_is_a_diagnostic_at_the_first_bad_byte() {
    let problems = Policy::from_yaml_bytes(b"version: \"1\"\nrules: \xff\n").unwrap_err();
    let first = problems.iter().next().unwrap();
    assert_eq!((first.line, first.column), (2, 8));
    assert!(first.message.contains("not valid UTF-8"), "{first}");
}

#[test]
fn diagnostics_display_one_line_per_problem() {
    let problems = Policy::from_yaml("version: \"3\"\nrules: []\n").unwrap_err();
    assert_eq!(
        problems.to_string(),
        "1:10: unsupported version \"3\"; expected \"1\"\n\
         2:8: rules is an empty list; a policy needs at least one rule"
    );
}

/// The codes of each fixture's problems, in source order.
const CODES: &[(&str, &[Code])] = &[
    (
        "approval-problems.yaml",
        &[
            Code::ApprovalNeedsRequireApproval,
            Code::CountAboveApprovers,
            Code::EmptyList,
            Code::InvalidCount,
            Code::InvalidDuration,
            Code::InvalidDuration,
        ],
    ),
    ("bad-hours.yaml", &[Code::InvalidTime, Code::InvalidTime]),
    ("boolean-user.yaml", &[Code::NotAString]),
    (
        "break-glass-problems.yaml",
        &[
            Code::BreakGlassMismatch,
            Code::BreakGlassMismatch,
            Code::InvalidBreakGlassCondition,
            Code::InvalidDuration,
            Code::InvalidCount,
        ],
    ),
    ("document-not-a-mapping.yaml", &[Code::NotAMapping]),
    ("duplicate-key.yaml", &[Code::DuplicateKey]),
    ("duplicate-name.yaml", &[Code::DuplicateRuleName]),
    ("empty-list.yaml", &[Code::EmptyList]),
    ("empty-rules.yaml", &[Code::EmptyList]),
    ("empty.yaml", &[Code::EmptyPolicy]),
    ("equal-hours.yaml", &[Code::InvalidHours]),
    ("identity-empty.yaml", &[Code::EmptySection]),
    ("identity-no-accounts.yaml", &[Code::EmptyList]),
    (
        "identity-problems.yaml",
        &[
            Code::NotAString,
            Code::InvalidAccount,
            Code::InvalidRoleName,
            Code::EmptyName,
            Code::UnknownKey,
        ],
    ),
    ("key-not-a-string.yaml", &[Code::KeyNotAString]),
    (
        "many-problems.yaml",
        &[
            Code::UnknownEffect,
            Code::EmptyList,
            Code::DuplicateRuleName,
            Code::UnknownKey,
            Code::UnknownWeekday,
            Code::InvalidHours,
            Code::UnknownTimezone,
            Code::MissingKey,
        ],
    ),
    ("missing-version.yaml", &[Code::MissingKey]),
    ("null-conditions.yaml", &[Code::EmptySection]),
    ("rules-not-a-list.yaml", &[Code::NotAList]),
    ("syntax-error.yaml", &[Code::YamlSyntax]),
    ("unknown-effect.yaml", &[Code::UnknownEffect]),
    ("unknown-etc-zone.yaml", &[Code::UnknownTimezone]),
    ("unknown-key.yaml", &[Code::MissingKey, Code::UnknownKey]),
    ("unknown-timezone.yaml", &[Code::UnknownTimezone]),
    ("unknown-weekday.yaml", &[Code::UnknownWeekday]),
    ("unquoted-version.yaml", &[Code::NotAString]),
    ("unsupported-version.yaml", &[Code::UnsupportedVersion]),
];

#[test]
fn every_fixture_problem_is_an_error_with_its_kinds_code() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut fixtures: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    fixtures.sort();
    let listed: Vec<&str> = CODES.iter().map(|(name, _)| *name).collect();
    assert_eq!(fixtures, listed, "CODES lists every fixture, in name order");
    for (name, codes) in CODES {
        let problems = Policy::from_yaml(&fs::read_to_string(dir.join(name)).unwrap()).unwrap_err();
        let actual: Vec<(Severity, Code)> = problems.iter().map(|d| (d.severity, d.code)).collect();
        let expected: Vec<(Severity, Code)> = codes.iter().map(|&c| (Severity::Error, c)).collect();
        assert_eq!(actual, expected, "{name}");
    }
}

#[test]
fn invalid_utf8_is_an_error_with_its_own_code() {
    let problems = Policy::from_yaml_bytes(b"version: \"1\"\nrules: \xff\n").unwrap_err();
    let first = problems.iter().next().unwrap();
    assert_eq!(
        (first.severity, first.code),
        (Severity::Error, Code::NotUtf8)
    );
}

#[test]
fn every_code_but_the_fail_safe_is_produced_by_some_fixture() {
    let produced: Vec<Code> = CODES
        .iter()
        .flat_map(|(_, codes)| codes.iter().copied())
        .chain([Code::NotUtf8])
        .collect();
    for code in Code::ALL {
        // Unreadable guards against a checker that refuses a policy without saying why; no
        // source reaches it.
        if code != Code::Unreadable {
            assert!(
                produced.contains(&code),
                "no test produces {}",
                code.as_str()
            );
        }
    }
}

#[test]
fn each_code_reads_as_its_stable_text() {
    let table = [
        (Code::YamlSyntax, "yaml-syntax"),
        (Code::NotUtf8, "not-utf8"),
        (Code::EmptyPolicy, "empty-policy"),
        (Code::EmptySection, "empty-section"),
        (Code::NotAMapping, "not-a-mapping"),
        (Code::KeyNotAString, "key-not-a-string"),
        (Code::NotAList, "not-a-list"),
        (Code::NotAString, "not-a-string"),
        (Code::UnknownKey, "unknown-key"),
        (Code::DuplicateKey, "duplicate-key"),
        (Code::MissingKey, "missing-key"),
        (Code::EmptyList, "empty-list"),
        (Code::EmptyName, "empty-name"),
        (Code::UnsupportedVersion, "unsupported-version"),
        (Code::InvalidAccount, "invalid-account"),
        (Code::InvalidRoleName, "invalid-role-name"),
        (Code::DuplicateRuleName, "duplicate-rule-name"),
        (Code::UnknownEffect, "unknown-effect"),
        (Code::UnknownWeekday, "unknown-weekday"),
        (Code::InvalidTime, "invalid-time"),
        (Code::InvalidHours, "invalid-hours"),
        (Code::UnknownTimezone, "unknown-timezone"),
        (Code::Unreadable, "unreadable"),
        (
            Code::ApprovalNeedsRequireApproval,
            "approval-needs-require-approval",
        ),
        (Code::CountAboveApprovers, "count-above-approvers"),
        (Code::BreakGlassMismatch, "break-glass-mismatch"),
        (
            Code::InvalidBreakGlassCondition,
            "invalid-break-glass-condition",
        ),
        (Code::InvalidCount, "invalid-count"),
        (Code::InvalidDuration, "invalid-duration"),
    ];
    assert_eq!(table.map(|(code, _)| code), Code::ALL);
    for (code, text) in table {
        assert_eq!(code.as_str(), text);
    }
}

#[test]
fn validation_reports_a_fixtures_problems_as_errors_and_no_warnings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    for (name, _) in CODES {
        let source = fs::read(dir.join(name)).unwrap();
        let validation = Policy::validate(&source);
        let errors = Policy::from_yaml_bytes(&source).unwrap_err();
        assert!(!validation.passed(), "{name}");
        assert_eq!(
            validation.errors(),
            errors.iter().cloned().collect::<Vec<_>>(),
            "{name}"
        );
        assert_eq!(validation.warnings(), [], "{name}");
    }
}

#[test]
fn a_valid_policy_passes_validation_with_no_warnings() {
    let validation = Policy::validate(include_bytes!("../../../../examples/policy.yaml"));
    assert!(validation.passed());
    assert_eq!(validation.errors(), []);
    assert_eq!(validation.warnings(), []);
}
