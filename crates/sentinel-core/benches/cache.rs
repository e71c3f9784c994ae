//! The policy cache's hit path: an owned hit (`get_fresh`), a lent one (`with_fresh`), a hit
//! through the async `PolicySource` trait, and hit throughput from one and from two threads at
//! once (which must scale: no global lock and no shared counter on the hit path).

use std::hint::black_box;
use std::pin::pin;
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sentinel_core::source::{
    CacheConfig, CachedSource, FileSource, LoadedPolicy, PolicySource, SourceError,
};

const POLICY: &str = "version: \"1\"\nrules:\n  - name: ops\n    effect: allow\n    conditions:\n      users: [alice]\n";
/// Distinct keys held in the cache while measuring, so lookups are not into a one-entry map.
const KEYS: usize = 64;

/// A cache holding `KEYS` profiles, all fresh for the length of the benchmark.
fn warm_cache() -> (Arc<CachedSource<FileSource>>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    for i in 0..KEYS {
        std::fs::write(dir.path().join(format!("profile-{i}.yaml")), POLICY).expect("policy");
    }
    let config = CacheConfig {
        ttl: Duration::from_secs(3600),
        ..CacheConfig::default()
    };
    let cache = Arc::new(CachedSource::new(FileSource::directory(dir.path()), config));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    for i in 0..KEYS {
        runtime
            .block_on(cache.load(&format!("profile-{i}")))
            .expect("policy loads");
    }
    (cache, dir)
}

/// Polls a load once: a hit completes at once, so no runtime is needed.
fn load_now(cache: &CachedSource<FileSource>, key: &str) -> Result<LoadedPolicy, SourceError> {
    let mut context = Context::from_waker(Waker::noop());
    match pin!(cache.load(key)).as_mut().poll(&mut context) {
        Poll::Ready(result) => result,
        Poll::Pending => panic!("{key} is not cached"),
    }
}

/// Wall time for `threads` threads to make `iters` hits each, started together; thread `i`
/// asks for `keys[i % keys.len()]`.
fn parallel_hits<R>(
    cache: &CachedSource<FileSource>,
    lookup: fn(&CachedSource<FileSource>, &str) -> R,
    threads: usize,
    keys: &[&str],
    iters: u64,
) -> Duration {
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let key = keys[thread % keys.len()];
            let barrier = &barrier;
            scope.spawn(move || {
                barrier.wait();
                for _ in 0..iters {
                    black_box(lookup(cache, black_box(key)));
                }
            });
        }
        barrier.wait();
        let start = Instant::now();
        // Leaving the scope joins the threads.
        start
    })
    .elapsed()
}

fn cache_hits(c: &mut Criterion) {
    let (cache, _dir) = warm_cache();
    c.bench_function("cache/get_fresh", |b| {
        b.iter(|| black_box(cache.get_fresh(black_box("profile-7"))))
    });
    c.bench_function("cache/with_fresh", |b| {
        b.iter(|| black_box(cache.with_fresh(black_box("profile-7"), |p| p.policy.rules())))
    });
    c.bench_function("cache/load_hit", |b| {
        b.iter(|| black_box(load_now(&cache, black_box("profile-7"))))
    });
    // Every thread on one key: the realistic case (one busy profile), where threads that take
    // owned copies also share the policy's reference counts. Then each thread on its own key.
    let same_key = &["profile-7"][..];
    let own_key = &["profile-7", "profile-8"][..];
    threads(
        c,
        "cache/get_fresh_threads_same_key",
        &cache,
        same_key,
        get_owned,
    );
    threads(
        c,
        "cache/get_fresh_threads_own_key",
        &cache,
        own_key,
        get_owned,
    );
    threads(
        c,
        "cache/with_fresh_threads_same_key",
        &cache,
        same_key,
        get_lent,
    );
}

fn get_owned(cache: &CachedSource<FileSource>, key: &str) -> Option<LoadedPolicy> {
    cache.get_fresh(key)
}

fn get_lent(cache: &CachedSource<FileSource>, key: &str) -> Option<usize> {
    cache.with_fresh(key, |loaded| loaded.policy.rules())
}

/// Hit throughput from one thread and from two.
fn threads<R>(
    c: &mut Criterion,
    name: &str,
    cache: &CachedSource<FileSource>,
    keys: &[&str],
    lookup: fn(&CachedSource<FileSource>, &str) -> R,
) {
    let mut group = c.benchmark_group(name);
    for threads in [1, 2] {
        group.throughput(Throughput::Elements(threads as u64));
        group.bench_function(threads.to_string(), |b| {
            b.iter_custom(|iters| parallel_hits(cache, lookup, threads, keys, iters))
        });
    }
    group.finish();
}

criterion_group!(benches, cache_hits);
criterion_main!(benches);
