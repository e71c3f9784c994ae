//! A concurrent TTL cache in front of any [`PolicySource`], so the broker does not read the
//! store on every request.
//!
//! Shape: the keys are spread over shards by hash. Each shard's entries live in an immutable map
//! behind an [`ArcSwap`]: a hit reads it without taking a lock or writing any shared memory
//! other than its thread's own hit counter, so hits scale with cores and a slow load never
//! delays them. Writers copy the shard's small map, change it and swap it in. A miss joins the
//! key's in-flight load, if there is one (single flight), or starts it; each shard holds at most
//! `capacity / shards` entries, evicting the oldest. Errors are never stored; an expired entry
//! is served only while the store is failing and only within `max_stale`.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use foldhash::fast::RandomState;
use tokio::sync::OnceCell;

use super::clock::{Clock, SystemClock};
use super::{LoadedPolicy, PolicySource, SourceError};

/// How long entries stay fresh, how long they may bridge a failing store, and how many there
/// may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// How long a loaded policy is served without asking the store again.
    pub ttl: Duration,
    /// How long past its TTL a policy may still be served while the store is failing
    /// (unreachable or throttling); zero fails closed at once.
    pub max_stale: Duration,
    /// The most entries held at once (at least 1). Sized for profiles, not requests: a miss
    /// copies its shard's map (`capacity / 16` entries).
    pub capacity: usize,
}

impl Default for CacheConfig {
    /// Five minutes' TTL, no stale serving, 1024 entries.
    fn default() -> CacheConfig {
        CacheConfig {
            ttl: Duration::from_secs(300),
            max_stale: Duration::ZERO,
            capacity: 1024,
        }
    }
}

/// A snapshot of the cache's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups answered from a fresh entry.
    pub hits: u64,
    /// Lookups that found no fresh entry.
    pub misses: u64,
    /// Loads started on the inner source (one per flight, however many callers joined it).
    pub loads: u64,
    /// Loads that failed.
    pub load_errors: u64,
    /// Expired entries served because the store was failing.
    pub stale_serves: u64,
    /// Entries held now.
    pub entries: usize,
}

/// Shards a cache splits its keys over (at most; fewer when the capacity is smaller).
const SHARDS: usize = 16;
/// Hit counters, one per cache line; threads are spread over them.
const HIT_STRIPES: usize = 16;

/// A [`PolicySource`] that caches another one's policies.
pub struct CachedSource<S> {
    inner: S,
    config: CacheConfig,
    clock: Arc<dyn Clock>,
    hasher: RandomState,
    shards: Box<[Shard]>,
    per_shard: usize,
    hits: Box<[Stripe]>,
    counts: MissCounters,
}

/// The counters of the miss path, on their own cache line so that counting misses never
/// disturbs the read-only fields every hit reads.
#[derive(Default)]
#[repr(align(128))]
struct MissCounters {
    misses: AtomicU64,
    loads: AtomicU64,
    load_errors: AtomicU64,
    stale_serves: AtomicU64,
}

/// A shard's entries; the hasher is randomly seeded, so keys cannot be chosen to collide.
type Entries = HashMap<Arc<str>, Entry, RandomState>;

/// One slice of the keys, on cache lines of its own, so misses in one shard never disturb
/// hits in another.
#[derive(Default)]
#[repr(align(128))]
struct Shard {
    entries: ArcSwap<Entries>,
    /// Serializes writers of `entries` (readers never take it).
    writer: Mutex<()>,
    flights: Mutex<HashMap<Arc<str>, Arc<Flight>, RandomState>>,
}

#[derive(Clone)]
struct Entry {
    value: LoadedPolicy,
    /// When it was loaded, on the cache's clock.
    loaded_at: Duration,
}

/// One load in progress, shared by every caller that missed the same key meanwhile.
#[derive(Default)]
struct Flight {
    result: OnceCell<Result<LoadedPolicy, SourceError>>,
}

/// A counter alone on its cache line, so threads counting on different stripes never contend.
#[derive(Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

impl<S> CachedSource<S> {
    /// Caches `inner`'s policies, timed by the system clock.
    pub fn new(inner: S, config: CacheConfig) -> CachedSource<S> {
        CachedSource::with_clock(inner, config, Arc::new(SystemClock))
    }

    /// Caches `inner`'s policies, timed by `clock` (tests move a [`super::ManualClock`]).
    pub fn with_clock(inner: S, config: CacheConfig, clock: Arc<dyn Clock>) -> CachedSource<S> {
        let capacity = config.capacity.max(1);
        let shards = SHARDS.min(prev_power_of_two(capacity));
        CachedSource {
            inner,
            config: CacheConfig { capacity, ..config },
            clock,
            hasher: RandomState::default(),
            shards: (0..shards).map(|_| Shard::default()).collect(),
            per_shard: capacity / shards,
            hits: (0..HIT_STRIPES).map(|_| Stripe::default()).collect(),
            counts: MissCounters::default(),
        }
    }

    /// The cached source.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The policy for `key` if a fresh copy is cached: the synchronous hit path, which
    /// [`PolicySource::load`] tries first. Counts a hit when it answers.
    pub fn get_fresh(&self, key: &str) -> Option<LoadedPolicy> {
        self.with_fresh(key, LoadedPolicy::clone)
    }

    /// Calls `use_policy` on the fresh cached policy for `key`, if there is one, without
    /// touching the policy's reference counts: the cheapest hit, for a caller that needs the
    /// policy only while it decides. Counts a hit when it answers.
    pub fn with_fresh<R>(
        &self,
        key: &str,
        use_policy: impl FnOnce(&LoadedPolicy) -> R,
    ) -> Option<R> {
        let found = self.lookup(self.shard(key), key, self.config.ttl, use_policy);
        if found.is_some() {
            self.count_hit();
        }
        found
    }

    /// The counters and the number of entries now.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.iter().map(|s| s.0.load(Ordering::Relaxed)).sum(),
            misses: self.counts.misses.load(Ordering::Relaxed),
            loads: self.counts.loads.load(Ordering::Relaxed),
            load_errors: self.counts.load_errors.load(Ordering::Relaxed),
            stale_serves: self.counts.stale_serves.load(Ordering::Relaxed),
            entries: self.shards.iter().map(|s| s.entries.load().len()).sum(),
        }
    }

    fn shard(&self, key: &str) -> &Shard {
        let index = self.hasher.hash_one(key) as usize & (self.shards.len() - 1);
        &self.shards[index]
    }

    /// `use_policy` applied to the entry for `key` if it was loaded less than `max_age` ago.
    fn lookup<R>(
        &self,
        shard: &Shard,
        key: &str,
        max_age: Duration,
        use_policy: impl FnOnce(&LoadedPolicy) -> R,
    ) -> Option<R> {
        let entries = shard.entries.load();
        let entry = entries.get(key)?;
        let age = self.clock.now().saturating_sub(entry.loaded_at);
        (age < max_age).then(|| use_policy(&entry.value))
    }

    fn count_hit(&self) {
        thread_local! {
            static STRIPE: usize = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % HIT_STRIPES;
        }
        static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);
        let stripe = STRIPE.with(|stripe| *stripe);
        self.hits[stripe].0.fetch_add(1, Ordering::Relaxed);
    }

    /// Stores a freshly loaded policy, evicting the shard's oldest entry when it is full.
    fn insert(&self, shard: &Shard, key: &str, value: LoadedPolicy) {
        let _writer = lock(&shard.writer);
        let mut entries = Entries::clone(&shard.entries.load());
        if !entries.contains_key(key)
            && entries.len() >= self.per_shard
            && let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, entry)| entry.loaded_at)
                .map(|(key, _)| Arc::clone(key))
        {
            entries.remove(&oldest);
        }
        let loaded_at = self.clock.now();
        entries.insert(key.into(), Entry { value, loaded_at });
        shard.entries.store(Arc::new(entries));
    }

    /// The in-flight load of `key` to join, or a fresh entry that landed meanwhile.
    fn join_flight(&self, shard: &Shard, key: &str) -> Result<Arc<Flight>, LoadedPolicy> {
        let mut flights = lock(&shard.flights);
        if let Some(flight) = flights.get(key) {
            return Ok(Arc::clone(flight));
        }
        // A flight stores its entry before it leaves `flights`, so a miss that finds no flight
        // sees the entry of any flight that just finished.
        if let Some(fresh) = self.lookup(shard, key, self.config.ttl, LoadedPolicy::clone) {
            return Err(fresh);
        }
        let flight = Arc::<Flight>::default();
        flights.insert(key.into(), Arc::clone(&flight));
        Ok(flight)
    }

    /// Serves an expired copy when the store is failing and the copy is within `max_stale`;
    /// otherwise passes the error on (fail closed).
    fn stale_or(
        &self,
        shard: &Shard,
        key: &str,
        error: SourceError,
    ) -> Result<LoadedPolicy, SourceError> {
        if !error.is_store_failure() || self.config.max_stale.is_zero() {
            return Err(error);
        }
        let window = self.config.ttl.saturating_add(self.config.max_stale);
        match self.lookup(shard, key, window, LoadedPolicy::clone) {
            Some(stale) => {
                self.counts.stale_serves.fetch_add(1, Ordering::Relaxed);
                Ok(stale)
            }
            None => Err(error),
        }
    }
}

impl<S: PolicySource> CachedSource<S> {
    /// Loads `key` from the inner source for every caller of `flight`, stores a success, and
    /// retires the flight whether the load finishes or is cancelled.
    async fn fly(
        &self,
        shard: &Shard,
        key: &str,
        flight: &Arc<Flight>,
    ) -> Result<LoadedPolicy, SourceError> {
        let _retire = RetireFlight { shard, key, flight };
        self.counts.loads.fetch_add(1, Ordering::Relaxed);
        let result = self.inner.load(key).await;
        match &result {
            Ok(loaded) => self.insert(shard, key, loaded.clone()),
            Err(_) => {
                self.counts.load_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        result
    }
}

#[async_trait::async_trait]
impl<S: PolicySource> PolicySource for CachedSource<S> {
    async fn load(&self, key: &str) -> Result<LoadedPolicy, SourceError> {
        if let Some(hit) = self.get_fresh(key) {
            return Ok(hit);
        }
        self.counts.misses.fetch_add(1, Ordering::Relaxed);
        let shard = self.shard(key);
        let flight = match self.join_flight(shard, key) {
            Ok(flight) => flight,
            Err(fresh) => return Ok(fresh),
        };
        let result = flight
            .result
            .get_or_init(|| self.fly(shard, key, &flight))
            .await
            .clone();
        result.or_else(|error| self.stale_or(shard, key, error))
    }
}

/// Removes a flight from its shard when its load ends or is dropped, unless a newer flight for
/// the key has replaced it.
struct RetireFlight<'a> {
    shard: &'a Shard,
    key: &'a str,
    flight: &'a Arc<Flight>,
}

impl Drop for RetireFlight<'_> {
    fn drop(&mut self) {
        let mut flights = lock(&self.shard.flights);
        if flights
            .get(self.key)
            .is_some_and(|current| Arc::ptr_eq(current, self.flight))
        {
            flights.remove(self.key);
        }
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The largest power of two not above `n` (`n` ≥ 1).
fn prev_power_of_two(n: usize) -> usize {
    1 << n.ilog2()
}

#[cfg(test)]
mod tests;
