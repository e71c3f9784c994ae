//! The generator's own cost: how fast it drives a request function that does nothing.
//!
//! The rate is set far above what the machine can reach, so the schedule never waits and the
//! measured time is the per-request overhead of claiming, timing, polling and recording.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sentinel_load::{LoadTestConfig, RequestError, run_load_test};

const REQUESTS: u64 = 200_000;

fn noop_capacity(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let mut group = c.benchmark_group("noop");
    group.throughput(Throughput::Elements(REQUESTS));
    group.sample_size(20);
    for workers in [1, 4, 16] {
        group.bench_function(format!("{workers}_workers"), |b| {
            b.iter(|| {
                let mut config =
                    LoadTestConfig::new(REQUESTS as f64 * 1e3, Duration::from_millis(1));
                config.workers = workers;
                runtime
                    .block_on(run_load_test(config, |_| {
                        std::future::ready(Ok::<(), RequestError>(()))
                    }))
                    .expect("a valid configuration")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, noop_capacity);
criterion_main!(benches);
