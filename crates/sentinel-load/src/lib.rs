//! `sentinel-load`: an open-loop load generator that reports latency honestly.
//!
//! Request *i* is due at `start + i / rate`, whether or not the target kept up with request
//! *i − 1*. Latency is measured from that due time, so a target that stalls is charged for every
//! request that had to wait (no coordinated omission); the service time (from the actual send)
//! and the schedule lag (actual send − due time) are reported beside it, so a reader can tell a
//! slow target from a generator that fell behind.
//!
//! The pieces, each in its own module:
//! - [`LoadTestConfig`] and [`run_load_test`]: the schedule, `workers` concurrent workers
//!   released on time by one pacer and a per-request timeout, the run steered by a
//!   [`RunControl`] (its cancellation token, where its timeline goes);
//! - [`LoadTestResult`]: counts, rates per second of the schedule and percentiles from HDR
//!   histograms (one set per runtime thread, merged at the end), serialisable to the JSON
//!   contract, with a text and an `.hgrm` rendering;
//! - [`Threshold`]: `p99<10ms`, `success>=99%`, `throughput>=800`, judged over every due
//!   request (so failures and missed requests never pass a latency bound), once, by [`judge`]
//!   into [`Verdict`]s;
//! - [`http`]: an HTTP request function (HTTP/1.1 or HTTP/2, TLS or not, one URL or many
//!   targets), connections opened before the run, reporting what came back as an
//!   [`Exchange`] (status, bytes, connect time, first byte);
//! - [`Mix`]: which target each request of the schedule goes to, in turn or by weight, so that
//!   a run's figures can be kept per target too;
//! - [`RateSearch`]: the bookkeeping of a search for the highest rate a target sustains;
//! - [`Stage`]s: an arrival rate that ramps and holds over the run, request *i* due where the
//!   integral of the rate reaches *i*;
//! - the [`Second`]s of a timeline keyed by due time, recorded in flat memory and handed to a
//!   [`TimelineSink`] as each second closes;
//! - [`Segment`]s: one schedule split between N generators, whose results [`merge()`] adds up
//!   through their histograms (carried in the HdrHistogram interchange encoding, see
//!   [`interchange`]).
//!
//! The crate knows nothing about what it loads: a request is any async function returning
//! `Result<(), RequestError>`, or `Result<Exchange, RequestError>` to report what it did on the
//! wire.
//!
//! # Example
//!
//! 200 requests at 1000 per second, every tenth one failing, judged against two thresholds:
//!
//! ```
//! use std::time::Duration;
//!
//! use sentinel_load::{
//!     LoadTestConfig, RequestError, RunControl, Threshold, judge, run_load_test, write_text,
//! };
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut config = LoadTestConfig::new(1000.0, Duration::from_millis(200));
//! config.workers = 8;
//! let result = run_load_test(config, RunControl::default(), |ctx| async move {
//!     // ctx.worker is in 0..workers, one request at a time each; ctx.seq is the request's index
//!     // in the schedule.
//!     if ctx.seq % 10 == 9 {
//!         Err(RequestError::new("http_503"))
//!     } else {
//!         Ok(())
//!     }
//! })
//! .await?;
//! assert_eq!(result.requests.target, 200);
//! assert_eq!(result.errors_by_kind.get("http_503"), Some(&result.requests.errors));
//!
//! let thresholds: Vec<Threshold> = vec!["p99<1s".parse()?, "success>=99%".parse()?];
//! let verdicts = judge(&thresholds, &result);
//! // At most 90% succeeded: the success threshold is breached, and says by how much.
//! let breach = verdicts[1].breach.as_ref().expect("at most 90% succeeded");
//! assert!(breach.message.starts_with("success "), "{breach}");
//!
//! write_text(&result, &mut std::io::stdout())?; // the report people read
//! let json = result.to_json(); // the report machines read
//! assert_eq!(json["requests"]["target"], 200);
//! # Ok(())
//! # }
//! ```

mod config;
mod control;
mod error;
mod exchange;
mod histogram;
pub mod http;
pub mod interchange;
mod merge;
mod mix;
mod open_files;
mod pacing;
#[cfg(target_os = "linux")]
mod precise;
mod progress;
mod recorder;
mod report;
mod result;
mod runner;
mod schedule;
mod search;
mod segment;
mod stages;
mod threshold;
mod timeline;
mod verdict;
mod wire;

pub use config::{ConfigError, LoadTestConfig, MAX_PACING_SLACK, MAX_REPORTED_TARGETS};
pub use control::RunControl;
pub use error::RequestError;
pub use exchange::Exchange;
pub use merge::{MergeError, merge};
pub use mix::{MAX_TOTAL_WEIGHT, Mix, MixError};
pub use open_files::raise_limit as raise_open_file_limit;
pub use progress::{Progress, ProgressSnapshot};
pub use report::{write_figures, write_hgrm, write_text};
pub use result::{ByteCounts, Histograms, LoadTestResult, Percentiles, RequestCounts, StageResult};
pub use runner::{LoadTest, RequestContext, run_load_test};
pub use search::{
    DEFAULT_LAG_BOUND, DEFAULT_SUCCESS, Found, MAX_STEPS, MIN_BEHIND_SCHEDULE, PRECISION, Probe,
    RateSearch, SearchStep, StepVerdict, judge_step, step_thresholds,
};
pub use segment::{Segment, SegmentError};
pub use stages::{Stage, StageError};
pub use threshold::{Breach, Threshold, ThresholdError};
pub use timeline::{Second, SecondLatency, TimelineSink};
pub use verdict::{Verdict, judge};
pub use wire::Wire;
