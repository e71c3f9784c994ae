//! One interactive run: Ctrl-C handling and the live progress bar around a load test.

use std::future::Future;

use sentinel_load::{LoadTest, LoadTestResult, RequestContext, RequestError};

use super::report::ReportArgs;
use super::{interrupt, progress};

/// Runs `test` with `request_fn`, showing progress unless told to be quiet and stopping
/// gracefully on the first Ctrl-C (at once on the second).
pub async fn run<F, Fut>(test: LoadTest, args: &ReportArgs, request_fn: F) -> LoadTestResult
where
    F: Fn(RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), RequestError>> + Send + 'static,
{
    let watcher = interrupt::watch(test.cancel_token());
    let bar = progress::show(test.progress(), args.quiet);
    let result = test.run(request_fn).await;
    bar.finish();
    watcher.abort();
    result
}
