//! Drives a no-op request function at a fixed rate and prints the report and the peak RSS:
//! the generator's pacing accuracy and memory at rates no real target reaches.
//!
//! `cargo run --release -p sentinel-load --example noop -- RATE SECONDS WORKERS [timeline]`
//! (`timeline` records the per-second timeline as well, to show what it costs).

use std::time::Duration;

use sentinel_load::{
    LoadTestConfig, RequestError, RunControl, TimelineSink, run_load_test, write_text,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rate: f64 = args.next().as_deref().unwrap_or("1000000").parse()?;
    let seconds: f64 = args.next().as_deref().unwrap_or("10").parse()?;
    let workers: usize = args.next().as_deref().unwrap_or("4").parse()?;
    let mut config = LoadTestConfig::new(rate, Duration::from_secs_f64(seconds));
    config.workers = workers;
    let mut control = RunControl::default();
    if args.next().as_deref() == Some("timeline") {
        control = control.with_timeline(TimelineSink::keep());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(run_load_test(config, control, |_| {
        std::future::ready(Ok::<(), RequestError>(()))
    }))?;
    write_text(&result, &mut std::io::stdout())?;
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    for line in status.lines().filter(|l| l.starts_with("VmHWM")) {
        println!("{line}");
    }
    Ok(())
}
