//! The client side of TLS: which certificates are trusted, which protocol is asked for, and
//! the one configuration every connection of a run shares (so a reconnect resumes the session
//! an earlier connection got, instead of a full handshake).
//!
//! Trust is the system's root certificates (read by `rustls-native-certs`: the OS store, or
//! the files `SSL_CERT_FILE` / `SSL_CERT_DIR` name), or only the certificates of a PEM file
//! (`--cacert`, as curl's replaces its bundle), or nothing at all (`--insecure`): then any
//! certificate is accepted, though the handshake's signatures are still checked, so the peer
//! at least holds the key of the certificate it showed.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Which server certificates a run trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Trust only the certificates in this PEM file instead of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate (the report says so loudly).
    pub insecure: bool,
}

/// Why no TLS configuration could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// The CA file could not be read.
    #[error("cannot read the CA file {path}: {why}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The system's message.
        why: String,
    },
    /// The CA file holds no usable certificate.
    #[error("{path} holds no PEM certificate that can be trusted{why}")]
    NoCertificate {
        /// The file.
        path: PathBuf,
        /// What was wrong with what it holds, if anything.
        why: String,
    },
    /// The system has no root certificate.
    #[error(
        "no root certificate found in the system's store{0}: give the CA with --cacert, or set \
         SSL_CERT_FILE"
    )]
    NoSystemRoots(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// The shared client configuration of a run, asking for `alpn` (`h2`, `http/1.1`).
pub(super) fn client_config(
    options: &TlsOptions,
    alpn: &[u8],
) -> Result<Arc<ClientConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Config(error.to_string()))?;
    // The CA file is read even with --insecure, so that a wrong path is still an error.
    let roots = match &options.ca_file {
        Some(path) => file_roots(path)?,
        None if options.insecure => RootCertStore::empty(),
        None => system_roots()?,
    };
    let mut config = if options.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth()
    } else {
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(Arc::new(config))
}

/// The name the handshake sends as SNI and checks the certificate against: the URL's host.
pub(super) fn server_name(host: &str) -> Option<ServerName<'static>> {
    ServerName::try_from(host.to_owned()).ok()
}

/// The certificates of a PEM file.
fn file_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let pem = std::fs::read(path).map_err(|error| TlsError::Read {
        path: path.to_owned(),
        why: error.to_string(),
    })?;
    let no_certificate = |why: String| TlsError::NoCertificate {
        path: path.to_owned(),
        why,
    };
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| no_certificate(format!(": {error}")))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certificates);
    if added == 0 {
        return Err(no_certificate(String::new()));
    }
    Ok(roots)
}

/// The system's root certificates.
fn system_roots() -> Result<RootCertStore, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let why = found
            .errors
            .first()
            .map(|error| format!(" ({error})"))
            .unwrap_or_default();
        return Err(TlsError::NoSystemRoots(why));
    }
    Ok(roots)
}

/// `--insecure`: any certificate chain is accepted; handshake signatures are still verified
/// with the provider's algorithms.
struct AnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl fmt::Debug for AnyCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AnyCertificate")
    }
}

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let dir = std::env::temp_dir().join(format!("sentinel-load-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let options = |path: &Path| TlsOptions {
            ca_file: Some(path.to_owned()),
            insecure: false,
        };
        let error = client_config(&options(&empty), b"h2").unwrap_err();
        assert!(matches!(error, TlsError::NoCertificate { .. }), "{error}");
        let missing = dir.join("missing.pem");
        let error = client_config(&options(&missing), b"h2").unwrap_err();
        assert!(matches!(error, TlsError::Read { .. }), "{error}");
        assert!(error.to_string().contains("missing.pem"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn insecure_needs_no_roots_and_asks_for_the_protocol() {
        let options = TlsOptions {
            ca_file: None,
            insecure: true,
        };
        let config = client_config(&options, b"h2").unwrap();
        assert_eq!(config.alpn_protocols, [b"h2".to_vec()]);
    }

    #[test]
    fn server_names_are_dns_names_or_addresses() {
        assert!(server_name("localhost").is_some());
        assert!(server_name("127.0.0.1").is_some());
        assert!(server_name("::1").is_some());
        assert!(server_name("bad host").is_none());
    }
}
