//! Ctrl-C during a run: the first stops scheduling and lets in-flight requests drain, so the
//! partial result is still reported; the second exits at once.

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Outcome;

/// Watches for Ctrl-C until the returned task is aborted.
pub fn watch(cancel: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        cancel.cancel();
        eprintln!("sentinel: stopping, draining requests in flight (Ctrl-C again to quit now)");
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(Outcome::Interrupted.code().into());
        }
    })
}
