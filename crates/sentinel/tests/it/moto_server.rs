//! `sentinel server` end to end against the moto instance that checks every SigV4 signature and
//! IAM decision (role trust policies included): real clients (boto3, the AWS CLI, through
//! `credential_process = sentinel credentials --remote ...`) get the role, the `AssumeRole` that
//! moto received was signed with the broker's key and carries the logged `SourceIdentity`, the
//! caller cannot assume the role themselves, and every kind of bad proof is refused, without a
//! call to STS wherever the proof can be judged before: one made for another profile too, and a
//! proof is accepted once.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use sentinel_aws::proof::{Binding, ProofTarget, sign};
use sentinel_aws::remote::{RemoteClient, RemoteError};
use sentinel_core::issuer::Credentials as Issued;
use sentinel_protocol::{CredentialsRequest, Proof};
use sentinel_testkit::{Moto, RecordedCall, TestCertificates};

use crate::bin::{SENTINEL, isolated, text};

const AUDIENCE: &str = "sentinel.test";
const CALLER_ARN: &str = "import boto3; print(boto3.Session(profile_name='prod').client('sts').get_caller_identity()['Arn'])";

/// Everything one test needs: the signature-checking moto, a broker user allowed to assume the
/// role, the role trusted as `sentinel iam trust-policy` says, callers, certificates and a policy.
struct World {
    moto: Moto,
    dir: tempfile::TempDir,
    certs: TestCertificates,
    broker: Credentials,
    broker_arn: String,
    role_arn: String,
    alice: (String, Credentials),
    bob: (String, Credentials),
}

impl World {
    fn new() -> World {
        let moto = Moto::signed();
        let dir = tempfile::tempdir().expect("temp dir");
        let certs = TestCertificates::create(dir.path());
        let role = Moto::unique("prod");
        let role_arn = format!("arn:aws:iam::123456789012:role/{role}");
        let broker_name = Moto::unique("broker");
        let broker = moto.create_user(&broker_name);
        let broker_arn = format!("arn:aws:iam::123456789012:user/{broker_name}");
        moto.put_user_policy(
            &broker_name,
            &format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["sts:AssumeRole","sts:SetSourceIdentity"],"Resource":"{role_arn}"}},{{"Effect":"Allow","Action":"iam:GetRole","Resource":"*"}}]}}"#
            ),
        );
        let user = |base: &str| {
            let name = Moto::unique(base);
            let key = moto.create_user(&name);
            // Callers may assume anything as far as their own policy goes: only the role's
            // trust policy keeps them out.
            moto.put_user_policy(
                &name,
                r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
            );
            (name, key)
        };
        let alice = user("alice");
        let bob = user("bob");
        let world = World {
            moto,
            dir,
            certs,
            broker,
            broker_arn,
            role_arn,
            alice,
            bob,
        };
        world.write_policy();
        world.write_config("server.yaml", 0, "decisions.jsonl");
        let trust = world.trust_policy();
        world.moto.create_role(&role, &trust);
        world
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write_policy(&self) {
        let policy = format!(
            "version: \"1\"\nrules:\n  - name: allow-alice\n    effect: allow\n    conditions: {{ users: [{}] }}\n",
            self.alice.0
        );
        std::fs::write(self.path("policy.yaml"), policy).expect("policy");
    }

    /// A server configuration listening on `port` (0: any) with its own decision log.
    fn write_config(&self, name: &str, port: u16, log: &str) {
        let config = format!(
            "listen: 127.0.0.1:{port}\n\
             admin_listen: 127.0.0.1:0\n\
             tls:\n  cert: {cert}\n  key: {key}\n\
             audience: {AUDIENCE}\n\
             sts_endpoints: [{moto}]\n\
             insecure_sts_http: true\n\
             region: us-east-1\n\
             decision_log: {log}\n\
             profiles:\n  prod:\n    role_arn: {role}\n    policy: {policy}\n    duration: 15m\n",
            cert = self.certs.cert.display(),
            key = self.certs.key.display(),
            moto = self.moto.endpoint(),
            log = self.path(log).display(),
            role = self.role_arn,
            policy = self.path("policy.yaml").display(),
        );
        std::fs::write(self.path(name), config).expect("server config");
    }

    /// Adds `settings` (top-level YAML keys) to the configuration `name`.
    fn add_to_config(&self, name: &str, settings: &str) {
        let mut config = std::fs::read_to_string(self.path(name)).expect("server config");
        config.push_str(settings);
        std::fs::write(self.path(name), config).expect("server config");
    }

    /// The trust policy `sentinel iam trust-policy` prints for the broker.
    fn trust_policy(&self) -> String {
        let output = Command::new(SENTINEL)
            .args(["iam", "trust-policy", "--profile", "prod", "--broker-role"])
            .arg(&self.broker_arn)
            .arg("--config")
            .arg(self.path("server.yaml"))
            .output()
            .expect("sentinel iam");
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout)
    }

    /// Starts `sentinel server` with `config`, as the broker.
    fn serve(&self, config: &str) -> Server {
        let mut child = Command::new(SENTINEL)
            .args(["server", "--config"])
            .arg(self.path(config))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_ACCESS_KEY_ID", self.broker.access_key_id())
            .env("AWS_SECRET_ACCESS_KEY", self.broker.secret_access_key())
            .env("AWS_ENDPOINT_URL", self.moto.endpoint())
            .env("AWS_CONFIG_FILE", "/nonexistent/sentinel-test/config")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/sentinel-test/credentials",
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sentinel server");
        let (url, admin, start_line) = announced(&mut child);
        Server {
            child,
            url,
            admin,
            start_line,
        }
    }

    /// A command for a caller whose own keys are `key`, with an AWS config file of its own.
    fn caller(&self, program: &str, key: &Credentials, config: &str) -> Command {
        let home = self.path(&format!("home-{}", key.access_key_id()));
        std::fs::create_dir_all(&home).expect("home");
        std::fs::write(home.join("config"), config).expect("config");
        std::fs::write(
            home.join("credentials"),
            format!(
                "[me]\naws_access_key_id = {}\naws_secret_access_key = {}\n{}",
                key.access_key_id(),
                key.secret_access_key(),
                key.session_token()
                    .map(|token| format!("aws_session_token = {token}\n"))
                    .unwrap_or_default()
            ),
        )
        .expect("credentials");
        let mut command = isolated(program, &home);
        command.env("AWS_ENDPOINT_URL", self.moto.endpoint());
        command
    }

    /// `sentinel credentials --remote` as the caller with `key`.
    fn remote_credentials(&self, server: &Server, key: &Credentials) -> Output {
        self.caller(SENTINEL, key, "[profile me]\nregion = us-east-1\n")
            .args([
                "credentials",
                "--remote",
                &server.base(),
                "--audience",
                AUDIENCE,
            ])
            .arg("--cacert")
            .arg(&self.certs.ca)
            .args(["--source-profile", "me", "--profile", "prod"])
            .output()
            .expect("sentinel credentials")
    }

    /// A client of `server` for raw requests.
    fn client(&self, server: &Server) -> RemoteClient {
        RemoteClient::new(
            &server.base(),
            Some(AUDIENCE),
            Some(&self.certs.ca),
            Duration::from_secs(10),
        )
        .expect("client")
    }

    fn log_lines(&self, log: &str) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.path(log))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("whole JSON line"))
            .collect()
    }

    /// The `AssumeRole` requests moto received for the test's role.
    fn assume_role_calls(&self) -> Vec<RecordedCall> {
        self.moto
            .recorded("AssumeRole")
            .into_iter()
            .filter(|call| call.fields.get("RoleArn") == Some(&self.role_arn))
            .collect()
    }

    /// The proofs moto received: `GetCallerIdentity` calls not signed by the broker (which asks
    /// who it is itself when it starts).
    fn get_caller_identity_calls(&self) -> usize {
        let broker = format!("Credential={}/", self.broker.access_key_id());
        self.moto
            .recorded("GetCallerIdentity")
            .iter()
            .filter(|call| {
                let authorization = call.headers["Authorization"].as_str().unwrap_or_default();
                !authorization.contains(&broker)
            })
            .count()
    }

    /// mallory: an IAM user who may assume any role whose trust policy lets her.
    fn mallory(&self) -> (String, Credentials) {
        let name = Moto::unique("mallory");
        let key = self.moto.create_user(&name);
        self.moto.put_user_policy(
            &name,
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}"#,
        );
        (name, key)
    }

    /// A trust policy that lets IAM user `user` assume the role.
    fn trusting(&self, user: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::123456789012:user/{user}"}},"Action":"sts:AssumeRole"}}]}}"#
        )
    }

    /// Where alice's proofs are signed for: moto's STS.
    fn sts_target(&self) -> ProofTarget {
        ProofTarget {
            url: format!("{}/", self.moto.endpoint()),
            region: "us-east-1".into(),
        }
    }

    /// A proof signed now with `key` for this server and `profile`.
    fn proof(&self, key: &Credentials, profile: &str) -> Proof {
        let binding = Binding::fresh(AUDIENCE, profile).expect("nonce");
        sign(key, &self.sts_target(), &binding, SystemTime::now()).expect("signed")
    }
}

/// A running `sentinel server`, stopped (SIGTERM) when dropped.
struct Server {
    child: Child,
    url: String,
    /// The admin listener's base URL.
    admin: String,
    /// What it wrote on stderr up to the line that names its URL.
    start_line: String,
}

impl Server {
    /// The server's base URL (what clients are given).
    fn base(&self) -> String {
        self.url.trim_end_matches("/v1/credentials").to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM asks the server to drain and stop.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Reads the server's standard error until it names the URL it serves: that URL, the admin
/// listener's (announced before it), and the lines read.
fn announced(child: &mut Child) -> (String, String, String) {
    use std::io::{BufRead, BufReader};
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let mut admin = None;
    let mut read = String::new();
    let first_word = |text: &str| text.split_whitespace().next().expect("url").to_owned();
    for line in lines.by_ref() {
        let line = line.expect("server stderr");
        read.push_str(&line);
        read.push('\n');
        if let Some(rest) = line.split("GET /metrics) at ").nth(1) {
            admin = Some(first_word(rest));
        }
        if let Some(rest) = line.split("serving ").nth(1) {
            let url = first_word(rest);
            // Keep draining the server's stderr so it never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            let admin = admin.expect("the admin listener is announced first");
            return (url, admin, read);
        }
        assert!(!line.contains("sentinel: "), "the server failed: {line}");
    }
    panic!("sentinel server exited before serving");
}

#[test]
fn boto3_and_the_cli_get_the_role_through_the_server_and_assume_role_is_the_brokers() {
    let world = World::new();
    world.moto.start_recording();
    let server = world.serve("server.yaml");
    let process = format!(
        "{SENTINEL} credentials --remote {} --audience {AUDIENCE} --cacert {} --source-profile me --profile prod",
        server.base(),
        world.certs.ca.display()
    );
    let config = format!(
        "[profile me]\nregion = us-east-1\n\n[profile prod]\nregion = us-east-1\ncredential_process = {process}\n"
    );
    let (alice, alice_key) = &world.alice;
    let boto3 = world
        .caller(world.moto.python(), alice_key, &config)
        .args(["-c", CALLER_ARN])
        .output()
        .expect("python");
    assert!(boto3.status.success(), "boto3: {}", text(&boto3.stderr));
    let expected = format!(
        "assumed-role/{}/sentinel.{alice}.",
        world.role_arn.rsplit('/').next().expect("role")
    );
    assert!(
        text(&boto3.stdout).contains(&expected),
        "{}",
        text(&boto3.stdout)
    );

    // The AWS CLI, through a profile that names the server instead of flags.
    let cli_config = format!(
        "[profile me]\nregion = us-east-1\n\n\
         [profile prod]\nsentinel_server = {}\nsentinel_audience = {AUDIENCE}\nsentinel_ca_bundle = {}\nsource_profile = me\nregion = us-east-1\n\n\
         [profile prod-sentinel]\nregion = us-east-1\ncredential_process = {SENTINEL} credentials --profile prod\n",
        server.base(),
        world.certs.ca.display()
    );
    let cli = world
        .caller("aws", alice_key, &cli_config)
        .args([
            "sts",
            "get-caller-identity",
            "--profile",
            "prod-sentinel",
            "--output",
            "text",
            "--query",
            "Arn",
        ])
        .output()
        .expect("aws");
    assert!(cli.status.success(), "aws: {}", text(&cli.stderr));
    assert!(
        text(&cli.stdout).contains(&expected),
        "{}",
        text(&cli.stdout)
    );

    let lines = world.log_lines("decisions.jsonl");
    let issued: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line["outcome"] == "issued")
        .collect();
    // One fetch for boto3; the AWS CLI may fetch more than once.
    assert!(issued.len() >= 2, "{lines:?}");
    let alice_arn = format!("arn:aws:iam::123456789012:user/{alice}");
    assert!(
        issued
            .iter()
            .all(|line| line["principal_arn"] == alice_arn.as_str())
    );

    let calls = world.assume_role_calls();
    assert_eq!(calls.len(), issued.len(), "{calls:?}");
    for call in &calls {
        let authorization = call.headers["Authorization"].as_str().unwrap_or_default();
        assert!(
            authorization.contains(&format!("Credential={}/", world.broker.access_key_id())),
            "AssumeRole not signed by the broker: {authorization}"
        );
        assert!(!authorization.contains(alice_key.access_key_id()));
        let identity = call
            .fields
            .get("SourceIdentity")
            .expect("SourceIdentity sent");
        assert!(
            issued
                .iter()
                .any(|line| line["source_identity"] == identity.as_str()),
            "{identity} is not in the decision log"
        );
    }

    // The gate cannot be walked around: alice's own keys may not assume the role.
    let direct = world
        .caller(world.moto.python(), alice_key, "[profile me]\nregion = us-east-1\n")
        .args([
            "-c",
            &format!(
                "import boto3\ntry:\n    boto3.Session(profile_name='me').client('sts').assume_role(RoleArn='{}', RoleSessionName='sentinel.x.0000000000000000', SourceIdentity='sentinel.x.0000000000000000')\nexcept Exception as e:\n    print(e); raise SystemExit(3)\n",
                world.role_arn
            ),
        ])
        .output()
        .expect("python");
    assert_eq!(direct.status.code(), Some(3), "{}", text(&direct.stdout));
    assert!(
        text(&direct.stdout).contains("AccessDenied"),
        "{}",
        text(&direct.stdout)
    );
}

#[test]
fn a_denied_user_gets_a_403_and_no_assume_role() {
    let world = World::new();
    world.moto.start_recording();
    let server = world.serve("server.yaml");
    let (bob, bob_key) = &world.bob;
    let output = world.remote_credentials(&server, bob_key);
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = text(&output.stderr);
    assert!(stderr.contains("403 AccessDenied"), "{stderr}");
    assert!(stderr.contains("default (no rule matched)"), "{stderr}");
    assert!(world.assume_role_calls().is_empty());
    let lines = world.log_lines("decisions.jsonl");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["effect"], "deny");
    assert_eq!(lines[0]["user"], bob.as_str());
    assert_eq!(
        lines[0]["principal_arn"],
        format!("arn:aws:iam::123456789012:user/{bob}")
    );
}

/// The answer to `request`.
fn send(client: &RemoteClient, request: &CredentialsRequest) -> Result<Issued, RemoteError> {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(client.send(request))
}

/// The outcome of sending `request`: the refusal's status and code.
fn refusal(client: &RemoteClient, request: &CredentialsRequest) -> (u16, String, String) {
    match send(client, request) {
        Err(RemoteError::Refused {
            status,
            code,
            message,
            ..
        }) => (status, code, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn bad_proofs_are_refused_and_only_a_well_formed_one_reaches_sts() {
    let world = World::new();
    let server = world.serve("server.yaml");
    let client = world.client(&server);
    let target = world.sts_target();
    let (_, alice_key) = &world.alice;
    let request = |proof| CredentialsRequest {
        profile: "prod".into(),
        proof,
        break_glass: None,
    };
    let signed = |key: &Credentials, target: &ProofTarget, audience: &str, time: SystemTime| {
        let binding = Binding::fresh(audience, "prod").expect("nonce");
        sign(key, target, &binding, time).expect("signed")
    };
    let now = SystemTime::now();
    world.moto.start_recording();

    let mut tampered = signed(alice_key, &target, AUDIENCE, now);
    tampered.body = "Action=AssumeRole&Version=2011-06-15".into();
    let other_audience = signed(alice_key, &target, "someone.else", now);
    let mut unsigned = signed(alice_key, &target, AUDIENCE, now);
    let authorization = unsigned.headers["authorization"].replace(";x-sentinel-audience", "");
    unsigned
        .headers
        .insert("authorization".into(), authorization);
    let stale = signed(alice_key, &target, AUDIENCE, now - Duration::from_secs(600));
    // A listener posing as STS: a proof for it must never be sent there.
    let decoy = TcpListener::bind("127.0.0.1:0").expect("decoy");
    decoy.set_nonblocking(true).expect("nonblocking");
    let decoy_target = ProofTarget {
        url: format!("http://{}/", decoy.local_addr().expect("addr")),
        region: "us-east-1".into(),
    };
    let elsewhere = signed(alice_key, &decoy_target, AUDIENCE, now);
    for (proof, status, code, says) in [
        (tampered, 400, "MalformedProof", "GetCallerIdentity"),
        (other_audience, 401, "InvalidProof", "someone.else"),
        (
            unsigned,
            401,
            "InvalidProof",
            "not among the signed headers",
        ),
        (
            stale,
            401,
            "InvalidProof",
            "behind the server's clock, more than the 5 minutes allowed: the client's clock is slow",
        ),
        (
            elsewhere,
            401,
            "InvalidProof",
            "not one of this server's STS endpoints",
        ),
    ] {
        let (got_status, got_code, message) = refusal(&client, &request(proof));
        assert_eq!((got_status, got_code.as_str()), (status, code), "{message}");
        assert!(message.contains(says), "{message}");
    }
    assert!(
        decoy.accept().is_err(),
        "a proof was sent to a host that is not a configured STS endpoint"
    );
    assert_eq!(
        world.get_caller_identity_calls(),
        0,
        "a refused proof reached STS"
    );

    let wrong_secret = Credentials::new(
        alice_key.access_key_id(),
        "not-the-secret",
        None,
        None,
        "test",
    );
    let (status, code, message) = refusal(
        &client,
        &request(signed(&wrong_secret, &target, AUDIENCE, now)),
    );
    assert_eq!((status, code.as_str()), (401, "ProofRefused"), "{message}");
    assert!(message.contains("SignatureDoesNotMatch"), "{message}");
    assert_eq!(world.get_caller_identity_calls(), 1);
    assert!(
        world.log_lines("decisions.jsonl").is_empty(),
        "no decision without a caller"
    );
}

#[test]
fn a_chosen_session_name_and_a_foreign_account_are_refused_with_a_decision_line() {
    let world = World::new();
    let server = world.serve("server.yaml");
    let (alice, _) = &world.alice;
    let mallory = world.mallory();
    let dev_role = world
        .moto
        .create_role(&Moto::unique("dev"), &world.trusting(&mallory.0));
    let named_alice = world.moto.assume_role(&mallory.1, &dev_role, alice);
    let foreign = world.moto.assume_role(
        &mallory.1,
        "arn:aws:iam::999999999999:role/AWSReservedSSO_Admin_0123",
        alice,
    );
    for key in [&named_alice, &foreign] {
        let output = world.remote_credentials(&server, key);
        assert_eq!(output.status.code(), Some(1));
        let stderr = text(&output.stderr);
        assert!(stderr.contains("403 PrincipalRefused"), "{stderr}");
        for detail in ["arn:", "999999999999", "assumed-role", "session_name_roles"] {
            assert!(
                !stderr.contains(detail),
                "{detail} told to the caller: {stderr}"
            );
        }
    }
    let lines = world.log_lines("decisions.jsonl");
    assert_eq!(lines.len(), 2, "{lines:?}");
    for (line, rule) in lines.iter().zip([
        format!("{dev_role}, which matches none of role/aws-reserved/sso.amazonaws.com/"),
        "the server's caller_accounts: account 999999999999 is not one of 123456789012".to_owned(),
    ]) {
        assert_eq!(line["effect"], "deny");
        assert!(line["rule"].is_null());
        assert!(line["user"].is_null());
        assert!(
            line["principal_arn"]
                .as_str()
                .is_some_and(|arn| arn.ends_with(alice.as_str()))
        );
        let reason = line["reason"].as_str().unwrap_or_default();
        assert!(reason.contains(&rule), "{reason}");
    }
    assert_eq!(lines[1]["account"], "999999999999");
    assert!(world.assume_role_calls().is_empty());
}

/// The path IAM Identity Center creates its roles under, with a region.
const SSO_PATH: &str = "/aws-reserved/sso.amazonaws.com/eu-west-1/";

#[test]
fn a_role_named_like_identity_center_passes_only_under_identity_centers_path() {
    let world = World::new();
    let server = world.serve("server.yaml");
    let (alice, _) = &world.alice;
    let mallory = world.mallory();
    let trust = world.trusting(&mallory.0);
    // mallory may create roles; she names one like Identity Center's, under a path of hers.
    let fake = world
        .moto
        .create_role_at("/team/", &Moto::unique("AWSReservedSSO_fake"), &trust);
    let as_alice = world.moto.assume_role(&mallory.1, &fake, alice);
    let refused = world.remote_credentials(&server, &as_alice);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("403 PrincipalRefused"), "{stderr}");
    assert!(world.assume_role_calls().is_empty());
    // The same session name through a role under Identity Center's path is alice.
    let sso = world
        .moto
        .create_role_at(SSO_PATH, &Moto::unique("AWSReservedSSO_Admin"), &trust);
    let signed_in = world.moto.assume_role(&mallory.1, &sso, alice);
    let issued = world.remote_credentials(&server, &signed_in);
    assert!(issued.status.success(), "{}", text(&issued.stderr));
    let lines = world.log_lines("decisions.jsonl");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0]["user"].is_null(), "{:?}", lines[0]);
    let reason = lines[0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&format!("its role is {fake}, which matches none of")),
        "{reason}"
    );
    assert_eq!(lines[1]["user"], alice.as_str());
    assert_eq!(lines[2]["outcome"], "issued");
    assert!(
        server
            .start_line
            .contains(&format!("as {} (account 123456789012)", world.broker_arn)),
        "{}",
        server.start_line
    );
    assert!(
        server.start_line.contains("insecure_sts_http is on"),
        "{}",
        server.start_line
    );
}

#[test]
fn a_role_deleted_and_created_again_is_refused_while_the_server_knows_the_old_ones_id() {
    let world = World::new();
    let server = world.serve("server.yaml");
    let (alice, _) = &world.alice;
    let mallory = world.mallory();
    let trust = world.trusting(&mallory.0);
    let name = Moto::unique("AWSReservedSSO_Admin");
    let sso = world.moto.create_role_at(SSO_PATH, &name, &trust);
    let first = world.moto.assume_role(&mallory.1, &sso, alice);
    let issued = world.remote_credentials(&server, &first);
    assert!(issued.status.success(), "{}", text(&issued.stderr));
    // The same name and path, a new role: its sessions carry a new unique ID.
    world.moto.delete_role(&name);
    let again = world.moto.create_role_at(SSO_PATH, &name, &trust);
    assert_eq!(again, sso);
    let second = world.moto.assume_role(&mallory.1, &again, alice);
    let refused = world.remote_credentials(&server, &second);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("403 PrincipalRefused"), "{stderr}");
    let lines = world.log_lines("decisions.jsonl");
    let last = lines.last().expect("a decision line");
    assert!(last["user"].is_null(), "{last:?}");
    let reason = last["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("the rule that a session is of the role IAM names")
            && reason.contains(&format!("but role {sso} is AROA")),
        "{reason}"
    );
    assert_eq!(world.assume_role_calls().len(), 1);
}

#[test]
fn a_caller_of_an_unlisted_account_is_told_nothing_of_the_profile_or_its_policy() {
    let world = World::new();
    let missing = world.path("no-such-policy.yaml");
    let config = std::fs::read_to_string(world.path("server.yaml"))
        .expect("config")
        .replace(
            &world.path("policy.yaml").display().to_string(),
            &missing.display().to_string(),
        );
    std::fs::write(world.path("missing.yaml"), config).expect("config");
    let server = world.serve("missing.yaml");
    let client = world.client(&server);
    let mallory = world.mallory();
    let stranger = world.moto.assume_role(
        &mallory.1,
        "arn:aws:iam::999999999999:role/anything",
        "someone",
    );
    let secrets = [
        missing.display().to_string(),
        world.role_arn.clone(),
        world.path("decisions.jsonl").display().to_string(),
        "123456789012".to_owned(),
        "999999999999".to_owned(),
        "arn:".to_owned(),
    ];
    let (status, code, message) = refusal(&client, &asking("prod", world.proof(&stranger, "prod")));
    assert_eq!(
        (status, code.as_str()),
        (403, "PrincipalRefused"),
        "{message}"
    );
    assert_eq!(
        message,
        "this server does not issue credentials to this caller"
    );
    // A stranger cannot tell a served profile from another either.
    let (status, code, _) = refusal(&client, &asking("other", world.proof(&stranger, "other")));
    assert_eq!((status, code.as_str()), (403, "PrincipalRefused"));
    // A caller of a listed account learns that the policy is unavailable, and no more.
    let (_, alice_key) = &world.alice;
    let (status, code, message) = refusal(&client, &asking("prod", world.proof(alice_key, "prod")));
    assert_eq!(
        (status, code.as_str()),
        (503, "PolicyUnavailable"),
        "{message}"
    );
    for secret in &secrets {
        assert!(
            !message.contains(secret.as_str()),
            "{secret} told: {message}"
        );
    }
    // The detail is in the decision log.
    let lines = world.log_lines("decisions.jsonl");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0]["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("caller_accounts"))
    );
    assert!(
        lines[1]["error"]
            .as_str()
            .is_some_and(|error| error.contains("no-such-policy.yaml")),
        "{:?}",
        lines[1]
    );
}

#[test]
fn two_replicas_serve_one_client_alternately_with_one_decision_line_per_request() {
    let world = World::new();
    world.write_config("replica-b.yaml", 0, "decisions-b.jsonl");
    let replicas = [world.serve("server.yaml"), world.serve("replica-b.yaml")];
    let (_, alice_key) = &world.alice;
    for round in 0..4 {
        let output = world.remote_credentials(&replicas[round % 2], alice_key);
        assert!(output.status.success(), "{}", text(&output.stderr));
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
        assert!(
            json["AccessKeyId"]
                .as_str()
                .is_some_and(|id| !id.is_empty())
        );
    }
    for log in ["decisions.jsonl", "decisions-b.jsonl"] {
        let lines = world.log_lines(log);
        let decisions = lines
            .iter()
            .filter(|line| line["event"] == "decision")
            .count();
        let issued = lines
            .iter()
            .filter(|line| line["outcome"] == "issued")
            .count();
        assert_eq!((decisions, issued), (2, 2), "{log}: {lines:?}");
    }
}

#[test]
fn exec_remote_runs_a_command_with_the_role_in_its_environment_or_from_a_local_server() {
    let world = World::new();
    let server = world.serve("server.yaml");
    let (alice, alice_key) = &world.alice;
    let script = "import boto3; print(boto3.client('sts', region_name='us-east-1').get_caller_identity()['Arn'])";
    for local_server in [false, true] {
        let mut command = world.caller(SENTINEL, alice_key, "[profile me]\nregion = us-east-1\n");
        command
            .args(["exec", "--remote", &server.base(), "--audience", AUDIENCE])
            .arg("--cacert")
            .arg(&world.certs.ca)
            .args(["--source-profile", "me", "--profile", "prod"]);
        if local_server {
            command.arg("--server");
        }
        let output = command
            .arg("--")
            .args([world.moto.python(), "-c", script])
            .output()
            .expect("sentinel exec");
        assert!(output.status.success(), "{}", text(&output.stderr));
        let arn = text(&output.stdout);
        assert!(arn.contains(&format!("/sentinel.{alice}.")), "{arn}");
    }
    let issued = world
        .log_lines("decisions.jsonl")
        .iter()
        .filter(|line| line["outcome"] == "issued")
        .count();
    // One fetch for the environment, at least one through the local server (an SDK may
    // refresh credentials of a 15-minute session at once).
    assert!(issued >= 2, "{issued} fetches");
}

/// `request` for `profile`, carrying `proof`.
fn asking(profile: &str, proof: Proof) -> CredentialsRequest {
    CredentialsRequest {
        profile: profile.into(),
        proof,
        break_glass: None,
    }
}

#[test]
fn a_proof_signed_for_one_profile_is_refused_for_another_before_sts_is_asked() {
    let world = World::new();
    let server = world.serve("server.yaml");
    let client = world.client(&server);
    let (_, alice_key) = &world.alice;
    world.moto.start_recording();
    // alice may have prod; a proof she made for staging must not get it.
    let for_staging = world.proof(alice_key, "staging");
    let (status, code, message) = refusal(&client, &asking("prod", for_staging));
    assert_eq!((status, code.as_str()), (401, "InvalidProof"), "{message}");
    assert!(
        message.contains("the proof is for profile \"staging\", not \"prod\""),
        "{message}"
    );
    // A proof that signs no profile at all is refused as well.
    let mut unbound = world.proof(alice_key, "prod");
    unbound.headers.remove("x-sentinel-profile");
    let (status, code, message) = refusal(&client, &asking("prod", unbound));
    assert_eq!((status, code.as_str()), (401, "InvalidProof"), "{message}");
    assert!(message.contains("no X-Sentinel-Profile"), "{message}");
    assert_eq!(
        world.get_caller_identity_calls(),
        0,
        "a refused proof reached STS"
    );
    assert!(
        world.assume_role_calls().is_empty(),
        "{:?}",
        world.assume_role_calls()
    );
    assert!(world.log_lines("decisions.jsonl").is_empty());
    // Her proof for prod works.
    send(&client, &asking("prod", world.proof(alice_key, "prod"))).expect("credentials");
    assert_eq!(world.assume_role_calls().len(), 1);
}

#[test]
fn a_proof_gets_credentials_once_and_is_refused_the_second_time() {
    let world = World::new();
    let server = world.serve("server.yaml");
    let client = world.client(&server);
    let (_, alice_key) = &world.alice;
    world.moto.start_recording();
    let request = asking("prod", world.proof(alice_key, "prod"));
    let issued = send(&client, &request).expect("the first use gets credentials");
    assert!(!issued.access_key_id.is_empty());
    let (status, code, message) = refusal(&client, &request);
    assert_eq!((status, code.as_str()), (401, "ProofReused"), "{message}");
    assert!(message.contains("used before"), "{message}");
    assert_eq!(world.assume_role_calls().len(), 1);
    let lines = world.log_lines("decisions.jsonl");
    assert_eq!(
        lines
            .iter()
            .filter(|line| line["event"] == "decision")
            .count(),
        1,
        "{lines:?}"
    );
}

#[test]
fn of_concurrent_requests_with_one_proof_exactly_one_gets_credentials() {
    let world = World::new();
    let server = world.serve("server.yaml");
    let client = world.client(&server);
    let (_, alice_key) = &world.alice;
    world.moto.start_recording();
    let request = asking("prod", world.proof(alice_key, "prod"));
    let client = std::sync::Arc::new(client);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let answers = runtime.block_on(async {
        let mut sends = tokio::task::JoinSet::new();
        for _ in 0..6 {
            let (client, request) = (std::sync::Arc::clone(&client), request.clone());
            sends.spawn(async move { client.send(&request).await });
        }
        sends.join_all().await
    });
    let issued = answers.iter().filter(|answer| answer.is_ok()).count();
    assert_eq!(issued, 1, "{answers:?}");
    for error in answers.iter().filter_map(|answer| answer.as_ref().err()) {
        assert!(
            matches!(error, RemoteError::Refused { status: 401, code, .. } if code == "ProofReused"),
            "{error}"
        );
    }
    assert_eq!(world.assume_role_calls().len(), 1);
}

#[test]
fn forged_proofs_take_no_place_among_the_seen_and_a_full_store_refuses() {
    let world = World::new();
    let config = std::fs::read_to_string(world.path("server.yaml")).expect("config");
    std::fs::write(
        world.path("one.yaml"),
        format!("{config}max_seen_proofs: 1\n"),
    )
    .expect("config");
    let server = world.serve("one.yaml");
    let client = world.client(&server);
    let (_, alice_key) = &world.alice;
    world.moto.start_recording();
    let forger = Credentials::new(
        alice_key.access_key_id(),
        "not-the-secret",
        None,
        None,
        "test",
    );
    for _ in 0..3 {
        let (status, code, message) =
            refusal(&client, &asking("prod", world.proof(&forger, "prod")));
        assert_eq!((status, code.as_str()), (401, "ProofRefused"), "{message}");
    }
    // The forged proofs took no place: alice's first proof has the only one.
    let first = asking("prod", world.proof(alice_key, "prod"));
    send(&client, &first).expect("credentials");
    let (status, code, message) = refusal(&client, &asking("prod", world.proof(alice_key, "prod")));
    assert_eq!(
        (status, code.as_str()),
        (503, "ProofStoreFull"),
        "{message}"
    );
    assert!(message.contains("1 proofs"), "{message}");
    let (status, code, _) = refusal(&client, &first);
    assert_eq!((status, code.as_str()), (401, "ProofReused"));
    assert_eq!(world.assume_role_calls().len(), 1);
}

#[test]
fn a_principal_over_its_budget_gets_429_with_no_decision_line_and_another_principal_does_not() {
    let world = World::new();
    world.add_to_config(
        "server.yaml",
        "rate_limit_per_principal: {per_second: 0.01, burst: 2}\n",
    );
    let server = world.serve("server.yaml");
    let client = world.client(&server);
    let (_, alice_key) = &world.alice;
    for _ in 0..2 {
        send(&client, &asking("prod", world.proof(alice_key, "prod")))
            .expect("within alice's budget");
    }
    let (status, code, message) = refusal(&client, &asking("prod", world.proof(alice_key, "prod")));
    assert_eq!(
        (status, code.as_str()),
        (429, "TooManyRequests"),
        "{message}"
    );
    assert!(message.contains("this principal"), "{message}");
    // Bob has a budget of his own: the policy decides his request (and denies it).
    let (bob, bob_key) = &world.bob;
    let (status, code, message) = refusal(&client, &asking("prod", world.proof(bob_key, "prod")));
    assert_eq!((status, code.as_str()), (403, "AccessDenied"), "{message}");
    let decisions: Vec<_> = world
        .log_lines("decisions.jsonl")
        .into_iter()
        .filter(|line| line["event"] == "decision")
        .collect();
    assert_eq!(
        decisions.len(),
        3,
        "two for alice, one for bob: {decisions:?}"
    );
    assert_eq!(decisions[2]["user"], bob.as_str());
}

/// Timing-sensitive: a flood of slow connections against the real server must not keep a good
/// client or the probes waiting.
mod timing {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpSocket;
    use tokio_rustls::TlsConnector;

    use super::{World, asking, send};
    use crate::bin::plain_get;

    /// How many slow connections the attacker opens.
    const SLOW: usize = 2_000;

    /// Raises this process's open-file limit (and so its children's) to `wanted`, or as far as
    /// the hard limit allows.
    #[allow(unsafe_code)]
    fn raise_open_files(wanted: u64) {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit read and write the one struct passed, nothing else.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < wanted {
                limit.rlim_cur = wanted.min(limit.rlim_max);
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    }

    /// A TLS connector that trusts the CA at `ca`.
    fn connector(ca: &std::path::Path) -> TlsConnector {
        TlsConnector::from(crate::test_ca::trusting(
            CertificateDer::from_pem_file(ca).expect("CA"),
        ))
    }

    /// One slow client from 127.0.0.2: it connects, completes the handshake (counted in
    /// `in_tls`), sends a credentials request's head and trickles its body a byte every
    /// 200 ms, until the server closes the connection.
    async fn trickle(server: SocketAddr, connector: TlsConnector, in_tls: Arc<AtomicUsize>) {
        let Ok(socket) = TcpSocket::new_v4() else {
            return;
        };
        if socket.bind(SocketAddr::from(([127, 0, 0, 2], 0))).is_err() {
            return;
        }
        let Ok(stream) = socket.connect(server).await else {
            return;
        };
        let name = ServerName::try_from("127.0.0.1").expect("name");
        let Ok(mut tls) = connector.connect(name, stream).await else {
            return;
        };
        in_tls.fetch_add(1, Ordering::Relaxed);
        let head = format!(
            "POST /v1/credentials HTTP/1.1\r\nHost: {server}\r\nContent-Type: application/json\r\n\
             Content-Length: 100000\r\n\r\n"
        );
        if tls.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        while tls.write_all(b" ").await.is_ok() && tls.flush().await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    #[test]
    fn a_good_client_gets_credentials_within_2s_and_healthz_answers_while_2000_slow_connections_press()
     {
        raise_open_files(SLOW as u64 * 2 + 1_024);
        let world = World::new();
        let server = world.serve("server.yaml");
        let address: SocketAddr = server
            .base()
            .trim_start_matches("https://")
            .parse()
            .expect("address");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let in_tls = Arc::new(AtomicUsize::new(0));
        let connector = connector(&world.certs.ca);
        let attack: Vec<_> = (0..SLOW)
            .map(|_| runtime.spawn(trickle(address, connector.clone(), Arc::clone(&in_tls))))
            .collect();
        // Until every slow connection is through its handshake or refused, and as long again.
        let started = Instant::now();
        let mut last = usize::MAX;
        loop {
            std::thread::sleep(Duration::from_millis(250));
            let now = in_tls.load(Ordering::Relaxed);
            if now == last || started.elapsed() > Duration::from_secs(3) {
                break;
            }
            last = now;
        }
        let held = in_tls.load(Ordering::Relaxed);
        assert!(
            held >= 32,
            "only {held} slow connections got through the handshake: the attack is not pressing"
        );

        let client = world.client(&server);
        let (_, alice_key) = &world.alice;
        let request = asking("prod", world.proof(alice_key, "prod"));
        let asked = Instant::now();
        let issued = send(&client, &request).expect("the good client gets credentials");
        let took = asked.elapsed();
        assert!(!issued.access_key_id.is_empty());
        assert!(
            took < Duration::from_secs(2),
            "the good client waited {took:?} behind {held} slow connections"
        );

        let asked = Instant::now();
        let (status, body) = plain_get(&server.admin, "/healthz");
        assert_eq!((status, body.as_str()), (200, "ok\n"));
        assert!(
            asked.elapsed() < Duration::from_secs(2),
            "/healthz took {:?}",
            asked.elapsed()
        );
        let still_running = attack.iter().filter(|task| !task.is_finished()).count();
        assert!(
            still_running >= held.min(32),
            "the slow connections were still open"
        );
        runtime.shutdown_background();
    }
}
