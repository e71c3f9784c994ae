//! `identity`: request ID generation at 5000 req/s. Every ID is kept, in its worker's own list,
//! and all of them are checked for collisions once the run is over.

use std::sync::{Mutex, MutexGuard, PoisonError};

use sentinel_core::identity::RequestId;
use sentinel_load::{LoadTestConfig, LoadTestResult, RequestContext, RequestError, Threshold};
use serde::Serialize;

use crate::defaults;
use crate::findings::{CheckResult, Figures};
use crate::per_worker::PerWorker;
use crate::scenario::{LoadScenario, Setup, SetupError, Workload};

/// Error kind of a request ID the OS random number generator could not provide.
const RNG: &str = "rng";

/// Generates request IDs; none may equal another.
#[derive(Debug, Clone, Copy)]
pub struct Identity;

/// Each worker's generated IDs.
pub struct IdentityWorkload {
    ids: PerWorker<Mutex<Vec<u64>>>,
}

/// What the IDs of a run showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IdentityFigures {
    /// IDs equal to an ID generated before them.
    pub collisions: u64,
    /// IDs generated.
    pub ids: u64,
}

impl LoadScenario for Identity {
    type Workload = IdentityWorkload;

    fn name(&self) -> &'static str {
        "identity"
    }

    fn summary(&self) -> &'static str {
        "generate request IDs; every ID is checked for collisions"
    }

    fn config(&self) -> LoadTestConfig {
        defaults::config(5000.0, 5, 100)
    }

    fn thresholds(&self, rate: f64) -> Vec<Threshold> {
        defaults::thresholds(&["success>=99.9%", &defaults::throughput(rate)])
    }

    async fn prepare(
        &self,
        config: &LoadTestConfig,
        _setup: &Setup,
    ) -> Result<IdentityWorkload, SetupError> {
        let ids = PerWorker::<Mutex<Vec<u64>>>::new(config.workers);
        // Room for every ID up front, so no request pays for a list growing.
        let expected = config.requests_per_second * config.duration.as_secs_f64();
        let per_worker = (expected / config.workers.max(1) as f64).ceil() as usize;
        for list in ids.iter() {
            lock(list).reserve(per_worker.saturating_add(16));
        }
        Ok(IdentityWorkload { ids })
    }
}

impl Workload for IdentityWorkload {
    type Figures = IdentityFigures;

    async fn request(&self, ctx: RequestContext) -> Result<(), RequestError> {
        let id = RequestId::generate().map_err(|_| RequestError::new(RNG))?;
        lock(self.ids.get(ctx.worker)).push(id.as_u64());
        Ok(())
    }

    /// Takes the IDs out of the workers' lists and counts the collisions among them.
    fn finish(&self, _result: &LoadTestResult) -> (IdentityFigures, Vec<CheckResult>) {
        let lists = self
            .ids
            .iter()
            .map(|list| std::mem::take(&mut *lock(list)))
            .collect();
        let figures = count_collisions(lists);
        (figures, vec![check_collisions(figures)])
    }
}

impl Figures for IdentityFigures {
    fn summary(&self) -> String {
        format!("{} collisions/{} IDs", self.collisions, self.ids)
    }
}

/// The number of IDs equal to an ID seen before, among all of `lists` (each worker's IDs,
/// collected without sharing), merged here at the end.
fn count_collisions(lists: Vec<Vec<u64>>) -> IdentityFigures {
    let mut all: Vec<u64> = lists.into_iter().flatten().collect();
    all.sort_unstable();
    let collisions = all.windows(2).filter(|pair| pair[0] == pair[1]).count();
    IdentityFigures {
        collisions: collisions as u64,
        ids: all.len() as u64,
    }
}

/// Passes when no ID repeated (and there were IDs: none proves nothing).
fn check_collisions(figures: IdentityFigures) -> CheckResult {
    let IdentityFigures { collisions, ids } = figures;
    CheckResult::new(
        "collisions",
        collisions == 0 && ids > 0,
        format!("{collisions} collisions among {ids} IDs"),
    )
}

/// Locks a worker's list; a poisoned lock still holds every ID pushed before the panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicated_id_across_workers_is_a_collision() {
        let figures = count_collisions(vec![vec![1, 2, 3], vec![4, 2], vec![]]);
        assert_eq!(
            figures,
            IdentityFigures {
                collisions: 1,
                ids: 5
            }
        );
        let check = check_collisions(figures);
        assert!(!check.passed);
        assert_eq!(check.detail, "1 collisions among 5 IDs");
        assert_eq!(figures.summary(), "1 collisions/5 IDs");
    }

    #[test]
    fn a_duplicated_id_within_a_worker_is_a_collision() {
        let figures = count_collisions(vec![vec![7, 9, 7, 7]]);
        assert_eq!(
            figures,
            IdentityFigures {
                collisions: 2,
                ids: 4
            }
        );
        let unique = IdentityFigures {
            collisions: 0,
            ids: 4,
        };
        assert!(check_collisions(unique).passed);
        let none = IdentityFigures {
            collisions: 0,
            ids: 0,
        };
        assert!(!check_collisions(none).passed, "no IDs proves nothing");
    }
}
