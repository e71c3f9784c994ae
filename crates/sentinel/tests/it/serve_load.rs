//! The credential server under load over a real socket: `sentinel serve --issuer local` driven by
//! `sentinel load --url` at 1000 requests/s for 10 s. Every request runs the whole pipeline
//! (policy from the cache, evaluation, two decision-log lines, the in-process issuer), so this
//! proves the issuance path holds its latency at that rate, and that no decision goes unlogged.
//! The decision log is on a memory-backed filesystem, so that the figures are the pipeline's,
//! not the disk's. It needs the caller's identity from moto and runs alone (the `timing::`
//! phase).

use crate::serve_support;

mod timing {
    use super::serve_support::{Setup, count, load};

    #[test]
    fn serve_holds_1000_requests_per_second_with_p99_under_10ms_and_logs_every_one() {
        let setup = Setup::in_memory("alice");
        let server = setup.serve(&["--issuer", "local"]);
        let report = load(
            &setup,
            &server,
            &["--rate", "1000", "--duration", "10s", "--workers", "64"],
        );
        let (status, stderr) = server.terminate();
        assert!(status.success(), "{stderr}");

        let requests = &report["requests"];
        let sent = requests["sent"].as_u64().expect("sent");
        let ok = requests["ok"].as_u64().expect("ok");
        let p99 = report["latency_ms"]["p99"].as_f64().expect("p99");
        assert!(
            sent >= 9_900,
            "only {sent} of 10000 requests sent: {report}"
        );
        assert!(
            ok as f64 > 0.99 * sent as f64,
            "success {ok}/{sent}: {report}"
        );
        assert!(p99 < 10.0, "p99 {p99} ms: {report}");

        let lines = setup.log_lines();
        let decisions = count(&lines, "event", "decision") as u64;
        assert_eq!(decisions, ok, "decision lines vs requests answered");
        assert_eq!(
            count(&lines, "outcome", "issued") as u64,
            ok,
            "outcome lines"
        );
    }
}
