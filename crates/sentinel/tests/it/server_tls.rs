//! `sentinel server` over TLS reads its certificate and key again when the files change, as
//! cert-manager rotates them: new connections get the new pair, open ones keep working, and
//! a pair that cannot be used leaves the previous one in place.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::bin::SENTINEL;
use crate::broker_sts::BrokerSts;
use crate::test_ca::{Ca, for_loopback, trusting};

/// A running `sentinel server` and every line it wrote on stderr so far.
struct Server {
    child: Child,
    address: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a certificate for 127.0.0.1 from `ca`, and its key, to `cert` and `key`.
fn write_pair(ca: &Ca, cert: &Path, key: &Path) {
    let (certificate, private_key) = ca.issue(&for_loopback());
    std::fs::write(key, private_key.serialize_pem()).expect("key");
    std::fs::write(cert, certificate.pem()).expect("certificate");
}

/// Starts `sentinel server` in `dir` with TLS from `cert` and `key`.
fn start(dir: &Path, cert: &Path, key: &Path) -> Server {
    let config = dir.join("server.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\nadmin_listen: 127.0.0.1:0\ntls:\n  cert: {}\n  key: {}\naudience: sentinel.test\n\
             decision_log: {}\nprofiles:\n  prod:\n    role_arn: arn:aws:iam::123456789012:role/prod\n",
            cert.display(),
            key.display(),
            dir.join("decisions.jsonl").display()
        ),
    )
    .expect("config");
    let mut child = Command::new(SENTINEL)
        .args(["server", "--config"])
        .arg(&config)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", BrokerSts::start().endpoint())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the sentinel binary runs");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (address_tx, address_rx) = std::sync::mpsc::channel();
    let lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let collected = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if let Some(rest) = line.split("serving https://").nth(1) {
                let address: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                    .collect();
                let _ = address_tx.send(address);
            }
            collected.lock().expect("log").push(line);
        }
    });
    let address = address_rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("the server did not start: {:?}", log.lock().expect("log")));
    Server {
        child,
        address,
        log,
    }
}

/// A TLS connection to `address` that trusts only `ca`, or the handshake's failure.
fn connect(
    address: &str,
    ca: &Ca,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, std::io::Error> {
    let config = trusting(CertificateDer::from_pem_slice(ca.pem.as_bytes()).expect("CA"));
    let name = ServerName::try_from("127.0.0.1").expect("name");
    let connection = rustls::ClientConnection::new(config, name).expect("client");
    let mut stream = rustls::StreamOwned::new(connection, TcpStream::connect(address)?);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// `GET /healthz` on a kept-alive connection: the answer's status line.
fn health(stream: &mut impl ReadWrite) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("request");
    let mut answer = Vec::new();
    let mut buffer = [0; 1024];
    // The answer is small: its head, then a body of `Content-Length` bytes ("ok\n").
    while !answer.ends_with(b"ok\n") {
        let read = stream.read(&mut buffer).expect("answer");
        assert!(read > 0, "closed: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().unwrap_or_default().to_owned()
}

/// Read and write, for [`health`].
trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// Waits up to 30 s for `done`.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(30), "never: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_rotated_certificate_is_served_to_new_connections_without_dropping_open_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key): (PathBuf, PathBuf) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let (old_ca, new_ca) = (Ca::new(), Ca::new());
    write_pair(&old_ca, &cert, &key);
    let server = start(dir.path(), &cert, &key);
    let mut open = connect(&server.address, &old_ca).expect("the first certificate is served");
    assert_eq!(health(&mut open), "HTTP/1.1 200 OK");
    assert!(
        connect(&server.address, &new_ca).is_err(),
        "not the new one yet"
    );

    write_pair(&new_ca, &cert, &key);
    eventually("the new certificate is served", || {
        // The open connection is used meanwhile, as a client would, so that no idle timeout
        // ends it.
        assert_eq!(
            health(&mut open),
            "HTTP/1.1 200 OK",
            "the open connection stays"
        );
        connect(&server.address, &new_ca).is_ok()
    });
    assert!(
        connect(&server.address, &old_ca).is_err(),
        "new connections get only the new certificate"
    );
    assert_eq!(
        health(&mut open),
        "HTTP/1.1 200 OK",
        "the open connection stays"
    );
    let log = server.log.lock().expect("log").join("\n");
    assert!(log.contains("reloaded the TLS certificate"), "{log}");
}

#[test]
fn a_broken_key_leaves_the_previous_certificate_in_use_and_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key): (PathBuf, PathBuf) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    let ca = Ca::new();
    write_pair(&ca, &cert, &key);
    let server = start(dir.path(), &cert, &key);
    std::fs::write(
        &key,
        "-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n",
    )
    .expect("broken key");
    eventually("the broken pair is reported", || {
        let log = server.log.lock().expect("log");
        log.iter()
            .any(|line| line.contains("the previous certificate stays in use"))
    });
    let mut stream = connect(&server.address, &ca).expect("the previous certificate is served");
    assert_eq!(health(&mut stream), "HTTP/1.1 200 OK");
    let log = server.log.lock().expect("log").join("\n");
    assert!(log.contains("failed to parse private key"), "{log}");
}
