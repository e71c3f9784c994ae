//! Certificates for tests of TLS servers: a fresh CA, and a server certificate it signed for
//! `localhost` and `127.0.0.1`, written as PEM files.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};

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
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned()]).expect("server params");
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        let server_cert = params
            .signed_by(&server_key, &issuer)
            .expect("server certificate");

        let files = TestCertificates {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server-key.pem"),
        };
        std::fs::write(&files.ca, ca_cert.pem()).expect("write CA");
        std::fs::write(&files.cert, server_cert.pem()).expect("write certificate");
        std::fs::write(&files.key, server_key.serialize_pem()).expect("write key");
        files
    }
}
