//! The cost of one request of each scenario, alone on one thread: what the load generator's
//! figures are made of, and where `issuance` spends its time (its decision log is a real file).

use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sentinel_load::{LoadTestConfig, RequestContext};
use sentinel_scenarios::{Scenario, Setup, Workload};

fn requests(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let config = LoadTestConfig::new(1000.0, Duration::from_secs(1));
    for scenario in Scenario::ALL {
        let workload: Arc<Workload> = runtime
            .block_on(Workload::prepare(scenario, &config, &Setup::default()))
            .expect("the scenario prepares");
        let mut seq = 0;
        c.bench_function(scenario.name(), |b| {
            b.iter(|| {
                seq += 1;
                let ctx = RequestContext { worker: 0, seq };
                runtime.block_on(workload.request(ctx))
            })
        });
    }
}

criterion_group!(benches, requests);
criterion_main!(benches);
