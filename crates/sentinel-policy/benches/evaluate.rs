//! Median cost of one evaluation, against these targets: a one-rule match ≤ 20 ns,
//! ten rules matching at the last ≤ 50 ns, a time window in a named zone ≤ 150 ns, and a
//! 1,000-rule policy with no match ≤ 1 µs.

use std::fmt::Write;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use sentinel_policy::{Policy, Request};

const HEADER: &str = "version: \"1\"\nrules:\n";

fn rule(name: &str, user: &str, profile: &str) -> String {
    format!(
        "  - name: {name}\n    effect: allow\n    conditions: {{ users: [{user}], profiles: [{profile}] }}\n"
    )
}

fn compile(source: &str) -> Policy {
    Policy::from_yaml(source).unwrap_or_else(|e| panic!("benchmark policy is invalid:\n{e}"))
}

fn evaluate(c: &mut Criterion) {
    let at: Timestamp = "2026-11-30T14:30:00Z".parse().expect("valid instant");

    let one = compile(&format!("{HEADER}{}", rule("only", "alice", "production")));
    c.bench_function("one_rule_match", |b| {
        b.iter(|| one.evaluate(black_box(&Request::new("alice", "production", at))));
    });

    let mut ten = HEADER.to_owned();
    for i in 0..10 {
        ten += &rule(&format!("r{i}"), &format!("user{i}"), "production");
    }
    let ten = compile(&ten);
    c.bench_function("ten_rules_last_matches", |b| {
        b.iter(|| ten.evaluate(black_box(&Request::new("user9", "production", at))));
    });

    // Every rule applies to every user and profile, so the index cannot skip them and each
    // is matched in turn against the clock: nine fail on the day, the last one matches.
    let mut ten_scan = HEADER.to_owned();
    for i in 0..10 {
        let days = if i < 9 { "[sunday]" } else { "[monday]" };
        let _ = write!(
            ten_scan,
            "  - name: r{i}\n    effect: allow\n    conditions: {{ time: {{ days: {days} }} }}\n"
        );
    }
    let ten_scan = compile(&ten_scan);
    c.bench_function("ten_unindexed_rules_last_matches", |b| {
        b.iter(|| ten_scan.evaluate(black_box(&Request::new("alice", "production", at))));
    });

    let zoned = compile(&format!(
        "{HEADER}  - name: office\n    effect: allow\n    conditions:\n      users: [alice]\n      \
         profiles: [production]\n      time:\n        days: [monday, tuesday, wednesday, thursday, friday]\n        \
         hours: {{ start: \"09:00\", end: \"17:00\" }}\n        timezone: America/New_York\n"
    ));
    c.bench_function("time_window_named_zone", |b| {
        b.iter(|| zoned.evaluate(black_box(&Request::new("alice", "production", at))));
    });

    let mut thousand = HEADER.to_owned();
    for i in 0..1000 {
        thousand += &rule(
            &format!("r{i}"),
            &format!("user{i}"),
            &format!("profile{}", i % 50),
        );
    }
    let thousand = compile(&thousand);
    c.bench_function("thousand_rules_no_match", |b| {
        b.iter(|| thousand.evaluate(black_box(&Request::new("mallory", "profile7", at))));
    });
    c.bench_function("thousand_rules_known_user_no_match", |b| {
        b.iter(|| thousand.evaluate(black_box(&Request::new("user500", "profile7", at))));
    });
}

criterion_group!(benches, evaluate);
criterion_main!(benches);
