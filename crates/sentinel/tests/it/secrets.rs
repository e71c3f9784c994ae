//! No secret leaves in an error. A fake STS endpoint (a hyper server) answers with malformed
//! bodies that carry marker secrets where real credentials would be; whatever Sentinel makes of
//! them, the markers appear in none of its output: not on stdout or stderr, not in the decision
//! log, not in `serve`'s HTTP error bodies.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use crate::serve_support::Serving;

use crate::bin::{SENTINEL, isolated, text};

/// What no output may contain: the secret key, the session token, and a marker in a field that
/// fails to parse.
const MARKERS: [&str; 3] = [
    "MARKERSECRETKEYdoNotShow",
    "MARKERSESSIONTOKENdoNotShow",
    "MARKERBADFIELDdoNotShow",
];

const CALLER: &str = r#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/alice</Arn><UserId>AIDAALICE</UserId>
<Account>123456789012</Account></GetCallerIdentityResult>
<ResponseMetadata><RequestId>caller-request</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#;

/// An `AssumeRole` answer holding the markers, with `expiration` as its `Expiration`.
fn assume_role_body(expiration: &str) -> String {
    format!(
        r#"<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIAFAKEKEY</AccessKeyId><SecretAccessKey>{}</SecretAccessKey>
<SessionToken>{}</SessionToken><Expiration>{expiration}</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/prod/x</Arn><AssumedRoleId>AROA:x</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>assume-request</RequestId></ResponseMetadata></AssumeRoleResponse>"#,
        MARKERS[0], MARKERS[1]
    )
}

/// The malformed `AssumeRole` answers, as (HTTP status, body).
fn malformed_answers() -> Vec<(u16, String)> {
    let whole = assume_role_body("2030-01-01T00:00:00Z");
    vec![
        // A success whose expiration does not parse.
        (200, assume_role_body(MARKERS[2])),
        // A success cut off after the secrets.
        (
            200,
            whole[..whole.find("<Expiration>").expect("cut")].to_owned(),
        ),
        // The credentials under the wrong root element.
        (200, whole.replace("AssumeRoleResponse", "Surprise")),
        // A server error whose body is the credentials.
        (500, whole.clone()),
        // A client error without an error code, the secrets beside it.
        (
            403,
            format!(
                "<ErrorResponse><Error><Message>{}</Message></Error>{whole}</ErrorResponse>",
                MARKERS[2]
            ),
        ),
    ]
}

/// A fake STS on 127.0.0.1: `GetCallerIdentity` answers `caller`; each `AssumeRole` gets the
/// next of `answers`, round and round.
struct FakeSts {
    addr: SocketAddr,
    _runtime: tokio::runtime::Runtime,
}

impl FakeSts {
    fn start(caller: (u16, String), answers: Vec<(u16, String)>) -> FakeSts {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let answers = Arc::new((caller, answers, AtomicUsize::new(0)));
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let answers = Arc::clone(&answers);
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let answers = Arc::clone(&answers);
                    async move {
                        let body = request.into_body().collect().await?.to_bytes();
                        let (caller, assume_role, next) = &*answers;
                        let action = b"Action=GetCallerIdentity";
                        let (status, text) = if body.windows(action.len()).any(|w| w == action) {
                            caller.clone()
                        } else {
                            let i = next.fetch_add(1, Ordering::SeqCst);
                            assume_role[i % assume_role.len()].clone()
                        };
                        let mut response = Response::new(Full::new(Bytes::from(text)));
                        *response.status_mut() =
                            StatusCode::from_u16(status).expect("a valid status");
                        Ok::<_, hyper::Error>(response)
                    }
                });
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeSts {
            addr,
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A temporary AWS setup pointing STS at a fake: static base keys, a `production` profile, an
/// allow-all policy file and a decision log.
struct Home {
    dir: tempfile::TempDir,
    sts: FakeSts,
}

impl Home {
    fn new(sts: FakeSts) -> Home {
        let dir = tempfile::tempdir().expect("temp dir");
        let home = Home { dir, sts };
        std::fs::write(
            home.path("policy.yaml"),
            "version: \"1\"\nrules:\n  - name: everyone\n    effect: allow\n",
        )
        .expect("policy");
        std::fs::write(
            home.path("credentials"),
            "[base]\naws_access_key_id = AKIABASEKEY\naws_secret_access_key = base-secret\n",
        )
        .expect("credentials");
        std::fs::write(
            home.path("config"),
            format!(
                "[profile production]\nrole_arn = arn:aws:iam::123456789012:role/prod\n\
                 source_profile = base\nregion = us-east-1\nsentinel_policy = {}\n",
                home.path("policy.yaml").display()
            ),
        )
        .expect("config");
        home
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn sentinel(&self) -> Command {
        let mut command = isolated(SENTINEL, self.dir.path());
        command
            .env("AWS_ENDPOINT_URL_STS", self.sts.url())
            .env("SENTINEL_DECISION_LOG", self.path("decisions.jsonl"));
        command
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.path("decisions.jsonl")).unwrap_or_default()
    }
}

fn assert_no_marker(what: &str, text: &str) {
    for marker in MARKERS {
        assert!(
            !text.contains(marker),
            "{marker} leaked into {what}: {text}"
        );
    }
}

fn credentials(home: &Home) -> Output {
    home.sentinel()
        .args([
            "credentials",
            "--profile",
            "production",
            "--sts-timeout",
            "5s",
        ])
        .output()
        .expect("run sentinel credentials")
}

#[test]
fn malformed_assume_role_answers_leak_nothing_from_credentials() {
    for answer in malformed_answers() {
        let home = Home::new(FakeSts::start(
            (200, CALLER.to_owned()),
            vec![answer.clone()],
        ));
        let output = credentials(&home);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "answer {answer:?}: {stderr}");
        assert!(
            output.stdout.is_empty(),
            "credentials printed for {answer:?}"
        );
        assert!(stderr.contains("AssumeRole"), "{stderr}");
        assert_no_marker("stderr", &stderr);
        let log = home.log();
        assert!(log.contains("\"outcome\":\"error\""), "{log}");
        assert_no_marker("the decision log", &log);
    }
}

#[test]
fn a_malformed_caller_identity_answer_leaks_nothing() {
    let truncated = format!(
        "<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>{}",
        MARKERS[0]
    );
    let error = format!("<ErrorResponse><Error><Message>{}</Message>", MARKERS[1]);
    for caller in [(200, truncated), (500, error)] {
        let home = Home::new(FakeSts::start(caller.clone(), malformed_answers()));
        let output = credentials(&home);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{caller:?}: {stderr}");
        assert!(stderr.contains("GetCallerIdentity"), "{stderr}");
        assert_no_marker("stderr", &stderr);
    }
}

#[test]
fn malformed_assume_role_answers_leak_nothing_from_serve() {
    let answers = malformed_answers();
    let home = Home::new(FakeSts::start((200, CALLER.to_owned()), answers.clone()));
    let mut command = home.sentinel();
    command.args(["serve", "--profile", "production", "--sts-timeout", "5s"]);
    let server = Serving::start(command);
    for answer in &answers {
        let response = server.get();
        assert!(
            response.starts_with("HTTP/1.1 5"),
            "answer {answer:?} got {response}"
        );
        assert!(response.contains("IssuerError"), "{response}");
        assert_no_marker("an HTTP response", &response);
    }
    let (status, stderr) = server.terminate();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("AssumeRole"), "{stderr}");
    assert_no_marker("serve's stderr", &stderr);
    assert_no_marker("the decision log", &home.log());
}

#[test]
fn the_fake_answers_what_a_real_client_parses() {
    // The markers are where a client would find the credentials: without the malformed field,
    // the same answer is accepted. This keeps the other tests honest.
    let home = Home::new(FakeSts::start(
        (200, CALLER.to_owned()),
        vec![(200, assume_role_body("2030-01-01T00:00:00Z"))],
    ));
    let output = credentials(&home);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(json["SecretAccessKey"], MARKERS[0]);
    assert_eq!(json["SessionToken"], MARKERS[1]);
    assert!(Path::new(&home.path("decisions.jsonl")).exists());
}
