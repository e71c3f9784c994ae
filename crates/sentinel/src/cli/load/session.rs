//! One interactive run: the live progress bar and Ctrl-C handling around a load test, as a
//! [`Watch`] that the scenarios' runner calls and that `--url` uses the same way.

use std::future::Future;

use sentinel_load::{Exchange, LoadTest, LoadTestResult, RequestContext, RequestError};
use sentinel_scenarios::Watch;
use tokio::task::JoinHandle;

use super::{interrupt, progress};

/// Shows progress unless quiet, and stops the run gracefully on the first Ctrl-C (at once on
/// the second), while a run is under way.
pub struct Session {
    quiet: bool,
    running: Option<(JoinHandle<()>, progress::Bar)>,
}

impl Session {
    /// A session that shows a progress bar unless `quiet`.
    pub fn new(quiet: bool) -> Self {
        Self {
            quiet,
            running: None,
        }
    }
}

impl Watch for Session {
    fn start(&mut self, test: &LoadTest) {
        let watcher = interrupt::watch(test.cancel_token());
        let bar = progress::show(test.progress(), self.quiet);
        self.running = Some((watcher, bar));
    }

    fn stop(&mut self) {
        if let Some((watcher, bar)) = self.running.take() {
            bar.finish();
            watcher.abort();
        }
    }
}

/// Runs `test` with `request_fn` in a session.
pub async fn run<F, Fut, O>(test: LoadTest, quiet: bool, request_fn: F) -> LoadTestResult
where
    F: Fn(RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, RequestError>> + Send + 'static,
    O: Into<Exchange> + Send + 'static,
{
    let mut session = Session::new(quiet);
    session.start(&test);
    let result = test.run(request_fn).await;
    session.stop();
    result
}
