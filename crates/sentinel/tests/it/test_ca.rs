//! A throwaway certificate authority for tests of TLS peers: server certificates it issues,
//! and certificates that are wrong on purpose.

use std::sync::Arc;

use rcgen::{BasicConstraints, Certificate, CertificateParams, IsCa, Issuer, KeyPair, SanType};
use rustls::pki_types::CertificateDer;

/// A CA that issues the test's certificates.
pub struct Ca {
    params: CertificateParams,
    key: KeyPair,
    /// Its certificate, PEM.
    pub pem: String,
}

impl Ca {
    /// A fresh CA.
    pub fn new() -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let pem = params.self_signed(&key).expect("CA certificate").pem();
        Ca { params, key, pem }
    }

    /// A server certificate for `params`, and its key.
    pub fn issue(&self, params: &CertificateParams) -> (Certificate, KeyPair) {
        let key = KeyPair::generate().expect("server key");
        let issuer = Issuer::new(
            self.params.clone(),
            KeyPair::from_pem(&self.key.serialize_pem()).expect("CA key"),
        );
        let cert = params.signed_by(&key, &issuer).expect("server certificate");
        (cert, key)
    }

    /// The CA's own certificate and key, as a server would present them by mistake.
    pub fn itself(&self) -> (Certificate, KeyPair) {
        let key = KeyPair::from_pem(&self.key.serialize_pem()).expect("CA key");
        let cert = self.params.self_signed(&key).expect("CA certificate");
        (cert, key)
    }
}

/// Parameters for a certificate that names `127.0.0.1` and nothing else.
pub fn for_loopback() -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    params
}

/// A TLS client configuration (rustls with ring, its safe default protocol versions) that
/// trusts `ca` and nothing else.
pub fn trusting(ca: CertificateDer<'static>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).expect("a usable CA certificate");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    Arc::new(config)
}
