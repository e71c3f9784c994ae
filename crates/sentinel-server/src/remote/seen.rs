//! Single use: the server remembers every proof STS accepted until the proof goes stale, and
//! refuses it the second time. A proof is named by its signature
//! ([`ProofSignature`](sentinel_protocol::ProofSignature)), which
//! changes with anything signed in it (its nonce above all), so a captured proof is worth at most
//! one answer, and only if it arrives before the caller's own request.
//!
//! **When a proof counts as used**: once it has passed every offline check
//! ([`ProofRules::check`](sentinel_protocol::ProofRules::check)) *and* STS has accepted its
//! signature, before anything else is decided (the profile, the identity rules, the policy). So:
//!
//! - a forged proof (STS refuses its signature), a stale one or one for another server or
//!   profile is never recorded, and cannot fill the store: only the holder of an AWS key can
//!   add to it, one entry per proof STS accepted;
//! - a proof that was used is refused again whatever its first answer was (denied, unknown
//!   profile, credentials): the first use spent it;
//! - two requests with one proof can both reach STS, but [`UsedProofs::claim_once`] lets exactly
//!   one of them on;
//! - a proof STS could not judge (unreachable, timed out) is not recorded, and may be sent again.
//!
//! **If the store cannot record a proof** (it is full of proofs not yet stale), the proof is
//! refused, never let through unrecorded.
//!
//! [`UsedProofs`] is the store's interface, so that replicas can share one (the server's `state`
//! table); [`MemorySeenProofs`], the default, is this process's memory, and each replica has its
//! own.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Mutex, PoisonError};

use http::StatusCode;
use jiff::Timestamp;
use sentinel_core::state::{StateError, UsedProofs};
use sentinel_protocol::CheckedProof;

/// How many proofs the server remembers by default: ten minutes (a proof is fresh for five
/// minutes either side of its date) at more than 1,600 requests a second.
pub const DEFAULT_MAX_SEEN_PROOFS: usize = 1_000_000;

/// Why a proof that STS accepted is not let on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SingleUse {
    /// The proof was used before.
    #[error(
        "this identity proof was used before: each proof is accepted once, so sign a new one \
         for every request"
    )]
    Reused,
    /// The store could not record it.
    #[error("{0}")]
    Store(StateError),
}

impl SingleUse {
    /// A short, stable name for metrics.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            SingleUse::Reused => "proof_reused",
            SingleUse::Store(StateError::Full(_)) => "proof_store_full",
            SingleUse::Store(StateError::Unavailable(_) | StateError::Corrupt(_)) => {
                "proof_store_unavailable"
            }
        }
    }

    /// The answer's status and `Code`.
    pub(crate) fn status(&self) -> (StatusCode, &'static str) {
        match self {
            SingleUse::Reused => (StatusCode::UNAUTHORIZED, "ProofReused"),
            SingleUse::Store(StateError::Full(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "ProofStoreFull")
            }
            SingleUse::Store(StateError::Unavailable(_) | StateError::Corrupt(_)) => {
                (StatusCode::SERVICE_UNAVAILABLE, "StateUnavailable")
            }
        }
    }
}

/// Spends `proof`, which passed the offline checks and which STS accepted (see the module's
/// rule): `Ok` on its first use, and only then.
pub(crate) async fn spend(store: &dyn UsedProofs, proof: &CheckedProof) -> Result<(), SingleUse> {
    match store
        .claim_once(
            proof.signature.as_bytes(),
            proof.fresh_until(),
            Timestamp::now(),
        )
        .await
    {
        Ok(true) => Ok(()),
        Ok(false) => Err(SingleUse::Reused),
        Err(error) => Err(SingleUse::Store(error)),
    }
}

/// The fewest entries a shard holds: below that, one lock is cheap enough.
const MIN_SHARD_CAPACITY: usize = 1024;
/// The most shards: more than the cores that could contend for them.
const MAX_SHARDS: usize = 64;

/// The first 128 bits of a signature: an HMAC-SHA256 output, so two different proofs share
/// them with a chance of 2^-128 per pair, and a coincidence could only refuse a proof, never
/// let one through twice. Half the key is half the memory.
type Key = [u8; 16];

/// The seen proofs in this process's memory, for at most `capacity` proofs.
///
/// The entries are split over shards, each behind its own lock, held only for a few map
/// operations (never across an `await`); a proof's shard is chosen by a randomly seeded hash, so
/// no caller can aim at one shard. The capacity is split evenly: a shard that is full of proofs
/// not yet stale refuses, so the store refuses at about its capacity, never above it. Stale
/// entries are dropped when their shard is full.
pub struct MemorySeenProofs {
    shards: Box<[Mutex<Shard>]>,
    shard_of: RandomState,
    capacity: usize,
}

/// One shard's entries: key → the last second (Unix time) it is kept for.
struct Shard {
    entries: HashMap<Key, i64>,
    capacity: usize,
    /// No entry expires before this second (a lower bound: `i64::MAX` when empty).
    earliest: i64,
}

impl MemorySeenProofs {
    /// A store for at most `capacity` proofs (at least one).
    pub fn new(capacity: usize) -> MemorySeenProofs {
        let capacity = capacity.max(1);
        let count = (capacity / MIN_SHARD_CAPACITY).clamp(1, MAX_SHARDS);
        let shards = (0..count)
            .map(|index| {
                let share = capacity / count + usize::from(index < capacity % count);
                Mutex::new(Shard {
                    entries: HashMap::new(),
                    capacity: share,
                    earliest: i64::MAX,
                })
            })
            .collect();
        MemorySeenProofs {
            shards,
            shard_of: RandomState::new(),
            capacity,
        }
    }

    /// The most proofs it holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Records `key` until `expires` unless it is kept past `now` already (all in Unix seconds).
    fn record(&self, key: Key, expires: i64, now: i64) -> Result<bool, StateError> {
        // On a 32-bit target the hash is cut to its low bits, which are as well spread.
        let index = self.shard_of.hash_one(key) as usize % self.shards.len();
        let shard = &self.shards[index];
        // A panic elsewhere while the lock was held cannot leave the map half-changed.
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(kept) = shard.entries.get(&key)
            && *kept >= now
        {
            return Ok(false);
        }
        if shard.entries.len() >= shard.capacity && !shard.entries.contains_key(&key) {
            shard.drop_stale(now);
            if shard.entries.len() >= shard.capacity {
                return Err(full(self.capacity));
            }
        }
        shard.entries.insert(key, expires);
        shard.earliest = shard.earliest.min(expires);
        Ok(true)
    }

    /// How many entries it holds, stale ones included.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| shard.lock().expect("lock").entries.len())
            .sum()
    }
}

/// The error of a store of `capacity` proofs that are all fresh.
fn full(capacity: usize) -> StateError {
    StateError::Full(format!(
        "the server already remembers {capacity} proofs that are not stale yet, as many as it \
         may, and refuses new ones until the oldest go stale"
    ))
}

impl Shard {
    /// Drops the entries kept until before `now`, if any can be.
    fn drop_stale(&mut self, now: i64) {
        if self.earliest >= now {
            return;
        }
        let mut earliest = i64::MAX;
        self.entries.retain(|_, kept| {
            let live = *kept >= now;
            if live {
                earliest = earliest.min(*kept);
            }
            live
        });
        self.earliest = earliest;
    }
}

#[async_trait::async_trait]
impl UsedProofs for MemorySeenProofs {
    async fn claim_once(
        &self,
        key: &[u8],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StateError> {
        // A shorter key is padded with zeros: it can only make two keys collide, which refuses.
        let key: Key = std::array::from_fn(|index| key.get(index).copied().unwrap_or(0));
        self.record(key, expires_at.as_second(), now.as_second())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use proptest::prelude::*;

    use sentinel_protocol::ProofSignature;

    use super::*;

    const T0: i64 = 1_750_000_000;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).expect("instant")
    }

    fn signature(n: u64) -> ProofSignature {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&n.to_le_bytes());
        bytes[31] = 0xff;
        ProofSignature::from_bytes(bytes)
    }

    fn first_use(
        store: &MemorySeenProofs,
        n: u64,
        expires: i64,
        now: i64,
    ) -> Result<bool, StateError> {
        futures_lite(store.claim_once(signature(n).as_bytes(), at(expires), at(now)))
    }

    /// Runs the store's future, which never waits.
    fn futures_lite<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(future)
    }

    #[test]
    fn a_proof_is_accepted_once_until_it_expires() {
        let store = MemorySeenProofs::new(10);
        assert_eq!(first_use(&store, 1, T0 + 300, T0), Ok(true));
        assert_eq!(first_use(&store, 1, T0 + 300, T0), Ok(false));
        assert_eq!(
            first_use(&store, 1, T0 + 300, T0 + 300),
            Ok(false),
            "the last fresh second"
        );
        assert_eq!(
            first_use(&store, 2, T0 + 300, T0),
            Ok(true),
            "another proof"
        );
        // Past its expiry the proof is stale, refused by the checks before it gets here.
        assert_eq!(first_use(&store, 1, T0 + 601, T0 + 301), Ok(true));
    }

    #[test]
    fn a_full_store_refuses_until_entries_expire_and_never_holds_more() {
        let store = MemorySeenProofs::new(3);
        for n in 0..3 {
            assert_eq!(
                first_use(&store, n, T0 + 100 + i64::try_from(n).expect("n"), T0),
                Ok(true)
            );
        }
        assert_eq!(first_use(&store, 3, T0 + 300, T0), Err(full(3)));
        // A proof already recorded is still told apart while the store is full.
        assert_eq!(first_use(&store, 0, T0 + 100, T0 + 50), Ok(false));
        assert_eq!(store.len(), 3);
        // Once the first entry's time is past, its place is free, and only its.
        assert_eq!(first_use(&store, 3, T0 + 400, T0 + 101), Ok(true));
        assert_eq!(first_use(&store, 4, T0 + 400, T0 + 101), Err(full(3)));
        assert_eq!(store.len(), 3);
        assert_eq!(
            first_use(&store, 1, T0 + 101, T0 + 101),
            Ok(false),
            "not stale yet"
        );
    }

    #[test]
    fn the_full_error_names_the_capacity_and_no_proof() {
        let message = full(7).to_string();
        assert!(message.contains("7 proofs"), "{message}");
        assert_eq!(SingleUse::Store(full(7)).status().0, 503);
        assert_eq!(
            SingleUse::Reused.status(),
            (StatusCode::UNAUTHORIZED, "ProofReused")
        );
    }

    #[test]
    fn a_large_store_is_sharded_and_holds_exactly_its_capacity() {
        let capacity = 100_003;
        let store = MemorySeenProofs::new(capacity);
        assert_eq!(store.shards.len(), MAX_SHARDS);
        let shares: usize = store
            .shards
            .iter()
            .map(|shard| shard.lock().expect("lock").capacity)
            .sum();
        assert_eq!(shares, capacity);
        let mut accepted = 0;
        let mut n = 0;
        while first_use(&store, n, T0 + 300, T0) == Ok(true) {
            accepted += 1;
            n += 1;
        }
        // The first shard to fill refuses: by then nearly all places are taken.
        assert!(accepted > capacity * 9 / 10, "{accepted}");
        // Other shards may take more, and all of them together no more than the capacity.
        let refused = (n..n + 200_000)
            .filter(|more| first_use(&store, *more, T0 + 300, T0).is_err())
            .count();
        assert!(refused >= 200_000 - (capacity - accepted), "{refused}");
        assert_eq!(store.len(), capacity);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn of_concurrent_uses_of_one_proof_exactly_one_is_first() {
        let store = Arc::new(MemorySeenProofs::new(DEFAULT_MAX_SEEN_PROOFS));
        for n in 0..200 {
            let start = Arc::new(tokio::sync::Barrier::new(16));
            let uses: Vec<_> = (0..16)
                .map(|_| {
                    let store = Arc::clone(&store);
                    let start = Arc::clone(&start);
                    tokio::spawn(async move {
                        start.wait().await;
                        store
                            .claim_once(signature(n).as_bytes(), at(T0 + 300), at(T0))
                            .await
                    })
                })
                .collect();
            let mut first = 0;
            for used in uses {
                if used.await.expect("task").expect("room") {
                    first += 1;
                }
            }
            assert_eq!(first, 1, "proof {n}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_callers_over_many_proofs_get_each_proof_once() {
        let store = Arc::new(MemorySeenProofs::new(DEFAULT_MAX_SEEN_PROOFS));
        // Eight callers each try the same 5,000 proofs, in different orders.
        let callers: Vec<_> = (0..8u64)
            .map(|caller| {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let mut first = 0u64;
                    for i in 0..5_000u64 {
                        let n = (i * (2 * caller + 1)) % 5_000;
                        if store
                            .claim_once(signature(n).as_bytes(), at(T0 + 300), at(T0))
                            .await
                            == Ok(true)
                        {
                            first += 1;
                        }
                    }
                    first
                })
            })
            .collect();
        let mut total = 0;
        for caller in callers {
            total += caller.await.expect("task");
        }
        assert_eq!(total, 5_000);
        assert_eq!(store.len(), 5_000);
    }

    /// One step of a property test: a proof used at a time.
    #[derive(Debug, Clone)]
    struct Use {
        proof: u64,
        /// Seconds after the previous step.
        later: i64,
        /// Seconds from now the proof is kept (its date + 5 minutes).
        kept: i64,
    }

    fn uses() -> impl Strategy<Value = Vec<Use>> {
        prop::collection::vec(
            (0..12u64, 0..120i64, 0..600i64).prop_map(|(proof, later, kept)| Use {
                proof,
                later,
                kept,
            }),
            1..200,
        )
    }

    proptest! {
        /// The store answers as the rule says: a proof kept past now is not new; a new proof
        /// is refused when as many proofs as the capacity are kept past now; otherwise it is
        /// recorded. And it never holds more than its capacity.
        #[test]
        fn the_store_answers_as_the_single_use_rule_says(capacity in 1..8usize, steps in uses()) {
            let store = MemorySeenProofs::new(capacity);
            let mut model: BTreeMap<u64, i64> = BTreeMap::new();
            let mut now = T0;
            for step in steps {
                now += step.later;
                let expected = if model.get(&step.proof).is_some_and(|kept| *kept >= now) {
                    Ok(false)
                } else if model.values().filter(|kept| **kept >= now).count() >= capacity {
                    Err(full(capacity))
                } else {
                    model.insert(step.proof, now + step.kept);
                    Ok(true)
                };
                prop_assert_eq!(first_use(&store, step.proof, now + step.kept, now), expected);
                prop_assert!(store.len() <= capacity);
            }
        }
    }
}
