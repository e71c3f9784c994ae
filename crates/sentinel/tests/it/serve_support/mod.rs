//! What the `sentinel serve` tests share: an AWS setup in a temporary directory (moto users, a
//! config with an assume-role profile, a file policy, a decision log), and a running
//! `sentinel serve` child that is always stopped, whatever the test does.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use sentinel_testkit::{AwsHome, Moto};

use crate::bin::SENTINEL;

/// The role the `production` profile assumes.
pub const ROLE: &str = "arn:aws:iam::123456789012:role/prod";

const POLICY: &str = r#"
version: "1"
rules:
  - name: deny-bob-production
    effect: deny
    conditions: { users: [bob], profiles: [production] }
    reason: bob is read-only in production
  - name: allow-production
    effect: allow
    conditions: { profiles: [production] }
"#;

/// A temporary AWS setup in which `user` asks for the `production` profile.
pub struct Setup {
    /// The emulator.
    pub moto: Moto,
    home: AwsHome,
}

impl Setup {
    /// Creates IAM user `user` in moto and a `production` profile sourced from its keys.
    pub fn new(user: &str) -> Setup {
        Setup::in_home(user, Moto::home)
    }

    /// [`Setup::new`] with its files, the decision log included, on a memory-backed
    /// filesystem: for tests that time the pipeline, not the disk.
    pub fn in_memory(user: &str) -> Setup {
        Setup::in_home(user, Moto::home_in_memory)
    }

    fn in_home(user: &str, home: fn(&Moto) -> AwsHome) -> Setup {
        let moto = Moto::connect();
        let home = home(&moto);
        home.write("policy.yaml", POLICY);
        home.write(
            "credentials",
            &AwsHome::credentials_section("base", &moto.create_user(user)),
        );
        home.write(
            "config",
            &format!(
                "[profile production]\nrole_arn = {ROLE}\nsource_profile = base\n\
                 region = us-east-1\nduration_seconds = 900\nsentinel_policy = {}\n",
                home.path("policy.yaml").display()
            ),
        );
        Setup { moto, home }
    }

    /// A file in the setup's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.home.path(name)
    }

    /// A command that sees moto, this setup's files and nothing of the host's AWS setup.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        self.home.command(program)
    }

    /// A client command that has only the emulator's address: no keys, no profiles; it gets
    /// credentials from `server` or not at all.
    pub fn client(&self, program: impl AsRef<std::ffi::OsStr>, server: &Serving) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_ENDPOINT_URL", self.moto.endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/nonexistent/config")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", &server.url)
            .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", &server.token);
        command
    }

    /// Starts `sentinel serve --profile production` with `extra` flags and waits for its
    /// announcement.
    pub fn serve(&self, extra: &[&str]) -> Serving {
        let mut command = self.command(SENTINEL);
        command
            .args(["serve", "--profile", "production"])
            .args(extra);
        Serving::start(command)
    }

    /// The decision log's lines, parsed.
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        self.home.log_lines()
    }
}

/// A running `sentinel serve`; killed on drop if the test did not stop it.
pub struct Serving {
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI`.
    pub url: String,
    /// The token (`AWS_CONTAINER_AUTHORIZATION_TOKEN`, or the token file's content).
    pub token: String,
    /// The lines the server printed on stdout at start.
    pub announced: Vec<String>,
    child: Child,
}

impl Serving {
    /// Starts `command` (a `sentinel serve` invocation) and waits for its announcement.
    pub fn start(mut command: Command) -> Serving {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sentinel serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut announced = Vec::new();
        for _ in 0..2 {
            if let Some(Ok(line)) = lines.next() {
                announced.push(line);
            } else {
                let _ = child.kill();
                let output = child.wait_with_output().expect("wait");
                panic!(
                    "sentinel serve did not start: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
        let value = |name: &str| {
            announced
                .iter()
                .find_map(|line| line.strip_prefix(&format!("export {name}=")))
                .map(str::to_owned)
        };
        let url = value("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            .unwrap_or_else(|| panic!("no URL in {announced:?}"));
        let token = value("AWS_CONTAINER_AUTHORIZATION_TOKEN")
            .or_else(|| {
                let path = value("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")?;
                std::fs::read_to_string(path).ok()
            })
            .unwrap_or_else(|| panic!("no token in {announced:?}"));
        Serving {
            url,
            token,
            announced,
            child,
        }
    }

    /// Sends SIGTERM and waits (at most 30 s) for the server to exit; returns its status and
    /// its stderr.
    pub fn terminate(mut self) -> (ExitStatus, String) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success(), "could not signal the server");
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop within 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        (status, stderr)
    }

    /// `GET /credentials` with the token, as a container-credentials client sends it; the
    /// whole response, head and body.
    pub fn get(&self) -> String {
        let authority = self
            .url
            .strip_prefix("http://")
            .and_then(|rest| rest.split('/').next())
            .expect("an http:// URL");
        let mut stream = std::net::TcpStream::connect(authority).expect("connect");
        write!(
            stream,
            "GET /credentials HTTP/1.1\r\nHost: {authority}\r\nAuthorization: {}\r\n\
             Connection: close\r\n\r\n",
            self.token
        )
        .expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        response
    }

    /// `Authorization: <token>`, as `sentinel load --header` takes it.
    pub fn auth_header(&self) -> String {
        format!("Authorization: {}", self.token)
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `sentinel load` against `server` with `args`; returns its JSON report.
pub fn load(setup: &Setup, server: &Serving, args: &[&str]) -> serde_json::Value {
    let output = setup
        .command(SENTINEL)
        .args([
            "load",
            "--url",
            &server.url,
            "--header",
            &server.auth_header(),
        ])
        .args(["--json", "--quiet"])
        .args(args)
        .output()
        .expect("run sentinel load");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "no JSON report from sentinel load: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The number of decision-log lines whose `field` is `value`.
pub fn count(lines: &[serde_json::Value], field: &str, value: &str) -> usize {
    lines.iter().filter(|line| line[field] == value).count()
}
