//! Rate limits: a token bucket per client network (checked before the request costs anything)
//! and one per principal (checked once STS has named the caller, before the broker decides and
//! logs). A bucket holds up to `burst` requests and refills at `per_second`; a request that
//! finds it empty is refused with the whole seconds until the next token. Memory is bounded: at
//! [`MAX_BUCKETS`] keys, the buckets that have refilled (their clients idle long enough to be
//! as good as new) are dropped, and if none has, a new key is refused until one does.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The most keys one limiter remembers.
pub const MAX_BUCKETS: usize = 100_000;

/// How often, at most, a full limiter looks for buckets to drop.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// A sustained rate and the burst allowed above it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    /// Requests per second, sustained (more than 0).
    pub per_second: f64,
    /// Requests that may come at once after a quiet spell (at least 1).
    pub burst: u32,
}

/// The remote server's two rate limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// Per client network (an IPv4 address, or an IPv6 /64), before any STS call.
    pub per_client: Rate,
    /// Per principal (the caller's ARN, as STS names it), before the broker decides.
    pub per_principal: Rate,
}

impl Default for RateLimits {
    /// 20 requests a second (bursts of 40) per client network; 5 a second (bursts of 10) per
    /// principal. An SDK refreshes its credentials a few times an hour.
    fn default() -> RateLimits {
        RateLimits {
            per_client: Rate {
                per_second: 20.0,
                burst: 40,
            },
            per_principal: Rate {
                per_second: 5.0,
                burst: 10,
            },
        }
    }
}

/// Which rate limit a request ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateLimit {
    /// Its client network's.
    Client,
    /// Its principal's.
    Principal,
}

/// A request refused by a rate limit: how long until the client may try again, in whole
/// seconds (at least 1), as `Retry-After` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryAfter(pub(crate) u64);

/// One token bucket per key.
#[derive(Debug)]
pub(crate) struct Buckets<K> {
    rate: Rate,
    most: usize,
    state: Mutex<State<K>>,
}

#[derive(Debug)]
struct State<K> {
    buckets: HashMap<K, Bucket>,
    swept: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// The bucket refilled up to `now`.
    fn at(self, now: Instant, rate: Rate) -> Bucket {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        Bucket {
            tokens: (self.tokens + elapsed * rate.per_second).min(f64::from(rate.burst)),
            at: now,
        }
    }
}

impl<K: Hash + Eq + Clone> Buckets<K> {
    /// Buckets of `rate`, for at most `most` keys.
    pub(crate) fn new(rate: Rate, most: usize) -> Buckets<K> {
        Buckets {
            rate,
            most: most.max(1),
            state: Mutex::new(State {
                buckets: HashMap::new(),
                swept: None,
            }),
        }
    }

    /// Takes a token from `key`'s bucket at `now`, or says how long until there is one.
    pub(crate) fn take(&self, key: &K, now: Instant) -> Result<(), RetryAfter> {
        let rate = self.rate;
        let full = f64::from(rate.burst);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !state.buckets.contains_key(key) && state.buckets.len() >= self.most {
            let due = state
                .swept
                .is_none_or(|swept| now.saturating_duration_since(swept) >= SWEEP_INTERVAL);
            if due {
                state.swept = Some(now);
                state
                    .buckets
                    .retain(|_, bucket| bucket.at(now, rate).tokens < full);
            }
            if state.buckets.len() >= self.most {
                // Every remembered client is busy: a new one waits rather than evict one.
                return Err(RetryAfter(1));
            }
        }
        let bucket = state.buckets.entry(key.clone()).or_insert(Bucket {
            tokens: full,
            at: now,
        });
        *bucket = bucket.at(now, rate);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - bucket.tokens) / rate.per_second;
        // `as` saturates; a wait beyond u64 seconds is not a rate anyone configures.
        Err(RetryAfter((wait.ceil() as u64).max(1)))
    }

    /// How many keys are remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .buckets
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_A_SECOND: Rate = Rate {
        per_second: 2.0,
        burst: 3,
    };

    #[test]
    fn a_burst_then_the_rate_with_the_wait_in_whole_seconds() {
        let buckets = Buckets::new(TWO_A_SECOND, 10);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(buckets.take(&"a", start), Ok(()));
        }
        assert_eq!(buckets.take(&"a", start), Err(RetryAfter(1)));
        assert_eq!(
            buckets.take(&"b", start),
            Ok(()),
            "another key has its own bucket"
        );
        let later = start + Duration::from_millis(500);
        assert_eq!(
            buckets.take(&"a", later),
            Ok(()),
            "one token in half a second"
        );
        assert_eq!(buckets.take(&"a", later), Err(RetryAfter(1)));
        let slow = Buckets::new(
            Rate {
                per_second: 0.1,
                burst: 1,
            },
            10,
        );
        assert_eq!(slow.take(&"a", start), Ok(()));
        assert_eq!(slow.take(&"a", start), Err(RetryAfter(10)));
    }

    #[test]
    fn idle_buckets_are_dropped_when_full_and_busy_ones_keep_new_keys_out() {
        let buckets = Buckets::new(TWO_A_SECOND, 2);
        let start = Instant::now();
        assert_eq!(buckets.take(&1, start), Ok(()));
        assert_eq!(buckets.take(&2, start), Ok(()));
        assert_eq!(
            buckets.take(&3, start),
            Err(RetryAfter(1)),
            "both remembered buckets are in use"
        );
        assert_eq!(buckets.len(), 2);
        // Two seconds on, both have refilled: they are dropped for the new key.
        let later = start + Duration::from_secs(2);
        assert_eq!(buckets.take(&3, later), Ok(()));
        assert_eq!(buckets.len(), 1);
    }
}
