//! Certificates for tests of TLS servers: a fresh CA, and a server certificate it signed for
//! `localhost` and `127.0.0.1`, written as PEM files.

use std::path::{Path, PathBuf};

use sentinel_server::tls::LoopbackCertificates;

/// A test CA and the server certificate it issued, as PEM files in one directory.
pub struct TestCertificates {
    /// The CA certificate clients trust.
    pub ca: PathBuf,
    /// The server's certificate chain.
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
}

impl TestCertificates {
    /// Makes them in `dir`.
    pub fn create(dir: &Path) -> TestCertificates {
        let generated = LoopbackCertificates::generate().expect("test certificates");
        let files = TestCertificates {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server-key.pem"),
        };
        std::fs::write(&files.ca, generated.ca).expect("write CA");
        std::fs::write(&files.cert, generated.cert).expect("write certificate");
        std::fs::write(&files.key, generated.key).expect("write key");
        files
    }
}
