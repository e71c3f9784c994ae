//! How a worker waits for its request's due time without a burst and without a busy core.
//!
//! Tokio's timer has a 1 ms resolution, which at high rates would turn an even schedule into a
//! burst every millisecond. A wait shorter than [`SPIN_LIMIT`] therefore yields to the runtime in
//! a loop until the due time (precise, and cheap because it is short); a longer one sleeps on the
//! timer and accepts its resolution, which shows as schedule lag and never as early sends.

use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;

/// Waits up to this long by yielding instead of sleeping on the timer.
pub(crate) const SPIN_LIMIT: Duration = Duration::from_micros(50);

/// Waits until `due`, returning the instant the wait ended, or `None` if `cancel` fired first.
pub(crate) async fn wait_until(
    due: Instant,
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
        sleep.as_mut().reset(due.into());
        tokio::select! {
            () = sleep.as_mut() => {}
            () = cancel.cancelled() => return None,
        }
    }
}
