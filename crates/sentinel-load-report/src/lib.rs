//! `sentinel-load-report`: one self-contained HTML page of a `sentinel-load` result, for
//! people who would rather look at a plot than read a table.
//!
//! The page needs no network and no JavaScript: its styles are inline and its charts are SVG
//! drawn by `plotters`. It shows the summary and the threshold verdicts; latency over time
//! (p50, p99 and max per second, by due time) against the target and achieved rates; the
//! percentile distribution on a log scale, as HdrHistogram's plotter draws it; errors and
//! missed requests per second; the stages, if any; and for a find-max search, each step's p99
//! and verdict against its rate. The charts over time need the result's timeline; without
//! one, the page says so in their place.
//!
//! ```
//! use sentinel_load::{LoadTestConfig, RunControl, TimelineSink, run_load_test};
//! use sentinel_load_report::{Page, render};
//! # #[tokio::main]
//! # async fn main() {
//! let config = LoadTestConfig::new(500.0, std::time::Duration::from_millis(400));
//! let control = RunControl::default().with_timeline(TimelineSink::keep());
//! let result = run_load_test(config, control, |_| async { Ok(()) }).await.unwrap();
//! let html = render(&Page::run("my service", &result, &[]));
//! assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg"));
//! # }
//! ```

mod charts;
mod step;

pub use step::FindMaxStep;

use std::fmt::Write as _;

use sentinel_load::{LoadTestResult, Percentiles, Verdict};

use crate::charts::{Chart, trim};

/// What one page shows.
#[derive(Debug, Clone)]
pub struct Page<'a> {
    /// What was loaded (a URL, a scenario), in the title.
    pub target: &'a str,
    /// The run shown in detail: the run itself, or a find-max search's last step.
    pub result: Option<&'a LoadTestResult>,
    /// The thresholds, judged.
    pub verdicts: &'a [Verdict],
    /// A find-max search's steps (empty for a plain run).
    pub steps: &'a [FindMaxStep],
    /// A find-max search's conclusion, such as `max rate: 3000 req/s`.
    pub conclusion: Option<&'a str>,
}

impl<'a> Page<'a> {
    /// The page of one run.
    pub fn run(target: &'a str, result: &'a LoadTestResult, verdicts: &'a [Verdict]) -> Self {
        Self {
            target,
            result: Some(result),
            verdicts,
            steps: &[],
            conclusion: None,
        }
    }
}

/// The whole page, as one HTML document.
pub fn render(page: &Page) -> String {
    let mut html = String::new();
    let title = format!("Load report: {}", page.target);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    if let Some(conclusion) = page.conclusion {
        let _ = writeln!(html, "<p class=\"conclusion\">{}</p>", escape(conclusion));
    }
    verdicts(&mut html, page.verdicts);
    if !page.steps.is_empty() {
        html.push_str("<h2>find-max steps</h2>\n");
        figure(&mut html, "find-max", &charts::find_max_steps(page.steps));
        steps_table(&mut html, page.steps);
    }
    if let Some(result) = page.result {
        summary(&mut html, result);
        html.push_str("<h2>Over time</h2>\n");
        match result.timeline.as_deref() {
            Some(timeline) if !timeline.is_empty() => {
                figure(
                    &mut html,
                    "latency-over-time",
                    &charts::latency_over_time(timeline),
                );
                figure(
                    &mut html,
                    "failures-over-time",
                    &charts::failures_over_time(timeline),
                );
            }
            _ => html.push_str(
                "<p class=\"note\">No timeline was recorded: run with <code>--timeline FILE</code> \
                 or <code>--html FILE</code> to see latency, errors and missed requests per \
                 second.</p>\n",
            ),
        }
        html.push_str("<h2>Distribution</h2>\n");
        let h = &result.histograms;
        figure(
            &mut html,
            "percentile-distribution",
            &charts::percentile_distribution(&[
                ("latency", &h.latency),
                ("service time", &h.service_time),
                ("latency (ok)", &h.ok_latency),
            ]),
        );
        stages(&mut html, result);
    }
    html.push_str("</body>\n</html>\n");
    html
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#222;max-width:1000px}\
table{border-collapse:collapse;margin:0.5em 0 1.5em}\
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
th{background:#f3f3f3}td.name,th.name{text-align:left}\
.pass{color:#1a7f37;font-weight:bold}.fail{color:#c62828;font-weight:bold}\
.note{color:#666}figure{margin:1em 0}figcaption{color:#555;font-size:90%}";

fn figure(html: &mut String, id: &str, chart: &Chart) {
    let _ = writeln!(
        html,
        "<figure class=\"chart\" id=\"{id}\" data-series=\"{}\">\n{}\n<figcaption>Series: {}\
         </figcaption>\n</figure>",
        chart.series.join(" "),
        chart.svg,
        chart.series.join(", ")
    );
}

fn verdicts(html: &mut String, verdicts: &[Verdict]) {
    if verdicts.is_empty() {
        return;
    }
    html.push_str("<h2>Thresholds</h2>\n<table id=\"verdicts\">\n");
    html.push_str("<tr><th class=\"name\">threshold</th><th>verdict</th><th class=\"name\">measured</th></tr>\n");
    for verdict in verdicts {
        let (class, word, detail) = match &verdict.breach {
            None => ("pass", "pass", verdict.measured.clone()),
            Some(breach) => ("fail", "FAIL", breach.message.clone()),
        };
        let _ = writeln!(
            html,
            "<tr><td class=\"name\">{}</td><td class=\"{class}\">{word}</td>\
             <td class=\"name\">{}</td></tr>",
            escape(&verdict.threshold.to_string()),
            escape(&detail)
        );
    }
    html.push_str("</table>\n");
}

fn summary(html: &mut String, result: &LoadTestResult) {
    let r = &result.requests;
    html.push_str("<h2>Summary</h2>\n<table id=\"summary\">\n");
    let mut row = |name: &str, value: String| {
        let _ = writeln!(
            html,
            "<tr><th class=\"name\">{name}</th><td>{}</td></tr>",
            escape(&value)
        );
    };
    let segment = if result.segment.is_whole() {
        String::new()
    } else {
        format!(", segment {}", result.segment)
    };
    row(
        "target",
        format!(
            "{} req/s for {} s, {} workers{segment}{}",
            trim(result.target_rate),
            trim(result.duration_s),
            result.workers,
            if result.cancelled { " (cancelled)" } else { "" }
        ),
    );
    row(
        "requests",
        format!(
            "target {}, sent {}, ok {}, errors {}, timeouts {}, missed {}",
            r.target, r.sent, r.ok, r.errors, r.timeouts, r.missed
        ),
    );
    row(
        "rates",
        format!(
            "throughput {} ok/s, send rate {} req/s, success {}%",
            trim(result.throughput),
            trim(result.send_rate),
            trim(result.success_rate() * 100.0)
        ),
    );
    row(
        "time",
        format!(
            "elapsed {} s, drain {} s",
            trim(result.elapsed_s),
            trim(result.drain_s)
        ),
    );
    for (kind, count) in &result.errors_by_kind {
        row(&format!("errors: {}", escape(kind)), count.to_string());
    }
    html.push_str("</table>\n<table id=\"percentiles\">\n");
    html.push_str(
        "<tr><th class=\"name\">(ms)</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th>\
         <th>p99.9</th><th>max</th></tr>\n",
    );
    let h = &result.histograms;
    for (name, p, histogram) in [
        ("latency", &result.latency_ms, &h.latency),
        ("latency (ok)", &result.ok_latency_ms, &h.ok_latency),
        ("service time", &result.service_time_ms, &h.service_time),
        ("schedule lag", &result.schedule_lag_ms, &h.schedule_lag),
    ] {
        percentile_row(html, name, p, histogram.is_empty());
    }
    html.push_str("</table>\n");
}

/// One row of the percentile table; `-` in every cell when no request is in it (`empty`).
fn percentile_row(html: &mut String, name: &str, p: &Percentiles, empty: bool) {
    let _ = write!(html, "<tr><td class=\"name\">{name}</td>");
    for value in [p.p50, p.p90, p.p95, p.p99, p.p999, p.max] {
        if empty {
            html.push_str("<td>-</td>");
        } else {
            let _ = write!(html, "<td>{value:.3}</td>");
        }
    }
    html.push_str("</tr>\n");
}

fn stages(html: &mut String, result: &LoadTestResult) {
    if result.stages.is_empty() {
        return;
    }
    html.push_str("<h2>Stages</h2>\n<table id=\"stages\">\n");
    html.push_str(
        "<tr><th class=\"name\">stage</th><th>from s</th><th>to s</th><th>rate</th>\
         <th>target</th><th>sent</th><th>ok</th><th>missed</th><th>p50 ms</th><th>p99 ms</th>\
         <th>success</th></tr>\n",
    );
    for stage in &result.stages {
        let s = &stage.result;
        let _ = writeln!(
            html,
            "<tr><td class=\"name\">{}</td><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{}%</td></tr>",
            escape(&stage.stage.to_string()),
            trim(stage.start_s),
            trim(stage.end_s),
            trim(stage.from_rate),
            trim(stage.to_rate),
            s.requests.target,
            s.requests.sent,
            s.requests.ok,
            s.requests.missed,
            s.latency_ms.p50,
            s.latency_ms.p99,
            trim(s.success_rate() * 100.0),
        );
    }
    html.push_str("</table>\n");
}

fn steps_table(html: &mut String, steps: &[FindMaxStep]) {
    html.push_str("<table id=\"steps\">\n<tr><th>step</th><th>rate/s</th><th>p99 ms</th><th class=\"name\">verdict</th></tr>\n");
    for (index, step) in steps.iter().enumerate() {
        let class = if step.passed { "pass" } else { "fail" };
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td class=\"name {class}\">{}</td></tr>",
            index + 1,
            trim(step.rate),
            step.p99_ms,
            escape(&step.verdict)
        );
    }
    html.push_str("</table>\n");
}

/// `text` with the characters HTML gives a meaning escaped.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sentinel_load::{
        LoadTestConfig, RequestError, RunControl, Threshold, TimelineSink, judge, run_load_test,
    };

    use super::*;

    async fn result(timeline: bool) -> LoadTestResult {
        let config = LoadTestConfig::new(0.0, Duration::ZERO).with_stages(vec![
            "500ms:400".parse().unwrap(),
            "700ms:=400".parse().unwrap(),
        ]);
        let control = RunControl {
            timeline: timeline.then(TimelineSink::keep),
            ..RunControl::default()
        };
        run_load_test(config, control, |ctx| async move {
            if ctx.seq % 9 == 0 {
                Err(RequestError::new("http_<503>"))
            } else {
                Ok(())
            }
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_page_holds_every_chart_the_summary_and_the_verdicts() {
        let result = result(true).await;
        let thresholds: Vec<Threshold> = vec!["success>=99%".parse().unwrap()];
        let verdicts = judge(&thresholds, &result);
        let html = render(&Page::run("http://a/?x=<1>", &result, &verdicts));
        for id in [
            "latency-over-time",
            "failures-over-time",
            "percentile-distribution",
            "summary",
            "stages",
            "verdicts",
        ] {
            assert!(html.contains(&format!("id=\"{id}\"")), "{id} missing");
        }
        assert!(
            html.contains("http://a/?x=&lt;1&gt;"),
            "the title is escaped"
        );
        assert!(
            html.contains("errors: http_&lt;503&gt;"),
            "error kinds are escaped"
        );
        assert!(html.contains("<td class=\"fail\">FAIL</td>"));
        assert!(!html.contains("<script"), "no JavaScript");
        assert!(
            !html.contains("http://www.w3.org/1999/xlink\" href"),
            "nothing external"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_passed_threshold_shows_what_was_measured() {
        let result = result(false).await;
        let thresholds: Vec<Threshold> = vec!["success>=50%".parse().unwrap()];
        let verdicts = judge(&thresholds, &result);
        assert!(verdicts[0].passed());
        let html = render(&Page::run("t", &result, &verdicts));
        let measured = format!(
            "<td class=\"pass\">pass</td><td class=\"name\">{}</td>",
            verdicts[0].measured
        );
        assert!(
            verdicts[0].measured.ends_with('%'),
            "{}",
            verdicts[0].measured
        );
        assert!(html.contains(&measured), "no {measured} in the verdicts");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_percentile_row_without_requests_shows_dashes() {
        let config = LoadTestConfig::new(200.0, Duration::from_millis(100));
        let failing = run_load_test(config, RunControl::default(), |_| async {
            Err::<(), _>(RequestError::new("http_503"))
        })
        .await
        .unwrap();
        let html = render(&Page::run("t", &failing, &[]));
        let dashes = "<td>-</td>".repeat(6);
        assert!(
            html.contains(&format!("<td class=\"name\">latency (ok)</td>{dashes}")),
            "latency (ok) should be dashes"
        );
        assert!(
            !html.contains(&format!("<td class=\"name\">latency</td>{dashes}")),
            "the failures have latencies"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_a_timeline_the_page_says_how_to_get_one() {
        let result = result(false).await;
        let html = render(&Page::run("t", &result, &[]));
        assert!(!html.contains("latency-over-time"));
        assert!(html.contains("No timeline was recorded"));
        assert!(html.contains("percentile-distribution"));
    }

    #[test]
    fn a_find_max_page_plots_each_step() {
        let steps = [
            FindMaxStep {
                rate: 1000.0,
                p99_ms: 1.2,
                verdict: "pass".into(),
                passed: true,
            },
            FindMaxStep {
                rate: 2000.0,
                p99_ms: 40.0,
                verdict: "fail".into(),
                passed: false,
            },
        ];
        let page = Page {
            target: "mixed",
            result: None,
            verdicts: &[],
            steps: &steps,
            conclusion: Some("max rate: 1000 req/s"),
        };
        let html = render(&page);
        assert!(html.contains("id=\"find-max\""));
        assert_eq!(
            html.matches("<circle").count(),
            2 + 2,
            "a circle per step, one per legend entry"
        );
        assert!(html.contains("max rate: 1000 req/s"));
    }
}
