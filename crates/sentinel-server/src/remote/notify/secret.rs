//! The shared secret a webhook's bodies are signed with, and the signature itself: HMAC-SHA256
//! over `"<timestamp>.<body>"`, sent as `X-Sentinel-Signature: sha256=<hex>` with the timestamp
//! (Unix seconds) in `X-Sentinel-Timestamp`, so that a receiver knows the body came from the
//! server, unchanged, and can refuse one replayed later.

use std::fmt;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::Sha256;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-sentinel-signature";
/// The header carrying the signing time, in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-sentinel-timestamp";

/// A webhook's shared secret; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// Reads the secret from `path`: its content without a final line break. A file other
    /// users may read or change is refused (anyone who can read it can forge notifications), as
    /// is an empty one. The error names the file and the problem, never the content.
    pub fn from_file(path: &Path) -> Result<Secret, String> {
        let problem = |what: String| format!("secret_file {}: {what}", path.display());
        let mode = std::fs::metadata(path)
            .map_err(|error| problem(error.to_string()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(problem(format!(
                "other users may read or change it (mode {:o}); make it private: chmod 600 FILE",
                mode & 0o777
            )));
        }
        let mut bytes = std::fs::read(path).map_err(|error| problem(error.to_string()))?;
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            if bytes.last() == Some(&b'\r') {
                bytes.pop();
            }
        }
        if bytes.is_empty() {
            return Err(problem("it is empty".to_owned()));
        }
        Ok(Secret(bytes))
    }

    /// The secret `bytes` (tests).
    #[cfg(test)]
    pub(crate) fn of(bytes: &[u8]) -> Secret {
        Secret(bytes.to_vec())
    }

    /// The `X-Sentinel-Signature` value of `body` signed at `timestamp` (Unix seconds):
    /// `sha256=` and the lowercase hex HMAC-SHA256 of `"<timestamp>.<body>"`.
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        // HMAC takes a key of any length.
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts any key");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        let digest = mac.finalize().into_bytes();
        let mut signature = String::with_capacity(7 + 2 * digest.len());
        signature.push_str("sha256=");
        for byte in digest {
            signature.push_str(&format!("{byte:02x}"));
        }
        signature
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn signs_timestamp_dot_body_with_hmac_sha256() {
        // python3 -c 'import hmac,hashlib;print(hmac.new(b"key",b"0.hello",hashlib.sha256).hexdigest())'
        assert_eq!(
            Secret::of(b"key").sign(0, b"hello"),
            "sha256=552b25b10c33de2db9fe7fa273d44ab105d596c023fa954d01444d4642487149"
        );
        let secret = Secret::of(b"key");
        assert_ne!(secret.sign(1, b"hello"), secret.sign(0, b"hello"));
        assert_ne!(
            Secret::of(b"other").sign(0, b"hello"),
            secret.sign(0, b"hello")
        );
    }

    #[test]
    fn a_secret_file_must_be_private_and_not_empty() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("secret");
        let mut file = std::fs::File::create(&path).expect("create");
        file.write_all(b"s3cret\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let refused = Secret::from_file(&path).expect_err("group-readable");
        assert!(refused.contains("mode 640"), "{refused}");
        assert!(!refused.contains("s3cret"), "{refused}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(
            Secret::from_file(&path).expect("private"),
            Secret::of(b"s3cret")
        );
        std::fs::write(&path, b"\n").expect("write");
        assert!(
            Secret::from_file(&path)
                .expect_err("empty")
                .contains("empty")
        );
        let missing = Secret::from_file(&dir.path().join("absent")).expect_err("missing");
        assert!(missing.contains("absent"), "{missing}");
    }
}
