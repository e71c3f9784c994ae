//! The remote server's TLS: a certificate chain and private key from PEM files, served with
//! rustls (the `ring` provider, TLS 1.2 and 1.3, HTTP/1.1 by ALPN).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

/// Why the TLS configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file could not be read or holds no PEM certificate.
    #[error("cannot read the TLS certificate chain {path}: {problem}")]
    Certificate {
        /// The certificate file.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// The key file could not be read or holds no PEM private key.
    #[error("cannot read the TLS private key {path}: {problem}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// What went wrong.
        problem: String,
    },
    /// rustls refused the pair (for example, the key does not match the certificate).
    #[error("unusable TLS certificate and key: {0}")]
    Config(String),
}

/// A TLS acceptor for the certificate chain in `cert` and the private key in `key` (PEM files).
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let certificate_error = |problem: String| TlsError::Certificate {
        path: cert.to_owned(),
        problem,
    };
    let key_error = |problem: String| TlsError::Key {
        path: key.to_owned(),
        problem,
    };
    let chain = std::fs::read(cert).map_err(|error| certificate_error(error.to_string()))?;
    let private_key = std::fs::read(key).map_err(|error| key_error(error.to_string()))?;
    acceptor_from_pem(&chain, &private_key).map_err(|error| match error {
        TlsError::Certificate { problem, .. } => certificate_error(problem),
        TlsError::Key { problem, .. } => key_error(problem),
        other @ TlsError::Config(_) => other,
    })
}

/// A TLS acceptor for a PEM certificate chain and private key held in memory.
pub fn acceptor_from_pem(cert: &[u8], key: &[u8]) -> Result<TlsAcceptor, TlsError> {
    let chain = CertificateDer::pem_slice_iter(cert)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsError::Certificate {
            path: PathBuf::new(),
            problem: error.to_string(),
        })?;
    if chain.is_empty() {
        return Err(TlsError::Certificate {
            path: PathBuf::new(),
            problem: "it holds no PEM certificate".to_owned(),
        });
    }
    let private_key = PrivateKeyDer::from_pem_slice(key).map_err(|error| TlsError::Key {
        path: PathBuf::new(),
        problem: error.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Config(error.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|error| TlsError::Config(error.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A throwaway certificate authority and the server certificate it signed for `localhost` and
/// `127.0.0.1`, as PEM text: for servers that tests and load scenarios start on loopback (with
/// the `loopback-certificates` feature).
#[cfg(feature = "loopback-certificates")]
pub struct LoopbackCertificates {
    /// The CA certificate clients trust.
    pub ca: String,
    /// The server's certificate.
    pub cert: String,
    /// The server's private key.
    pub key: String,
}

#[cfg(feature = "loopback-certificates")]
impl LoopbackCertificates {
    /// Generates a fresh CA and server certificate.
    pub fn generate() -> Result<LoopbackCertificates, TlsError> {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, SanType};
        let failed = |error: rcgen::Error| TlsError::Config(error.to_string());
        let ca_key = KeyPair::generate().map_err(failed)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).map_err(failed)?;
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().map_err(failed)?;
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).map_err(failed)?;
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        let cert = params.signed_by(&key, &issuer).map_err(failed)?;
        Ok(LoopbackCertificates {
            ca: ca.pem(),
            cert: cert.pem(),
            key: key.serialize_pem(),
        })
    }
}
