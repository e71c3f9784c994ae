//! Property tests: the compiled evaluator agrees with a plain reading of the language's rules on
//! random policies and instants, and no input, however broken, panics the parser.

use jiff::Timestamp;
use jiff::tz::TimeZoneDatabase;
use proptest::prelude::*;
use sentinel_policy::{Effect, Policy, Request};

const USERS: &[&str] = &["alice", "bob", "carol", "dave", "erin"];
const PROFILES: &[&str] = &["prod", "dev", "stage", "audit"];
const DAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
/// Zones with and without DST, half-hour offsets, and a 30-minute DST shift (Lord Howe).
const ZONES: &[&str] = &[
    "UTC",
    "Europe/London",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
];
const EFFECTS: &[&str] = &["allow", "deny", "require_approval"];

#[derive(Debug, Clone)]
struct TimeSpec {
    days: Option<Vec<&'static str>>,
    hours: Option<(String, String)>,
    zone: Option<&'static str>,
}

#[derive(Debug, Clone)]
struct RuleSpec {
    effect: &'static str,
    users: Option<Vec<&'static str>>,
    profiles: Option<Vec<&'static str>>,
    time: Option<TimeSpec>,
}

fn subset(pool: &'static [&'static str]) -> impl Strategy<Value = Option<Vec<&'static str>>> {
    proptest::option::of(proptest::sample::subsequence(pool, 1..=pool.len().min(3)))
}

fn clock(max: u32) -> impl Strategy<Value = String> {
    (0..=max).prop_map(|m| format!("{:02}:{:02}", m / 60, m % 60))
}

fn hours() -> impl Strategy<Value = (String, String)> {
    // Coarse minutes make window edges likely to be hit by the instants below.
    (clock(23 * 60 + 59), clock(24 * 60)).prop_filter("start equals end", |(s, e)| s != e)
}

fn time_spec() -> impl Strategy<Value = TimeSpec> {
    (
        proptest::option::of(proptest::sample::subsequence(DAYS, 1..=7)),
        proptest::option::of(hours()),
        proptest::option::of(proptest::sample::select(ZONES)),
    )
        .prop_map(|(days, hours, zone)| TimeSpec { days, hours, zone })
}

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    (
        proptest::sample::select(EFFECTS),
        subset(USERS),
        subset(PROFILES),
        proptest::option::of(time_spec()),
    )
        .prop_map(|(effect, users, profiles, time)| RuleSpec {
            effect,
            users,
            profiles,
            time,
        })
}

fn yaml_list(items: &[&str]) -> String {
    format!("[{}]", items.join(", "))
}

fn render(rules: &[RuleSpec]) -> String {
    let mut out = String::from("version: \"1\"\nrules:\n");
    for (i, rule) in rules.iter().enumerate() {
        let mut conditions = Vec::new();
        if let Some(users) = &rule.users {
            conditions.push(format!("users: {}", yaml_list(users)));
        }
        if let Some(profiles) = &rule.profiles {
            conditions.push(format!("profiles: {}", yaml_list(profiles)));
        }
        if let Some(time) = &rule.time {
            let mut fields = Vec::new();
            if let Some(days) = &time.days {
                fields.push(format!("days: {}", yaml_list(days)));
            }
            if let Some((start, end)) = &time.hours {
                fields.push(format!("hours: {{ start: \"{start}\", end: \"{end}\" }}"));
            }
            if let Some(zone) = time.zone {
                fields.push(format!("timezone: {zone}"));
            }
            conditions.push(format!("time: {{ {} }}", fields.join(", ")));
        }
        out += &format!(
            "  - name: r{i}\n    effect: {}\n    conditions: {{ {} }}\n    reason: generated\n",
            rule.effect,
            conditions.join(", ")
        );
    }
    out
}

/// Minutes since midnight of an `HH:MM` text.
fn minutes(text: &str) -> i32 {
    let (h, m) = text.split_once(':').unwrap();
    h.parse::<i32>().unwrap() * 60 + m.parse::<i32>().unwrap()
}

/// The evaluation rule read literally: try the rules in order; the first whose given conditions all
/// hold decides; otherwise deny with no rule.
fn reference(
    rules: &[RuleSpec],
    user: &str,
    profile: &str,
    at: Timestamp,
) -> (Effect, Option<usize>) {
    for (i, rule) in rules.iter().enumerate() {
        let user_ok = rule.users.as_ref().is_none_or(|u| u.contains(&user));
        let profile_ok = rule.profiles.as_ref().is_none_or(|p| p.contains(&profile));
        let time_ok = rule.time.as_ref().is_none_or(|t| {
            let zone = TimeZoneDatabase::bundled()
                .get(t.zone.unwrap_or("UTC"))
                .unwrap();
            let local = at.to_zoned_datetime(zone);
            let day = format!("{:?}", local.weekday()).to_lowercase();
            let day_ok = t.days.as_ref().is_none_or(|d| d.contains(&day.as_str()));
            let now = i32::from(local.hour()) * 60 + i32::from(local.minute());
            let hours_ok = t.hours.as_ref().is_none_or(|(s, e)| {
                let (s, e) = (minutes(s), minutes(e));
                if s < e {
                    s <= now && now < e
                } else {
                    now >= s || now < e
                }
            });
            day_ok && hours_ok
        });
        if user_ok && profile_ok && time_ok {
            let effect = match rule.effect {
                "allow" => Effect::Allow,
                "deny" => Effect::Deny,
                _ => Effect::RequireApproval,
            };
            return (effect, Some(i));
        }
    }
    (Effect::Deny, None)
}

fn instant() -> impl Strategy<Value = Timestamp> {
    // 2020-01-01 to 2031-01-01, on whole minutes half the time so edges are hit exactly.
    (1_577_836_800i64..1_924_992_000i64, any::<bool>()).prop_map(|(s, whole)| {
        let s = if whole { s - s % 60 } else { s };
        Timestamp::from_second(s).unwrap()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn compiled_evaluation_agrees_with_the_plain_reading(
        rules in proptest::collection::vec(rule_spec(), 1..40),
        requests in proptest::collection::vec(
            (proptest::sample::select(USERS), proptest::sample::select(PROFILES), instant()),
            1..20,
        ),
    ) {
        let source = render(&rules);
        let policy = Policy::from_yaml(&source).map_err(|e| TestCaseError::fail(format!("{e}\n{source}")))?;
        for (user, profile, at) in requests {
            let decision = policy.evaluate(&Request::new(user, profile, at));
            let (effect, index) = reference(&rules, user, profile, at);
            prop_assert_eq!((decision.effect, decision.rule_index), (effect, index), "{} {} {}", user, profile, at);
            let name = index.map(|i| format!("r{i}"));
            prop_assert_eq!(decision.rule, name.as_deref());
            prop_assert_eq!(decision.reason, index.map(|_| "generated"));
        }
    }

    #[test]
    fn unknown_users_and_profiles_match_only_unconditioned_rules(
        rules in proptest::collection::vec(rule_spec(), 1..20),
        at in instant(),
    ) {
        let policy = Policy::from_yaml(&render(&rules)).unwrap();
        let decision = policy.evaluate(&Request::new("zed", "nowhere", at));
        prop_assert_eq!(decision.rule_index, reference(&rules, "zed", "nowhere", at).1);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Policy::from_yaml_bytes(&bytes);
    }

    #[test]
    fn yaml_like_text_never_panics_the_parser(
        text in "([a-z_]{1,8}|[ \n:\\-\\[\\]{},\"'&*!|>#%@`?]|  |0|9|24:00|monday|UTC|version|rules|effect){0,80}",
    ) {
        let _ = Policy::from_yaml(&text);
    }

    #[test]
    fn mangled_valid_policies_fail_with_diagnostics_not_panics(
        at in 0usize..1000,
        cut in 0usize..40,
        insert in "\\PC{0,12}",
    ) {
        let source = include_str!("../../../../examples/policy.yaml");
        let mut bytes = source.as_bytes().to_vec();
        let at = at.min(bytes.len());
        let end = (at + cut).min(bytes.len());
        bytes.splice(at..end, insert.bytes());
        if let Err(problems) = Policy::from_yaml_bytes(&bytes) {
            prop_assert!(!problems.is_empty());
            for problem in &problems {
                prop_assert!(problem.line >= 1 && problem.column >= 1, "{}", problem);
            }
        }
    }
}
