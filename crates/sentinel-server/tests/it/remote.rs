//! The remote server's own defences over real sockets, with the real broker behind them: a
//! flood from one client network is refused (`429`) while another network is served, a body
//! that does not arrive in time is `408`, and a client network gets no more than its share of
//! connections. Loopback gives each test its own client addresses (127.0.0.2, 127.0.0.3…).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use sentinel_server::remote::{Rate, RateLimits, RemoteServer, Security};
use sentinel_server::{Drained, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running remote server (plain HTTP on loopback) and its admin listener.
struct Running {
    addr: SocketAddr,
    admin: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Drained>,
    _dir: tempfile::TempDir,
}

impl Running {
    async fn start(limits: Limits, rate_limits: RateLimits) -> Running {
        let dir = tempfile::tempdir().expect("temp dir");
        let service = crate::unreachable::service(dir.path(), rate_limits);
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let server =
            RemoteServer::bind(loopback, loopback, Security::PlainLoopback, limits, service)
                .await
                .expect("bind");
        let (addr, admin) = (server.local_addr(), server.admin_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Running {
            addr,
            admin,
            stop: Some(stop),
            task,
            _dir: dir,
        }
    }

    async fn shut_down(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.expect("server task");
    }
}

/// A connection to `server` from the loopback address `from`.
async fn connect_from(from: [u8; 4], server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(IpAddr::from(from), 0))
        .expect("bind the client address");
    socket.connect(server).await.expect("connect")
}

/// `raw` sent from `from` to `server`: the whole answer, as text.
async fn exchange_from(from: [u8; 4], server: SocketAddr, raw: &str) -> String {
    let mut stream = connect_from(from, server).await;
    stream.write_all(raw.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status code of an answer.
fn status(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {answer:?}"))
}

/// A credentials request whose JSON body is not one (it is refused before any STS call).
fn unusable_request(server: SocketAddr) -> String {
    format!(
        "POST /v1/credentials HTTP/1.1\r\nHost: {server}\r\nContent-Type: application/json\r\n\
         Content-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    )
}

#[tokio::test]
async fn a_flood_from_one_client_network_is_429_with_retry_after_and_another_is_unaffected() {
    let rates = RateLimits {
        per_client: Rate {
            per_second: 0.5,
            burst: 3,
        },
        ..RateLimits::default()
    };
    let server = Running::start(Limits::default(), rates).await;
    let request = unusable_request(server.addr);
    for _ in 0..3 {
        let answer = exchange_from([127, 0, 0, 2], server.addr, &request).await;
        assert_eq!(status(&answer), 400, "{answer}");
    }
    for _ in 0..5 {
        let answer = exchange_from([127, 0, 0, 2], server.addr, &request).await;
        assert_eq!(status(&answer), 429, "{answer}");
        assert!(answer.contains("\"Code\":\"TooManyRequests\""), "{answer}");
        let retry_after: u64 = answer
            .lines()
            .find_map(|line| line.strip_prefix("retry-after: "))
            .and_then(|seconds| seconds.trim().parse().ok())
            .unwrap_or_else(|| panic!("no Retry-After in {answer}"));
        assert!((1..=2).contains(&retry_after), "{answer}");
    }
    let other = exchange_from([127, 0, 0, 3], server.addr, &request).await;
    assert_eq!(
        status(&other),
        400,
        "another client network is not limited: {other}"
    );
    let metrics = exchange_from(
        [127, 0, 0, 1],
        server.admin,
        &format!(
            "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            server.admin
        ),
    )
    .await;
    assert!(
        metrics.contains(r#"sentinel_refusals_total{kind="client_rate_limited"} 5"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"sentinel_refusals_total{kind="malformed_request"} 4"#),
        "{metrics}"
    );
    server.shut_down().await;
}

#[tokio::test]
async fn a_body_that_does_not_arrive_within_the_body_timeout_is_408() {
    let limits = Limits {
        body_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let server = Running::start(limits, RateLimits::default()).await;
    let mut stream = connect_from([127, 0, 0, 4], server.addr).await;
    let head = format!(
        "POST /v1/credentials HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"profile\"",
        server.addr
    );
    let started = Instant::now();
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(status(&answer), 408, "{answer}");
    assert!(
        answer.contains("\"Code\":\"RequestBodyTimeout\""),
        "{answer}"
    );
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    server.shut_down().await;
}

#[tokio::test]
async fn a_client_network_gets_its_share_of_connections_and_no_more() {
    let limits = Limits {
        max_connections_per_client: 2,
        ..Limits::default()
    };
    let server = Running::start(limits, RateLimits::default()).await;
    let health = format!(
        "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.addr
    );
    let first = connect_from([127, 0, 0, 5], server.addr).await;
    let _second = connect_from([127, 0, 0, 5], server.addr).await;
    // Both are accepted before the third comes: each answers a request of its own.
    let mut third = connect_from([127, 0, 0, 5], server.addr).await;
    let _ = third.write_all(health.as_bytes()).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), third.read_to_end(&mut answer))
        .await
        .expect("the third connection is closed at once");
    assert!(
        read.is_err() || answer.is_empty(),
        "a third connection was served: {}",
        String::from_utf8_lossy(&answer)
    );
    let other = exchange_from([127, 0, 0, 6], server.addr, &health).await;
    assert_eq!(
        status(&other),
        200,
        "another client network is served: {other}"
    );
    drop(first);
    // The closed connection's place comes free as soon as the server sees it closed.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut again = connect_from([127, 0, 0, 5], server.addr).await;
        let _ = again.write_all(health.as_bytes()).await;
        let mut answer = Vec::new();
        let _ = again.read_to_end(&mut answer).await;
        if !answer.is_empty() {
            assert_eq!(status(&String::from_utf8_lossy(&answer)), 200);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the freed place was never given again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.shut_down().await;
}
