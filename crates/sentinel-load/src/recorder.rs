//! Where the measurements go while a run lasts: HDR histograms and error counts, one set per
//! runtime thread rather than per worker, merged at the end.
//!
//! A histogram able to hold an hour in nanoseconds at three significant digits takes about
//! 100 KB, so a set per worker would make memory grow with `workers` (10,000 workers would
//! need gigabytes). Each thread that records claims a shard of its own on first use and keeps
//! it (a thread-local), so a shard's lock is in practice never contended; a thread that
//! records for two runs in turn claims a new shard each time it switches, which stays correct
//! and merely shares shards.
//!
//! A shard holds one [`Recorder`] per arrival-rate stage (one for a run without stages; the
//! run's figures are their sum), one per target when a run keeps its targets apart (each
//! request is recorded in its stage's and its target's), and, when a timeline is recorded, the
//! per-second slots that the timeline's collector drains a few times a second. Everything in a
//! recorder adds up (counts add, histograms merge exactly), so recorders from threads, stages,
//! targets or machines combine without averaging anything.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::error::RequestError;
use crate::exchange::Exchange;
use crate::histogram::{self, nanos};
use crate::timeline::SecondSlot;

/// One set of measurements. Values are nanoseconds.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    /// From the due time to completion, for every sent request; the runner adds missed
    /// requests at their lower bound after the run.
    pub latency: Histogram<u64>,
    /// From the due time to completion, for successful requests only.
    pub ok_latency: Histogram<u64>,
    /// From the actual send to completion.
    pub service: Histogram<u64>,
    /// From the actual send to completion, for successful requests only: how fast the target
    /// itself answered, whatever the generator's lag.
    pub ok_service: Histogram<u64>,
    /// From the due time to the actual send.
    pub lag: Histogram<u64>,
    /// Failures by kind, in first-seen order (kinds are few: a linear scan beats hashing).
    pub errors: Vec<(Cow<'static, str>, u64)>,
    /// How long opening a connection took, for the requests that opened one.
    pub connect: Histogram<u64>,
    /// From the actual send to the first byte of the answer.
    pub first_byte: Histogram<u64>,
    /// Answers by status code, in first-seen order (codes are few, as kinds are).
    pub status: Vec<(u16, u64)>,
    /// Bytes the requests wrote.
    pub bytes_sent: u64,
    /// Bytes the requests read.
    pub bytes_received: u64,
    /// Successful requests that completed after the schedule ended, in the drain.
    pub drain_ok: u64,
}

impl Recorder {
    /// An empty recorder able to hold values up to `highest` (larger values are clamped).
    pub fn new(highest: Duration) -> Self {
        Self {
            latency: histogram::bounded(highest),
            ok_latency: histogram::bounded(highest),
            service: histogram::bounded(highest),
            ok_service: histogram::bounded(highest),
            lag: histogram::bounded(highest),
            errors: Vec::new(),
            connect: histogram::bounded(highest),
            first_byte: histogram::bounded(highest),
            status: Vec::new(),
            bytes_sent: 0,
            bytes_received: 0,
            drain_ok: 0,
        }
    }

    /// Records one sent request: due at `due`, sent at `sent`, finished at `done` with
    /// `outcome`.
    pub fn record(
        &mut self,
        due: Instant,
        sent: Instant,
        done: Instant,
        outcome: Result<(), RequestError>,
    ) {
        let latency = nanos(done - due);
        let service = nanos(done - sent);
        self.latency.saturating_record(latency);
        self.service.saturating_record(service);
        self.lag.saturating_record(nanos(sent - due));
        match outcome {
            Ok(()) => {
                self.ok_latency.saturating_record(latency);
                self.ok_service.saturating_record(service);
            }
            Err(error) => self.error(error.into_kind()),
        }
    }

    /// Records what a request sent at `sent` did on the wire.
    pub fn exchange(&mut self, sent: Instant, exchange: &Exchange) {
        self.bytes_sent += exchange.bytes_sent;
        self.bytes_received += exchange.bytes_received;
        if let Some(connect) = exchange.connect {
            self.connect.saturating_record(nanos(connect));
        }
        if let Some(first_byte) = exchange.first_byte {
            self.first_byte
                .saturating_record(nanos(first_byte.saturating_duration_since(sent)));
        }
        if let Some(code) = exchange.status {
            add_count(&mut self.status, code, 1);
        }
    }

    /// Records a request that was never sent: its latency is at least `lower_bound`.
    pub fn missed(&mut self, lower_bound: Duration) {
        self.latency.saturating_record(nanos(lower_bound));
    }

    /// Counts one failure of `kind`.
    fn error(&mut self, kind: Cow<'static, str>) {
        match self.errors.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, count)) => *count += 1,
            None => self.errors.push((kind, 1)),
        }
    }

    /// Adds everything `other` recorded.
    pub fn add(&mut self, other: &Recorder) {
        for (into, from) in [
            (&mut self.latency, &other.latency),
            (&mut self.ok_latency, &other.ok_latency),
            (&mut self.service, &other.service),
            (&mut self.ok_service, &other.ok_service),
            (&mut self.lag, &other.lag),
            (&mut self.connect, &other.connect),
            (&mut self.first_byte, &other.first_byte),
        ] {
            for value in from.iter_recorded() {
                into.saturating_record_n(value.value_iterated_to(), value.count_at_value());
            }
        }
        for (kind, count) in &other.errors {
            match self.errors.iter_mut().find(|(k, _)| k == kind) {
                Some((_, total)) => *total += count,
                None => self.errors.push((kind.clone(), *count)),
            }
        }
        for &(code, count) in &other.status {
            add_count(&mut self.status, code, count);
        }
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
        self.drain_ok += other.drain_ok;
    }

    /// Requests recorded as sent, and of those the successful and the failed ones.
    pub fn counts(&self) -> (u64, u64, u64) {
        let ok = self.ok_latency.len();
        let errors: u64 = self.errors.iter().map(|(_, count)| count).sum();
        (ok + errors, ok, errors)
    }

    /// The answers by status code, sorted by code, the codes as strings (JSON's map keys).
    pub fn status_codes(&self) -> BTreeMap<String, u64> {
        self.status
            .iter()
            .map(|(code, count)| (code.to_string(), *count))
            .collect()
    }

    /// The errors by kind, sorted by kind.
    pub fn errors_by_kind(&self) -> BTreeMap<String, u64> {
        self.errors
            .iter()
            .map(|(kind, count)| (kind.to_string(), *count))
            .collect()
    }
}

/// Adds `count` to the entry of `code`, appending it if it is new.
fn add_count(counts: &mut Vec<(u16, u64)>, code: u16, count: u64) {
    match counts.iter_mut().find(|(c, _)| *c == code) {
        Some((_, total)) => *total += count,
        None => counts.push((code, count)),
    }
}

/// Where in the run a request falls: its stage, the second of the schedule it was due in, and
/// its target when the run keeps targets apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    /// The arrival-rate stage (0 without stages).
    pub stage: usize,
    /// Whole seconds from the schedule's start to the due time.
    pub second: u64,
    /// The target whose own recorder also records the request, if targets are kept apart.
    pub target: Option<usize>,
    /// Whether the request completed after the schedule ended, in the drain.
    pub in_drain: bool,
}

/// One thread's measurements: a recorder per stage, one per target kept apart and, with a
/// timeline, per-second slots.
#[derive(Debug)]
pub(crate) struct ShardRecorder {
    stages: Vec<Recorder>,
    targets: Vec<Recorder>,
    seconds: Option<Vec<SecondSlot>>,
}

impl ShardRecorder {
    fn new(stages: usize, targets: usize, highest: Duration, timeline: bool) -> Self {
        Self {
            stages: (0..stages.max(1)).map(|_| Recorder::new(highest)).collect(),
            targets: (0..targets).map(|_| Recorder::new(highest)).collect(),
            seconds: timeline.then(Vec::new),
        }
    }

    /// Records one sent request at `at`, and what it did on the wire; see [`Recorder::record`]
    /// and [`Recorder::exchange`].
    pub fn record(
        &mut self,
        at: Position,
        due: Instant,
        sent: Instant,
        done: Instant,
        outcome: Result<(), RequestError>,
        exchange: &Exchange,
    ) {
        if let Some(seconds) = &mut self.seconds {
            SecondSlot::of(seconds, at.second).sent(nanos(done - due), &outcome);
        }
        let drain_ok = u64::from(at.in_drain && outcome.is_ok());
        if let Some(target) = at.target.and_then(|target| self.targets.get_mut(target)) {
            target.record(due, sent, done, outcome.clone());
            target.exchange(sent, exchange);
            target.drain_ok += drain_ok;
        }
        let stage = &mut self.stages[at.stage];
        stage.record(due, sent, done, outcome);
        stage.exchange(sent, exchange);
        stage.drain_ok += drain_ok;
    }
}

/// A run's measurements once every shard is added up.
#[derive(Debug)]
pub(crate) struct Merged {
    /// One recorder per stage (one without stages).
    pub stages: Vec<Recorder>,
    /// One recorder per target kept apart (none unless targets are).
    pub targets: Vec<Recorder>,
    /// The per-second slots not yet drained.
    pub seconds: Vec<SecondSlot>,
}

/// A run's recorders, one per runtime thread; see the module documentation.
#[derive(Debug)]
pub(crate) struct Recorders {
    /// Tells this run's shard claims apart from another run's in a thread's cache.
    run: u64,
    next_shard: AtomicUsize,
    shards: Box<[Shard]>,
}

/// One shard, padded so that two shards never share a cache line.
#[derive(Debug)]
#[repr(align(128))]
struct Shard(Mutex<ShardRecorder>);

/// Numbers runs so that a thread knows which run its cached shard belongs to.
static RUNS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The run this thread last recorded for, and its shard in that run.
    static CLAIMED: Cell<(u64, usize)> = const { Cell::new((u64::MAX, 0)) };
}

impl Recorders {
    /// `shards` empty recorders (one per thread that will record), each with a recorder for
    /// each of `stages` and of `targets` (0 unless targets are kept apart) holding values up to
    /// `highest`, and per-second slots if `timeline`.
    pub fn new(
        shards: usize,
        highest: Duration,
        stages: usize,
        targets: usize,
        timeline: bool,
    ) -> Self {
        let shard = || ShardRecorder::new(stages, targets, highest, timeline);
        Self {
            run: RUNS.fetch_add(1, Ordering::Relaxed),
            next_shard: AtomicUsize::new(0),
            shards: (0..shards.max(1))
                .map(|_| Shard(Mutex::new(shard())))
                .collect(),
        }
    }

    /// The calling thread's recorder, locked.
    pub fn local(&self) -> MutexGuard<'_, ShardRecorder> {
        let shard = CLAIMED.with(|claimed| {
            let (run, shard) = claimed.get();
            if run == self.run {
                return shard;
            }
            let shard = self.next_shard.fetch_add(1, Ordering::Relaxed) % self.shards.len();
            claimed.set((self.run, shard));
            shard
        });
        // Recording cannot panic halfway; a poisoned lock still holds valid counts.
        self.shards[shard]
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes every per-second slot recorded so far out of the shards.
    pub fn drain_seconds(&self) -> Vec<SecondSlot> {
        let mut drained = Vec::new();
        for shard in &self.shards {
            let mut shard = shard.0.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(seconds) = &mut shard.seconds {
                drained.append(seconds);
            }
        }
        drained
    }

    /// Every shard added up: one recorder per stage, and the slots not yet drained.
    pub fn merge(self) -> Merged {
        let mut shards = self
            .shards
            .into_iter()
            .map(|shard| shard.0.into_inner().unwrap_or_else(PoisonError::into_inner));
        let first = shards.next().expect("at least one shard");
        let mut merged = Merged {
            stages: first.stages,
            targets: first.targets,
            seconds: first.seconds.unwrap_or_default(),
        };
        for shard in shards {
            for (into, from) in merged.stages.iter_mut().zip(&shard.stages) {
                into.add(from);
            }
            for (into, from) in merged.targets.iter_mut().zip(&shard.targets) {
                into.add(from);
            }
            merged.seconds.extend(shard.seconds.unwrap_or_default());
        }
        merged
    }
}

/// The sum of several recorders (all made with the same bound).
pub(crate) fn sum(recorders: &[Recorder], highest: Duration) -> Recorder {
    let mut total = Recorder::new(highest);
    for recorder in recorders {
        total.add(recorder);
    }
    total
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::result::Percentiles;

    const AT: Position = Position {
        stage: 0,
        second: 0,
        target: None,
        in_drain: false,
    };
    const NOTHING: Exchange = Exchange {
        status: None,
        bytes_sent: 0,
        bytes_received: 0,
        connect: None,
        first_byte: None,
    };

    /// The nearest-rank percentile of sorted samples, the definition HDR histograms follow.
    fn exact(sorted: &[u64], quantile: f64) -> u64 {
        let rank = ((quantile * sorted.len() as f64).ceil() as usize).max(1);
        sorted[rank - 1]
    }

    fn close(hdr_ms: f64, exact_ns: u64) -> bool {
        let hdr = hdr_ms * 1e6;
        let exact = exact_ns as f64;
        // Three significant digits: within one part in 1024 (plus rounding of the ms value).
        (hdr - exact).abs() <= exact / 1024.0 + 1.0
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn merged_percentiles_match_an_exact_computation(
            samples in proptest::collection::vec(1u64..20_000_000_000, 1..2000),
            threads in 1usize..5,
        ) {
            let base = Instant::now();
            let recorders = Arc::new(Recorders::new(threads, Duration::from_secs(30), 1, 0, false));
            let chunks: Vec<Vec<u64>> =
                samples.chunks(samples.len().div_ceil(threads)).map(<[u64]>::to_vec).collect();
            std::thread::scope(|scope| {
                for chunk in chunks {
                    let recorders = Arc::clone(&recorders);
                    scope.spawn(move || {
                        for ns in chunk {
                            let done = base + Duration::from_nanos(ns);
                            recorders.local().record(AT, base, base, done, Ok(()), &NOTHING);
                        }
                    });
                }
            });
            let merged = Arc::into_inner(recorders).unwrap().merge().stages.remove(0);
            let mut sorted = samples.clone();
            sorted.sort_unstable();
            let p = Percentiles::from_histogram(&merged.latency);
            for (hdr, q) in [(p.p50, 0.5), (p.p90, 0.9), (p.p95, 0.95), (p.p99, 0.99), (p.p999, 0.999)] {
                prop_assert!(close(hdr, exact(&sorted, q)), "q{q}: hdr {hdr} ms, exact {} ns", exact(&sorted, q));
            }
            prop_assert!(close(p.max, *sorted.last().unwrap()));
            prop_assert_eq!(merged.latency.len(), samples.len() as u64);
            prop_assert_eq!(merged.ok_latency.len(), samples.len() as u64);
            prop_assert_eq!(merged.service.len(), samples.len() as u64);
        }
    }

    #[test]
    fn known_samples_give_known_percentiles() {
        let base = Instant::now();
        let recorders = Recorders::new(1, Duration::from_secs(1), 1, 0, false);
        // 1..=1000 microseconds, once each.
        for us in 1..=1000u64 {
            let done = base + Duration::from_micros(us);
            recorders
                .local()
                .record(AT, base, base, done, Ok(()), &NOTHING);
        }
        let merged = recorders.merge().stages.remove(0);
        let p = Percentiles::from_histogram(&merged.latency);
        assert!((p.p50 - 0.500).abs() < 0.001, "{p:?}");
        assert!((p.p99 - 0.990).abs() < 0.001, "{p:?}");
        assert!((p.max - 1.000).abs() < 0.001, "{p:?}");
        let lag = Percentiles::from_histogram(&merged.lag);
        assert_eq!(lag.max, 0.0);
    }

    #[test]
    fn failures_count_by_kind_and_stay_out_of_the_success_latency() {
        let base = Instant::now();
        let done = base + Duration::from_millis(3);
        let mut a = Recorder::new(Duration::from_secs(1));
        let mut b = Recorder::new(Duration::from_secs(1));
        a.record(base, base, done, Err(RequestError::new("timeout")));
        a.record(base, base, done, Err(RequestError::new("http_503")));
        a.record(base, base, done, Ok(()));
        b.record(
            base,
            base,
            done,
            Err(RequestError::new(String::from("timeout"))),
        );
        b.missed(Duration::from_millis(500));
        a.add(&b);
        let errors = a.errors_by_kind();
        assert_eq!(errors.get("timeout"), Some(&2));
        assert_eq!(errors.get("http_503"), Some(&1));
        assert_eq!(a.latency.len(), 5, "four sent and one missed");
        assert_eq!(a.ok_latency.len(), 1);
        assert_eq!(a.service.len(), 4, "a missed request has no service time");
        assert!(a.latency.max() >= 499_000_000);
    }

    #[test]
    fn each_stage_and_each_second_is_recorded_apart() {
        let base = Instant::now();
        let recorders = Recorders::new(2, Duration::from_secs(1), 2, 0, true);
        let done = base + Duration::from_millis(2);
        let at = |stage, second| Position {
            stage,
            second,
            target: None,
            in_drain: false,
        };
        let io = || Err(RequestError::new("io"));
        let local = || recorders.local();
        local().record(at(0, 0), base, base, done, Ok(()), &NOTHING);
        local().record(at(1, 3), base, base, done, Ok(()), &NOTHING);
        local().record(at(1, 3), base, base, done, io(), &NOTHING);
        let drained = recorders.drain_seconds();
        assert_eq!(drained.len(), 2, "one slot per second seen");
        assert!(recorders.drain_seconds().is_empty(), "drained once");
        let merged = recorders.merge();
        assert_eq!(merged.stages[0].service.len(), 1);
        assert_eq!(merged.stages[1].service.len(), 2);
        assert_eq!(merged.stages[1].errors_by_kind().get("io"), Some(&1));
        let total = sum(&merged.stages, Duration::from_secs(1));
        assert_eq!(total.latency.len(), 3);
    }

    #[test]
    fn each_thread_keeps_its_own_shard() {
        let recorders = Recorders::new(4, Duration::from_secs(1), 1, 0, false);
        let shard = || {
            let recorder = recorders.local();
            &*recorder as *const ShardRecorder as usize
        };
        let first = shard();
        assert_eq!(first, shard());
        let other = std::thread::scope(|scope| scope.spawn(shard).join().unwrap());
        assert_ne!(first, other);
    }

    #[test]
    fn exchanges_add_up_across_shards_and_count_for_their_target_too() {
        let sent = Instant::now();
        let done = sent + Duration::from_millis(3);
        let recorders = Recorders::new(2, Duration::from_secs(1), 1, 2, false);
        let answer = |status, connect| Exchange {
            status: Some(status),
            bytes_sent: 10,
            bytes_received: 100,
            connect,
            first_byte: Some(sent + Duration::from_millis(2)),
        };
        let at = |target| Position {
            stage: 0,
            second: 0,
            target: Some(target),
            in_drain: false,
        };
        let busy = || Err(RequestError::new("http_503"));
        let connected = answer(503, Some(Duration::from_millis(5)));
        recorders
            .local()
            .record(at(0), sent, sent, done, Ok(()), &answer(200, None));
        recorders
            .local()
            .record(at(1), sent, sent, done, busy(), &connected);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let ok = answer(200, None);
                recorders
                    .local()
                    .record(at(0), sent, sent, done, Ok(()), &ok);
            });
        });
        let merged = recorders.merge();
        let [first, second] = &merged.targets[..] else {
            panic!("two targets");
        };
        assert_eq!(first.status_codes(), BTreeMap::from([("200".into(), 2)]));
        assert_eq!(first.counts(), (2, 2, 0));
        assert_eq!(second.status_codes(), BTreeMap::from([("503".into(), 1)]));
        assert_eq!(second.counts(), (1, 0, 1));
        let total = sum(&merged.stages, Duration::from_secs(1));
        assert_eq!(
            total.status_codes(),
            BTreeMap::from([("200".into(), 2), ("503".into(), 1)])
        );
        assert_eq!((total.bytes_sent, total.bytes_received), (30, 300));
        assert_eq!(total.connect.len(), 1, "one request opened a connection");
        assert_eq!(total.first_byte.len(), 3);
        let ttfb = total.first_byte.max() as f64 / 1e6;
        assert!((ttfb - 2.0).abs() < 0.01, "{ttfb}");
    }
}
