//! The compiled policy: built once from source (parse, check, compile), then shared and
//! evaluated on every request without allocating.

use crate::check::{self, Checked, PolicySpec};
use crate::code::Code;
use crate::decision::Decision;
use crate::diagnostic::{Diagnostic, Diagnostics, Pos};
use crate::identity::Identity;
use crate::index::NameIndex;
use crate::request::Request;
use crate::rule::{LocalClock, Rule, TimeCondition};
use crate::validation::Validation;
use crate::yaml;

/// Policies this small are scanned rule by rule, which beats an index lookup for a rule or
/// two; from ten rules on, the index halves the time (benches/evaluate.rs).
const SCAN_MAX: usize = 4;
/// Candidate lists this short are walked without consulting the profile index.
const SHORT_LIST: usize = 4;

/// A validated, compiled policy: immutable, `Send + Sync`, cheap to share in an `Arc`.
#[derive(Debug)]
pub struct Policy {
    identity: Identity,
    rules: Box<[Rule]>,
    by_user: NameIndex,
    by_profile: NameIndex,
}

impl Policy {
    /// Parses, validates and compiles a policy; on failure, returns every error found.
    /// Warnings do not keep a policy from loading and are not returned; see
    /// [`Policy::validate`].
    pub fn from_yaml(source: &str) -> Result<Policy, Diagnostics> {
        check_text(source).spec.map(Policy::compile)
    }

    /// Like [`Policy::from_yaml`], for raw bytes: text that is not UTF-8 is a diagnostic
    /// pointing at the first invalid byte.
    pub fn from_yaml_bytes(source: &[u8]) -> Result<Policy, Diagnostics> {
        check_bytes(source).spec.map(Policy::compile)
    }

    /// Validates a policy given as raw bytes, as [`Policy::from_yaml_bytes`] does, without
    /// compiling it, and reports its errors and its warnings apart.
    pub fn validate(source: &[u8]) -> Validation {
        let checked = check_bytes(source);
        let errors = checked.spec.err().into_iter().flatten().collect();
        Validation::new(errors, checked.warnings)
    }

    /// Decides `request`. The first rule whose conditions all hold decides; when none does,
    /// the answer is deny with no rule. Does not allocate.
    pub fn evaluate(&self, request: &Request<'_>) -> Decision<'_> {
        if self.rules.len() <= SCAN_MAX {
            return self.first_match(0..self.rules.len(), request);
        }
        let by_user = self.by_user.candidates(request.user);
        // A short list is walked at once; otherwise the profile index may offer a shorter one.
        if by_user.len() <= SHORT_LIST {
            return self.first_match(by_user, request);
        }
        let by_profile = self.by_profile.candidates(request.profile);
        if by_user.len() <= by_profile.len() {
            self.first_match(by_user, request)
        } else {
            self.first_match(by_profile, request)
        }
    }

    /// The decision of the first rule among `candidates` (ascending) that matches.
    fn first_match(
        &self,
        candidates: impl Iterator<Item = usize>,
        request: &Request<'_>,
    ) -> Decision<'_> {
        let mut clock = LocalClock::new(request.at);
        for index in candidates {
            if let Some(rule) = self.rules.get(index)
                && rule.matches(request, &mut clock)
            {
                return rule.decision(index);
            }
        }
        Decision::DEFAULT_DENY
    }

    /// The number of rules in the policy.
    pub fn rules(&self) -> usize {
        self.rules.len()
    }

    /// Who may be a user under this policy (its `identity` section, defaults filled in).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    fn compile(spec: PolicySpec) -> Policy {
        let mut zone_names: Vec<String> = Vec::new();
        let rules: Box<[Rule]> = spec
            .rules
            .into_iter()
            .map(|spec| {
                let time = spec.time.map(|time| {
                    let zone_id =
                        if let Some(id) = zone_names.iter().position(|n| *n == time.zone_name) {
                            id
                        } else {
                            zone_names.push(time.zone_name);
                            zone_names.len() - 1
                        };
                    TimeCondition {
                        days: time.days,
                        hours: time.hours,
                        zone: time.zone,
                        zone_id,
                    }
                });
                Rule {
                    name: spec.name.into(),
                    effect: spec.effect,
                    reason: spec.reason.map(Into::into),
                    users: spec.users.map(name_set),
                    profiles: spec.profiles.map(name_set),
                    time,
                    approval: spec.approval,
                    break_glass: spec.break_glass,
                }
            })
            .collect();
        let by_user = NameIndex::build(rules.iter().map(|r| r.users.as_deref()));
        let by_profile = NameIndex::build(rules.iter().map(|r| r.profiles.as_deref()));
        Policy {
            identity: spec.identity,
            rules,
            by_user,
            by_profile,
        }
    }
}

/// Parses and checks a policy's text.
fn check_text(source: &str) -> Checked {
    match yaml::parse(source) {
        Ok(root) => check::check(&root),
        Err(syntax) => Checked::failed(syntax),
    }
}

/// Parses and checks a policy's bytes, which must be UTF-8 text.
fn check_bytes(source: &[u8]) -> Checked {
    match std::str::from_utf8(source) {
        Ok(text) => check_text(text),
        Err(error) => Checked::failed(not_utf8(source, error.valid_up_to())),
    }
}

/// A sorted, deduplicated name set, searchable by binary search.
fn name_set(mut names: Vec<String>) -> Box<[Box<str>]> {
    names.sort_unstable();
    names.dedup();
    names.into_iter().map(Into::into).collect()
}

/// Locates the first invalid byte (line and character column of the valid text before it).
fn not_utf8(source: &[u8], valid_up_to: usize) -> Diagnostic {
    let valid = std::str::from_utf8(&source[..valid_up_to]).unwrap_or_default();
    let line = valid.matches('\n').count() + 1;
    let column = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Diagnostic::error(
        Pos { line, column },
        Code::NotUtf8,
        format!("the policy is not valid UTF-8 text (invalid byte at offset {valid_up_to})"),
    )
}
