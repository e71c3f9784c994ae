//! Which target each request of a schedule goes to, when a run mixes several.
//!
//! The choice is a pure function of the request's index in the schedule, so every due request
//! belongs to exactly one target whether it was sent or missed, a run's per-target counts
//! follow from its total alone, and two runs of the same schedule send the same requests.
//!
//! Round-robin takes the targets in turn. Weighted repeats one cycle, as long as the sum of the
//! weights, in which each target appears as often as its weight, evenly spaced: a target of
//! weight *w* has its *k*-th request of the cycle (*k* from 0) at (*k* + ½) / *w* of the way
//! through it, so weights 5, 1, 1 give `a a a b c a a` and a heavy target never crowds the
//! others out of a stretch of the run.

use std::fmt;
use std::sync::Arc;

/// The longest weighted cycle accepted: the sum of the weights.
pub const MAX_TOTAL_WEIGHT: u64 = 1_000_000;

/// The targets of a run and how requests are shared among them; see the module documentation.
#[derive(Clone)]
pub struct Mix {
    /// Target index of each position in the cycle.
    cycle: Arc<[u32]>,
    /// Each target's weight: how often it appears in one cycle.
    weights: Arc<[u32]>,
}

/// Why a mix could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MixError {
    /// There is no target.
    #[error("a mix needs at least one target")]
    Empty,
    /// A weight is zero.
    #[error("target {0}: a weight must be a whole number of at least 1")]
    ZeroWeight(usize),
    /// The weights add up to more than [`MAX_TOTAL_WEIGHT`].
    #[error("the weights add up to {0}, more than the {MAX_TOTAL_WEIGHT} accepted")]
    TooHeavy(u64),
}

impl Mix {
    /// Every request to the one target, index 0.
    pub fn single() -> Self {
        Self {
            cycle: Arc::from([0u32]),
            weights: Arc::from([1u32]),
        }
    }

    /// `targets` targets taken in turn.
    pub fn round_robin(targets: usize) -> Result<Self, MixError> {
        Self::weighted(&vec![1; targets])
    }

    /// Targets taken as often as their weights say, spread evenly over each cycle.
    pub fn weighted(weights: &[u32]) -> Result<Self, MixError> {
        if weights.is_empty() {
            return Err(MixError::Empty);
        }
        if let Some(zero) = weights.iter().position(|&weight| weight == 0) {
            return Err(MixError::ZeroWeight(zero));
        }
        let total: u64 = weights.iter().map(|&weight| u64::from(weight)).sum();
        if total > MAX_TOTAL_WEIGHT {
            return Err(MixError::TooHeavy(total));
        }
        // Every request of the cycle as (target, k), ordered by (k + 1/2) / weight, compared
        // exactly as (2k + 1) × other weight; equal places go to the lower target first.
        let mut places: Vec<(u32, u32)> = weights
            .iter()
            .enumerate()
            .flat_map(|(target, &weight)| (0..weight).map(move |k| (target as u32, k)))
            .collect();
        let place = |&(target, k): &(u32, u32)| (u64::from(2 * k + 1), weights[target as usize]);
        places.sort_by(|a, b| {
            let ((a_odd, a_weight), (b_odd, b_weight)) = (place(a), place(b));
            (a_odd * u64::from(b_weight))
                .cmp(&(b_odd * u64::from(a_weight)))
                .then(a.0.cmp(&b.0))
        });
        let cycle: Vec<u32> = places.into_iter().map(|(target, _)| target).collect();
        Ok(Self {
            cycle: cycle.into(),
            weights: weights.into(),
        })
    }

    /// The number of targets.
    pub fn targets(&self) -> usize {
        self.weights.len()
    }

    /// The target of the request at `seq` in the schedule.
    pub fn target_of(&self, seq: u64) -> usize {
        self.cycle[(seq % self.cycle.len() as u64) as usize] as usize
    }

    /// The share of all requests that `target` receives, in `0.0..=1.0`.
    pub fn share(&self, target: usize) -> f64 {
        f64::from(self.weights[target]) / self.cycle.len() as f64
    }

    /// How many of the first `requests` requests of the schedule go to each target.
    pub fn counts(&self, requests: u64) -> Vec<u64> {
        self.counts_strided(0, 1, requests)
    }

    /// How many of the `requests` requests at `first`, `first + stride`, `first + 2 × stride`,
    /// ... go to each target: a segment's share of the schedule.
    pub fn counts_strided(&self, first: u64, stride: u64, requests: u64) -> Vec<u64> {
        let length = self.cycle.len() as u64;
        let stride = stride.max(1) % length;
        // The targets of the strided requests repeat after `period` of them.
        let period = length / gcd(stride, length);
        let mut one_period = vec![0u64; self.weights.len()];
        let mut rest = vec![0u64; self.weights.len()];
        let partial = requests % period;
        let mut position = first % length;
        for step in 0..period.min(requests) {
            let target = self.cycle[position as usize] as usize;
            one_period[target] += 1;
            if step < partial {
                rest[target] += 1;
            }
            position = (position + stride) % length;
        }
        let periods = requests / period;
        one_period
            .iter()
            .zip(rest)
            .map(|(&each, rest)| periods * each + rest)
            .collect()
    }
}

/// The greatest common divisor (`gcd(0, n) = n`).
fn gcd(mut a: u64, mut b: u64) -> u64 {
    while a != 0 {
        (a, b) = (b % a, a);
    }
    b
}

impl Default for Mix {
    fn default() -> Self {
        Self::single()
    }
}

/// The weights only: a cycle can be a million entries long.
impl fmt::Debug for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mix")
            .field("weights", &self.weights)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn weights_are_spread_over_the_cycle() {
        let mix = Mix::weighted(&[5, 1, 1]).unwrap();
        let order: Vec<usize> = (0..7).map(|seq| mix.target_of(seq)).collect();
        assert_eq!(order, [0, 0, 0, 1, 2, 0, 0]);
        assert_eq!(mix.target_of(7), 0, "the cycle repeats");
        let turns: Vec<usize> = (0..6)
            .map(|seq| Mix::round_robin(3).unwrap().target_of(seq))
            .collect();
        assert_eq!(turns, [0, 1, 2, 0, 1, 2]);
        assert_eq!(Mix::single().target_of(12345), 0);
    }

    #[test]
    fn refuses_what_cannot_be_a_mix() {
        assert_eq!(Mix::weighted(&[]).unwrap_err(), MixError::Empty);
        assert_eq!(Mix::weighted(&[3, 0]).unwrap_err(), MixError::ZeroWeight(1));
        assert_eq!(
            Mix::weighted(&[u32::MAX]).unwrap_err(),
            MixError::TooHeavy(u64::from(u32::MAX))
        );
    }

    proptest! {
        #[test]
        fn counts_agree_with_the_target_of_every_request(
            weights in proptest::collection::vec(1u32..20, 1..6),
            requests in 0u64..500,
        ) {
            let mix = Mix::weighted(&weights).unwrap();
            let mut counted = vec![0u64; weights.len()];
            for seq in 0..requests {
                counted[mix.target_of(seq)] += 1;
            }
            prop_assert_eq!(mix.counts(requests), counted);
            // Every third request from the second: a segment 2/3 of the schedule.
            let mut strided = vec![0u64; weights.len()];
            for seq in (1..).step_by(3).take(requests as usize) {
                strided[mix.target_of(seq)] += 1;
            }
            prop_assert_eq!(mix.counts_strided(1, 3, requests), strided);
            // Over whole cycles each target gets exactly its share.
            let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
            let whole = mix.counts(total * 3);
            for (target, &weight) in weights.iter().enumerate() {
                prop_assert_eq!(whole[target], 3 * u64::from(weight));
                prop_assert!((mix.share(target) - f64::from(weight) / total as f64).abs() < 1e-12);
            }
        }
    }
}
