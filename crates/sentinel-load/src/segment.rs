//! Execution segments: one schedule split between N generators, request *i* going to generator
//! `i mod N`.
//!
//! Round-robin interleaving keeps every generator's slice evenly paced (each sends every N-th
//! request of the one schedule, so its own arrivals follow the same rate curve at 1/N of it) and
//! makes the slices disjoint and covering by construction: N instances started with the same
//! flags and the same start instant send, together, exactly the requests one instance would, at
//! the same due times.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// This generator's share of the schedule: `K/N` sends the requests whose index is `K − 1`
/// modulo `N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Segment {
    /// `K − 1`, in `0..count`.
    index: u64,
    /// `N`, at least 1.
    count: u64,
}

/// Why a segment was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    /// Not `K/N` with `1 <= K <= N`.
    #[error("`{0}` is not a segment: expected K/N with 1 <= K <= N, like 2/4")]
    Number(String),
    /// Not `I/N` with `0 <= I < N`.
    #[error("`{0}` is not a segment index: expected I/N with 0 <= I < N, like 1/4")]
    Index(String),
}

impl Segment {
    /// The whole schedule: `1/1`.
    pub const WHOLE: Segment = Segment { index: 0, count: 1 };

    /// Segment `k` of `n` (1-based, as written `k/n`), or `None` unless `1 <= k <= n`.
    pub fn new(k: u64, n: u64) -> Option<Self> {
        (1..=n).contains(&k).then(|| Self {
            index: k - 1,
            count: n,
        })
    }

    /// The segment written `I/N` with `I` counted from 0, as a Kubernetes Indexed Job numbers
    /// its pods (`JOB_COMPLETION_INDEX`): `0/4` is `1/4`.
    pub fn from_index(text: &str) -> Result<Self, SegmentError> {
        let refuse = || SegmentError::Index(text.to_owned());
        let (i, n) = text.split_once('/').ok_or_else(refuse)?;
        let i: u64 = i.trim().parse().map_err(|_| refuse())?;
        let n: u64 = n.trim().parse().map_err(|_| refuse())?;
        Segment::new(i.checked_add(1).ok_or_else(refuse)?, n).ok_or_else(refuse)
    }

    /// `K`, from 1.
    pub fn number(self) -> u64 {
        self.index + 1
    }

    /// `N`: how many segments the schedule is split into.
    pub fn count(self) -> u64 {
        self.count
    }

    /// Whether this is the whole schedule.
    pub fn is_whole(self) -> bool {
        self.count == 1
    }

    /// The index in the whole schedule of this segment's `local`-th request.
    pub(crate) fn global(self, local: u64) -> u64 {
        local * self.count + self.index
    }

    /// How many of the whole schedule's first `global` requests are this segment's.
    pub(crate) fn share_of(self, global: u64) -> u64 {
        if global <= self.index {
            0
        } else {
            (global - self.index).div_ceil(self.count)
        }
    }
}

impl Default for Segment {
    fn default() -> Self {
        Self::WHOLE
    }
}

impl FromStr for Segment {
    type Err = SegmentError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let refuse = || SegmentError::Number(text.to_owned());
        let (k, n) = text.split_once('/').ok_or_else(refuse)?;
        let k: u64 = k.trim().parse().map_err(|_| refuse())?;
        let n: u64 = n.trim().parse().map_err(|_| refuse())?;
        Segment::new(k, n).ok_or_else(refuse)
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number(), self.count)
    }
}

impl Serialize for Segment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Segment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn an_index_counts_from_zero_and_refuses_n_and_beyond() {
        let first = Segment::from_index("0/4").expect("valid");
        assert_eq!(first, "1/4".parse().unwrap());
        assert_eq!(Segment::from_index("3/4").unwrap().number(), 4);
        for bad in ["4/4", "1/0", "-1/4", "x/4", "3", "18446744073709551615/4"] {
            let refused = Segment::from_index(bad).unwrap_err();
            assert_eq!(refused, SegmentError::Index(bad.to_owned()));
            assert!(refused.to_string().contains("0 <= I < N"), "{refused}");
        }
    }

    #[test]
    fn parses_k_of_n_and_refuses_the_rest() {
        let segment: Segment = "2/4".parse().expect("valid");
        assert_eq!((segment.number(), segment.count()), (2, 4));
        assert_eq!(segment.to_string(), "2/4");
        assert!("1/1".parse::<Segment>().expect("valid").is_whole());
        for bad in ["0/4", "5/4", "4", "a/4", "1/0", "-1/4", "1/4/2"] {
            assert!(bad.parse::<Segment>().is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn segments_are_disjoint_and_cover_the_schedule(n in 1u64..12, total in 0u64..5000) {
            let mut owner = vec![None; total as usize];
            let mut shares = 0;
            for k in 1..=n {
                let segment = Segment::new(k, n).expect("1 <= k <= n");
                let share = segment.share_of(total);
                shares += share;
                for local in 0..share {
                    let global = segment.global(local);
                    prop_assert!(global < total, "{segment}: {global} beyond {total}");
                    prop_assert_eq!(owner[global as usize], None, "sent twice: {}", global);
                    owner[global as usize] = Some(k);
                }
                // Evenly paced: consecutive requests of a slice are N apart in the schedule.
                for local in 1..share {
                    prop_assert_eq!(segment.global(local) - segment.global(local - 1), n);
                }
            }
            prop_assert_eq!(shares, total);
            prop_assert!(owner.iter().all(Option::is_some));
        }
    }
}
