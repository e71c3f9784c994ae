//! A request function for plain HTTP/1.1 targets: keep-alive, one connection per worker.
//!
//! Each worker owns one connection slot, so no connection is ever shared or locked against
//! another worker. A connection is opened on first use, reused while the server keeps it alive,
//! and dropped whenever a request on it fails or is cancelled (its state is then unknown); the
//! next request reconnects. A status outside 2xx is an error of kind `http_<code>`; failing to
//! connect is `connect`; a failure on an established connection is `io`.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::header::{HOST, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::error::RequestError;
use crate::runner::RequestContext;

/// Error kind: the TCP connection or HTTP handshake failed.
pub const CONNECT: &str = "connect";
/// Error kind: an established connection failed while sending or receiving.
pub const IO: &str = "io";

/// What every request sends.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    /// Where to connect.
    pub addr: SocketAddr,
    /// The method.
    pub method: Method,
    /// Path and query sent on the request line.
    pub path: Uri,
    /// Headers sent with every request (`Host` included).
    pub headers: HeaderMap,
    /// The request body (empty for none).
    pub body: Bytes,
}

/// Why a target could not be built from a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The URL does not parse.
    #[error("`{0}` is not a URL")]
    Url(String),
    /// Only `http://` is spoken.
    #[error("`{0}`: only http:// URLs are supported")]
    Scheme(String),
    /// The host did not resolve.
    #[error("cannot resolve `{host}`: {why}")]
    Resolve {
        /// The host and port.
        host: String,
        /// The resolver's message.
        why: String,
    },
    /// A header is not `Name: value` or is invalid.
    #[error("header `{0}` is not `Name: value` with a valid name and value")]
    Header(String),
}

impl HttpTarget {
    /// A `GET` of `url` with no extra headers and no body; the host is resolved once, here.
    pub async fn from_url(url: &str) -> Result<Self, TargetError> {
        let uri: Uri = url.parse().map_err(|_| TargetError::Url(url.to_owned()))?;
        if uri.scheme_str() != Some("http") {
            return Err(TargetError::Scheme(url.to_owned()));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| TargetError::Url(url.to_owned()))?
            .clone();
        let host_port = format!(
            "{}:{}",
            authority.host(),
            authority.port_u16().unwrap_or(80)
        );
        let addr = tokio::net::lookup_host(&host_port)
            .await
            .map_err(|e| TargetError::Resolve {
                host: host_port.clone(),
                why: e.to_string(),
            })?
            .next()
            .ok_or_else(|| TargetError::Resolve {
                host: host_port.clone(),
                why: "no address".to_owned(),
            })?;
        let path = uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(|_| TargetError::Url(url.to_owned()))?;
        let mut headers = HeaderMap::new();
        let host = HeaderValue::from_str(authority.as_str())
            .map_err(|_| TargetError::Url(url.to_owned()))?;
        headers.insert(HOST, host);
        Ok(Self {
            addr,
            method: Method::GET,
            path,
            headers,
            body: Bytes::new(),
        })
    }

    /// Adds (or replaces) a header given as `Name: value`.
    pub fn header(&mut self, line: &str) -> Result<(), TargetError> {
        let bad = || TargetError::Header(line.to_owned());
        let (name, value) = line.split_once(':').ok_or_else(bad)?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
        let value = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
        self.headers.insert(name, value);
        Ok(())
    }
}

/// One worker's kept-alive connection, if it has one.
type Slot = Mutex<Option<SendRequest<Full<Bytes>>>>;

/// A connection slot per worker; see the module documentation.
#[derive(Debug)]
pub struct HttpDriver {
    target: HttpTarget,
    slots: Box<[Slot]>,
}

impl HttpDriver {
    /// A driver for `workers` workers (one connection each, opened lazily).
    pub fn new(target: HttpTarget, workers: usize) -> Arc<Self> {
        Arc::new(Self {
            target,
            slots: (0..workers).map(|_| Mutex::new(None)).collect(),
        })
    }

    /// Sends one request on the connection of the context's worker, opening it if needed.
    /// Use it as the request function: `move |ctx| Arc::clone(&driver).request(ctx)`.
    pub async fn request(self: Arc<Self>, ctx: RequestContext) -> Result<(), RequestError> {
        let slot = self
            .slots
            .get(ctx.worker)
            .ok_or_else(|| RequestError::new(CONNECT))?;
        let cached = slot.lock().map(|mut s| s.take()).unwrap_or(None);
        let mut conn = match cached {
            Some(conn) if !conn.is_closed() => conn,
            _ => self.connect().await?,
        };
        conn.ready().await.map_err(|_| RequestError::new(IO))?;
        let mut request = Request::new(Full::new(self.target.body.clone()));
        *request.method_mut() = self.target.method.clone();
        *request.uri_mut() = self.target.path.clone();
        *request.headers_mut() = self.target.headers.clone();
        let response = conn
            .send_request(request)
            .await
            .map_err(|_| RequestError::new(IO))?;
        let status = response.status();
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            frame.map_err(|_| RequestError::new(IO))?;
        }
        // Hand the connection back only once the exchange completed cleanly.
        if let Ok(mut s) = slot.lock() {
            *s = Some(conn);
        }
        if status.is_success() {
            Ok(())
        } else {
            Err(RequestError::new(status_kind(status.as_u16())))
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, RequestError> {
        let stream = TcpStream::connect(self.target.addr)
            .await
            .map_err(|_| RequestError::new(CONNECT))?;
        // Latency matters more than packet count for a load generator.
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| RequestError::new(CONNECT))?;
        tokio::spawn(connection);
        Ok(sender)
    }
}

/// `http_<code>`, without an allocation for the common codes.
fn status_kind(code: u16) -> Cow<'static, str> {
    match code {
        400 => "http_400".into(),
        401 => "http_401".into(),
        403 => "http_403".into(),
        404 => "http_404".into(),
        429 => "http_429".into(),
        500 => "http_500".into(),
        502 => "http_502".into(),
        503 => "http_503".into(),
        504 => "http_504".into(),
        other => format!("http_{other}").into(),
    }
}
