//! Validation: walks the positioned YAML tree, checks every rule of the policy language and
//! collects every problem with its position, producing plain rule specifications only when
//! there were none.

use std::time::Duration;

use jiff::tz::{TimeZone, TimeZoneDatabase};

use crate::code::Code;
use crate::decision::Effect;
use crate::diagnostic::{Diagnostic, Diagnostics, Pos, Severity, in_source_order};
use crate::identity::{Identity, is_role_name_char};
use crate::window::{Days, Edge, Hours, WEEKDAY_NAMES, parse_clock};
use crate::workflow::{
    Approval, BreakGlass, DEFAULT_APPROVAL_COUNT, DEFAULT_EXPIRES_AFTER, DEFAULT_VALID_FOR,
    SESSION_LIMITS,
};
use crate::yaml::{Node, Value};

/// The only policy format version this crate reads.
pub(crate) const VERSION: &str = "1";

/// A validated policy, before compilation.
#[derive(Debug)]
pub(crate) struct PolicySpec {
    pub(crate) identity: Identity,
    pub(crate) rules: Vec<RuleSpec>,
}

/// One validated rule, before compilation.
#[derive(Debug)]
pub(crate) struct RuleSpec {
    pub(crate) name: String,
    pub(crate) effect: Effect,
    pub(crate) users: Option<Vec<String>>,
    pub(crate) profiles: Option<Vec<String>>,
    pub(crate) time: Option<TimeSpec>,
    pub(crate) reason: Option<String>,
    pub(crate) approval: Option<Approval>,
    pub(crate) break_glass: Option<BreakGlass>,
}

/// The longest an approval request may wait, or an approval last.
const MAX_APPROVAL_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// A validated time condition with its zone resolved.
#[derive(Debug)]
pub(crate) struct TimeSpec {
    pub(crate) days: Days,
    pub(crate) hours: Option<Hours>,
    /// The zone's IANA name, used to share one resolved zone between rules.
    pub(crate) zone_name: String,
    pub(crate) zone: TimeZone,
}

/// What checking a document found.
#[derive(Debug)]
pub(crate) struct Checked {
    /// The validated policy, or every error that keeps it from loading (in source order).
    pub(crate) spec: Result<PolicySpec, Diagnostics>,
    /// The problems that do not keep it from loading, in source order.
    pub(crate) warnings: Vec<Diagnostic>,
}

impl Checked {
    /// The outcome when the document could not be checked at all, because of `error`.
    pub(crate) fn failed(error: Diagnostic) -> Checked {
        Checked {
            spec: Err(Diagnostics::from(error)),
            warnings: Vec::new(),
        }
    }
}

/// Checks a parsed document; every problem found is reported.
pub(crate) fn check(root: &Node) -> Checked {
    let mut checker = Checker {
        problems: Vec::new(),
        zones: TimeZoneDatabase::bundled(),
    };
    let spec = checker.document(root);
    checker.finish(root.pos, spec)
}

struct Checker {
    problems: Vec<Diagnostic>,
    zones: TimeZoneDatabase,
}

/// The entries of a mapping whose keys were checked: known, and each given once.
struct Fields<'n> {
    pos: Pos,
    entries: Vec<(&'n str, &'n Node)>,
}

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, node)| *node)
    }
}

impl Checker {
    /// Parts the problems found by severity: any error refuses the policy, warnings alone do
    /// not. A policy that could not be read is refused even if no error says why.
    fn finish(self, root: Pos, spec: Option<PolicySpec>) -> Checked {
        let (errors, mut warnings): (Vec<Diagnostic>, Vec<Diagnostic>) = self
            .problems
            .into_iter()
            .partition(|problem| problem.severity == Severity::Error);
        in_source_order(&mut warnings);
        let spec = match Diagnostics::from_vec(errors) {
            Some(errors) => Err(errors),
            None => spec.ok_or_else(|| {
                Diagnostics::from(Diagnostic::error(
                    root,
                    Code::Unreadable,
                    "the policy could not be read",
                ))
            }),
        };
        Checked { spec, warnings }
    }

    fn error(&mut self, pos: Pos, code: Code, message: impl Into<String>) {
        self.problems.push(Diagnostic::error(pos, code, message));
    }

    fn document(&mut self, root: &Node) -> Option<PolicySpec> {
        if let Value::Null = root.value {
            self.error(
                Pos::START,
                Code::EmptyPolicy,
                "the policy is empty; expected version and rules",
            );
            return None;
        }
        let fields = self.fields(root, "the policy", &["version", "identity", "rules"])?;
        let version_ok = self.version(&fields);
        let identity = match fields.get("identity") {
            Some(node) => self.identity(node),
            None => Some(Identity::default()),
        };
        let rules = match self.require(&fields, "rules", "the policy") {
            Some(node) => self.rules(node),
            None => None,
        };
        let (identity, rules) = (identity?, rules?);
        version_ok.then_some(PolicySpec { identity, rules })
    }

    fn identity(&mut self, node: &Node) -> Option<Identity> {
        if let Value::Null = node.value {
            self.error(
                node.pos,
                Code::EmptySection,
                "identity is empty; write {} or omit the key for the defaults",
            );
            return None;
        }
        let fields = self.fields(node, "identity", &["accounts", "session_name_roles"])?;
        let accounts = fields.get("accounts").map(|n| self.accounts(n));
        let roles = fields
            .get("session_name_roles")
            .map(|n| self.session_name_roles(n));
        Some(Identity::new(optional(accounts)?, optional(roles)?))
    }

    /// A non-empty list of 12-digit account IDs.
    fn accounts(&mut self, node: &Node) -> Option<Vec<String>> {
        let items = self.list(node, "accounts", "a list of AWS account IDs")?;
        let mut accounts = Vec::with_capacity(items.len());
        let mut complete = true;
        for entry in items {
            match self.text(entry, "an AWS account ID") {
                Some(id) if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) => {
                    accounts.push(id.to_owned());
                }
                Some(id) => {
                    self.error(
                        entry.pos,
                        Code::InvalidAccount,
                        format!("invalid account \"{id}\"; expected a 12-digit AWS account ID"),
                    );
                    complete = false;
                }
                None => complete = false,
            }
        }
        complete.then_some(accounts)
    }

    /// A list (possibly empty: no role's sessions are users) of role-name globs.
    fn session_name_roles(&mut self, node: &Node) -> Option<Vec<String>> {
        if matches!(&node.value, Value::Seq(items) if items.is_empty()) {
            return Some(Vec::new());
        }
        let items = self.list(node, "session_name_roles", "a list of role names")?;
        let mut globs = Vec::with_capacity(items.len());
        let mut complete = true;
        for entry in items {
            let Some(glob) = self.text(entry, "a role name") else {
                complete = false;
                continue;
            };
            let bad = glob
                .chars()
                .enumerate()
                .find(|&(_, c)| c != '*' && !is_role_name_char(c));
            match (glob.is_empty(), bad) {
                (true, _) => {
                    self.error(entry.pos, Code::EmptyName, "empty role name");
                    complete = false;
                }
                (false, Some((at, c))) => {
                    self.error(
                        entry.pos,
                        Code::InvalidRoleName,
                        format!(
                            "role name \"{glob}\" has {c:?} at position {at}; only * is a \
                             wildcard, and role names have letters, digits and _+=,.@-"
                        ),
                    );
                    complete = false;
                }
                (false, None) => globs.push(glob.to_owned()),
            }
        }
        complete.then_some(globs)
    }

    fn version(&mut self, fields: &Fields<'_>) -> bool {
        let Some(node) = self.require(fields, "version", "the policy") else {
            return false;
        };
        match &node.value {
            Value::Str(text) if text == VERSION => true,
            Value::Str(text) => {
                self.error(
                    node.pos,
                    Code::UnsupportedVersion,
                    format!("unsupported version \"{text}\"; expected \"{VERSION}\""),
                );
                false
            }
            other => {
                self.error(
                    node.pos,
                    Code::NotAString,
                    format!(
                        "expected version \"{VERSION}\" (a quoted string), found {}",
                        other.kind()
                    ),
                );
                false
            }
        }
    }

    fn rules(&mut self, node: &Node) -> Option<Vec<RuleSpec>> {
        let items = self.list(node, "rules", "a list of rules")?;
        let mut names: Vec<(&str, Pos)> = Vec::with_capacity(items.len());
        let mut rules = Vec::with_capacity(items.len());
        let mut complete = true;
        for item in items {
            let rule = self.rule(item);
            if let Some((name, pos)) = rule_name(item) {
                match names.iter().find(|(seen, _)| *seen == name) {
                    Some((_, first)) => self.error(
                        pos,
                        Code::DuplicateRuleName,
                        format!("duplicate rule name \"{name}\" (first used at {first})"),
                    ),
                    None => names.push((name, pos)),
                }
            }
            match rule {
                Some(rule) => rules.push(rule),
                None => complete = false,
            }
        }
        complete.then_some(rules)
    }

    fn rule(&mut self, node: &Node) -> Option<RuleSpec> {
        const KEYS: &[&str] = &[
            "name",
            "effect",
            "conditions",
            "reason",
            "approval",
            "break_glass",
        ];
        let fields = self.fields(node, "a rule", KEYS)?;
        let name = self
            .require(&fields, "name", "a rule")
            .and_then(|n| self.text(n, "a rule name"));
        let effect = self
            .require(&fields, "effect", "a rule")
            .and_then(|n| self.effect(n));
        let reason = fields.get("reason").map(|n| self.text(n, "a reason"));
        let conditions = match fields.get("conditions") {
            Some(n) => self.conditions(n),
            None => Some(Conditions::default()),
        };
        let approval = fields.get("approval").map(|n| self.approval(n));
        let break_glass = fields.get("break_glass").map(|n| self.break_glass(n));
        let (name, effect, conditions, reason) = (name?, effect?, conditions?, optional(reason)?);
        let (approval, break_glass) = (optional(approval)?, optional(break_glass)?);
        if let (Some(_), Some(node)) = (&approval, fields.get("approval"))
            && effect != Effect::RequireApproval
        {
            self.error(
                node.pos,
                Code::ApprovalNeedsRequireApproval,
                format!(
                    "an approval block belongs to a require_approval rule, and rule \"{name}\" \
                     is {}",
                    effect.as_str()
                ),
            );
            return None;
        }
        match (
            &break_glass,
            conditions.break_glass,
            fields.get("break_glass"),
        ) {
            (Some(_), None, Some(node)) => {
                self.error(
                    node.pos,
                    Code::BreakGlassMismatch,
                    "a break_glass block needs the condition break_glass: true, so that the \
                     rule matches only requests that break the glass",
                );
                return None;
            }
            (None, Some(pos), _) => {
                self.error(
                    pos,
                    Code::BreakGlassMismatch,
                    "the condition break_glass: true needs a break_glass block on the rule \
                     ({duration, cooldown, max_per_day}) that limits what breaking the glass gives",
                );
                return None;
            }
            _ => {}
        }
        Some(RuleSpec {
            name: name.to_owned(),
            effect,
            users: conditions.users,
            profiles: conditions.profiles,
            time: conditions.time,
            reason: reason.map(str::to_owned),
            approval,
            break_glass,
        })
    }

    /// A rule's `approval` block: who approves, how many must, and for how long.
    fn approval(&mut self, node: &Node) -> Option<Approval> {
        const KEYS: &[&str] = &["approvers", "count", "expires_after", "valid_for"];
        let fields = self.fields(node, "approval", KEYS)?;
        let approvers = self
            .require(&fields, "approvers", "approval")
            .and_then(|n| self.names(n, "approvers", "approver"));
        let count = fields.get("count").map(|n| self.count(n, "count"));
        let expires_after = fields.get("expires_after").map(|n| {
            self.duration(
                n,
                "expires_after",
                (Duration::from_secs(60), MAX_APPROVAL_WINDOW),
            )
        });
        let valid_for = fields.get("valid_for").map(|n| {
            self.duration(
                n,
                "valid_for",
                (Duration::from_secs(60), MAX_APPROVAL_WINDOW),
            )
        });
        let (mut approvers, count) = (approvers?, optional(count)?);
        let (expires_after, valid_for) = (optional(expires_after)?, optional(valid_for)?);
        let mut seen = Vec::with_capacity(approvers.len());
        approvers.retain(|name| {
            let first = !seen.contains(name);
            seen.push(name.clone());
            first
        });
        let count = count.unwrap_or(DEFAULT_APPROVAL_COUNT);
        if count as usize > approvers.len() {
            let pos = fields.get("count").map_or(node.pos, |n| n.pos);
            self.error(
                pos,
                Code::CountAboveApprovers,
                format!(
                    "count is {count}, but only {} approver(s) are listed; no request could \
                     ever be approved",
                    approvers.len()
                ),
            );
            return None;
        }
        Some(Approval {
            approvers: approvers.into_iter().map(Into::into).collect(),
            count,
            expires_after: expires_after.unwrap_or(DEFAULT_EXPIRES_AFTER),
            valid_for: valid_for.unwrap_or(DEFAULT_VALID_FOR),
        })
    }

    /// A rule's `break_glass` block: the session cap, the cooldown and the daily quota.
    fn break_glass(&mut self, node: &Node) -> Option<BreakGlass> {
        const KEYS: &[&str] = &["duration", "cooldown", "max_per_day"];
        let fields = self.fields(node, "break_glass", KEYS)?;
        let duration = self
            .require(&fields, "duration", "break_glass")
            .and_then(|n| self.duration(n, "duration", SESSION_LIMITS));
        let cooldown = fields
            .get("cooldown")
            .map(|n| self.duration(n, "cooldown", (Duration::ZERO, MAX_APPROVAL_WINDOW)));
        let max_per_day = fields
            .get("max_per_day")
            .map(|n| self.count(n, "max_per_day"));
        let (duration, cooldown, max_per_day) =
            (duration?, optional(cooldown)?, optional(max_per_day)?);
        Some(BreakGlass {
            duration,
            cooldown: cooldown.unwrap_or(Duration::ZERO),
            max_per_day,
        })
    }

    /// A whole number from 1 to 1,000.
    fn count(&mut self, node: &Node, key: &str) -> Option<u32> {
        match node.value {
            Value::Number(Some(n)) if (1..=1000).contains(&n) => u32::try_from(n).ok(),
            _ => {
                self.error(
                    node.pos,
                    Code::InvalidCount,
                    format!(
                        "{key} must be a whole number from 1 to 1000, found {}",
                        describe(node)
                    ),
                );
                None
            }
        }
    }

    /// A duration (`30m`, `1h`) within `limits` (inclusive).
    fn duration(
        &mut self,
        node: &Node,
        key: &str,
        limits: (Duration, Duration),
    ) -> Option<Duration> {
        let text = self.text(node, "a duration such as 30m or 1h")?;
        let (min, max) = limits;
        match sentinel_duration::parse_duration(text) {
            Ok(duration) if duration >= min && duration <= max => Some(duration),
            Ok(_) => {
                self.error(
                    node.pos,
                    Code::InvalidDuration,
                    format!(
                        "{key} is {text}; it must be from {} to {}",
                        human(min),
                        human(max)
                    ),
                );
                None
            }
            Err(error) => {
                self.error(node.pos, Code::InvalidDuration, format!("{key}: {error}"));
                None
            }
        }
    }

    fn effect(&mut self, node: &Node) -> Option<Effect> {
        let text = self.text(node, "an effect")?;
        let effect = Effect::ALL.into_iter().find(|e| e.as_str() == text);
        if effect.is_none() {
            self.error(
                node.pos,
                Code::UnknownEffect,
                format!("unknown effect \"{text}\"; expected allow, deny or require_approval"),
            );
        }
        effect
    }

    fn conditions(&mut self, node: &Node) -> Option<Conditions> {
        const KEYS: &[&str] = &["users", "profiles", "time", "break_glass"];
        if let Value::Null = node.value {
            self.error(
                node.pos,
                Code::EmptySection,
                "conditions is empty; write {} or omit the key for a rule that matches every request",
            );
            return None;
        }
        let fields = self.fields(node, "conditions", KEYS)?;
        let users = fields.get("users").map(|n| self.names(n, "users", "user"));
        let profiles = fields
            .get("profiles")
            .map(|n| self.names(n, "profiles", "profile"));
        let time = fields.get("time").map(|n| self.time(n));
        let break_glass = fields
            .get("break_glass")
            .map(|n| self.break_glass_condition(n));
        Some(Conditions {
            users: optional(users)?,
            profiles: optional(profiles)?,
            time: optional(time)?,
            break_glass: optional(break_glass)?,
        })
    }

    /// The `break_glass` condition, which only `true` makes sense for: a rule without it
    /// already matches requests whether or not they break the glass.
    fn break_glass_condition(&mut self, node: &Node) -> Option<Pos> {
        if let Value::Bool(true) = node.value {
            return Some(node.pos);
        }
        self.error(
            node.pos,
            Code::InvalidBreakGlassCondition,
            format!(
                "the break_glass condition can only be true (the rule then matches only requests \
                 that break the glass), found {}; omit it otherwise",
                describe(node)
            ),
        );
        None
    }

    /// A non-empty list of non-empty names (`users`, `profiles`).
    fn names(&mut self, node: &Node, key: &str, item: &str) -> Option<Vec<String>> {
        let items = self.list(node, key, &format!("a list of {key}"))?;
        let mut names = Vec::with_capacity(items.len());
        let mut complete = true;
        for entry in items {
            match self.text(entry, &format!("a {item} name")) {
                Some("") => {
                    self.error(entry.pos, Code::EmptyName, format!("empty {item} name"));
                    complete = false;
                }
                Some(name) => names.push(name.to_owned()),
                None => complete = false,
            }
        }
        complete.then_some(names)
    }

    fn time(&mut self, node: &Node) -> Option<TimeSpec> {
        const KEYS: &[&str] = &["days", "hours", "timezone"];
        let fields = self.fields(node, "time", KEYS)?;
        let days = match fields.get("days") {
            Some(n) => self.days(n),
            None => Some(Days::ALL),
        };
        let hours = fields.get("hours").map(|n| self.hours(n));
        let zone = match fields.get("timezone") {
            Some(n) => self.zone(n),
            None => Some(("UTC".to_owned(), TimeZone::UTC)),
        };
        let (days, hours, (zone_name, zone)) = (days?, optional(hours)?, zone?);
        Some(TimeSpec {
            days,
            hours,
            zone_name,
            zone,
        })
    }

    fn days(&mut self, node: &Node) -> Option<Days> {
        let items = self.list(node, "days", "a list of weekdays")?;
        let mut days = Days::NONE;
        let mut complete = true;
        for entry in items {
            let day = self.text(entry, "a weekday").and_then(|name| {
                let day = Days::parse_name(name);
                if day.is_none() {
                    let expected = WEEKDAY_NAMES.join(", ");
                    self.error(
                        entry.pos,
                        Code::UnknownWeekday,
                        format!("unknown weekday \"{name}\"; expected one of {expected}"),
                    );
                }
                day
            });
            match day {
                Some(day) => days.insert(day),
                None => complete = false,
            }
        }
        complete.then_some(days)
    }

    fn hours(&mut self, node: &Node) -> Option<Hours> {
        let fields = self.fields(node, "hours", &["start", "end"])?;
        let start = self.require(&fields, "start", "hours");
        let end = self.require(&fields, "end", "hours");
        let start_minutes = start.and_then(|n| self.clock(n, Edge::Start));
        let end_minutes = end.and_then(|n| self.clock(n, Edge::End));
        let (start_minutes, end_minutes, end) = (start_minutes?, end_minutes?, end?);
        let hours = Hours::new(start_minutes, end_minutes);
        if hours.is_none() {
            self.error(
                end.pos,
                Code::InvalidHours,
                "hours start and end are equal, which is no window; \
                 use 00:00 to 24:00 for the whole day",
            );
        }
        hours
    }

    fn clock(&mut self, node: &Node, edge: Edge) -> Option<u16> {
        let text = self.text(node, "a time of day (\"HH:MM\")")?;
        parse_clock(text, edge)
            .map_err(|message| self.error(node.pos, Code::InvalidTime, message))
            .ok()
    }

    fn zone(&mut self, node: &Node) -> Option<(String, TimeZone)> {
        let name = self.text(node, "a time zone name")?;
        match self.zones.get(name) {
            Ok(zone) if !zone.is_unknown() => {
                let canonical = zone.iana_name().unwrap_or(name).to_owned();
                Some((canonical, zone))
            }
            _ => {
                self.error(
                    node.pos,
                    Code::UnknownTimezone,
                    format!(
                        "unknown time zone \"{name}\"; expected an IANA name such as \
                         Europe/London or America/New_York"
                    ),
                );
                None
            }
        }
    }

    /// The entries of a mapping; reports a non-mapping, unknown keys and repeated keys.
    fn fields<'n>(&mut self, node: &'n Node, what: &str, known: &[&str]) -> Option<Fields<'n>> {
        let Value::Map(entries) = &node.value else {
            self.error(
                node.pos,
                Code::NotAMapping,
                format!("expected {what} as a mapping, found {}", node.value.kind()),
            );
            return None;
        };
        let mut fields = Fields {
            pos: node.pos,
            entries: Vec::with_capacity(entries.len()),
        };
        let mut seen: Vec<(&str, Pos)> = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let Value::Str(name) = &key.value else {
                self.error(
                    key.pos,
                    Code::KeyNotAString,
                    format!("expected a key name in {what}, found {}", key.value.kind()),
                );
                continue;
            };
            if let Some((_, first)) = seen.iter().find(|(seen, _)| seen == name) {
                self.error(
                    key.pos,
                    Code::DuplicateKey,
                    format!("duplicate key \"{name}\" in {what} (first given at {first})"),
                );
                continue;
            }
            seen.push((name, key.pos));
            if known.contains(&name.as_str()) {
                fields.entries.push((name, value));
            } else {
                self.error(
                    key.pos,
                    Code::UnknownKey,
                    format!(
                        "unknown key \"{name}\" in {what}; expected {}",
                        one_of(known)
                    ),
                );
            }
        }
        Some(fields)
    }

    fn require<'n>(&mut self, fields: &Fields<'n>, key: &str, what: &str) -> Option<&'n Node> {
        let node = fields.get(key);
        if node.is_none() {
            self.error(
                fields.pos,
                Code::MissingKey,
                format!("missing key \"{key}\" in {what}"),
            );
        }
        node
    }

    fn list<'n>(&mut self, node: &'n Node, key: &str, what: &str) -> Option<&'n [Node]> {
        match &node.value {
            Value::Seq(items) if items.is_empty() => {
                let hint = match key {
                    "rules" => "a policy needs at least one rule",
                    "approvers" => "a request needs someone who may approve it",
                    "accounts" => {
                        "it would refuse every caller; omit the key for the account of the profile's role"
                    }
                    _ => "omit the key to mean any",
                };
                self.error(
                    node.pos,
                    Code::EmptyList,
                    format!("{key} is an empty list; {hint}"),
                );
                None
            }
            Value::Seq(items) => Some(items),
            other => {
                self.error(
                    node.pos,
                    Code::NotAList,
                    format!("expected {what}, found {}", other.kind()),
                );
                None
            }
        }
    }

    fn text<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n str> {
        match &node.value {
            Value::Str(text) => Some(text),
            Value::Bool(_) | Value::Number(_) => {
                self.error(
                    node.pos,
                    Code::NotAString,
                    format!(
                        "expected {what} (a string), found {}; quote it",
                        node.value.kind()
                    ),
                );
                None
            }
            other => {
                self.error(
                    node.pos,
                    Code::NotAString,
                    format!("expected {what} (a string), found {}", other.kind()),
                );
                None
            }
        }
    }
}

/// The conditions of one rule; `None` fields mean "any".
#[derive(Default)]
struct Conditions {
    users: Option<Vec<String>>,
    profiles: Option<Vec<String>>,
    time: Option<TimeSpec>,
    /// Where the `break_glass: true` condition is, if the rule has it.
    break_glass: Option<Pos>,
}

/// How a scalar reads in a message: its value when it is a number or a boolean.
fn describe(node: &Node) -> String {
    match &node.value {
        Value::Bool(value) => value.to_string(),
        Value::Number(Some(value)) => value.to_string(),
        Value::Str(text) => format!("\"{text}\""),
        other => other.kind().to_owned(),
    }
}

/// A duration as a policy would write it (`15m`, `12h`, `90s`).
fn human(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0 => "0s".to_owned(),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Folds an optional key's check result: absent is `Some(None)`, valid is `Some(Some(value))`,
/// and invalid (already reported) is `None`.
fn optional<T>(field: Option<Option<T>>) -> Option<Option<T>> {
    match field {
        None => Some(None),
        Some(checked) => checked.map(Some),
    }
}

/// The name of a rule node and its position, if it has a string name (for duplicate checks).
fn rule_name(rule: &Node) -> Option<(&str, Pos)> {
    let Value::Map(entries) = &rule.value else {
        return None;
    };
    entries
        .iter()
        .find_map(|(key, value)| match (&key.value, &value.value) {
            (Value::Str(k), Value::Str(name)) if k == "name" => Some((name.as_str(), value.pos)),
            _ => None,
        })
}

fn one_of(keys: &[&str]) -> String {
    match keys {
        [only] => format!("\"{only}\""),
        [init @ .., last] => {
            let init: Vec<String> = init.iter().map(|k| format!("\"{k}\"")).collect();
            format!("one of {} or \"{last}\"", init.join(", "))
        }
        [] => "no keys".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks `source` as [`check`] does, with `warning` found on top of the checker's own
    /// problems.
    fn check_with_warning(source: &str, warning: Diagnostic) -> Checked {
        let root = crate::yaml::parse(source).expect("valid YAML");
        let mut checker = Checker {
            problems: vec![warning],
            zones: TimeZoneDatabase::bundled(),
        };
        let spec = checker.document(&root);
        checker.finish(root.pos, spec)
    }

    fn warning() -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(Pos { line: 3, column: 5 }, Code::UnknownKey, "a warning")
        }
    }

    #[test]
    fn a_policy_with_only_warnings_loads() {
        let source = "version: \"1\"\nrules:\n  - name: a\n    effect: allow\n";
        let checked = check_with_warning(source, warning());
        assert!(checked.spec.is_ok(), "{:?}", checked.spec);
        assert_eq!(checked.warnings, [warning()]);
    }

    #[test]
    fn a_policy_with_an_error_is_refused_and_keeps_its_warnings() {
        let source = "version: \"1\"\nrules:\n  - name: a\n    effect: permit\n";
        let checked = check_with_warning(source, warning());
        let errors = checked.spec.expect_err("an unknown effect is an error");
        let codes: Vec<Code> = errors.iter().map(|e| e.code).collect();
        assert_eq!(codes, [Code::UnknownEffect]);
        assert_eq!(checked.warnings, [warning()]);
    }
}
