//! How requests wait for their due time: never early, never a burst, never a busy core, and
//! not one timer wakeup per request.
//!
//! A worker that claims a request before it is due parks on the [`Gate`]. One pacer task owns
//! the run's only timer: it sleeps until the earliest parked request is due, but wakes no
//! sooner than `slack` after its previous wakeup, and then releases every request due by the
//! instant it woke. At low rates each request therefore gets its own wakeup at its due time; at
//! high rates one wakeup releases everything that fell due in the last `slack`, so a request is
//! sent at most `slack` (plus the scheduler's own delay) after its due time. That lateness is
//! not hidden: latency is measured from the due time and the schedule lag shows it.
//!
//! The timer is a `timerfd` on Linux (it fires within microseconds), Tokio's 1 ms timer
//! elsewhere; there the lateness can reach a millisecond.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::schedule::Schedule;

#[cfg(target_os = "linux")]
use crate::precise::PreciseTimer;

/// Stands in for the precise timer where the platform has none.
#[cfg(not(target_os = "linux"))]
#[derive(Debug)]
struct PreciseTimer;

#[cfg(not(target_os = "linux"))]
impl PreciseTimer {
    fn new() -> std::io::Result<Self> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    async fn wait(&self, _after: Duration) -> std::io::Result<()> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

/// Where workers wait for their requests to fall due, and the pacer releases them.
#[derive(Debug)]
pub(crate) struct Gate {
    /// Every request below this index may be sent (a lock-free copy of `parked.released`).
    released: AtomicU64,
    parked: Mutex<Parked>,
    /// One per worker: the pacer wakes a worker through its own `Notify`.
    workers: Box<[Notify]>,
    /// Wakes the pacer when a request due sooner than any other parked one is parked.
    pacer: Notify,
    slack: Duration,
}

#[derive(Debug, Default)]
struct Parked {
    released: u64,
    /// Parked requests as `(index, worker)`, earliest first.
    waiting: BinaryHeap<Reverse<(u64, usize)>>,
}

impl Gate {
    /// A gate for `workers` workers whose pacer coalesces wakeups within `slack`.
    pub fn new(workers: usize, slack: Duration) -> Self {
        Self {
            released: AtomicU64::new(0),
            parked: Mutex::new(Parked::default()),
            workers: (0..workers).map(|_| Notify::new()).collect(),
            pacer: Notify::new(),
            slack,
        }
    }

    /// Parks `worker` until request `index` is released. Returns `false` if `cancel` fired
    /// first.
    pub async fn wait(&self, index: u64, worker: usize, cancel: &CancellationToken) -> bool {
        if self.released.load(Ordering::Acquire) > index {
            return true;
        }
        let earliest = {
            let mut parked = self.lock();
            if parked.released > index {
                return true;
            }
            parked.waiting.push(Reverse((index, worker)));
            parked.waiting.peek() == Some(&Reverse((index, worker)))
        };
        if earliest {
            self.pacer.notify_one();
        }
        tokio::select! {
            () = self.workers[worker].notified() => true,
            () = cancel.cancelled() => false,
        }
    }

    /// The pacer: releases parked requests as they fall due until `stop` fires.
    pub async fn pace(&self, schedule: &Schedule, stop: &CancellationToken) {
        let mut timer = Timer::new();
        let mut last_wakeup: Option<Instant> = None;
        let mut woken = Vec::new();
        loop {
            let earliest = self.lock().waiting.peek().map(|Reverse((index, _))| *index);
            let Some(index) = earliest else {
                tokio::select! {
                    () = self.pacer.notified() => continue,
                    () = stop.cancelled() => return,
                }
            };
            let mut wake_at = schedule.due(index);
            if let Some(last) = last_wakeup {
                wake_at = wake_at.max(last + self.slack);
            }
            let now = Instant::now();
            if wake_at > now {
                tokio::select! {
                    () = timer.sleep(wake_at - now) => {}
                    // Something due sooner was parked: compute the wakeup again.
                    () = self.pacer.notified() => continue,
                    () = stop.cancelled() => return,
                }
                if Instant::now() < wake_at {
                    // An expiry left over from an abandoned wait.
                    continue;
                }
            }
            let now = Instant::now();
            last_wakeup = Some(now);
            self.release(schedule.due_by(now), &mut woken);
            for worker in woken.drain(..) {
                self.workers[worker].notify_one();
            }
        }
    }

    /// Marks every request below `released` as sendable and collects the workers parked on
    /// them into `woken`.
    fn release(&self, released: u64, woken: &mut Vec<usize>) {
        let mut parked = self.lock();
        parked.released = released;
        self.released.store(released, Ordering::Release);
        while let Some(&Reverse((index, worker))) = parked.waiting.peek() {
            if index >= released {
                break;
            }
            parked.waiting.pop();
            woken.push(worker);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Parked> {
        // The critical sections cannot panic halfway; a poisoned lock still holds valid state.
        self.parked.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The pacer's timer: the precise one where it works, else Tokio's.
enum Timer {
    Precise(PreciseTimer),
    Tokio,
}

impl Timer {
    fn new() -> Self {
        PreciseTimer::new().map_or(Timer::Tokio, Timer::Precise)
    }

    /// Sleeps about `after`; it may return early, so callers re-check the clock.
    async fn sleep(&mut self, after: Duration) {
        if let Timer::Precise(precise) = self {
            if precise.wait(after).await.is_ok() {
                return;
            }
            // Never fail a run over its timer: Tokio's from now on.
            *self = Timer::Tokio;
        }
        tokio::time::sleep(after).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn releases_parked_requests_at_their_due_time_and_never_before() {
        let start = Instant::now() + Duration::from_millis(20);
        let schedule = Schedule::constant(start, 1000.0, Duration::from_millis(50));
        let gate = Arc::new(Gate::new(4, Duration::from_micros(200)));
        let stop = CancellationToken::new();
        let pacer = tokio::spawn({
            let (gate, stop, schedule) = (Arc::clone(&gate), stop.clone(), schedule.clone());
            async move { gate.pace(&schedule, &stop).await }
        });
        let mut lateness = Vec::new();
        for index in [0u64, 5, 20, 49] {
            let cancel = CancellationToken::new();
            assert!(gate.wait(index, (index % 4) as usize, &cancel).await);
            let released = Instant::now();
            let due = schedule.due(index);
            assert!(
                released >= due,
                "request {index} released before its due time"
            );
            lateness.push(released - due);
        }
        stop.cancel();
        pacer.await.unwrap();
        // Generous: a loaded machine delays wakeups, but never by the whole run.
        assert!(
            lateness
                .iter()
                .all(|late| *late < Duration::from_millis(20)),
            "{lateness:?}"
        );
    }

    #[tokio::test]
    async fn a_released_request_passes_at_once_and_cancellation_ends_a_wait() {
        let gate = Gate::new(2, Duration::from_micros(200));
        let mut woken = Vec::new();
        gate.release(3, &mut woken);
        assert!(woken.is_empty());
        let cancel = CancellationToken::new();
        assert!(gate.wait(2, 0, &cancel).await, "already released");
        cancel.cancel();
        assert!(!gate.wait(7, 1, &cancel).await, "cancelled while parked");
    }

    #[test]
    fn release_wakes_exactly_the_workers_parked_below_the_mark() {
        let gate = Gate::new(3, Duration::ZERO);
        {
            let mut parked = gate.lock();
            for (index, worker) in [(12, 2), (10, 0), (11, 1)] {
                parked.waiting.push(Reverse((index, worker)));
            }
        }
        let mut woken = Vec::new();
        gate.release(12, &mut woken);
        assert_eq!(woken, [0, 1]);
        assert_eq!(gate.lock().waiting.len(), 1);
    }
}
