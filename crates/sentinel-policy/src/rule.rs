//! A compiled rule and the test of whether it matches a request.
//!
//! Everything a match needs is prepared at compile time (sorted names, weekday bits, window
//! minutes, a resolved zone), so matching only compares and never allocates.

use jiff::Timestamp;
use jiff::civil::Weekday;
use jiff::tz::TimeZone;

use crate::decision::{Decision, Effect};
use crate::request::Request;
use crate::window::{Days, Hours};
use crate::workflow::{Approval, BreakGlass};

/// One rule, ready to match.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) name: Box<str>,
    pub(crate) effect: Effect,
    pub(crate) reason: Option<Box<str>>,
    /// Sorted and deduplicated; `None` means any user.
    pub(crate) users: Option<Box<[Box<str>]>>,
    /// Sorted and deduplicated; `None` means any profile.
    pub(crate) profiles: Option<Box<[Box<str>]>>,
    pub(crate) time: Option<TimeCondition>,
    /// The approval a `require_approval` rule asks for.
    pub(crate) approval: Option<Approval>,
    /// What a break-glass rule allows; such a rule matches only a break-glass request.
    pub(crate) break_glass: Option<BreakGlass>,
}

/// The compiled `time` condition.
#[derive(Debug)]
pub(crate) struct TimeCondition {
    pub(crate) days: Days,
    pub(crate) hours: Option<Hours>,
    pub(crate) zone: TimeZone,
    /// The same number for every rule of a policy that uses this zone, so a conversion can be
    /// reused between them.
    pub(crate) zone_id: usize,
}

impl Rule {
    /// Whether every condition of the rule holds for `request`, whose instant `clock` converts.
    pub(crate) fn matches(&self, request: &Request<'_>, clock: &mut LocalClock) -> bool {
        (self.break_glass.is_none() || request.break_glass)
            && contains(self.users.as_deref(), request.user)
            && contains(self.profiles.as_deref(), request.profile)
            && self.time.as_ref().is_none_or(|time| {
                let local = clock.local(time.zone_id, &time.zone);
                time.days.contains(local.weekday)
                    && time.hours.is_none_or(|hours| hours.contains(local.minute))
            })
    }

    /// The decision this rule gives, as rule number `index` of its policy.
    pub(crate) fn decision(&self, index: usize) -> Decision<'_> {
        Decision {
            effect: self.effect,
            rule: Some(&self.name),
            rule_index: Some(index),
            reason: self.reason.as_deref(),
            approval: self.approval.as_ref(),
            break_glass: self.break_glass.as_ref(),
        }
    }
}

/// Whether a sorted name set admits `name`; no set admits everyone.
fn contains(set: Option<&[Box<str>]>, name: &str) -> bool {
    match set {
        None => true,
        // One name is the common case, and equality (length first) beats an ordered compare.
        Some([only]) => **only == *name,
        Some(names) => names.binary_search_by(|n| (**n).cmp(name)).is_ok(),
    }
}

/// Local weekday and minute of the day of the request instant in one zone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Local {
    weekday: Weekday,
    minute: u16,
}

/// Converts the request instant to local time, remembering the last zone converted so that
/// rules sharing a zone convert once per evaluation.
pub(crate) struct LocalClock {
    at: Timestamp,
    last: Option<(usize, Local)>,
}

impl LocalClock {
    /// A clock for the instant `at`.
    pub(crate) fn new(at: Timestamp) -> LocalClock {
        LocalClock { at, last: None }
    }

    fn local(&mut self, zone_id: usize, zone: &TimeZone) -> Local {
        if let Some((cached, local)) = self.last
            && cached == zone_id
        {
            return local;
        }
        let datetime = zone.to_datetime(self.at);
        let local = Local {
            weekday: datetime.weekday(),
            // hour() is 0..=23 and minute() 0..=59, so the sum fits in u16.
            minute: u16::from(datetime.hour().unsigned_abs()) * 60
                + u16::from(datetime.minute().unsigned_abs()),
        };
        self.last = Some((zone_id, local));
        local
    }
}
