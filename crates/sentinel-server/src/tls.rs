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

/// A TLS acceptor for the certificate chain in `cert` and the private key in `key` (PEM).
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let certificate_error = |problem: String| TlsError::Certificate {
        path: cert.to_owned(),
        problem,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|error| certificate_error(error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| certificate_error(error.to_string()))?;
    if chain.is_empty() {
        return Err(certificate_error("it holds no PEM certificate".to_owned()));
    }
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|error| TlsError::Key {
        path: key.to_owned(),
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
