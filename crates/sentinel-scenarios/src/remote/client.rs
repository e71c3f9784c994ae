//! The `remote` scenario's client: one keep-alive HTTPS connection per worker (all opened before
//! the run, reopened after a failure), trusting only the run's own CA.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use sentinel_load::RequestError;
use sentinel_server::remote::REMOTE_CREDENTIALS_PATH;
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use crate::per_worker::PerWorker;

/// Error kind of a request that could not be sent or got no answer.
const CONNECTION: &str = "connection";

/// HTTPS connections to one server, one per worker.
pub(crate) struct Client {
    addr: SocketAddr,
    host: HeaderValue,
    tls: TlsConnector,
    connections: PerWorker<Mutex<Option<SendRequest<Full<Bytes>>>>>,
}

impl Client {
    /// A client of the server at `addr` whose certificate `ca_pem` signed, for `workers`.
    pub(crate) fn new(addr: SocketAddr, ca_pem: &str, workers: usize) -> Result<Client, String> {
        let mut roots = RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            let certificate = certificate.map_err(|error| error.to_string())?;
            roots.add(certificate).map_err(|error| error.to_string())?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| error.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let host = HeaderValue::from_str(&addr.to_string()).map_err(|error| error.to_string())?;
        Ok(Client {
            addr,
            host,
            tls: TlsConnector::from(Arc::new(config)),
            connections: PerWorker::new(workers),
        })
    }

    /// Opens every worker's connection, so that no TLS handshake falls into the run.
    pub(crate) async fn connect_all(&self) -> Result<(), RequestError> {
        for slot in self.connections.iter() {
            *slot.lock().await = Some(self.connect().await?);
        }
        Ok(())
    }

    /// POSTs `body` to the credentials path on `worker`'s connection; `Ok` on `200`, else the
    /// status (`http_403`, ...) or `connection` as the error kind.
    pub(crate) async fn post(&self, worker: usize, body: Vec<u8>) -> Result<(), RequestError> {
        let mut slot = self.connections.get(worker).lock().await;
        let sender = match slot.as_mut() {
            Some(sender) if !sender.is_closed() => sender,
            _ => slot.insert(self.connect().await?),
        };
        let mut request = Request::new(Full::new(Bytes::from(body)));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = http::Uri::from_static(REMOTE_CREDENTIALS_PATH);
        let headers = request.headers_mut();
        headers.insert(HOST, self.host.clone());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let answer = match sender.send_request(request).await {
            Ok(response) => {
                let status = response.status();
                let read = response.into_body().collect().await;
                match (status, read) {
                    (StatusCode::OK, Ok(_)) => Ok(()),
                    (_, Err(_)) => Err(RequestError::new(CONNECTION)),
                    (status, Ok(_)) => Err(RequestError::new(format!("http_{}", status.as_u16()))),
                }
            }
            Err(_) => Err(RequestError::new(CONNECTION)),
        };
        if answer
            .as_ref()
            .is_err_and(|error| error.kind() == CONNECTION)
        {
            *slot = None;
        }
        answer
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, RequestError> {
        let failed = |_| RequestError::new(CONNECTION);
        let stream = TcpStream::connect(self.addr).await.map_err(failed)?;
        let _ = stream.set_nodelay(true);
        let name = ServerName::IpAddress(self.addr.ip().into());
        let stream = self.tls.connect(name, stream).await.map_err(failed)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| RequestError::new(CONNECTION))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }
}
