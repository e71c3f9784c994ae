//! The remote server's TLS: a certificate chain and private key from PEM files, read again when
//! they change, served with rustls (the `ring` provider, TLS 1.2 and 1.3, HTTP/1.1 by ALPN).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::crypto::CryptoProvider;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
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

/// The server's certificate chain and key, read from two PEM files and read again when either
/// changes, as cert-manager or a Kubernetes Secret rotates them: handshakes after a change
/// present the new pair, connections already open keep theirs (nothing is dropped). A pair that
/// cannot be used (a key written before its certificate, a broken file) is reported once and
/// the previous pair stays in use.
#[derive(Debug)]
pub struct CertificateFiles {
    cert: PathBuf,
    key: PathBuf,
    current: ArcSwap<CertifiedKey>,
    /// The two files' contents as last read, good or not, so that each change is acted on (and
    /// a bad one reported) once.
    last_read: Mutex<(Vec<u8>, Vec<u8>)>,
}

impl CertificateFiles {
    /// Reads the chain in `cert` and the key in `key`, refusing a pair that cannot be used.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<CertificateFiles>, TlsError> {
        let (chain, private_key) = read_files(cert, key)?;
        let pair =
            certified_key(&chain, &private_key).map_err(|error| located(error, cert, key))?;
        Ok(Arc::new(CertificateFiles {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: ArcSwap::from_pointee(pair),
            last_read: Mutex::new((chain, private_key)),
        }))
    }

    /// A TLS acceptor that presents whichever pair is current at each handshake.
    pub fn acceptor(self: &Arc<Self>) -> Result<TlsAcceptor, TlsError> {
        let resolver: Arc<dyn ResolvesServerCert> = Arc::<CertificateFiles>::clone(self);
        Ok(TlsAcceptor::from(Arc::new(server_config(resolver)?)))
    }

    /// Reads both files again and, if they changed and make a usable pair, puts it in use.
    /// `Ok(true)` when a new pair is in use; an error when they changed into a pair that cannot
    /// be used (the previous one stays, and the same contents are not reported again).
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let (chain, private_key) = read_files(&self.cert, &self.key)?;
        {
            let mut last = self
                .last_read
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.0 == chain && last.1 == private_key {
                return Ok(false);
            }
            *last = (chain.clone(), private_key.clone());
        }
        let pair = certified_key(&chain, &private_key)
            .map_err(|error| located(error, &self.cert, &self.key))?;
        self.current.store(Arc::new(pair));
        Ok(true)
    }

    /// Checks the files every `interval` for as long as the server runs, logging each reload
    /// and each pair it could not use.
    pub async fn watch(self: Arc<Self>, interval: Duration) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            match self.reload_if_changed() {
                Ok(false) => {}
                Ok(true) => tracing::info!(
                    "reloaded the TLS certificate {} and key {}: new connections get them",
                    self.cert.display(),
                    self.key.display()
                ),
                Err(error) => tracing::warn!("{error}; the previous certificate stays in use"),
            }
        }
    }
}

impl ResolvesServerCert for CertificateFiles {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

/// The contents of the certificate and key files.
fn read_files(cert: &Path, key: &Path) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let chain = std::fs::read(cert).map_err(|error| TlsError::Certificate {
        path: cert.to_owned(),
        problem: error.to_string(),
    })?;
    let private_key = std::fs::read(key).map_err(|error| TlsError::Key {
        path: key.to_owned(),
        problem: error.to_string(),
    })?;
    Ok((chain, private_key))
}

/// `error`, naming the file it is about.
fn located(error: TlsError, cert: &Path, key: &Path) -> TlsError {
    match error {
        TlsError::Certificate { problem, .. } => TlsError::Certificate {
            path: cert.to_owned(),
            problem,
        },
        TlsError::Key { problem, .. } => TlsError::Key {
            path: key.to_owned(),
            problem,
        },
        other @ TlsError::Config(_) => other,
    }
}

/// A TLS acceptor for a PEM certificate chain and private key held in memory.
pub fn acceptor_from_pem(cert: &[u8], key: &[u8]) -> Result<TlsAcceptor, TlsError> {
    let resolver = Arc::new(FixedCertificate(Arc::new(certified_key(cert, key)?)));
    Ok(TlsAcceptor::from(Arc::new(server_config(resolver)?)))
}

/// One pair for every handshake.
#[derive(Debug)]
struct FixedCertificate(Arc<CertifiedKey>);

impl ResolvesServerCert for FixedCertificate {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
}

/// The crypto provider of every server and of the webhook client: `ring`.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A server configuration (TLS 1.2 and 1.3, HTTP/1.1 by ALPN) presenting what `resolver` gives.
fn server_config(resolver: Arc<dyn ResolvesServerCert>) -> Result<ServerConfig, TlsError> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsError::Config(error.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A PEM certificate chain and private key as one pair, refused if the key is not the leaf
/// certificate's.
fn certified_key(cert: &[u8], key: &[u8]) -> Result<CertifiedKey, TlsError> {
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
    CertifiedKey::from_der(chain, private_key, &provider())
        .map_err(|error| TlsError::Config(error.to_string()))
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
