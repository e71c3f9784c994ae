//! The cost of one request of each scenario, alone on one thread, without the load generator:
//! what the load generator's figures are made of, and where `issuance` spends its time (its
//! decision log is a real file).

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sentinel_load::LoadTestConfig;
use sentinel_scenarios::Scenario;

fn requests(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let config = LoadTestConfig::new(1000.0, Duration::from_secs(1));
    for scenario in Scenario::ALL {
        c.bench_function(scenario.name(), |b| {
            b.iter_custom(|count| {
                runtime
                    .block_on(scenario.time_requests(&config, count))
                    .expect("the scenario prepares")
            });
        });
    }
}

criterion_group!(benches, requests);
criterion_main!(benches);
