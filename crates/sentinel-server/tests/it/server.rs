//! The server over a real socket, with the real broker (file policy, decision log, local or
//! failing issuers): what each kind of request gets back, what reaches the decision log, that
//! abusive clients are cut off while a good one keeps being served, and that a shutdown lets
//! in-flight requests finish.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sentinel_core::broker::{Broker, Profile};
use sentinel_core::caller::Caller;
use sentinel_core::decision_log::DecisionLog;
use sentinel_core::issuer::{Credentials, IssueRequest, Issuer, IssuerError, LocalIssuer};
use sentinel_core::source::{CacheConfig, CachedSource, FileSource};
use sentinel_server::{CredentialService, Drained, Limits, Server, Token};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const TOKEN: &str = "test-token-0123456789abcdef";

const POLICY: &str = r#"
version: "1"
rules:
  - name: deny-bob
    effect: deny
    conditions: { users: [bob] }
    reason: bob is read-only
  - name: allow-everyone-else
    effect: allow
"#;

/// An issuer that fails, or answers only after a delay.
struct TestIssuer {
    delay: Duration,
    fail: bool,
}

#[async_trait::async_trait]
impl Issuer for TestIssuer {
    async fn issue(&self, request: &IssueRequest<'_>) -> Result<Credentials, IssuerError> {
        tokio::time::sleep(self.delay).await;
        if self.fail {
            return Err(IssuerError::new("the test issuer always fails"));
        }
        LocalIssuer.issue(request).await
    }
}

/// IAM user `name` of the profile's account.
fn iam_user(name: &str) -> Caller {
    Caller {
        arn: format!("arn:aws:iam::123456789012:user/{name}"),
        account: "123456789012".into(),
        user_id: format!("AIDA{}", name.to_uppercase()),
    }
}

/// A running server, its decision log, and the switch that shuts it down.
struct Running {
    addr: SocketAddr,
    log: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Drained>,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn start(user: &str, issuer: Arc<dyn Issuer>, limits: Limits) -> Running {
        Running::start_with_policy(user, issuer, limits, Some(POLICY)).await
    }

    async fn start_with_policy(
        user: &str,
        issuer: Arc<dyn Issuer>,
        limits: Limits,
        policy: Option<&str>,
    ) -> Running {
        let dir = tempfile::tempdir().expect("temp dir");
        let policy_path = dir.path().join("policy.yaml");
        if let Some(policy) = policy {
            std::fs::write(&policy_path, policy).expect("policy");
        }
        let log = dir.path().join("decisions.jsonl");
        let source = CachedSource::new(FileSource::file(&policy_path), CacheConfig::default());
        let broker = Broker::new(
            Arc::new(source),
            Arc::new(DecisionLog::open(&log).expect("log")),
            issuer,
            Duration::from_secs(10),
        );
        let service = CredentialService {
            broker,
            profile: Profile {
                name: "production".into(),
                policy_key: "production".into(),
                role_arn: "arn:aws:iam::123456789012:role/prod".into(),
                session_duration: Duration::from_secs(900),
                external_id: None,
            },
            caller: Arc::new(Arc::new(iam_user(user))),
            token: Token::parse(TOKEN).expect("token"),
        };
        let server = Server::bind("127.0.0.1:0".parse().expect("addr"), false, limits, service)
            .await
            .expect("bind");
        let addr = server.local_addr();
        assert_eq!(server.url(), format!("http://{addr}/credentials"));
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Running {
            addr,
            log,
            stop: Some(stop),
            task,
            _dir: dir,
        }
    }

    fn local(user: &str) -> impl Future<Output = Running> {
        Running::start(user, Arc::new(LocalIssuer), Limits::default())
    }

    /// A well-formed request with the given headers after the request line.
    async fn send(&self, request_line: &str, headers: &str) -> Reply {
        let raw = format!("{request_line}\r\n{headers}Connection: close\r\n\r\n");
        exchange(self.addr, raw.as_bytes()).await
    }

    /// `GET /credentials` with the right host and the given `Authorization` value.
    async fn get(&self, authorization: Option<&str>) -> Reply {
        let mut headers = format!("Host: {}\r\n", self.addr);
        if let Some(token) = authorization {
            headers.push_str(&format!("Authorization: {token}\r\n"));
        }
        self.send("GET /credentials HTTP/1.1", &headers).await
    }

    fn log_lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("whole JSON line"))
            .collect()
    }

    async fn shut_down(&mut self) -> Drained {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("server task")
    }
}

/// A response: its status code and its body as JSON (`Null` when it is not JSON).
struct Reply {
    status: u16,
    body: serde_json::Value,
}

async fn exchange(addr: SocketAddr, raw: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(raw).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    parse(&response)
}

fn parse(response: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    Reply {
        status,
        body: serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    }
}

#[tokio::test]
async fn allow_returns_container_credentials_and_logs_the_decision_and_outcome() {
    let mut server = Running::local("alice").await;
    let reply = server.get(Some(TOKEN)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    for key in ["AccessKeyId", "SecretAccessKey", "Token", "Expiration"] {
        assert!(
            reply.body[key].as_str().is_some_and(|v| !v.is_empty()),
            "{key}"
        );
    }
    let expiration = reply.body["Expiration"].as_str().expect("expiration");
    assert!(
        expiration.parse::<jiff::Timestamp>().is_ok(),
        "{expiration}"
    );
    let lines = server.log_lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["user"], "alice");
    assert_eq!(lines[1]["outcome"], "issued");
    let session_token = reply.body["Token"].as_str().expect("token");
    assert!(session_token.ends_with(lines[1]["source_identity"].as_str().expect("id")));

    // Fresh credentials on every request: each one is a new decision.
    let again = server.get(Some(TOKEN)).await;
    assert_ne!(again.body["Token"], reply.body["Token"]);
    assert_eq!(server.log_lines().len(), 4);
    assert_eq!(server.shut_down().await, Drained { abandoned: 0 });
}

#[tokio::test]
async fn deny_is_403_naming_the_rule() {
    let server = Running::local("bob").await;
    let reply = server.get(Some(TOKEN)).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.body["Code"], "AccessDenied");
    let message = reply.body["Message"].as_str().expect("message");
    assert!(
        message.contains("deny-bob") && message.contains("bob is read-only"),
        "{message}"
    );
    let lines = server.log_lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["effect"], "deny");
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_401_and_never_reaches_the_broker() {
    let server = Running::local("alice").await;
    let mut last_byte_differs = TOKEN.to_owned();
    last_byte_differs.pop();
    last_byte_differs.push('g');
    let longer = format!("{TOKEN}0");
    for token in [
        None,
        Some("wrong"),
        Some(last_byte_differs.as_str()),
        Some(longer.as_str()),
        Some(&TOKEN[..TOKEN.len() - 1]),
    ] {
        let reply = server.get(token).await;
        assert_eq!(reply.status, 401, "{token:?}");
        assert_eq!(reply.body["Code"], "Unauthorized");
    }
    assert!(
        server.log_lines().is_empty(),
        "a refused request reached the broker"
    );
    assert_eq!(server.get(Some(TOKEN)).await.status, 200);
}

#[tokio::test]
async fn a_foreign_or_missing_host_is_403_even_with_the_token() {
    let server = Running::local("alice").await;
    let port = server.addr.port();
    let auth = format!("Authorization: {TOKEN}\r\n");
    for host in [
        format!("Host: evil.example:{port}\r\n"),
        format!("Host: 127.0.0.1:{}\r\n", port.wrapping_add(1)),
        String::new(),
    ] {
        let reply = server
            .send("GET /credentials HTTP/1.1", &format!("{host}{auth}"))
            .await;
        assert_eq!(reply.status, 403, "{host:?}");
    }
    let reply = server.send("GET /credentials HTTP/1.0", &auth).await;
    assert_eq!(reply.status, 403, "HTTP/1.0 without Host");
    assert_eq!(reply.body["Code"], "ForbiddenHost");
    let reply = server
        .send(
            "GET /credentials HTTP/1.1",
            &format!("Host: localhost:{port}\r\n{auth}"),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        server.log_lines().len(),
        2,
        "only the good request was decided"
    );
}

#[tokio::test]
async fn other_methods_paths_and_bodies_are_refused_before_the_broker() {
    let server = Running::local("alice").await;
    let headers = format!("Host: {}\r\nAuthorization: {TOKEN}\r\n", server.addr);
    let post = server
        .send(
            "POST /credentials HTTP/1.1",
            &format!("{headers}Content-Length: 0\r\n"),
        )
        .await;
    assert_eq!(post.status, 405);
    assert_eq!(
        server.send("GET /other HTTP/1.1", &headers).await.status,
        404
    );
    let with_body = format!("GET /credentials HTTP/1.1\r\n{headers}Content-Length: 4\r\n\r\nbody");
    let reply = exchange(server.addr, with_body.as_bytes()).await;
    assert_eq!(reply.status, 413);
    assert!(server.log_lines().is_empty());
}

#[tokio::test]
async fn an_oversized_header_is_refused_and_the_server_keeps_serving() {
    let server = Running::local("alice").await;
    let huge = format!(
        "Host: {}\r\nAuthorization: {TOKEN}\r\nX-Padding: {}\r\n",
        server.addr,
        "a".repeat(64 * 1024)
    );
    let reply = server.send("GET /credentials HTTP/1.1", &huge).await;
    assert_eq!(reply.status, 431);
    assert_eq!(server.get(Some(TOKEN)).await.status, 200);
}

#[tokio::test]
async fn a_slow_client_is_cut_off_while_a_good_one_is_served() {
    let limits = Limits {
        header_timeout: Duration::from_secs(2),
        ..Limits::default()
    };
    let server = Running::start("alice", Arc::new(LocalIssuer), limits).await;
    let mut slow = TcpStream::connect(server.addr).await.expect("connect");
    let started = Instant::now();
    slow.write_all(b"GET /credentials HTTP/1.1\r\n")
        .await
        .expect("write");
    let dripping = async {
        // One header byte every 100 ms, for up to 20 s: never a complete head.
        for _ in 0..200 {
            if slow.write_all(b"a").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut rest = Vec::new();
        let _ = slow.read_to_end(&mut rest).await;
        started.elapsed()
    };
    let good = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let reply = server.get(Some(TOKEN)).await;
        (reply.status, started.elapsed())
    };
    let (cut_after, (status, served_after)) = tokio::join!(dripping, good);
    assert_eq!(status, 200);
    assert!(
        served_after < cut_after,
        "the good client was served only after the slow one was cut ({served_after:?} vs {cut_after:?})"
    );
    assert!(
        cut_after < Duration::from_secs(10),
        "the slow client was held for {cut_after:?}"
    );
    assert_eq!(server.get(Some(TOKEN)).await.status, 200);
}

#[tokio::test]
async fn an_issuer_failure_is_5xx_with_code_and_message() {
    let issuer = Arc::new(TestIssuer {
        delay: Duration::ZERO,
        fail: true,
    });
    let server = Running::start("alice", issuer, Limits::default()).await;
    let reply = server.get(Some(TOKEN)).await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.body["Code"], "IssuerError");
    assert!(
        reply.body["Message"]
            .as_str()
            .expect("message")
            .contains("always fails")
    );
    assert_eq!(server.log_lines()[1]["outcome"], "error");
}

#[tokio::test]
async fn a_missing_policy_is_503() {
    let server =
        Running::start_with_policy("alice", Arc::new(LocalIssuer), Limits::default(), None).await;
    let reply = server.get(Some(TOKEN)).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.body["Code"], "PolicyUnavailable");
}

#[tokio::test]
async fn a_request_slower_than_the_request_timeout_is_504() {
    let issuer = Arc::new(TestIssuer {
        delay: Duration::from_secs(5),
        fail: false,
    });
    let limits = Limits {
        request_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let server = Running::start("alice", issuer, limits).await;
    let reply = server.get(Some(TOKEN)).await;
    assert_eq!(reply.status, 504);
    assert_eq!(reply.body["Code"], "RequestTimeout");
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_their_log_lines() {
    let issuer = Arc::new(TestIssuer {
        delay: Duration::from_millis(500),
        fail: false,
    });
    let mut server = Running::start("alice", issuer, Limits::default()).await;
    let addr = server.addr;
    let in_flight: Vec<_> = (0..4)
        .map(|_| {
            let raw = format!(
                "GET /credentials HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {TOKEN}\r\n\r\n"
            );
            tokio::spawn(async move { exchange(addr, raw.as_bytes()).await.status })
        })
        .collect();
    // Shut down once all four are inside the broker (their decisions logged).
    let waiting = Instant::now();
    let complete_lines = |log: &PathBuf| {
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .matches('\n')
            .count()
    };
    while complete_lines(&server.log) < 4 {
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "requests never arrived"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let drained = server.shut_down().await;
    assert_eq!(drained, Drained { abandoned: 0 });
    for request in in_flight {
        assert_eq!(request.await.expect("client"), 200);
    }
    let lines = server.log_lines();
    let issued = lines.iter().filter(|line| line["outcome"] == "issued");
    assert_eq!(issued.count(), 4);
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
}

#[tokio::test]
async fn a_non_loopback_address_needs_the_opt_in() {
    let dir = tempfile::tempdir().expect("dir");
    let broker = Broker::new(
        Arc::new(FileSource::file(dir.path().join("policy.yaml"))),
        Arc::new(DecisionLog::open(&dir.path().join("log")).expect("log")),
        Arc::new(LocalIssuer),
        Duration::from_secs(1),
    );
    let service = CredentialService {
        broker,
        profile: Profile {
            name: "p".into(),
            policy_key: "p".into(),
            role_arn: "arn:aws:iam::123456789012:role/p".into(),
            session_duration: Duration::from_secs(900),
            external_id: None,
        },
        caller: Arc::new(Arc::new(iam_user("alice"))),
        token: Token::generate().expect("token"),
    };
    let error = Server::bind(
        "0.0.0.0:0".parse().expect("addr"),
        false,
        Limits::default(),
        service,
    )
    .await
    .err()
    .expect("refused");
    assert!(error.to_string().contains("--allow-remote"), "{error}");
}

#[tokio::test]
async fn a_decision_log_rotated_away_under_the_server_is_reopened() {
    let server = Running::local("alice").await;
    assert_eq!(server.get(Some(TOKEN)).await.status, 200);
    let rotated = server.log.with_extension("jsonl.1");
    std::fs::rename(&server.log, &rotated).expect("rotate the log");
    assert_eq!(server.get(Some(TOKEN)).await.status, 200);
    let count = |path: &std::path::Path| {
        std::fs::read_to_string(path)
            .expect("a log file")
            .lines()
            .count()
    };
    assert_eq!(
        count(&rotated),
        2,
        "the first request's lines stay where they were"
    );
    assert_eq!(
        server.log_lines().len(),
        2,
        "the second request's lines are in the new file"
    );
}

#[tokio::test]
async fn a_client_that_never_reads_cannot_hold_the_only_connection_slot() {
    let limits = Limits {
        max_connections: 1,
        connection_timeout: Duration::from_millis(300),
        header_timeout: Duration::from_millis(200),
        request_timeout: Duration::from_millis(200),
        ..Limits::default()
    };
    let server = Running::start("bob", Arc::new(LocalIssuer), limits).await;
    // Pipelines requests without end and never reads an answer.
    let mut hog = TcpStream::connect(server.addr).await.expect("connect");
    let request = format!(
        "GET /credentials HTTP/1.1\r\nHost: {}\r\nAuthorization: {TOKEN}\r\n\r\n",
        server.addr
    );
    let hogging =
        tokio::spawn(async move { while hog.write_all(request.as_bytes()).await.is_ok() {} });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Waits in the listen backlog until the hog's connection is closed.
    let started = Instant::now();
    let reply = tokio::time::timeout(Duration::from_secs(10), server.get(Some(TOKEN)))
        .await
        .expect("the second client was never served");
    assert_eq!(
        reply.status, 403,
        "bob is denied; what matters is an answer"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "served after {:?}",
        started.elapsed()
    );
    hogging.abort();
}

/// What a JSON log subscriber wrote, one event per line.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl Captured {
    fn events(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().expect("buffer").clone();
        String::from_utf8(bytes)
            .expect("UTF-8")
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect()
    }
}

#[tokio::test]
async fn a_failure_is_one_log_event_with_its_kind_profile_and_request_id_and_a_deny_is_none() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_writer(captured.clone())
        .finish();
    // This test's runtime runs on this thread only, so the server's events all come here.
    let _events = tracing::subscriber::set_default(subscriber);

    let bob = Running::local("bob").await;
    assert_eq!(bob.get(Some(TOKEN)).await.status, 403);
    assert_eq!(
        captured.events(),
        Vec::<serde_json::Value>::new(),
        "a deny is in the decision log, not the server's log"
    );

    let issuer = Arc::new(TestIssuer {
        delay: Duration::ZERO,
        fail: true,
    });
    let alice = Running::start("alice", issuer, Limits::default()).await;
    assert_eq!(alice.get(Some(TOKEN)).await.status, 502);
    let events = captured.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["level"], "WARN");
    assert_eq!(event["kind"], "issuer");
    assert_eq!(event["span"]["profile"], "production");
    let logged = &alice.log_lines()[0];
    assert_eq!(event["span"]["request_id"], logged["request_id"]);
    assert!(
        event["message"]
            .as_str()
            .is_some_and(|message| message.contains("always fails")),
        "{event}"
    );
}

#[tokio::test]
async fn what_a_caller_sends_reaches_the_servers_log_on_one_line_and_without_escapes() {
    use sentinel_server::remote::{RateLimits, RemoteServer, Security};

    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(captured.clone())
        .finish();
    // This test's runtime runs on this thread only, so the server's events all come here.
    let _events = tracing::subscriber::set_default(subscriber);
    let dir = tempfile::tempdir().expect("temp dir");
    let service = crate::unreachable::service(dir.path(), RateLimits::default());
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let server = RemoteServer::bind(
        addr,
        addr,
        Security::PlainLoopback,
        Limits::default(),
        service,
    )
    .await
    .expect("bind");
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    // A key that would end the log line, forge a "serving" line and turn the terminal red.
    let body = "{\"x\\n2026-12-03T10:00:00Z  INFO serving http://evil\\u001b[31m\": 1}";
    let raw = format!(
        "POST /v1/credentials HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let reply = exchange(addr, raw.as_bytes()).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    let _ = stop.send(());
    task.await.expect("server task");

    let log = String::from_utf8(captured.0.lock().expect("buffer").clone()).expect("UTF-8");
    let refused: Vec<&str> = log.lines().filter(|line| line.contains("WARN")).collect();
    assert_eq!(refused.len(), 1, "one event, one line: {log:?}");
    assert!(
        !log.contains('\u{1b}'),
        "an escape sequence reached the log: {log:?}"
    );
    assert!(
        refused[0].contains("\\u{a}2026-12-03T10:00:00Z  INFO serving http://evil\\u{1b}[31m"),
        "{log:?}"
    );
    assert_eq!(
        log.lines().filter(|line| line.contains("serving")).count(),
        1,
        "no line of its own: {log:?}"
    );
}
