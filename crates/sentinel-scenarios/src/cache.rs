//! The cached example store that `cached-eval`, `mixed` and `issuance` load through, and the
//! figures its own counters give about a run: the hit ratio and the loads that reached the
//! store.

use std::sync::Arc;

use sentinel_core::source::{CacheConfig, CacheStats, CachedSource, PolicySource};
use serde::Serialize;

use crate::findings::Figures;
use crate::fixture::{self, MemorySource};
use crate::scenario::SetupError;

/// The most entries the scenarios' cache may hold.
pub(crate) const CACHE_CAPACITY: usize = 64;

/// The example store behind a cache, and the cache's counters when the run started (after the
/// warm-up).
pub(crate) struct Cache {
    /// The cached store.
    pub(crate) source: Arc<CachedSource<MemorySource>>,
    before: CacheStats,
    loads_before: u64,
}

/// What the cache's counters showed about a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CacheFigures {
    /// Hits ÷ (hits + misses) during the run; 0 when there was no lookup.
    pub cache_hit_ratio: f64,
    /// Loads that reached the store behind the cache during the run.
    pub source_loads: u64,
}

impl Cache {
    /// The example store behind a cache, warmed with the one stored policy.
    pub(crate) async fn warm() -> Result<Cache, SetupError> {
        let config = CacheConfig {
            capacity: CACHE_CAPACITY,
            ..CacheConfig::default()
        };
        let source = Arc::new(CachedSource::new(MemorySource::example()?, config));
        source.load(fixture::PROFILE).await?;
        Ok(Cache {
            before: source.stats(),
            loads_before: source.inner().loads(),
            source,
        })
    }

    /// The run's figures: the counters now, less those at the start.
    pub(crate) fn figures(&self) -> CacheFigures {
        let now = self.source.stats();
        let hits = now.hits - self.before.hits;
        let lookups = hits + (now.misses - self.before.misses);
        CacheFigures {
            cache_hit_ratio: if lookups == 0 {
                0.0
            } else {
                hits as f64 / lookups as f64
            },
            source_loads: self.source.inner().loads() - self.loads_before,
        }
    }
}

impl Figures for CacheFigures {
    fn summary(&self) -> String {
        format!("hits {:.2}%", self.cache_hit_ratio * 100.0)
    }
}
