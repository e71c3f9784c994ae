//! The generator's own cost: how fast it drives a request function that does nothing.
//!
//! The rate is set far above what the machine can reach, so no worker ever waits for a due
//! time; each sample runs the schedule for a short window and reports the time per request
//! actually sent (requests no worker reached before the window closed are not counted).

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sentinel_load::{LoadTestConfig, RequestError, RunControl, run_load_test};

/// Far above any reachable rate: the schedule is always behind.
const UNREACHABLE_RATE: f64 = 1e9;
/// Each sample's window.
const WINDOW: Duration = Duration::from_millis(20);

fn noop_capacity(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let mut group = c.benchmark_group("noop_request");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    for workers in [1, 4, 16] {
        group.bench_function(format!("{workers}_workers"), |b| {
            b.iter_custom(|iters| {
                let mut config = LoadTestConfig::new(UNREACHABLE_RATE, WINDOW);
                config.workers = workers;
                let result = runtime
                    .block_on(run_load_test(config, RunControl::default(), |_| {
                        std::future::ready(Ok::<(), RequestError>(()))
                    }))
                    .expect("a valid configuration");
                let per_request = WINDOW.as_secs_f64() / result.requests.sent.max(1) as f64;
                Duration::from_secs_f64(per_request * iters as f64)
            });
        });
    }
    group.finish();
}

criterion_group!(benches, noop_capacity);
criterion_main!(benches);
