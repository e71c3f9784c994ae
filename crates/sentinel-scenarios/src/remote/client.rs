//! The `remote` scenario's client: one keep-alive HTTPS connection per worker (all opened before
//! the run, reopened after a failure or a cancelled request), trusting only the run's own CA.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, HeaderValue};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use sentinel_load::RequestError;
use sentinel_protocol::REMOTE_CREDENTIALS_PATH;
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
        // A request cancelled on this connection (by its timeout) leaves the connection
        // closing: the next request waits until the connection can take it, or opens a new
        // one, and is not failed for what the one before it did.
        let reusable = match slot.as_mut() {
            Some(sender) => sender.ready().await.is_ok(),
            None => false,
        };
        let sender = match slot.take() {
            Some(sender) if reusable => slot.insert(sender),
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

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::time::Duration;

    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use sentinel_server::tls::{LoopbackCertificates, acceptor_from_pem};
    use tokio::net::TcpListener;

    use super::*;

    /// Answers every request `200`, the ones whose body is `slow` after `delay`.
    async fn answer(
        request: Request<Incoming>,
        delay: Duration,
    ) -> Result<http::Response<Full<Bytes>>, Infallible> {
        let body = request
            .into_body()
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes);
        if body.is_ok_and(|body| body.as_ref() == b"slow") {
            tokio::time::sleep(delay).await;
        }
        Ok(http::Response::new(Full::new(Bytes::from_static(b"{}"))))
    }

    #[tokio::test]
    async fn a_request_cancelled_by_its_timeout_does_not_fail_the_next_one_on_its_worker() {
        let certificates = LoopbackCertificates::generate().expect("certificates");
        let acceptor = acceptor_from_pem(certificates.cert.as_bytes(), certificates.key.as_bytes())
            .expect("acceptor");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("listener");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(|request| answer(request, Duration::from_millis(400)));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        let client = Client::new(addr, &certificates.ca, 1).expect("client");
        client.connect_all().await.expect("connected");

        let timeout = Duration::from_millis(100);
        let stalled = tokio::time::timeout(timeout, client.post(0, b"slow".to_vec())).await;
        assert!(stalled.is_err(), "the slow answer outlasts the timeout");
        for round in 0..3 {
            let next = tokio::time::timeout(timeout * 10, client.post(0, b"fast".to_vec()))
                .await
                .expect("answered in time");
            assert!(next.is_ok(), "request {round} after the timeout: {next:?}");
        }
    }
}
