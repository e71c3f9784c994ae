//! Ctrl-C: the first stops whatever the command is doing (a run stops scheduling and lets
//! in-flight requests drain, so the partial result is still reported); the second exits at
//! once.

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Outcome;

/// The error of a step that Ctrl-C cut short before it had anything to report; says what it
/// was waiting for.
#[derive(Debug)]
pub struct Interrupted(pub &'static str);

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted before {}", self.0)
    }
}

impl std::error::Error for Interrupted {}

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
