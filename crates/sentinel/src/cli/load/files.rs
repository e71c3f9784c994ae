//! The files a run writes besides its report on stdout: the `.hgrm` distribution, the timeline
//! (one JSON object per line and second, written as each second closes) and the HTML page.
//! When several scenarios run, each gets its own files, the scenario's name added to each path.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context;
use sentinel_load::{LoadTestResult, RunControl, Second, TimelineSink, write_hgrm};
use sentinel_load_report::{Page, render};

use super::judged::{Judged, ReportArgs};

/// The files one run writes, and the name its page shows.
pub struct RunFiles {
    title: String,
    hgrm: Option<PathBuf>,
    html: Option<PathBuf>,
    timeline: Option<TimelineFile>,
    /// The result exists already: its timeline is written whole at the end.
    saved: bool,
}

/// A timeline file being written, and the first error writing it.
struct TimelineFile {
    path: PathBuf,
    error: Arc<Mutex<Option<io::Error>>>,
}

impl RunFiles {
    /// The files `args` asks for, named for `scenario` when several scenarios run; with
    /// `--timeline` or `--html`, the run under `control` records a timeline, and with
    /// `--timeline` its file is created now (so that a path that cannot be written is refused
    /// before any load) and written as each second closes.
    pub fn open(
        args: &ReportArgs,
        title: &str,
        scenario: Option<&str>,
        control: &mut RunControl,
    ) -> anyhow::Result<Self> {
        let path = |path: &Option<PathBuf>| path.as_deref().map(|p| per_scenario(p, scenario));
        let timeline = match path(&args.timeline) {
            Some(path) => {
                let (sink, file) = TimelineFile::create(path)?;
                control.timeline = Some(sink);
                Some(file)
            }
            None => None,
        };
        if args.html.is_some() && control.timeline.is_none() {
            control.timeline = Some(TimelineSink::keep());
        }
        Ok(Self {
            title: title.to_owned(),
            hgrm: path(&args.hgrm),
            html: path(&args.html),
            timeline,
            saved: false,
        })
    }

    /// Files for a result that already exists (read from JSON, or merged): its timeline is
    /// written whole.
    pub fn saved(args: &ReportArgs, title: &str) -> Self {
        Self {
            title: title.to_owned(),
            hgrm: args.hgrm.clone(),
            html: args.html.clone(),
            timeline: args.timeline.clone().map(|path| TimelineFile {
                path,
                error: Arc::default(),
            }),
            saved: true,
        }
    }

    /// Writes the `.hgrm` and HTML files (and, for a saved result, the timeline), naming each
    /// failure on stderr. Returns whether every file was written whole.
    pub fn finish(self, judged: &Judged) -> bool {
        let mut complete = true;
        let mut failed = |path: &Path, error: &dyn std::fmt::Display| {
            eprintln!("sentinel: writing {}: {error}", path.display());
            complete = false;
        };
        if let Some(path) = &self.hgrm
            && let Err(error) = write_hgrm_file(judged.result, path)
        {
            failed(path, &error);
        }
        if let Some(timeline) = &self.timeline {
            let outcome = if self.saved {
                write_timeline(judged.result, &timeline.path)
            } else {
                timeline.outcome()
            };
            if let Err(error) = outcome {
                failed(&timeline.path, &error);
            }
        }
        if let Some(path) = &self.html {
            let page = Page::run(&self.title, judged.result, judged.verdicts);
            if let Err(error) = std::fs::write(path, render(&page)) {
                failed(path, &error);
            }
        }
        complete
    }
}

impl TimelineFile {
    /// Creates `path` and a sink that appends one line per second to it.
    fn create(path: PathBuf) -> anyhow::Result<(TimelineSink, Self)> {
        let file = File::create(&path)
            .with_context(|| format!("cannot create the timeline file {}", path.display()))?;
        let error: Arc<Mutex<Option<io::Error>>> = Arc::default();
        let mut out = BufWriter::new(file);
        let first_error = Arc::clone(&error);
        let sink = TimelineSink::new(move |second: &Second| {
            let mut slot = first_error.lock().unwrap_or_else(PoisonError::into_inner);
            if slot.is_none()
                && let Err(e) = write_second(&mut out, second).and_then(|()| out.flush())
            {
                *slot = Some(e);
            }
        });
        Ok((sink, Self { path, error }))
    }

    /// The first error writing the file, if any.
    fn outcome(&self) -> io::Result<()> {
        match self
            .error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// One second as one JSON line.
fn write_second(out: &mut impl Write, second: &Second) -> io::Result<()> {
    serde_json::to_writer(&mut *out, second)?;
    writeln!(out)
}

/// Writes a saved result's whole timeline to `path`.
fn write_timeline(result: &LoadTestResult, path: &Path) -> io::Result<()> {
    let timeline = result.timeline.as_deref().ok_or_else(|| {
        io::Error::other("the result holds no timeline (it was run without --timeline or --html)")
    })?;
    let mut out = BufWriter::new(File::create(path)?);
    for second in timeline {
        write_second(&mut out, second)?;
    }
    out.flush()
}

/// Writes the latency distribution of `result` to `path` as an `.hgrm` file.
pub fn write_hgrm_file(result: &LoadTestResult, path: &Path) -> io::Result<()> {
    let mut file = BufWriter::new(File::create(path)?);
    write_hgrm(&result.histograms.latency, &mut file)?;
    file.flush()
}

/// `path` itself for a single run, else the scenario's name added before the extension
/// (`lat.hgrm` → `lat-issuance.hgrm`).
pub fn per_scenario(path: &Path, scenario: Option<&str>) -> PathBuf {
    let Some(scenario) = scenario else {
        return path.to_owned();
    };
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(extension) => format!("{stem}-{scenario}.{}", extension.to_string_lossy()),
        None => format!("{stem}-{scenario}"),
    };
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_scenarios_get_a_file_each() {
        let path = Path::new("/tmp/lat.hgrm");
        assert_eq!(per_scenario(path, None), path);
        assert_eq!(
            per_scenario(path, Some("issuance")),
            Path::new("/tmp/lat-issuance.hgrm")
        );
        assert_eq!(
            per_scenario(Path::new("lat"), Some("issuance")),
            Path::new("lat-issuance")
        );
    }
}
