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

/// What a multi-threaded benchmark measures.
#[derive(Clone, Copy)]
enum Timer {
    /// Wall time until every thread is done: throughput as seen from outside.
    Wall,
    /// The threads' mean CPU time: the cost of a hit to a thread that has a core of its own,
    /// unaffected by other processes taking the cores (contention between the threads, e.g. on a
    /// shared cache line, still shows).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    ThreadCpu,
}

/// The time for `threads` threads to make `iters` hits each, started together; thread `i`
/// asks for `keys[i % keys.len()]`.
fn parallel_hits<R>(
    cache: &CachedSource<FileSource>,
    lookup: fn(&CachedSource<FileSource>, &str) -> R,
    (threads, timer): (usize, Timer),
    keys: &[&str],
    iters: u64,
) -> Duration {
    let barrier = Barrier::new(threads + 1);
    let (start, cpu_times) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let key = keys[thread % keys.len()];
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let start = thread_cpu_time();
                    for _ in 0..iters {
                        black_box(lookup(cache, black_box(key)));
                    }
                    thread_cpu_time().saturating_sub(start)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let cpu_times: Vec<Duration> = workers
            .into_iter()
            .map(|worker| worker.join().expect("benchmark thread"))
            .collect();
        (start, cpu_times)
    });
    match timer {
        Timer::Wall => start.elapsed(),
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Timer::ThreadCpu => cpu_times.iter().sum::<Duration>() / threads as u32,
    }
}

/// The calling thread's CPU time (zero where it cannot be read; only the `ThreadCpu` timer uses it).
fn thread_cpu_time() -> Duration {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::time::{ClockId, clock_gettime};
        let now = clock_gettime(ClockId::ThreadCPUTime);
        Duration::new(
            u64::try_from(now.tv_sec).unwrap_or(0),
            u32::try_from(now.tv_nsec).unwrap_or(0),
        )
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    Duration::ZERO
}

fn cache_hits(c: &mut Criterion) {
    let (cache, _dir) = warm_cache();
    c.bench_function("cache/get_fresh", |b| {
        b.iter(|| black_box(cache.get_fresh(black_box("profile-7"))));
    });
    c.bench_function("cache/with_fresh", |b| {
        b.iter(|| black_box(cache.with_fresh(black_box("profile-7"), |p| p.policy.rules())));
    });
    c.bench_function("cache/load_hit", |b| {
        b.iter(|| black_box(load_now(&cache, black_box("profile-7"))));
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
        Timer::Wall,
    );
    threads(
        c,
        "cache/get_fresh_threads_own_key",
        &cache,
        own_key,
        get_owned,
        Timer::Wall,
    );
    threads(
        c,
        "cache/with_fresh_threads_same_key",
        &cache,
        same_key,
        get_lent,
        Timer::Wall,
    );
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let timer = Timer::ThreadCpu;
        threads(
            c,
            "cache/get_fresh_threads_same_key_cpu",
            &cache,
            same_key,
            get_owned,
            timer,
        );
        threads(
            c,
            "cache/get_fresh_threads_own_key_cpu",
            &cache,
            own_key,
            get_owned,
            timer,
        );
        threads(
            c,
            "cache/with_fresh_threads_same_key_cpu",
            &cache,
            same_key,
            get_lent,
            timer,
        );
    }
}

fn get_owned(cache: &CachedSource<FileSource>, key: &str) -> Option<LoadedPolicy> {
    cache.get_fresh(key)
}

fn get_lent(cache: &CachedSource<FileSource>, key: &str) -> Option<usize> {
    cache.with_fresh(key, |loaded| loaded.policy.rules())
}

/// Hit throughput from one thread and from two, as `timer` measures it.
fn threads<R>(
    c: &mut Criterion,
    name: &str,
    cache: &CachedSource<FileSource>,
    keys: &[&str],
    lookup: fn(&CachedSource<FileSource>, &str) -> R,
    timer: Timer,
) {
    let mut group = c.benchmark_group(name);
    for threads in [1, 2] {
        group.throughput(Throughput::Elements(threads as u64));
        group.bench_function(threads.to_string(), |b| {
            b.iter_custom(|iters| parallel_hits(cache, lookup, (threads, timer), keys, iters));
        });
    }
    group.finish();
}

criterion_group!(benches, cache_hits);
criterion_main!(benches);
