//! One interactive run: the live progress bar around a load test, as a [`Watch`] that the
//! scenarios' runner calls and that `--url` uses the same way. (Ctrl-C is the command's: its
//! token is the parent of every run's.)

use std::future::Future;

use sentinel_load::{Exchange, LoadTest, LoadTestResult, RequestContext, RequestError, RunControl};
use sentinel_scenarios::Watch;

use super::progress;

/// Shows progress unless quiet while a run is under way.
pub struct Session {
    quiet: bool,
    running: Option<progress::Bar>,
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
        self.running = Some(progress::show(test.progress(), self.quiet));
    }

    fn stop(&mut self) {
        if let Some(bar) = self.running.take() {
            bar.finish();
        }
    }
}

/// Runs `test` under `control` with `request_fn` in a session.
pub async fn run<F, Fut, O>(
    test: LoadTest,
    control: RunControl,
    quiet: bool,
    request_fn: F,
) -> LoadTestResult
where
    F: Fn(RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, RequestError>> + Send + 'static,
    O: Into<Exchange> + Send + 'static,
{
    let mut session = Session::new(quiet);
    session.start(&test);
    let result = test.run(control, request_fn).await;
    session.stop();
    result
}
