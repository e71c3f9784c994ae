//! Malformed policies, each in `tests/fixtures/invalid`, must be rejected with exactly the
//! problems listed at the end of the file as `# expect: LINE:COLUMN: text` lines (the text is
//! a fragment of the message).

use std::fs;
use std::path::Path;

use sentinel_policy::Policy;

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
        let actual: Vec<String> = problems.iter().map(|d| d.to_string()).collect();
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
