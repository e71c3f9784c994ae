//! The cache's promises: hits, TTL, single flight, no cross-key blocking, a bound on entries,
//! errors never stored, and stale serving only while the store fails and within `max_stale`.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::source::ManualClock;
use crate::source::testing::{FakeSource, block_on, unreachable};

const TTL: Duration = Duration::from_secs(300);

fn cache(config: CacheConfig) -> (Arc<CachedSource<FakeSource>>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new());
    let cache = CachedSource::with_clock(FakeSource::default(), config, clock.clone());
    (Arc::new(cache), clock)
}

fn multi_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

#[test]
fn a_second_load_is_a_hit_and_counted() {
    let (cache, _) = cache(CacheConfig::default());
    let first = block_on(cache.load("prod")).expect("loads");
    let second = block_on(cache.load("prod")).expect("hits");
    assert!(Arc::ptr_eq(&first.policy, &second.policy));
    assert_eq!(&*second.origin, "fake:prod");
    let stats = cache.stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.loads, stats.entries),
        (1, 1, 1, 1)
    );
    assert_eq!(cache.inner().loads(), 1);
}

#[test]
fn with_fresh_lends_the_cached_policy_and_counts_a_hit() {
    let (cache, _) = cache(CacheConfig::default());
    assert_eq!(
        cache.with_fresh("prod", |loaded| loaded.policy.rules()),
        None
    );
    block_on(cache.load("prod")).expect("loads");
    assert_eq!(
        cache.with_fresh("prod", |loaded| loaded.policy.rules()),
        Some(1)
    );
    assert_eq!(cache.stats().hits, 1);
}

#[test]
fn an_entry_expires_after_its_ttl() {
    let (cache, clock) = cache(CacheConfig::default());
    block_on(cache.load("prod")).expect("loads");
    clock.advance(TTL - Duration::from_nanos(1));
    assert!(
        cache.get_fresh("prod").is_some(),
        "fresh just before the TTL"
    );
    clock.advance(Duration::from_nanos(1));
    assert!(cache.get_fresh("prod").is_none(), "expired at the TTL");
    block_on(cache.load("prod")).expect("reloads");
    assert_eq!(cache.inner().loads(), 2);
}

#[test]
fn each_key_has_its_own_ttl() {
    let (cache, clock) = cache(CacheConfig::default());
    block_on(cache.load("a")).expect("loads a");
    clock.advance(TTL / 2);
    block_on(cache.load("b")).expect("loads b");
    clock.advance(TTL / 2);
    assert!(cache.get_fresh("a").is_none(), "a expired");
    assert!(cache.get_fresh("b").is_some(), "b still fresh");
}

#[test]
fn errors_are_not_cached() {
    let (cache, _) = cache(CacheConfig::default());
    cache.inner().fail_with(Some(unreachable("prod")));
    block_on(cache.load("prod")).expect_err("store fails");
    cache.inner().fail_with(None);
    block_on(cache.load("prod")).expect("the next load asks the store again");
    let stats = cache.stats();
    assert_eq!((stats.loads, stats.load_errors), (2, 1));
}

#[test]
fn concurrent_misses_on_one_key_share_one_load() {
    let (cache, _) = cache(CacheConfig::default());
    cache.inner().block("prod");
    let runtime = multi_thread_runtime();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let cache = cache.clone();
            runtime.spawn(async move { cache.load("prod").await })
        })
        .collect();
    runtime.block_on(async {
        // Let every task reach the cache before the load may finish.
        while cache.stats().misses < 100 {
            tokio::task::yield_now().await;
        }
        cache.inner().open_gate();
        for task in tasks {
            task.await.expect("task").expect("policy");
        }
    });
    assert_eq!(cache.inner().loads(), 1);
    assert_eq!(cache.stats().loads, 1);
}

#[test]
fn concurrent_misses_share_one_failure_too() {
    let (cache, _) = cache(CacheConfig::default());
    cache.inner().block("prod");
    cache.inner().fail_with(Some(unreachable("prod")));
    let runtime = multi_thread_runtime();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let cache = cache.clone();
            runtime.spawn(async move { cache.load("prod").await })
        })
        .collect();
    runtime.block_on(async {
        while cache.stats().misses < 100 {
            tokio::task::yield_now().await;
        }
        cache.inner().open_gate();
        for task in tasks {
            task.await.expect("task").expect_err("store fails");
        }
    });
    assert_eq!(cache.inner().loads(), 1);
}

#[test]
fn a_slow_load_of_one_key_does_not_delay_another() {
    let (cache, _) = cache(CacheConfig::default());
    cache.inner().block("slow");
    let runtime = multi_thread_runtime();
    runtime.block_on(async {
        cache.load("fast").await.expect("loads fast");
        let slow = tokio::spawn({
            let cache = cache.clone();
            async move { cache.load("slow").await }
        });
        while cache.stats().loads < 2 {
            tokio::task::yield_now().await;
        }
        // The slow load is in flight and cannot finish until the gate opens, so everything
        // below runs while it is pending.
        for _ in 0..10_000 {
            cache.load("fast").await.expect("hit on fast");
        }
        cache
            .load("other")
            .await
            .expect("a miss on another key loads");
        assert!(!slow.is_finished(), "the slow load is still waiting");
        cache.inner().open_gate();
        slow.await.expect("task").expect("slow loads");
    });
    assert_eq!(cache.stats().hits, 10_000);
}

#[test]
fn a_cancelled_load_does_not_strand_the_key() {
    let (cache, _) = cache(CacheConfig::default());
    cache.inner().block("prod");
    let runtime = multi_thread_runtime();
    runtime.block_on(async {
        let first = tokio::spawn({
            let cache = cache.clone();
            async move { cache.load("prod").await }
        });
        while cache.stats().loads < 1 {
            tokio::task::yield_now().await;
        }
        first.abort();
        let _ = first.await;
        cache.inner().open_gate();
        cache
            .load("prod")
            .await
            .expect("a later caller loads afresh");
    });
    assert_eq!(cache.inner().loads(), 2);
}

#[test]
fn a_flood_of_distinct_keys_stays_within_capacity() {
    let (cache, _) = cache(CacheConfig {
        capacity: 64,
        ..CacheConfig::default()
    });
    for i in 0..5_000 {
        block_on(cache.load(&format!("profile-{i}"))).expect("loads");
    }
    let stats = cache.stats();
    assert!(stats.entries <= 64, "{} entries", stats.entries);
    assert!(
        stats.entries >= 32,
        "the capacity is used: {}",
        stats.entries
    );
    assert!(
        cache.get_fresh("profile-4999").is_some(),
        "the newest entry is kept"
    );
}

#[test]
fn a_concurrent_flood_of_distinct_keys_stays_within_capacity() {
    let (cache, _) = cache(CacheConfig {
        capacity: 64,
        ..CacheConfig::default()
    });
    let runtime = multi_thread_runtime();
    runtime.block_on(async {
        let tasks: Vec<_> = (0..4)
            .map(|task| {
                let cache = cache.clone();
                tokio::spawn(async move {
                    for i in 0..2_000 {
                        cache.load(&format!("t{task}-{i}")).await.expect("loads");
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("task");
        }
    });
    let stats = cache.stats();
    assert!(stats.entries <= 64, "{} entries", stats.entries);
    assert_eq!(stats.loads, 8_000);
}

#[test]
fn a_capacity_of_zero_still_caches_one_entry() {
    let (cache, _) = cache(CacheConfig {
        capacity: 0,
        ..CacheConfig::default()
    });
    block_on(cache.load("a")).expect("loads a");
    block_on(cache.load("b")).expect("loads b");
    assert_eq!(cache.stats().entries, 1);
    assert!(cache.get_fresh("b").is_some());
}

#[test]
fn without_max_stale_an_expired_policy_is_not_served() {
    let (cache, clock) = cache(CacheConfig::default());
    block_on(cache.load("prod")).expect("loads");
    clock.advance(TTL);
    cache.inner().fail_with(Some(unreachable("prod")));
    let error = block_on(cache.load("prod")).expect_err("fails closed");
    assert!(error.is_store_failure());
    assert_eq!(cache.stats().stale_serves, 0);
}

#[test]
fn max_stale_bridges_a_failing_store_only_within_its_window() {
    let max_stale = Duration::from_secs(60);
    let (cache, clock) = cache(CacheConfig {
        max_stale,
        ..CacheConfig::default()
    });
    block_on(cache.load("prod")).expect("loads");
    cache.inner().fail_with(Some(unreachable("prod")));
    clock.advance(TTL + max_stale - Duration::from_nanos(1));
    let stale = block_on(cache.load("prod")).expect("served stale within the window");
    assert_eq!(&*stale.origin, "fake:prod");
    assert_eq!(cache.stats().stale_serves, 1);
    clock.advance(Duration::from_nanos(1));
    block_on(cache.load("prod")).expect_err("denied past the window");
    assert_eq!(cache.stats().stale_serves, 1);
}

#[test]
fn max_stale_never_bridges_a_missing_or_invalid_policy() {
    let (cache, clock) = cache(CacheConfig {
        max_stale: Duration::from_secs(60),
        ..CacheConfig::default()
    });
    block_on(cache.load("prod")).expect("loads");
    clock.advance(TTL);
    for error in [
        SourceError::NotFound {
            location: "fake:prod".into(),
        },
        SourceError::AccessDenied {
            location: "fake:prod".into(),
            detail: "no".into(),
        },
    ] {
        cache.inner().fail_with(Some(error));
        block_on(cache.load("prod")).expect_err("the store answered: deny");
    }
    assert_eq!(cache.stats().stale_serves, 0);
}

#[test]
fn hits_are_counted_from_many_threads() {
    let (cache, _) = cache(CacheConfig::default());
    block_on(cache.load("prod")).expect("loads");
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..1_000 {
                    cache.get_fresh("prod").expect("hit");
                }
            });
        }
    });
    assert_eq!(cache.stats().hits, 4_000);
}
