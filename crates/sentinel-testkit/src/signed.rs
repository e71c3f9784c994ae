//! The second emulator instance, the one that checks signatures: `scripts/test.sh` starts it
//! with `INITIAL_NO_AUTH_ACTION_COUNT`, makes an administrator in the unchecked actions, and
//! from then on moto verifies every SigV4 signature (a wrong secret is `SignatureDoesNotMatch`)
//! and every IAM decision (user policies, and role trust policies on `AssumeRole`). It cannot be
//! reset (the administrator would be gone with nobody left to recreate it), so each test names
//! its fixtures uniquely with [`Moto::unique`].

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_credential_types::Credentials;

use crate::Moto;

/// Gives every name asked for in this process a different suffix.
static NAMES: AtomicUsize = AtomicUsize::new(0);

impl Moto {
    /// Connects to the signature-checking moto named by `SENTINEL_TEST_MOTO_AUTH_URL`, with the
    /// administrator key in `SENTINEL_TEST_MOTO_AUTH_ADMIN` (`ID:SECRET`); panics with a clear
    /// message when they are missing (run the tests with scripts/test.sh). Clears its recording.
    pub fn signed() -> Moto {
        let variable = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!("{name} is not set: run the tests with scripts/test.sh, which starts the signature-checking moto")
            })
        };
        let endpoint = variable("SENTINEL_TEST_MOTO_AUTH_URL");
        let admin = variable("SENTINEL_TEST_MOTO_AUTH_ADMIN");
        let (id, secret) = admin
            .split_once(':')
            .expect("SENTINEL_TEST_MOTO_AUTH_ADMIN is ID:SECRET");
        let python = std::env::var("SENTINEL_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let moto = Moto {
            endpoint,
            python,
            admin: Credentials::new(id, secret, None, None, "sentinel-testkit"),
        };
        moto.request("POST", "/moto-api/recorder/reset-recording", "");
        moto
    }

    /// `base` with a suffix no other fixture of this test run has.
    pub fn unique(base: &str) -> String {
        let count = NAMES.fetch_add(1, Ordering::Relaxed);
        format!("{base}-{}x{count}", std::process::id())
    }

    /// Gives IAM user `user` the inline policy `policy` (JSON).
    pub fn put_user_policy(&self, user: &str, policy: &str) {
        self.boto3(
            r#"iam.put_user_policy(UserName=args[0], PolicyName="test", PolicyDocument=args[1])
print("{}")"#,
            &[user, policy],
        );
    }

    /// Creates role `name`, trusted as `trust_policy` (JSON) says, and returns its ARN.
    pub fn create_role(&self, name: &str, trust_policy: &str) -> String {
        self.create_role_at("/", name, trust_policy)
    }

    /// Creates role `name` under `path` (`/`, or `/a/b/`), trusted as `trust_policy` (JSON)
    /// says, and returns its ARN (the path included).
    pub fn create_role_at(&self, path: &str, name: &str, trust_policy: &str) -> String {
        let created = self.boto3(
            r#"role = iam.create_role(Path=args[0], RoleName=args[1], AssumeRolePolicyDocument=args[2])["Role"]
print(json.dumps({"arn": role["Arn"]}))"#,
            &[path, name, trust_policy],
        );
        created["arn"].as_str().expect("role ARN").to_owned()
    }

    /// Deletes role `name` (it must have no policies attached).
    pub fn delete_role(&self, name: &str) {
        self.boto3(
            r#"iam.delete_role(RoleName=args[0])
print("{}")"#,
            &[name],
        );
    }

    /// Runs `body` (Python, with `iam` an IAM client of the administrator and `args` the
    /// strings given) and parses the JSON it prints.
    fn boto3(&self, body: &str, args: &[&str]) -> serde_json::Value {
        let script = format!(
            "import sys, json, boto3\n\
             iam = boto3.client('iam', endpoint_url=sys.argv[1], region_name='us-east-1',\n\
                                aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])\n\
             args = sys.argv[4:]\n{body}\n"
        );
        let output = Command::new(&self.python)
            .args(["-c", &script, &self.endpoint])
            .args([self.admin.access_key_id(), self.admin.secret_access_key()])
            .args(args)
            .output()
            .expect("run python with boto3 (scripts/test.sh installs it)");
        assert!(
            output.status.success(),
            "boto3 failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("boto3 printed JSON")
    }
}
