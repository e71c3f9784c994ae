//! The run itself: `workers` tasks that claim the next request index from a shared counter,
//! wait for its due time, send it under a timeout, and record the outcome privately.
//!
//! Nothing is spawned, sent through a channel or allocated per request: a worker's loop is an
//! atomic increment, a clock read or two, the request, and three histogram updates.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, LoadTestConfig};
use crate::error::RequestError;
use crate::pacing::{PreciseTimer, wait_until};
use crate::progress::Progress;
use crate::recorder::{Merged, WorkerRecorder};
use crate::result::LoadTestResult;
use crate::schedule::Schedule;

/// Which request a call of the request function is: the worker running it and its sequence
/// number in the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestContext {
    /// The worker, in `0..workers`; a worker runs one request at a time, so per-worker state
    /// indexed by it is never contended.
    pub worker: usize,
    /// The request's index in the schedule (due at `start + seq / rate`).
    pub seq: u64,
}

/// A validated load test, ready to run; hands out its [`Progress`] before it starts.
#[derive(Debug)]
pub struct LoadTest {
    config: LoadTestConfig,
    target: u64,
    progress: Progress,
}

/// Validates `config` and runs `request_fn` on its schedule; see [`LoadTest::run`].
pub async fn run_load_test<F, Fut>(
    config: LoadTestConfig,
    request_fn: F,
) -> Result<LoadTestResult, ConfigError>
where
    F: Fn(RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), RequestError>> + Send + 'static,
{
    Ok(LoadTest::new(config)?.run(request_fn).await)
}

/// What the workers share.
struct Shared<F> {
    request_fn: F,
    schedule: Schedule,
    next: AtomicU64,
    timeout: Duration,
    highest: Duration,
    cancel: CancellationToken,
    abort: CancellationToken,
    progress: Progress,
}

impl LoadTest {
    /// Checks the configuration.
    pub fn new(config: LoadTestConfig) -> Result<Self, ConfigError> {
        let target = config.validate()?;
        let progress = Progress::new(config.workers, target);
        Ok(Self {
            config,
            target,
            progress,
        })
    }

    /// A handle on the run's live counters.
    pub fn progress(&self) -> Progress {
        self.progress.clone()
    }

    /// The token that stops this run (the configuration's).
    pub fn cancel_token(&self) -> CancellationToken {
        self.config.cancel.clone()
    }

    /// Runs the schedule to its end (or to cancellation plus the grace period) and returns the
    /// result. Must be called within a Tokio runtime; workers are spread over its threads.
    ///
    /// # Panics
    ///
    /// Re-raises a panic of `request_fn`.
    pub async fn run<F, Fut>(self, request_fn: F) -> LoadTestResult
    where
        F: Fn(RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), RequestError>> + Send + 'static,
    {
        let config = self.config;
        let start = Instant::now();
        let schedule = Schedule::new(
            start,
            config.requests_per_second,
            config.duration,
            self.target,
        );
        // Nothing measured can exceed the whole run: schedule, timeout and grace.
        let highest = config.duration + config.timeout + config.grace + Duration::from_secs(1);
        let shared = Arc::new(Shared {
            request_fn,
            schedule,
            next: AtomicU64::new(0),
            timeout: config.timeout,
            highest,
            cancel: config.cancel.clone(),
            abort: CancellationToken::new(),
            progress: self.progress.clone(),
        });
        self.progress.start(start);

        let mut workers = JoinSet::new();
        for index in 0..config.workers {
            workers.spawn(worker(index, Arc::clone(&shared)));
        }
        let mut recorders = Vec::with_capacity(config.workers);
        let mut stopped: Option<Instant> = None;
        let mut grace = pin!(tokio::time::sleep(Duration::MAX / 4));
        loop {
            tokio::select! {
                joined = workers.join_next() => match joined {
                    None => break,
                    Some(Ok(recorder)) => recorders.push(recorder),
                    Some(Err(error)) if error.is_panic() => {
                        std::panic::resume_unwind(error.into_panic())
                    }
                    // Only a runtime shutting down cancels a worker, and it drops this run too.
                    Some(Err(_)) => {}
                },
                () = shared.cancel.cancelled(), if stopped.is_none() => {
                    let now = Instant::now();
                    stopped = Some(now);
                    grace.as_mut().reset((now + config.grace).into());
                }
                () = grace.as_mut(), if stopped.is_some() && !shared.abort.is_cancelled() => {
                    shared.abort.cancel();
                }
            }
        }
        if stopped.is_none() {
            // A run lasts its whole duration even when the last request finished early, so
            // rates are per second of the schedule.
            tokio::time::sleep_until(schedule.end.into()).await;
        }
        let elapsed = start.elapsed();
        let merged = Merged::from_workers(recorders, highest);
        let counts = self.progress.snapshot();
        let target = match stopped {
            Some(at) => schedule.due_before(at).max(counts.sent),
            None => self.target,
        };
        LoadTestResult::new(&config, target, counts, elapsed, stopped.is_some(), merged)
    }
}

/// One worker: claim, wait, send, record, until the schedule is exhausted, over or cancelled.
async fn worker<F, Fut>(index: usize, shared: Arc<Shared<F>>) -> WorkerRecorder
where
    F: Fn(RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), RequestError>> + Send + 'static,
{
    let mut recorder = WorkerRecorder::new(shared.highest);
    let counters = shared.progress.worker(index);
    let mut sleep = pin!(tokio::time::sleep(Duration::ZERO));
    let mut timer = PreciseTimer::new().ok();
    while !shared.cancel.is_cancelled() {
        let seq = shared.next.fetch_add(1, Ordering::Relaxed);
        if seq >= shared.schedule.target {
            break;
        }
        let now = Instant::now();
        if now >= shared.schedule.end {
            // Due within the duration, but no worker was free for it before the end: missed
            // (counted by the runner as target − sent).
            break;
        }
        let due = shared.schedule.due(seq);
        let sent = if due <= now {
            now
        } else {
            match wait_until(due, &mut timer, sleep.as_mut(), &shared.cancel).await {
                Some(sent) => sent,
                None => break,
            }
        };
        counters.sent.fetch_add(1, Ordering::Relaxed);
        recorder.sent(sent);

        let mut request = pin!((shared.request_fn)(RequestContext { worker: index, seq }));
        // Poll once before arming the timeout: a request that completes at once costs no timer.
        let first = std::future::poll_fn(|cx| Poll::Ready(request.as_mut().poll(cx))).await;
        let outcome = match first {
            Poll::Ready(outcome) => outcome,
            Poll::Pending => {
                sleep.as_mut().reset((sent + shared.timeout).into());
                tokio::select! {
                    biased;
                    outcome = request.as_mut() => outcome,
                    () = sleep.as_mut() => Err(RequestError::new(RequestError::TIMEOUT)),
                    () = shared.abort.cancelled() => Err(RequestError::new(RequestError::CANCELLED)),
                }
            }
        };
        let done = Instant::now();
        recorder.record(due, sent, done);
        match outcome {
            Ok(()) => counters.ok.fetch_add(1, Ordering::Relaxed),
            Err(error) => {
                recorder.error(error.into_kind());
                counters.errors.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
    recorder
}
