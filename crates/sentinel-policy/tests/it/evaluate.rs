//! Evaluation cases of the policy language (docs/policy.md): time zones across DST changes on both sides of the
//! Atlantic, days that differ between UTC and local time, window edges, wrap-around windows,
//! `24:00`, first match wins, default deny and catch-all rules.

use std::time::Duration;

use jiff::Timestamp;
use sentinel_policy::{Decision, Effect, Policy, Request};

/// A policy whose rules all allow `alice` on `p` under one time condition, named `office`.
fn office(time: &str) -> Policy {
    let source = format!(
        "version: \"1\"\nrules:\n  - name: office\n    effect: allow\n    conditions:\n      \
         users: [alice]\n      profiles: [p]\n      time: {time}\n"
    );
    Policy::from_yaml(&source).unwrap_or_else(|e| panic!("{e}\n{source}"))
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// Asserts, for each `(instant, allowed)`, whether the single rule of `policy` matches.
fn check(policy: &Policy, cases: &[(&str, bool)]) {
    for &(instant, allowed) in cases {
        let decision = policy.evaluate(&Request::new("alice", "p", at(instant)));
        let expected = if allowed { Effect::Allow } else { Effect::Deny };
        assert_eq!(decision.effect, expected, "at {instant}");
    }
}

const WEEKDAYS_9_TO_5: &str = "{ days: [monday, tuesday, wednesday, thursday, friday], \
                               hours: { start: \"09:00\", end: \"17:00\" }";

#[test]
fn new_york_office_hours_follow_us_daylight_saving() {
    let policy = office(&format!("{WEEKDAYS_9_TO_5}, timezone: America/New_York }}"));
    check(
        &policy,
        &[
            ("2026-03-06T14:00:00Z", true),  // Fri 09:00 EST: start is inclusive
            ("2026-03-06T13:59:59Z", false), // Fri 08:59 EST
            ("2026-03-09T13:00:00Z", true),  // Mon 09:00 EDT (DST began Sunday 8 March)
            ("2026-03-09T12:59:00Z", false), // Mon 08:59 EDT
            ("2026-03-09T20:59:59Z", true),  // Mon 16:59 EDT
            ("2026-03-09T21:00:00Z", false), // Mon 17:00 EDT: end is exclusive
            ("2026-10-30T13:30:00Z", true),  // Fri 09:30 EDT
            ("2026-11-02T13:30:00Z", false), // Mon 08:30 EST (DST ended Sunday 1 November)
            ("2026-11-02T14:30:00Z", true),  // Mon 09:30 EST
        ],
    );
}

#[test]
fn london_office_hours_follow_uk_summer_time() {
    let policy = office(&format!("{WEEKDAYS_9_TO_5}, timezone: Europe/London }}"));
    check(
        &policy,
        &[
            ("2026-03-16T09:00:00Z", true), // Mon 09:00 GMT, while New York is already on EDT
            ("2026-03-27T16:30:00Z", true), // Fri 16:30 GMT
            ("2026-03-30T08:30:00Z", true), // Mon 09:30 BST (summer time began 29 March)
            ("2026-03-30T16:30:00Z", false), // Mon 17:30 BST
            ("2026-10-23T08:30:00Z", true), // Fri 09:30 BST
            ("2026-10-26T08:30:00Z", false), // Mon 08:30 GMT (summer time ended 25 October)
            ("2026-10-24T12:00:00Z", false), // Saturday
        ],
    );
}

#[test]
fn days_are_local_days_not_utc_days() {
    let tokyo = office("{ days: [monday], timezone: Asia/Tokyo }");
    check(&tokyo, &[("2026-11-29T20:00:00Z", true)]); // Sunday in UTC, Monday 05:00 in Tokyo
    let los_angeles = office("{ days: [friday], timezone: America/Los_Angeles }");
    check(&los_angeles, &[("2026-11-28T03:00:00Z", true)]); // Saturday UTC, Friday 19:00 PST
    let utc = office("{ days: [monday] }");
    check(
        &utc,
        &[
            ("2026-11-29T20:00:00Z", false),
            ("2026-11-30T00:00:00Z", true),
        ],
    );
}

#[test]
fn windows_that_wrap_midnight_hold_on_both_sides() {
    let policy = office("{ hours: { start: \"22:00\", end: \"06:00\" } }");
    check(
        &policy,
        &[
            ("2026-11-27T22:00:00Z", true),
            ("2026-11-27T23:30:00Z", true),
            ("2026-11-28T00:00:00Z", true),
            ("2026-11-28T05:59:59Z", true),
            ("2026-11-28T06:00:00Z", false),
            ("2026-11-28T21:59:59Z", false),
            ("2026-11-28T12:00:00Z", false),
        ],
    );
}

#[test]
fn days_and_hours_are_checked_independently_in_a_wrapping_window() {
    let policy = office("{ days: [friday], hours: { start: \"22:00\", end: \"06:00\" } }");
    check(
        &policy,
        &[
            ("2026-11-27T23:00:00Z", true),  // Friday 23:00
            ("2026-11-27T02:00:00Z", true),  // Friday 02:00
            ("2026-11-28T02:00:00Z", false), // Saturday 02:00: not a Friday
        ],
    );
}

#[test]
fn an_end_of_24_00_runs_to_midnight() {
    let policy = office("{ hours: { start: \"18:00\", end: \"24:00\" } }");
    check(
        &policy,
        &[
            ("2026-11-27T18:00:00Z", true),
            ("2026-11-27T23:59:59Z", true),
            ("2026-11-28T00:00:00Z", false),
            ("2026-11-27T17:59:59Z", false),
        ],
    );
}

#[test]
fn window_edges_hold_across_a_spring_forward_gap() {
    // On 8 March 2026 New York skips 02:00–03:00; a 02:00–03:00 window never holds that day.
    let policy =
        office("{ hours: { start: \"02:00\", end: \"03:00\" }, timezone: America/New_York }");
    check(
        &policy,
        &[
            ("2026-03-08T06:59:59Z", false), // 01:59:59 EST
            ("2026-03-08T07:00:00Z", false), // 03:00 EDT
            ("2026-03-09T06:30:00Z", true),  // 02:30 EDT the next day
        ],
    );
}

const ORDERED: &str = r#"
version: "1"
rules:
  - name: deny-bob
    effect: deny
    conditions: { users: [bob] }
    reason: revoked
  - name: everyone-on-dev
    effect: allow
    conditions: { profiles: [dev] }
  - name: approval-for-prod
    effect: require_approval
    conditions: { users: [bob, carol], profiles: [prod] }
    reason: "needs a second person"
"#;

#[test]
fn the_first_matching_rule_decides() {
    let policy = Policy::from_yaml(ORDERED).unwrap();
    let now = at("2026-11-27T12:00:00Z");
    assert_eq!(
        policy.evaluate(&Request::new("bob", "dev", now)),
        Decision {
            effect: Effect::Deny,
            rule: Some("deny-bob"),
            rule_index: Some(0),
            reason: Some("revoked"),
            approval: None,
            break_glass: None,
        }
    );
    assert_eq!(
        policy.evaluate(&Request::new("carol", "dev", now)),
        Decision {
            effect: Effect::Allow,
            rule: Some("everyone-on-dev"),
            rule_index: Some(1),
            reason: None,
            approval: None,
            break_glass: None,
        }
    );
    assert_eq!(
        policy.evaluate(&Request::new("carol", "prod", now)).effect,
        Effect::RequireApproval
    );
}

#[test]
fn no_matching_rule_is_a_deny_with_no_rule() {
    let policy = Policy::from_yaml(ORDERED).unwrap();
    let decision = policy.evaluate(&Request::new("dave", "prod", at("2026-11-27T12:00:00Z")));
    assert_eq!(decision, Decision::DEFAULT_DENY);
    assert_eq!(decision.rule, None);
    assert_eq!(decision.rule_index, None);
}

#[test]
fn a_rule_without_conditions_or_with_empty_conditions_matches_everything() {
    for conditions in ["", "    conditions: {}\n"] {
        let source = format!(
            "version: \"1\"\nrules:\n  - name: only-ops\n    effect: allow\n    conditions: {{ users: [ops] }}\n  - name: rest\n    effect: deny\n{conditions}"
        );
        let policy = Policy::from_yaml(&source).unwrap();
        let now = at("2026-11-27T12:00:00Z");
        assert_eq!(
            policy.evaluate(&Request::new("ops", "x", now)).rule,
            Some("only-ops")
        );
        assert_eq!(
            policy.evaluate(&Request::new("anyone", "x", now)).rule,
            Some("rest")
        );
        assert_eq!(
            policy.evaluate(&Request::new("", "", now)).rule,
            Some("rest")
        );
        assert_eq!(policy.rules(), 2);
    }
}

#[test]
fn the_example_policy_decides_as_documented() {
    let source = include_str!("../../../../examples/policy.yaml");
    let policy = Policy::from_yaml(source).unwrap();
    let monday_10_london = at("2026-11-30T10:00:00Z");
    let saturday = at("2026-11-28T10:00:00Z");
    let cases = [
        (
            "bob",
            "production",
            monday_10_london,
            Effect::Deny,
            Some("deny-bob-production"),
        ),
        (
            "alice",
            "production",
            saturday,
            Effect::Allow,
            Some("allow-production"),
        ),
        (
            "alice",
            "staging",
            monday_10_london,
            Effect::Allow,
            Some("allow-staging-office-hours"),
        ),
        ("alice", "staging", saturday, Effect::Deny, None),
        (
            "alice",
            "break-glass",
            saturday,
            Effect::RequireApproval,
            Some("break-glass-needs-approval"),
        ),
        (
            "mallory",
            "production",
            monday_10_london,
            Effect::Deny,
            None,
        ),
    ];
    for (user, profile, instant, effect, rule) in cases {
        let decision = policy.evaluate(&Request::new(user, profile, instant));
        assert_eq!(
            (decision.effect, decision.rule),
            (effect, rule),
            "{user} {profile} {instant}"
        );
    }
}

#[test]
fn a_policy_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Policy>();
    let policy = std::sync::Arc::new(Policy::from_yaml(ORDERED).unwrap());
    let worker = {
        let policy = std::sync::Arc::clone(&policy);
        std::thread::spawn(move || {
            policy
                .evaluate(&Request::new("bob", "dev", at("2026-11-27T12:00:00Z")))
                .effect
        })
    };
    assert_eq!(worker.join().unwrap(), Effect::Deny);
}

#[test]
fn the_identity_section_is_read_and_absent_means_the_defaults() {
    let rules = "rules:\n  - name: all\n    effect: allow\n";
    let bare = Policy::from_yaml(&format!("version: \"1\"\n{rules}")).expect("valid");
    assert_eq!(bare.identity().accounts(), None);
    assert!(
        bare.identity()
            .is_session_name_role("AWSReservedSSO_ReadOnly_1a2b")
    );
    assert!(!bare.identity().is_session_name_role("dev"));

    let empty = Policy::from_yaml(&format!("version: \"1\"\nidentity: {{}}\n{rules}"));
    assert_eq!(empty.expect("valid").identity(), bare.identity());

    let given = Policy::from_yaml(&format!(
        "version: \"1\"\nidentity:\n  accounts: [\"123456789012\", \"000000000042\"]\n  \
         session_name_roles: [\"Pinned*\"]\n{rules}"
    ))
    .expect("valid");
    let accounts: Vec<&str> = given
        .identity()
        .accounts()
        .expect("listed")
        .iter()
        .map(|a| &**a)
        .collect();
    assert_eq!(accounts, ["123456789012", "000000000042"]);
    assert!(given.identity().is_session_name_role("PinnedEngineers"));
    assert!(
        !given
            .identity()
            .is_session_name_role("AWSReservedSSO_Admin")
    );

    let none = Policy::from_yaml(&format!(
        "version: \"1\"\nidentity: {{ session_name_roles: [] }}\n{rules}"
    ))
    .expect("valid");
    assert!(none.identity().session_name_roles().is_empty());
    assert!(!none.identity().is_session_name_role("AWSReservedSSO_Admin"));
}

const WORKFLOW: &str = r#"
version: "1"
rules:
  - name: oncall-break-glass
    effect: allow
    conditions: { users: [alice], profiles: [production], break_glass: true }
    break_glass: { duration: 15m, cooldown: 1h, max_per_day: 3 }
  - name: prod-needs-approval
    effect: require_approval
    conditions: { users: [alice, bob], profiles: [production] }
    approval: { approvers: [carol, dave, carol], count: 2, expires_after: 30m }
"#;

#[test]
fn a_break_glass_rule_matches_only_a_request_that_breaks_the_glass() {
    let policy = Policy::from_yaml(WORKFLOW).unwrap();
    let now = at("2026-11-27T12:00:00Z");
    let plain = Request::new("alice", "production", now);
    let decision = policy.evaluate(&plain);
    assert_eq!(decision.rule, Some("prod-needs-approval"));
    assert_eq!(decision.break_glass, None);
    let urgent = policy.evaluate(&plain.breaking_glass(true));
    assert_eq!(
        (urgent.effect, urgent.rule),
        (Effect::Allow, Some("oncall-break-glass"))
    );
    let glass = urgent.break_glass.expect("the break-glass rule's limits");
    assert_eq!(glass.duration, Duration::from_secs(900));
    assert_eq!(glass.cooldown, Duration::from_secs(3600));
    assert_eq!(glass.max_per_day, Some(3));
    // bob breaking the glass matches no break-glass rule: the approval rule decides.
    let bob = policy.evaluate(&Request::new("bob", "production", now).breaking_glass(true));
    assert_eq!(
        (bob.rule, bob.break_glass),
        (Some("prod-needs-approval"), None)
    );
}

#[test]
fn a_require_approval_decision_carries_its_approvers_once_each_and_the_defaults() {
    let policy = Policy::from_yaml(WORKFLOW).unwrap();
    let decision = policy.evaluate(&Request::new(
        "bob",
        "production",
        at("2026-11-27T12:00:00Z"),
    ));
    let approval = decision.approval.expect("the rule's approval");
    let approvers: Vec<&str> = approval.approvers.iter().map(|a| &**a).collect();
    assert_eq!(approvers, ["carol", "dave"]);
    assert_eq!(approval.count, 2);
    assert_eq!(approval.expires_after, Duration::from_secs(1800));
    assert_eq!(approval.valid_for, sentinel_policy::DEFAULT_VALID_FOR);
    assert!(approval.is_approver("dave") && !approval.is_approver("bob"));
}
