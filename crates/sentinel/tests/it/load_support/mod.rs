//! What the `sentinel load --url` tests share: a hyper server that behaves (or misbehaves) by
//! path, nginx for the behaviours a real server's configuration gives, and the helpers that
//! run the binary and read its report.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

/// How long `/stall` answers before it stops answering at all.
pub const STALL_AFTER: Duration = Duration::from_secs(4);
/// Which request `/late` delays, counted from the server's first.
pub const LATE_REQUEST: usize = 2500;
/// How long `/late` delays it.
pub const LATE_BY: Duration = Duration::from_millis(1900);

/// What one server has seen.
#[derive(Default)]
struct Seen {
    first_request: OnceLock<Instant>,
    requests: AtomicUsize,
    last_authorization: std::sync::Mutex<Option<String>>,
}

/// A hyper server on its own runtime thread: `/ok` answers 200, `/busy` 503, `/echo` 200 only
/// for a `POST` with `X-Test: yes` and the body `hello` (400 otherwise), `/slow` after 10 ms,
/// `/stall` normally for [`STALL_AFTER`] from its first request and then never, `/late` at
/// once except the [`LATE_REQUEST`]th request, [`LATE_BY`] late. The handle says what it saw.
pub fn server() -> Server {
    let (tx, rx) = std::sync::mpsc::channel();
    let seen = Arc::new(Seen::default());
    let shared = Arc::clone(&seen);
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
                let seen = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(request, Arc::clone(&seen)));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    Server {
        addr: rx.recv().unwrap(),
        seen,
    }
}

/// A running test server.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    seen: Arc<Seen>,
}

impl Server {
    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The `Authorization` header of the last request.
    pub fn last_authorization(&self) -> Option<String> {
        self.seen.last_authorization.lock().unwrap().clone()
    }
}

async fn answer(
    request: Request<Incoming>,
    seen: Arc<Seen>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let first = *seen.first_request.get_or_init(Instant::now);
    let number = seen.requests.fetch_add(1, Ordering::SeqCst) + 1;
    *seen.last_authorization.lock().unwrap() = request
        .headers()
        .get("authorization")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let status = match request.uri().path() {
        "/ok" => StatusCode::OK,
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(10)).await;
            StatusCode::OK
        }
        "/stall" => {
            if first.elapsed() >= STALL_AFTER {
                std::future::pending::<()>().await;
            }
            StatusCode::OK
        }
        "/late" => {
            if number == LATE_REQUEST {
                tokio::time::sleep(LATE_BY).await;
            }
            StatusCode::OK
        }
        "/echo" => {
            let post = request.method() == hyper::Method::POST;
            let header = request.headers().get("x-test").is_some_and(|v| v == "yes");
            let body = request
                .into_body()
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes);
            if post && header && body.is_ok_and(|b| b == "hello") {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            }
        }
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
    *response.status_mut() = status;
    Ok(response)
}

/// Raises this process's soft open-file limit to its hard limit, so that a test server can
/// accept as many connections as the runs under test open; panics if the hard limit is below
/// `needed`.
#[allow(unsafe_code)]
pub fn allow_open_files(needed: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read or write the rlimit passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    assert!(
        limit.rlim_max >= needed,
        "this test needs {needed} open files; the hard limit is {}",
        limit.rlim_max
    );
}

/// An address nothing listens on.
pub fn refusing_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// Debian's nginx, one worker process, answering `ok` to everything and closing a kept-alive
/// connection once it has been idle for `keepalive_timeout`; stopped when dropped.
pub struct Nginx {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx (installed by the test script) with `keepalive_timeout` as given.
    pub fn start(keepalive_timeout: &str) -> Self {
        let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .map(PathBuf::from)
            .find(|path| path.exists())
            .expect("nginx is not installed: scripts/test.sh installs it (apt-get install nginx)");
        let dir = tempfile::tempdir().unwrap();
        let addr = refusing_addr();
        let config = format!(
            "worker_processes 1;\ndaemon off;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  keepalive_timeout {keepalive_timeout};\n\
             \x20 server {{\n    listen {addr};\n    location / {{ return 200 \"ok\"; }}\n  }}\n}}\n",
            dir = dir.path().display()
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, config).unwrap();
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nginx did not start: {}",
                std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for Nginx {
    /// Stops nginx with SIGTERM, on which its master stops the worker too (a SIGKILL would
    /// leave the worker running, orphaned), and kills it if it is not gone within 5 s.
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: kill(2) with the pid of our own child; it touches no memory of ours.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let asked = Instant::now();
        while matches!(self.child.try_wait(), Ok(None)) && asked.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `sentinel load ARGS`, run to its end.
pub fn sentinel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .arg("load")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `sentinel load ARGS` started, its output piped.
pub fn spawn_sentinel(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .arg("load")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Sends SIGINT (Ctrl-C) to `child`.
pub fn interrupt(child: &Child) {
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
}

/// The one JSON object on stdout.
pub fn json(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.lines().count(),
        1,
        "one JSON object on stdout: {stdout}\nstderr: {}",
        stderr(output)
    );
    serde_json::from_str(&stdout).unwrap()
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
