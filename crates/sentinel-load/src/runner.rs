//! The run itself: `workers` tasks that claim the next request index from a shared counter,
//! wait on the [`Gate`] until it is due, send it (to the target the [`Mix`] gives its index)
//! under a timeout and record the outcome, and what it did on the wire, in their thread's
//! recorder; one pacer task releases the parked requests.
//!
//! A request counts its progress on the wire into its worker's [`Wire`] as it goes, so a
//! request dropped at its timeout still counts what it wrote, read and opened. The timeout runs
//! from the send, or from when the request says its clock starts (after waiting for room on a
//! shared connection).
//!
//! Nothing is spawned, sent through a channel or allocated per request: a worker's loop is an
//! atomic increment, a clock read or two, the request, and a few histogram updates under an
//! uncontended lock. With a timeline, one more task collects the per-second slots a few times
//! a second (see the `timeline` module).

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, LoadTestConfig};
use crate::control::RunControl;
use crate::error::RequestError;
use crate::exchange::Exchange;
use crate::histogram::nanos;
use crate::mix::Mix;
use crate::pacing::Gate;
use crate::progress::Progress;
use crate::progress::ProgressSnapshot;
use crate::recorder::{self, Position, Recorder, Recorders};
use crate::result::{LoadTestResult, RunTimes, StageResult};
use crate::schedule::Schedule;
use crate::segment::Segment;
use crate::timeline::{self, Collector};
use crate::wire::Wire;

/// How often the timeline's collector closes the seconds whose requests are all recorded.
const TIMELINE_TICK: Duration = Duration::from_millis(200);

/// Which request a call of the request function is: the worker running it, its sequence
/// number in the schedule and the target it goes to, and where it counts its progress on the
/// wire.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The worker, in `0..workers`; a worker runs one request at a time, so per-worker state
    /// indexed by it is never contended.
    pub worker: usize,
    /// The request's index in the schedule (due at `start + seq / rate`).
    pub seq: u64,
    /// The target of the request, in `0..targets` of the configuration's [`Mix`] (always 0
    /// with one target).
    pub target: usize,
    /// The worker's [`Wire`]: what the request writes, reads and opens, counted as it
    /// happens, still counts when the request is dropped at its timeout.
    pub wire: Wire,
}

/// A validated load test, ready to run; hands out its [`Progress`] before it starts.
#[derive(Debug)]
pub struct LoadTest {
    config: LoadTestConfig,
    target: u64,
    progress: Progress,
}

/// Validates `config` and runs `request_fn` on its schedule under `control`; see
/// [`LoadTest::run`].
pub async fn run_load_test<F, Fut, O>(
    config: LoadTestConfig,
    control: RunControl,
    request_fn: F,
) -> Result<LoadTestResult, ConfigError>
where
    F: Fn(RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, RequestError>> + Send + 'static,
    O: Into<Exchange> + Send + 'static,
{
    Ok(LoadTest::new(config)?.run(control, request_fn).await)
}

/// What the workers share.
struct Shared<F> {
    request_fn: F,
    schedule: Schedule,
    /// The index of each stage's first request (`[0]` without stages).
    stage_firsts: Vec<u64>,
    next: AtomicU64,
    gate: Gate,
    recorders: Recorders,
    timeout: Duration,
    cancel: CancellationToken,
    abort: CancellationToken,
    progress: Progress,
    targets: Targets,
}

/// Which target each request goes to, and whether each target is recorded apart.
#[derive(Debug, Clone)]
struct Targets {
    mix: Mix,
    /// The segment of the schedule run: the mix follows the whole schedule's indices.
    segment: Segment,
    kept_apart: bool,
}

impl Targets {
    /// The target of this run's request `seq`.
    fn of(&self, seq: u64) -> usize {
        self.mix.target_of(self.segment.global(seq))
    }

    /// The target recorder of request `seq`, if targets are kept apart.
    fn recorder(&self, seq: u64) -> Option<usize> {
        self.kept_apart.then(|| self.of(seq))
    }
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

    /// Runs the schedule to its end (or until `control.cancel` is cancelled, plus the grace
    /// period) and returns the result, with a timeline if `control` has a sink for one. Must be
    /// called within a Tokio runtime; workers are spread over its threads.
    ///
    /// A request function returns `Ok(())`, or `Ok` of an [`Exchange`] to report what the
    /// request did on the wire (a failure carries its own in its [`RequestError`]).
    ///
    /// # Panics
    ///
    /// Re-raises a panic of `request_fn`.
    pub async fn run<F, Fut, O>(self, control: RunControl, request_fn: F) -> LoadTestResult
    where
        F: Fn(RequestContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, RequestError>> + Send + 'static,
        O: Into<Exchange> + Send + 'static,
    {
        let config = self.config;
        let start = start_instant(config.start_at);
        let schedule = Schedule::new(start, config.profile(), config.segment);
        debug_assert_eq!(schedule.target, self.target);
        let stage_firsts: Vec<u64> = schedule
            .profile()
            .stage_first_requests()
            .map(|first| config.segment.share_of(first))
            .collect();
        // Nothing measured can exceed the whole run: schedule, timeout and grace.
        let highest = config.duration + config.timeout + config.grace + Duration::from_secs(1);
        let threads = tokio::runtime::Handle::current().metrics().num_workers();
        let targets = Targets {
            mix: config.mix.clone(),
            segment: config.segment,
            kept_apart: config.by_target,
        };
        let kept_apart = if config.by_target {
            config.mix.targets()
        } else {
            0
        };
        let shared = Arc::new(Shared {
            request_fn,
            schedule: schedule.clone(),
            next: AtomicU64::new(0),
            gate: Gate::new(config.workers, config.pacing_slack),
            // One per runtime thread, and one for a thread outside it (the caller's).
            recorders: Recorders::new(
                threads + 1,
                highest,
                stage_firsts.len(),
                kept_apart,
                control.timeline.is_some(),
            ),
            stage_firsts,
            timeout: config.timeout,
            cancel: control.cancel,
            abort: CancellationToken::new(),
            progress: self.progress.clone(),
            targets,
        });
        self.progress.start(start);

        let stop_pacer = CancellationToken::new();
        let pacer = tokio::spawn({
            let (shared, stop) = (Arc::clone(&shared), stop_pacer.clone());
            async move { shared.gate.pace(&shared.schedule, &stop).await }
        });
        let collector = control.timeline.map(|sink| {
            let (shared, stop) = (Arc::clone(&shared), stop_pacer.clone());
            tokio::spawn(async move { collect(&shared, &stop, Collector::new(sink)).await })
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
        let collector = match collector {
            Some(task) => task.await.ok(),
            None => None,
        };
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
        let shared =
            Arc::into_inner(shared).expect("every worker, the pacer and the collector have ended");
        let mut merged = shared.recorders.merge();
        let mut collector = collector.map(|mut collector| {
            collector.absorb(std::mem::take(&mut merged.seconds));
            collector
        });
        // A request never sent was still unanswered when scheduling ended: its latency is at
        // least that long, so a stall at the end of a run shows in the percentiles.
        let never_claimed = shared.next.load(Ordering::Relaxed).min(target)..target;
        for index in abandoned
            .into_iter()
            .filter(|&index| index < target)
            .chain(never_claimed)
        {
            let due = schedule.due(index);
            let lower_bound = scheduled_until.saturating_duration_since(due);
            let at = position(&shared.stage_firsts, &schedule, &shared.targets, index, due);
            merged.stages[at.stage].missed(lower_bound);
            if let Some(target) = at.target {
                merged.targets[target].missed(lower_bound);
            }
            if let Some(collector) = &mut collector {
                collector.slot(at.second).missed(nanos(lower_bound));
            }
        }
        let scheduled = scheduled_until.saturating_duration_since(start);
        let times = RunTimes {
            scheduled,
            drain: finished.saturating_duration_since(scheduled_until),
        };
        let whole = recorder::sum(&merged.stages, highest);
        let cancelled = stopped.is_some();
        let mut result = LoadTestResult::new(&config, target, counts, times, cancelled, whole);
        if !config.stages.is_empty() {
            let stages = StageFigures {
                config: &config,
                schedule: &schedule,
                firsts: &shared.stage_firsts,
                target,
                scheduled,
                cancelled,
            };
            result.stages = merged
                .stages
                .into_iter()
                .enumerate()
                .map(|(index, recorded)| stages.result(index, recorded))
                .collect();
        }
        result.timeline =
            collector.map(|collector| collector.finish(&schedule, timeline::seconds_in(scheduled)));
        if config.by_target {
            let due =
                config
                    .mix
                    .counts_strided(config.segment.global(0), config.segment.count(), target);
            result.targets = merged
                .targets
                .into_iter()
                .zip(due)
                .enumerate()
                .map(|(index, (recorded, due))| {
                    let rate = result.target_rate * config.mix.share(index);
                    target_result(&config, rate, due, times, cancelled, recorded)
                })
                .collect();
        }
        result
    }
}

/// A target's own result: its share `rate` of the run's rate, the `due` requests it had and
/// what it recorded.
fn target_result(
    config: &LoadTestConfig,
    rate: f64,
    due: u64,
    times: RunTimes,
    cancelled: bool,
    recorded: Recorder,
) -> LoadTestResult {
    let (sent, ok, errors) = recorded.counts();
    let counts = ProgressSnapshot {
        elapsed: times.scheduled + times.drain,
        target: due,
        sent,
        ok,
        errors,
    };
    let share = LoadTestConfig {
        requests_per_second: rate,
        stages: Vec::new(),
        ..config.clone()
    };
    LoadTestResult::new(&share, due, counts, times, cancelled, recorded)
}

/// The instant the schedule starts: now, or the wall-clock `start_at` (in the past or the
/// future) on this process's monotonic clock.
fn start_instant(start_at: Option<SystemTime>) -> Instant {
    let now = Instant::now();
    let Some(at) = start_at else { return now };
    match at.duration_since(SystemTime::now()) {
        Ok(ahead) => now + ahead,
        Err(passed) => now.checked_sub(passed.duration()).unwrap_or(now),
    }
}

impl<F> Shared<F> {
    /// The stage, the second and the target recorder of request `index`, due at `due`.
    fn position(&self, index: u64, due: Instant) -> Position {
        position(
            &self.stage_firsts,
            &self.schedule,
            &self.targets,
            index,
            due,
        )
    }
}

/// The stage, the second and the target recorder of request `index`, due at `due`.
fn position(
    stage_firsts: &[u64],
    schedule: &Schedule,
    targets: &Targets,
    index: u64,
    due: Instant,
) -> Position {
    Position {
        stage: stage_firsts
            .partition_point(|&first| first <= index)
            .saturating_sub(1),
        second: due.saturating_duration_since(schedule.start).as_secs(),
        target: targets.recorder(index),
        in_drain: false,
    }
}

/// What turns a stage's recorder into its result.
struct StageFigures<'a> {
    config: &'a LoadTestConfig,
    schedule: &'a Schedule,
    firsts: &'a [u64],
    /// The run's target (smaller than the schedule's when cancelled).
    target: u64,
    /// How long the run scheduled requests.
    scheduled: Duration,
    cancelled: bool,
}

impl StageFigures<'_> {
    fn result(&self, index: usize, recorded: Recorder) -> StageResult {
        let stage = self.config.stages[index];
        let profile = self.schedule.profile();
        let start_s = profile.stage_starts().nth(index).unwrap_or(0.0);
        let end_s = start_s + stage.duration.as_secs_f64();
        let (from_rate, to_rate) = profile.stage_rates().nth(index).unwrap_or((0.0, 0.0));
        let first = self.firsts[index].min(self.target);
        let end = self
            .firsts
            .get(index + 1)
            .map_or(self.target, |&next| next.min(self.target));
        let started = Duration::from_secs_f64(start_s);
        let scheduled = self.scheduled.saturating_sub(started).min(stage.duration);
        let stage_config = LoadTestConfig {
            requests_per_second: (profile.integral(end_s) - profile.integral(start_s))
                / stage.duration.as_secs_f64(),
            duration: stage.duration,
            stages: Vec::new(),
            ..self.config.clone()
        };
        let counts = ProgressSnapshot {
            elapsed: scheduled,
            target: end - first,
            sent: recorded.service.len(),
            ok: recorded.ok_latency.len(),
            errors: recorded.errors.iter().map(|(_, count)| count).sum(),
        };
        let times = RunTimes {
            scheduled,
            drain: Duration::ZERO,
        };
        let cancelled = self.cancelled && scheduled < stage.duration;
        StageResult {
            stage,
            start_s,
            end_s,
            from_rate,
            to_rate,
            result: Box::new(LoadTestResult::new(
                &stage_config,
                end - first,
                counts,
                times,
                cancelled,
                recorded,
            )),
        }
    }
}

/// The timeline's collector: every [`TIMELINE_TICK`], takes the shards' per-second slots and
/// closes the seconds whose requests are all recorded, until `stop`.
async fn collect<F>(
    shared: &Shared<F>,
    stop: &CancellationToken,
    mut collector: Collector,
) -> Collector {
    let seconds = timeline::seconds_in(shared.schedule.end - shared.schedule.start);
    let mut tick = tokio::time::interval(TIMELINE_TICK);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = stop.cancelled() => return collector,
        }
        // The mark first, then the slots: every request below the mark was recorded before
        // the slots were taken, so a closed second is complete.
        let recorded = shared
            .next
            .load(Ordering::Acquire)
            .min(shared.progress.lowest_claimed());
        collector.absorb(shared.recorders.drain_seconds());
        collector.close_recorded(&shared.schedule, seconds, recorded);
    }
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
    let wire = Wire::default();
    let mut timeout = pin!(tokio::time::sleep(Duration::ZERO));
    while !shared.cancel.is_cancelled() {
        let seq = shared.next.fetch_add(1, Ordering::Relaxed);
        if seq >= shared.schedule.target {
            counters.claimed.store(u64::MAX, Ordering::Release);
            return None;
        }
        // Until now this held the previous request, already recorded: still a lower bound.
        counters.claimed.store(seq, Ordering::Release);
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

        let context = RequestContext {
            worker: index,
            seq,
            target: shared.targets.of(seq),
            wire: wire.clone(),
        };
        let outcome = {
            let mut request = pin!((shared.request_fn)(context));
            // Poll once before arming the timeout: a request that completes at once costs no
            // timer.
            let first = std::future::poll_fn(|cx| Poll::Ready(request.as_mut().poll(cx))).await;
            match first {
                Poll::Ready(outcome) => outcome,
                Poll::Pending => {
                    timeout.as_mut().reset((sent + shared.timeout).into());
                    loop {
                        tokio::select! {
                            biased;
                            outcome = request.as_mut() => break outcome,
                            () = timeout.as_mut() => {
                                // The request may have stopped its clock while it waited for
                                // room, or restarted it since.
                                let now = Instant::now();
                                match wire.deadline(sent, shared.timeout) {
                                    Some(deadline) if deadline <= now => {
                                        break Err(RequestError::new(RequestError::TIMEOUT));
                                    }
                                    Some(deadline) => timeout.as_mut().reset(deadline.into()),
                                    None => timeout.as_mut().reset((now + shared.timeout).into()),
                                }
                            }
                            () = shared.abort.cancelled() => {
                                break Err(RequestError::new(RequestError::CANCELLED));
                            }
                        }
                    }
                }
            }
            // The request is dropped here, so what it did counts before the wire is read.
        };
        let done = Instant::now();
        let (outcome, mut exchange) = match outcome {
            Ok(exchange) => (Ok(()), exchange.into()),
            Err(error) => {
                let exchange = *error.exchange();
                (Err(error), exchange)
            }
        };
        wire.settle(&mut exchange);
        let counter = if outcome.is_ok() {
            &counters.ok
        } else {
            &counters.errors
        };
        let at = Position {
            in_drain: done > shared.schedule.end,
            ..shared.position(seq, due)
        };
        shared
            .recorders
            .local()
            .record(at, due, sent, done, outcome, &exchange);
        counter.fetch_add(1, Ordering::Relaxed);
    }
    counters.claimed.store(u64::MAX, Ordering::Release);
    None
}
