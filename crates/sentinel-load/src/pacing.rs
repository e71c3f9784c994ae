//! How a worker waits for its request's due time without a burst and without a busy core.
//!
//! Tokio's timer has a 1 ms resolution, which would turn an even schedule into a burst every
//! millisecond. A wait shorter than [`SPIN_LIMIT`] therefore yields to the runtime in a loop
//! until the due time (precise, and cheap because it is short); a longer one sleeps on the
//! worker's precise timer where there is one (Linux), otherwise on Tokio's timer, whose
//! resolution then shows as schedule lag and never as early sends.

use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;

#[cfg(target_os = "linux")]
pub(crate) use crate::precise::PreciseTimer;

/// Stands in for the precise timer where the platform has none.
#[cfg(not(target_os = "linux"))]
#[derive(Debug)]
pub(crate) struct PreciseTimer;

#[cfg(not(target_os = "linux"))]
impl PreciseTimer {
    /// Always unavailable: callers use Tokio's timer.
    pub fn new() -> std::io::Result<Self> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    async fn wait(&self, _after: Duration) -> std::io::Result<()> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

/// Waits up to this long by yielding instead of sleeping on the timer.
pub(crate) const SPIN_LIMIT: Duration = Duration::from_micros(50);

/// Waits until `due`, returning the instant the wait ended, or `None` if `cancel` fired first.
/// Uses `timer` when given and working, else `sleep`.
pub(crate) async fn wait_until(
    due: Instant,
    timer: &mut Option<PreciseTimer>,
    mut sleep: Pin<&mut Sleep>,
    cancel: &CancellationToken,
) -> Option<Instant> {
    loop {
        let now = Instant::now();
        if now >= due {
            return Some(now);
        }
        if cancel.is_cancelled() {
            return None;
        }
        if due - now <= SPIN_LIMIT {
            tokio::task::yield_now().await;
            continue;
        }
        if let Some(precise) = timer {
            tokio::select! {
                waited = precise.wait(due - now) => if waited.is_err() {
                    // Never fail a run over its timer: fall back to Tokio's from now on.
                    *timer = None;
                },
                () = cancel.cancelled() => return None,
            }
            continue;
        }
        sleep.as_mut().reset(due.into());
        tokio::select! {
            () = sleep.as_mut() => {}
            () = cancel.cancelled() => return None,
        }
    }
}
