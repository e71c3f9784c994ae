//! The run itself: `workers` tasks that claim the next request index from a shared counter,
//! wait on the [`Gate`] until it is due, send it (to the target the [`Mix`] gives its index)
//! under a timeout and record the outcome and what it did on the wire in their thread's
//! recorder; one pacer task releases the parked requests.
//!
//! Nothing is spawned, sent through a channel or allocated per request: a worker's loop is an
//! atomic increment, a clock read or two, the request, and a few histogram updates under an
//! uncontended lock.

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
use crate::exchange::Exchange;
use crate::mix::Mix;
use crate::pacing::Gate;
use crate::progress::Progress;
use crate::recorder::{Recorder, Recorders};
use crate::result::{LoadTestResult, RunTimes};
use crate::schedule::Schedule;

/// Which request a call of the request function is: the worker running it, its sequence
/// number in the schedule and the target it goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestContext {
    /// The worker, in `0..workers`; a worker runs one request at a time, so per-worker state
    /// indexed by it is never contended.
    pub worker: usize,
    /// The request's index in the schedule (due at `start + seq / rate`).
    pub seq: u64,
    /// The target of the request, in `0..targets` of the configuration's [`Mix`] (always 0
    /// with one target).
    pub target: usize,
}

/// A validated load test, ready to run; hands out its [`Progress`] before it starts.
#[derive(Debug)]
pub struct LoadTest {
    config: LoadTestConfig,
    target: u64,
    progress: Progress,
}

/// Validates `config` and runs `request_fn` on its schedule; see [`LoadTest::run`].
pub async fn run_load_test<F, Fut, O>(
    config: LoadTestConfig,
    request_fn: F,
) -> Result<LoadTestResult, ConfigError>
where
    F: Fn(RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, RequestError>> + Send + 'static,
    O: Into<Exchange> + Send + 'static,
{
    Ok(LoadTest::new(config)?.run(request_fn).await)
}

/// What the workers share.
struct Shared<F> {
    request_fn: F,
    schedule: Schedule,
    next: AtomicU64,
    gate: Gate,
    recorders: Recorders,
    timeout: Duration,
    cancel: CancellationToken,
    abort: CancellationToken,
    progress: Progress,
    mix: Mix,
    by_target: bool,
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

    /// The per-request timeout (the configuration's).
    pub fn timeout(&self) -> Duration {
        self.config.timeout
    }

    /// The token that stops this run (the configuration's).
    pub fn cancel_token(&self) -> CancellationToken {
        self.config.cancel.clone()
    }

    /// Runs the schedule to its end (or to cancellation plus the grace period) and returns the
    /// result. Must be called within a Tokio runtime; workers are spread over its threads.
    ///
    /// A request function returns `Ok(())`, or `Ok` of an [`Exchange`] to report what the
    /// request did on the wire (a failure carries its own in its [`RequestError`]).
    ///
    /// # Panics
    ///
    /// Re-raises a panic of `request_fn`.
    pub async fn run<F, Fut, O>(self, request_fn: F) -> LoadTestResult
    where
        F: Fn(RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, RequestError>> + Send + 'static,
        O: Into<Exchange> + Send + 'static,
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
        let threads = tokio::runtime::Handle::current().metrics().num_workers();
        let shared = Arc::new(Shared {
            request_fn,
            schedule,
            next: AtomicU64::new(0),
            gate: Gate::new(config.workers, config.pacing_slack),
            // One per runtime thread, and one for a thread outside it (the caller's).
            recorders: Recorders::new(
                threads + 1,
                if config.by_target {
                    config.mix.targets()
                } else {
                    1
                },
                highest,
            ),
            timeout: config.timeout,
            cancel: config.cancel.clone(),
            abort: CancellationToken::new(),
            progress: self.progress.clone(),
            mix: config.mix.clone(),
            by_target: config.by_target,
        });
        self.progress.start(start);

        let stop_pacer = CancellationToken::new();
        let pacer = tokio::spawn({
            let (shared, stop) = (Arc::clone(&shared), stop_pacer.clone());
            async move { shared.gate.pace(&shared.schedule, &stop).await }
        });
        let mut workers = JoinSet::new();
        for index in 0..config.workers {
            workers.spawn(worker(index, Arc::clone(&shared)));
        }
        let mut abandoned = Vec::new();
        let mut stopped: Option<Instant> = None;
        let mut grace = pin!(tokio::time::sleep(Duration::MAX / 4));
        loop {
            tokio::select! {
                joined = workers.join_next() => match joined {
                    None => break,
                    Some(Ok(unsent)) => abandoned.extend(unsent),
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
        stop_pacer.cancel();
        let _ = pacer.await;
        let finished = Instant::now();
        if stopped.is_none() && finished < schedule.end {
            // A run lasts its whole duration even when the last request finished early.
            tokio::time::sleep_until(schedule.end.into()).await;
        }

        let counts = self.progress.snapshot();
        let scheduled_until = stopped.unwrap_or(schedule.end);
        let target = match stopped {
            Some(at) => schedule.due_before(at).max(counts.sent),
            None => self.target,
        };
        let shared = Arc::into_inner(shared).expect("every worker and the pacer have ended");
        let claimed = shared.next.load(Ordering::Relaxed);
        let recorder_of = |seq| {
            if config.by_target {
                config.mix.target_of(seq)
            } else {
                0
            }
        };
        let mut recorded = shared.recorders.merge();
        // A request never sent was still unanswered when scheduling ended: its latency is at
        // least that long, so a stall at the end of a run shows in the percentiles.
        let never_claimed = claimed.min(target)..target;
        for index in abandoned
            .into_iter()
            .filter(|&index| index < target)
            .chain(never_claimed)
        {
            recorded[recorder_of(index)]
                .missed(scheduled_until.saturating_duration_since(schedule.due(index)));
        }
        let times = RunTimes {
            scheduled: scheduled_until - start,
            drain: finished.saturating_duration_since(scheduled_until),
        };
        let cancelled = stopped.is_some();
        if recorded.len() == 1 {
            let total = recorded.pop().expect("one recorder");
            return LoadTestResult::new(&config, target, counts, times, cancelled, total);
        }
        let total = Recorders::total(&recorded);
        let mut result = LoadTestResult::new(&config, target, counts, times, cancelled, total);
        result.targets = per_target(&config, target, times, cancelled, recorded);
        result
    }
}

/// Each target's own result: its share of the rate and of the due requests, and its recorder.
fn per_target(
    config: &LoadTestConfig,
    due: u64,
    times: RunTimes,
    cancelled: bool,
    recorded: Vec<Recorder>,
) -> Vec<LoadTestResult> {
    let due_by_target = config.mix.counts(due);
    recorded
        .into_iter()
        .zip(due_by_target)
        .enumerate()
        .map(|(index, (recorder, due))| {
            let (sent, ok, errors) = recorder.counts();
            let counts = crate::progress::ProgressSnapshot {
                elapsed: times.scheduled + times.drain,
                target: due,
                sent,
                ok,
                errors,
            };
            let share = LoadTestConfig {
                requests_per_second: config.requests_per_second * config.mix.share(index),
                ..config.clone()
            };
            LoadTestResult::new(&share, due, counts, times, cancelled, recorder)
        })
        .collect()
}

/// One worker: claim, wait, send, record, until the schedule is exhausted, over or cancelled.
/// Returns the index it claimed but did not send, if any (the runner counts it as missed when
/// it was due).
async fn worker<F, Fut, O>(index: usize, shared: Arc<Shared<F>>) -> Option<u64>
where
    F: Fn(RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, RequestError>> + Send + 'static,
    O: Into<Exchange> + Send + 'static,
{
    let counters = shared.progress.worker(index);
    let mut timeout = pin!(tokio::time::sleep(Duration::ZERO));
    while !shared.cancel.is_cancelled() {
        let seq = shared.next.fetch_add(1, Ordering::Relaxed);
        if seq >= shared.schedule.target {
            return None;
        }
        let now = Instant::now();
        if now >= shared.schedule.end {
            // Due within the duration, but no worker was free for it before the end.
            return Some(seq);
        }
        let due = shared.schedule.due(seq);
        let sent = if due <= now {
            now
        } else if shared.gate.wait(seq, index, &shared.cancel).await {
            Instant::now()
        } else {
            return Some(seq);
        };
        counters.sent.fetch_add(1, Ordering::Relaxed);

        let target = shared.mix.target_of(seq);
        let context = RequestContext {
            worker: index,
            seq,
            target,
        };
        let mut request = pin!((shared.request_fn)(context));
        // Poll once before arming the timeout: a request that completes at once costs no timer.
        let first = std::future::poll_fn(|cx| Poll::Ready(request.as_mut().poll(cx))).await;
        let outcome = match first {
            Poll::Ready(outcome) => outcome,
            Poll::Pending => {
                timeout.as_mut().reset((sent + shared.timeout).into());
                tokio::select! {
                    biased;
                    outcome = request.as_mut() => outcome,
                    () = timeout.as_mut() => Err(RequestError::new(RequestError::TIMEOUT)),
                    () = shared.abort.cancelled() => Err(RequestError::new(RequestError::CANCELLED)),
                }
            }
        };
        let done = Instant::now();
        let (outcome, exchange) = match outcome {
            Ok(exchange) => (Ok(()), exchange.into()),
            Err(error) => {
                let exchange = *error.exchange();
                (Err(error), exchange)
            }
        };
        let counter = if outcome.is_ok() {
            &counters.ok
        } else {
            &counters.errors
        };
        {
            let mut recorders = shared.recorders.local();
            let recorder = &mut recorders[if shared.by_target { target } else { 0 }];
            recorder.record(due, sent, done, outcome);
            recorder.exchange(sent, &exchange);
        }
        counter.fetch_add(1, Ordering::Relaxed);
    }
    None
}
