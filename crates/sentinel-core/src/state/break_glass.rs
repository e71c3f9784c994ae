//! The break-glass ledger: when a user broke the glass, so that a rule's cooldown and daily
//! quota hold across every replica. Checking the limits is a pure function of the ledger and
//! the time; a store makes a use stick with a conditional write on the ledger's `version`, so
//! two uses at once cannot both slip under a quota of one.

use std::time::Duration;

use jiff::Timestamp;
use sentinel_policy::BreakGlass;
use serde::{Deserialize, Serialize};

/// The window a daily quota counts uses in.
pub const QUOTA_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// One user's break-glass uses within the last day, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// When the glass was broken, oldest first; uses older than a day are dropped.
    pub uses: Vec<Timestamp>,
    /// Incremented by every write; a write succeeds only over the version it read (0: no
    /// ledger was stored yet).
    pub version: u64,
}

/// Why a user may not break the glass now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GlassRefused {
    /// The rule's cooldown since the last use has not passed.
    #[error("the break-glass cooldown has not passed; you may break the glass again at {0}")]
    Cooldown(Timestamp),
    /// The user used up the rule's quota for the last 24 hours.
    #[error(
        "the break-glass quota of {quota} per day is used up; you may break the glass again at \
         {again}"
    )]
    Quota {
        /// The rule's `max_per_day`.
        quota: u32,
        /// When the oldest counted use leaves the window.
        again: Timestamp,
    },
}

impl Ledger {
    /// The ledger with a use at `now` added, or why `limits` forbid one.
    pub fn record(&self, limits: &BreakGlass, now: Timestamp) -> Result<Ledger, GlassRefused> {
        let window_start = now.checked_sub(QUOTA_WINDOW).unwrap_or(Timestamp::MIN);
        let recent: Vec<Timestamp> = self
            .uses
            .iter()
            .copied()
            .filter(|used| *used > window_start)
            .collect();
        if let Some(last) = recent.last()
            && let Ok(again) = last.checked_add(limits.cooldown)
            && now < again
        {
            return Err(GlassRefused::Cooldown(again));
        }
        if let Some(quota) = limits.max_per_day
            && recent.len() >= quota as usize
        {
            let oldest = recent[recent.len() - quota as usize];
            let again = oldest.checked_add(QUOTA_WINDOW).unwrap_or(Timestamp::MAX);
            return Err(GlassRefused::Quota { quota, again });
        }
        let mut uses = recent;
        uses.push(now);
        Ok(Ledger {
            uses,
            version: self.version + 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(cooldown_s: u64, max_per_day: Option<u32>) -> BreakGlass {
        BreakGlass {
            duration: Duration::from_secs(900),
            cooldown: Duration::from_secs(cooldown_s),
            max_per_day,
        }
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).expect("instant")
    }

    #[test]
    fn a_cooldown_refuses_until_it_has_passed_and_names_the_moment() {
        let limits = limits(3600, None);
        let once = Ledger::default().record(&limits, at(0)).expect("first use");
        assert_eq!(
            once.record(&limits, at(3599)),
            Err(GlassRefused::Cooldown(at(3600)))
        );
        let twice = once.record(&limits, at(3600)).expect("after the cooldown");
        assert_eq!(twice.uses, [at(0), at(3600)]);
        assert_eq!(twice.version, 2);
    }

    #[test]
    fn a_quota_counts_the_last_24_hours_and_names_when_a_use_frees_up() {
        let limits = limits(0, Some(2));
        let ledger = Ledger::default().record(&limits, at(0)).unwrap();
        let ledger = ledger.record(&limits, at(100)).unwrap();
        let day = QUOTA_WINDOW.as_secs() as i64;
        assert_eq!(
            ledger.record(&limits, at(200)),
            Err(GlassRefused::Quota {
                quota: 2,
                again: at(day)
            })
        );
        // A day after the first use, it no longer counts, and it is dropped from the ledger.
        let later = ledger
            .record(&limits, at(day + 1))
            .expect("the first use left the window");
        assert_eq!(later.uses, [at(100), at(day + 1)]);
    }
}
