//! `sentinel load` over time and across generators, end to end: the binary against a local
//! hyper server that answers after a fixed service time, the HTML page in headless Chromium,
//! segments merged against one whole run, the interchange encoding read by the `hdrhistogram`
//! crate's own deserializer, and the Kubernetes Job checked against `sentinel load --help`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

use crate::bin::sentinel;

/// How long the target takes to answer every request.
const SERVICE_TIME: Duration = Duration::from_millis(5);

/// A server on its own runtime thread answering 200 after [`SERVICE_TIME`].
fn server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let service = service_fn(answer);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    rx.recv().unwrap()
}

async fn answer(_: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    tokio::time::sleep(SERVICE_TIME).await;
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

fn stdout_json(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{:?}: {stdout} {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// A directory under the crate's target directory, kept after the test for inspection.
fn artifacts(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/test-artifacts")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn json_histograms_read_back_through_the_hdrhistogram_crate() {
    let url = format!("http://{}/", server());
    let output = sentinel(&[
        "load",
        "--url",
        &url,
        "--rate",
        "200",
        "--duration",
        "500ms",
        "--workers",
        "4",
        "--json",
    ]);
    let result = stdout_json(&output);
    let requests = &result["requests"];
    for (name, count) in [
        ("latency", requests["target"].as_u64().unwrap()),
        ("ok_latency", requests["ok"].as_u64().unwrap()),
        ("service_time", requests["sent"].as_u64().unwrap()),
    ] {
        let text = result["histograms"][name].as_str().expect("encoded");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap();
        let histogram: hdrhistogram::Histogram<u64> =
            hdrhistogram::serialization::Deserializer::new()
                .deserialize(&mut bytes.as_slice())
                .expect("V2 compressed");
        assert_eq!(histogram.len(), count, "{name}");
        let p99_ms = histogram.value_at_quantile(0.99) as f64 / 1e6;
        let reported = result[format!("{name}_ms").replace("ok_latency_ms", "ok_latency_ms")]
            .get("p99")
            .or(result.get(format!("{name}_ms")).and_then(|p| p.get("p99")))
            .and_then(Value::as_f64);
        if let Some(reported) = reported {
            assert!(
                (p99_ms - reported).abs() < 1e-9,
                "{name}: {p99_ms} vs {reported}"
            );
        }
    }
}

/// Where the test script put Chromium, or `chromium` on the PATH.
fn chromium() -> String {
    let name = std::env::var("SENTINEL_TEST_CHROMIUM").unwrap_or_else(|_| "chromium".to_owned());
    let found = Command::new(&name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{name} is not installed: run the tests with scripts/test.sh, which installs chromium"
    );
    name
}

/// The DOM Chromium renders from `page`, and a screenshot of it at `shot`.
fn render(page: &Path, shot: &Path) -> String {
    let chromium = chromium();
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
    ];
    let dom = Command::new(&chromium)
        .args(common)
        .arg("--dump-dom")
        .arg(&url)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let shot_arg = format!("--screenshot={}", shot.display());
    let screenshot = Command::new(&chromium)
        .args(common)
        .args(["--window-size=1100,2800", &shot_arg, &url])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        screenshot.status.success(),
        "{}",
        String::from_utf8_lossy(&screenshot.stderr)
    );
    assert!(
        std::fs::metadata(shot).unwrap().len() > 10_000,
        "a screenshot with something in it"
    );
    String::from_utf8(dom.stdout).unwrap()
}

/// The rendered `<figure id=...>` element's markup.
fn figure<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!("<figure class=\"chart\" id=\"{id}\""))
        .unwrap_or_else(|| panic!("no figure {id}"));
    let end = start + dom[start..].find("</figure>").expect("closed");
    &dom[start..end]
}

/// The point lists of the polylines in `svg` that hold at least two points.
fn drawn_lines(svg: &str) -> usize {
    svg.match_indices("<polyline")
        .filter(|(at, _)| {
            let rest = &svg[*at..];
            let points = rest
                .find("points=\"")
                .map(|p| &rest[p + 8..])
                .and_then(|p| p.split('"').next())
                .unwrap_or("");
            points.split_whitespace().count() >= 2
        })
        .count()
}

#[test]
fn the_html_report_renders_every_chart_in_chromium() {
    let dir = artifacts("html");
    let url = format!("http://{}/", server());
    let (html, json, timeline) = (
        dir.join("run.html"),
        dir.join("run.json"),
        dir.join("run.jsonl"),
    );
    let output = sentinel(&[
        "load",
        "--url",
        &url,
        "--stage",
        "1s:300",
        "--stage",
        "2s:=300",
        "--workers",
        "8",
        "--threshold",
        "p99<1s",
        "--html",
        html.to_str().unwrap(),
        "--timeline",
        timeline.to_str().unwrap(),
        "--json",
    ]);
    let result = stdout_json(&output);
    std::fs::write(&json, serde_json::to_string(&result).unwrap()).unwrap();
    assert_eq!(result["timeline"].as_array().unwrap().len(), 3);
    assert_eq!(
        std::fs::read_to_string(&timeline).unwrap().lines().count(),
        3
    );
    // The same page again from the saved result.
    let again = dir.join("again.html");
    let report = sentinel(&[
        "load",
        "report",
        json.to_str().unwrap(),
        "--html",
        again.to_str().unwrap(),
    ]);
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );

    let shots = artifacts("screenshots");
    for (page, shot) in [
        (&html, "load-report.png"),
        (&again, "load-report-again.png"),
    ] {
        let dom = render(page, &shots.join(shot));
        for (id, lines) in [
            ("latency-over-time", 5),
            ("failures-over-time", 2),
            ("percentile-distribution", 3),
        ] {
            let chart = figure(&dom, id);
            assert!(chart.contains("<svg"), "{id}: no SVG");
            // One polyline per series (and one per legend entry), each with its points.
            assert!(
                drawn_lines(chart) >= lines,
                "{id}: {} lines",
                drawn_lines(chart)
            );
        }
        assert!(dom.contains("id=\"summary\"") && dom.contains("id=\"stages\""));
        assert!(
            dom.contains("p99&lt;1s") && dom.contains(">pass<"),
            "the verdict is shown"
        );
    }
}

mod timing {
    use super::*;

    /// The per-second `due` and `sent` counts of a result's timeline.
    fn per_second(result: &Value) -> Vec<(u64, u64)> {
        result["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["due"].as_u64().unwrap(), s["sent"].as_u64().unwrap()))
            .collect()
    }

    #[test]
    fn four_segments_merged_match_one_generator_at_the_same_total_rate() {
        let url = format!("http://{}/", server());
        let dir = artifacts("segments");
        // Far enough ahead for five processes to be ready on a loaded machine.
        let start = SystemTime::now() + Duration::from_secs(3);
        let start_at = jiff::Timestamp::try_from(start).unwrap().to_string();
        let common = [
            "load",
            "--url",
            &url,
            "--stage",
            "1s:400",
            "--stage",
            "2s:=400",
            "--workers",
            "16",
            "--start-at",
            &start_at,
            "--json",
            "--quiet",
            "--html",
            "/dev/null",
        ];
        let spawn = |extra: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_sentinel"))
                .args(common)
                .args(extra)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let segments: Vec<_> = (1..=4)
            .map(|k| spawn(&["--segment", &format!("{k}/4")]))
            .collect();
        let whole = spawn(&[]);
        let mut files = Vec::new();
        for (k, child) in segments.into_iter().enumerate() {
            let result = stdout_json(&child.wait_with_output().unwrap());
            let path = dir.join(format!("segment-{}.json", k + 1));
            std::fs::write(&path, result.to_string()).unwrap();
            files.push(path);
        }
        let whole = stdout_json(&whole.wait_with_output().unwrap());

        let mut args = vec!["load", "merge"];
        args.extend(files.iter().map(|p| p.to_str().unwrap()));
        let html = dir.join("merged.html");
        args.extend(["--json", "--threshold", "success>=99%"]);
        args.extend(["--html", html.to_str().unwrap()]);
        let merged = stdout_json(&sentinel(&args));
        // The merged result and its page are named by the URL loaded, not by a file.
        assert_eq!(merged["target"], Value::from(url.as_str()));
        let page = std::fs::read_to_string(&html).unwrap();
        assert!(
            page.contains(&format!(
                "<title>Load report: {url} (4 segments merged)</title>"
            )),
            "{}",
            &page[..page.len().min(400)]
        );
        assert_eq!(merged["requests"]["target"], whole["requests"]["target"]);
        assert_eq!(merged["requests"]["target"], 1000);
        assert_eq!(merged["requests"]["sent"], whole["requests"]["sent"]);
        assert_eq!(per_second(&merged), per_second(&whole));
        assert_eq!(merged["thresholds"][0]["passed"], true);
        // Every request takes the fixed service time: the medians agree within the histogram's
        // precision plus the scheduler's jitter on this machine.
        for quantile in ["p50", "p90"] {
            let (a, b) = (
                merged["latency_ms"][quantile].as_f64().unwrap(),
                whole["latency_ms"][quantile].as_f64().unwrap(),
            );
            assert!(a >= SERVICE_TIME.as_secs_f64() * 1e3 && b >= SERVICE_TIME.as_secs_f64() * 1e3);
            assert!(
                (a - b).abs() <= b / 1000.0 + 1.5,
                "{quantile}: merged {a} ms, one {b} ms"
            );
        }

        // A result of another schedule does not merge.
        let mut other = whole.clone();
        other["duration_s"] = Value::from(9.0);
        let other_path = dir.join("other.json");
        std::fs::write(&other_path, other.to_string()).unwrap();
        let refused = sentinel(&[
            "load",
            "merge",
            files[0].to_str().unwrap(),
            other_path.to_str().unwrap(),
        ]);
        assert_eq!(refused.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains("different schedule: duration (s) 9"),
            "{stderr}"
        );
    }
}
