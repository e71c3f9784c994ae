//! `sentinel credentials --remote` names the cause of a TLS failure, with its fix: each test
//! points it at a real TLS server that presents one wrong certificate.

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use rcgen::{CertificateParams, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::bin::{SENTINEL, isolated, stderr};
use crate::test_ca::{Ca, for_loopback};

/// A TLS server on loopback that presents `cert`, serving handshakes until the test ends; its
/// `https://` URL.
fn serve(cert: CertificateDer<'static>, key: &KeyPair) -> String {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("server config"),
    );
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("https://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut connection = rustls::ServerConnection::new(config.clone()).expect("session");
            // The client refuses the certificate: the handshake ends with its alert.
            while connection.is_handshaking() && connection.complete_io(&mut stream).is_ok() {}
        }
    });
    url
}

/// `sentinel credentials --remote URL` with fake base credentials, trusting `ca` if given; what
/// it wrote on standard error, once it failed.
fn credentials(dir: &Path, url: &str, ca: Option<&str>) -> String {
    let mut command = isolated(SENTINEL, dir);
    command
        .args([
            "credentials",
            "--remote",
            url,
            "--audience",
            "sentinel.test",
        ])
        .args(["--profile", "prod"])
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        )
        .env("AWS_REGION", "us-east-1");
    if let Some(ca) = ca {
        let file = dir.join("ca.pem");
        std::fs::write(&file, ca).expect("CA file");
        command.arg("--cacert").arg(file);
    }
    let output = command.output().expect("sentinel runs");
    assert!(
        !output.status.success(),
        "it succeeded against a bad certificate"
    );
    let text = stderr(&output);
    assert!(!text.contains("io error"), "{text}");
    text
}

#[test]
fn an_untrusted_issuer_says_to_pass_the_ca_with_cacert() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = Ca::new();
    let (cert, key) = ca.issue(&for_loopback());
    let url = serve(cert.der().clone(), &key);
    let text = credentials(dir.path(), &url, None);
    assert!(
        text.contains("the certificate of 127.0.0.1 is not signed by a CA this machine trusts"),
        "{text}"
    );
    assert!(text.contains("--cacert FILE"), "{text}");
}

#[test]
fn a_name_mismatch_names_the_host_asked_for_and_the_names_the_certificate_carries() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = Ca::new();
    let params = CertificateParams::new(vec!["sentinel.other.test".to_owned()]).expect("params");
    let (cert, key) = ca.issue(&params);
    let url = serve(cert.der().clone(), &key);
    let text = credentials(dir.path(), &url, Some(&ca.pem));
    assert!(
        text.contains("is not valid for the name 127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("it carries sentinel.other.test"), "{text}");
}

#[test]
fn an_expired_certificate_says_when_it_expired() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = Ca::new();
    let mut params = for_loopback();
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    let (cert, key) = ca.issue(&params);
    let url = serve(cert.der().clone(), &key);
    let text = credentials(dir.path(), &url, Some(&ca.pem));
    assert!(
        text.contains("the certificate of 127.0.0.1 expired at 2021-01-01T00:00:00Z"),
        "{text}"
    );
    assert!(text.contains("needs a renewed certificate"), "{text}");
}

#[test]
fn a_ca_certificate_served_as_the_server_s_own_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = Ca::new();
    let (cert, key) = ca.itself();
    let url = serve(cert.der().clone(), &key);
    let text = credentials(dir.path(), &url, Some(&ca.pem));
    assert!(
        text.contains("127.0.0.1 presents a CA certificate as its own"),
        "{text}"
    );
}
