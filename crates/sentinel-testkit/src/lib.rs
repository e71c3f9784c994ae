//! Test support for the tests that talk to AWS: they talk to a real local emulator (moto server),
//! started on 127.0.0.1 by `scripts/test.sh`, through the official SDK. Fixtures that the SDK
//! crates we link cannot create (IAM users and their keys) are made with boto3, a real client.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// The region every test uses.
pub const REGION: &str = "us-east-1";

mod signed;
#[cfg(feature = "tls")]
mod tls;

#[cfg(feature = "tls")]
pub use tls::TestCertificates;

/// A temporary directory on a memory-backed filesystem: `/dev/shm` where it exists and takes
/// one, else the system's temporary directory. A timing test keeps its decision log here, so
/// that its figures measure the pipeline, not the disk's syncs (which a machine busy writing
/// back a build can stretch to a hundred milliseconds).
pub fn memory_tempdir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = tempfile::tempdir_in(shm)
    {
        return dir;
    }
    tempfile::tempdir().expect("temp dir")
}

/// A running moto server, reset to an empty state.
pub struct Moto {
    endpoint: String,
    python: String,
    /// The keys fixtures are made with (any keys where moto checks no signature).
    admin: Credentials,
}

impl Moto {
    /// Connects to the moto server named by `SENTINEL_TEST_MOTO_URL` and resets it; panics with
    /// a clear message when the variable is missing (run the tests through `scripts/test.sh`).
    pub fn connect() -> Moto {
        let endpoint = std::env::var("SENTINEL_TEST_MOTO_URL").unwrap_or_else(|_| {
            panic!("SENTINEL_TEST_MOTO_URL is not set: run the tests with scripts/test.sh, which starts moto")
        });
        let python = std::env::var("SENTINEL_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let moto = Moto {
            endpoint,
            python,
            admin: Credentials::new("testing", "testing", None, None, "sentinel-testkit"),
        };
        moto.reset();
        moto
    }

    /// The emulator's base URL, e.g. `http://127.0.0.1:5000`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Clears every resource and the request recording.
    pub fn reset(&self) {
        self.request("POST", "/moto-api/reset", "");
        self.request("POST", "/moto-api/recorder/reset-recording", "");
    }

    /// Starts recording the requests moto receives.
    pub fn start_recording(&self) {
        self.request("POST", "/moto-api/recorder/start-recording", "");
    }

    /// The recorded requests, one JSON object each (moto's recorder format).
    pub fn recording(&self) -> Vec<serde_json::Value> {
        let body = self.request("GET", "/moto-api/recorder/download-recording", "");
        body.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).expect("moto recorder line is JSON"))
            .collect()
    }

    /// The form fields of every recorded AWS Query API call (STS, IAM, ...) whose `Action` is
    /// `action`, in the order moto received them.
    pub fn recorded_calls(&self, action: &str) -> Vec<HashMap<String, String>> {
        self.recorded(action)
            .into_iter()
            .map(|call| call.fields)
            .collect()
    }

    /// Every recorded AWS Query API call whose `Action` is `action`, with its headers.
    pub fn recorded(&self, action: &str) -> Vec<RecordedCall> {
        self.recording()
            .iter()
            .filter_map(|request| {
                let body = request["body"].as_str()?;
                let body = if request["body_encoded"] == true {
                    BASE64.decode(body).ok()?
                } else {
                    body.as_bytes().to_vec()
                };
                let fields: HashMap<String, String> =
                    form_urlencoded::parse(&body).into_owned().collect();
                (fields.get("Action").map(String::as_str) == Some(action)).then(|| RecordedCall {
                    fields,
                    headers: request["headers"].clone(),
                })
            })
            .collect()
    }

    /// An SDK config that reaches moto with test credentials, as a user's environment would.
    pub async fn sdk_config(&self) -> SdkConfig {
        self.sdk_config_with(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "sentinel-testkit",
        ))
        .await
    }

    /// An SDK config that reaches moto with the given credentials.
    pub async fn sdk_config_with(&self, credentials: Credentials) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .http_client(sentinel_aws::sdk::http_client())
            .region(Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(credentials)
            .load()
            .await
    }

    /// Environment for a child process (the `sentinel` binary, boto3, the AWS CLI) that must use
    /// moto and nothing from the host's own AWS setup.
    pub fn child_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", REGION.into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            (
                "AWS_CONFIG_FILE",
                "/nonexistent/sentinel-test/config".into(),
            ),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/sentinel-test/credentials".into(),
            ),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ]
    }

    /// A fresh temporary AWS home for child processes that use this emulator.
    pub fn home(&self) -> AwsHome {
        self.home_in(tempfile::tempdir().expect("temp dir"))
    }

    /// [`Moto::home`] in a [`memory_tempdir`], its decision log included.
    pub fn home_in_memory(&self) -> AwsHome {
        self.home_in(memory_tempdir())
    }

    fn home_in(&self, dir: tempfile::TempDir) -> AwsHome {
        AwsHome {
            dir,
            env: self.child_env(),
        }
    }

    /// Creates an IAM user with an access key (through boto3) and returns its credentials.
    pub fn create_user(&self, name: &str) -> Credentials {
        let script = r#"
import sys, json, boto3
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id=sys.argv[3], aws_secret_access_key=sys.argv[4])
iam.create_user(UserName=sys.argv[2])
key = iam.create_access_key(UserName=sys.argv[2])["AccessKey"]
print(json.dumps({"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}))
"#;
        let admin = [self.admin.access_key_id(), self.admin.secret_access_key()];
        self.boto3_credentials(
            &format!("creating IAM user {name}"),
            script,
            &[name, admin[0], admin[1]],
        )
    }

    /// Assumes `role_arn` with `key` under `session_name` (through boto3) and returns the
    /// session's credentials: a caller whose ARN is `assumed-role/<role>/<session_name>`.
    pub fn assume_role(
        &self,
        key: &Credentials,
        role_arn: &str,
        session_name: &str,
    ) -> Credentials {
        let script = r#"
import sys, json, boto3
sts = boto3.client("sts", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
c = sts.assume_role(RoleArn=sys.argv[4], RoleSessionName=sys.argv[5])["Credentials"]
print(json.dumps({"id": c["AccessKeyId"], "secret": c["SecretAccessKey"], "token": c["SessionToken"]}))
"#;
        self.boto3_credentials(
            &format!("assuming {role_arn} as {session_name}"),
            script,
            &[
                key.access_key_id(),
                key.secret_access_key(),
                role_arn,
                session_name,
            ],
        )
    }

    /// Runs the boto3 `script` with this emulator's endpoint and `args` as its arguments, and
    /// reads the credentials it prints (`{"id", "secret"}`, and `"token"` for a session).
    fn boto3_credentials(&self, doing: &str, script: &str, args: &[&str]) -> Credentials {
        let output = Command::new(&self.python)
            .args(["-c", script, &self.endpoint])
            .args(args)
            .output()
            .expect("run python with boto3 (scripts/test.sh installs it)");
        assert!(
            output.status.success(),
            "{doing} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let key: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("credentials JSON");
        let field = |name: &str| key[name].as_str().map(str::to_owned);
        Credentials::new(
            field("id").expect("an access key ID"),
            field("secret").expect("a secret key"),
            field("token"),
            None,
            "sentinel-testkit",
        )
    }

    /// The Python interpreter that has boto3 and the AWS CLI installed.
    pub fn python(&self) -> &str {
        &self.python
    }

    fn request(&self, method: &str, path: &str, body: &str) -> String {
        let authority = self
            .endpoint
            .strip_prefix("http://")
            .expect("moto endpoint is http://host:port");
        let mut stream = TcpStream::connect(authority).expect("connect to moto");
        write!(
            stream,
            "{method} {path} HTTP/1.0\r\nHost: {authority}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("write to moto");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("read from moto");
        let (head, body) = response
            .split_once("\r\n\r\n")
            .expect("HTTP response from moto");
        assert!(
            head.starts_with("HTTP/1.1 2") || head.starts_with("HTTP/1.0 2"),
            "moto answered {method} {path} with {head}"
        );
        body.to_owned()
    }
}

/// One AWS Query API call as moto recorded it.
#[derive(Debug, Clone)]
pub struct RecordedCall {
    /// The form fields (`Action`, `RoleArn`, ...).
    pub fields: HashMap<String, String>,
    /// The request headers, `Authorization` among them.
    pub headers: serde_json::Value,
}

/// A temporary directory standing in for a user's AWS setup: `config` and `credentials` files
/// and `decisions.jsonl`, for child processes that must see moto and nothing of the host's own
/// AWS setup or static keys.
pub struct AwsHome {
    dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
}

impl AwsHome {
    /// A file in this home.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes (replacing) a file in this home.
    pub fn write(&self, name: &str, contents: &str) {
        std::fs::write(self.path(name), contents).expect("write to the AWS home");
    }

    /// A `credentials` file section naming `profile`, holding `key` (and its session token).
    pub fn credentials_section(profile: &str, key: &Credentials) -> String {
        let token = key
            .session_token()
            .map(|token| format!("aws_session_token = {token}\n"))
            .unwrap_or_default();
        format!(
            "[{profile}]\naws_access_key_id = {}\naws_secret_access_key = {}\n{token}\n",
            key.access_key_id(),
            key.secret_access_key()
        )
    }

    /// A command whose AWS setup is this home's files and the emulator (no static keys; `HOME`
    /// and `SENTINEL_DECISION_LOG` point here too).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        for (key, value) in &self.env {
            if !matches!(*key, "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY") {
                command.env(key, value);
            }
        }
        command
            .env("AWS_CONFIG_FILE", self.path("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.path("credentials"))
            .env("SENTINEL_DECISION_LOG", self.path("decisions.jsonl"))
            .env("HOME", self.dir.path());
        command
    }

    /// The decision log's lines, parsed (none if it does not exist yet).
    pub fn log_lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.path("decisions.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("whole JSON line"))
            .collect()
    }
}
