//! The live progress bar on stderr: elapsed time, requests sent, ok/errors and the current rate,
//! read from the run's cheap shared counters a few times a second. Shown only on a terminal.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sentinel_load::Progress;
use tokio::task::JoinHandle;

/// How often the bar is redrawn.
const TICK: Duration = Duration::from_millis(250);

/// A running progress display (or none).
pub struct Bar {
    shown: Option<(ProgressBar, JoinHandle<()>)>,
}

/// Starts the bar unless `quiet` is set or stderr is not a terminal.
pub fn show(progress: Progress, quiet: bool) -> Bar {
    if quiet || !std::io::stderr().is_terminal() {
        return Bar { shown: None };
    }
    let bar = ProgressBar::with_draw_target(
        Some(progress.snapshot().target),
        ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let updater = bar.clone();
    let task = tokio::spawn(async move {
        let mut ticker = tokio::time::interval(TICK);
        let mut last = progress.snapshot();
        loop {
            ticker.tick().await;
            let now = progress.snapshot();
            let window = (now.elapsed - last.elapsed).as_secs_f64();
            let rate = if window > 0.0 {
                (now.sent - last.sent) as f64 / window
            } else {
                0.0
            };
            updater.set_position(now.sent);
            updater.set_message(format!(
                "{:.1}s  sent {}  ok {}  errors {}  {:.0} req/s",
                now.elapsed.as_secs_f64(),
                now.sent,
                now.ok,
                now.errors,
                rate
            ));
            last = now;
        }
    });
    Bar {
        shown: Some((bar, task)),
    }
}

impl Bar {
    /// Stops updating and erases the bar.
    pub fn finish(self) {
        if let Some((bar, task)) = self.shown {
            task.abort();
            bar.finish_and_clear();
        }
    }
}
