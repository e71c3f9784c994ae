//! The webhook sink: each notification is one `POST` of a JSON body (`format: json`, the
//! notification's own document, or `format: slack`, a Slack message) to the configured URL,
//! over HTTPS with the system's root certificates, or plain HTTP to a loopback address only
//! (a receiver on the same host; anything else would expose the request's details and, for
//! Slack, the URL's own secret on the network). A new connection per notification: they are
//! rare, and nothing is kept open. With a shared secret, each body is signed (see
//! [`super::secret`]). Any answer but 2xx is a failed attempt.
//!
//! The URL is never logged: a Slack webhook's path is its credential. The sink is named
//! `webhook:HOST:PORT`.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, USER_AGENT};
use http::{Method, Request, Uri};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use sentinel_core::notify::{DeliveryError, EventKind, Notification, Sink};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use super::secret::{SIGNATURE_HEADER, Secret, TIMESTAMP_HEADER};
use super::slack;

/// What a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The notification's JSON document.
    Json,
    /// A Slack incoming-webhook message.
    Slack,
}

impl Format {
    /// The format named `name` (`json` or `slack`).
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "json" => Some(Format::Json),
            "slack" => Some(Format::Slack),
            _ => None,
        }
    }
}

/// Where a webhook posts: a URL checked to be `https://`, or `http://` to a loopback address.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    uri: Uri,
    host: String,
    port: u16,
    https: bool,
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The path may be a credential (Slack's is).
        write!(f, "WebhookUrl({}:{})", self.host, self.port)
    }
}

impl WebhookUrl {
    /// Checks `text` as a webhook URL. The problem never repeats the URL (its path may be a
    /// credential).
    pub fn parse(text: &str) -> Result<WebhookUrl, String> {
        let uri: Uri = text
            .parse()
            .map_err(|_| "not a URL, expected https://HOST/PATH".to_owned())?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err("expected an https:// URL".to_owned()),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| "the URL has no host".to_owned())?;
        if authority.as_str().contains('@') {
            return Err("the URL has a user name or password; put a credential in the path or use secret_file".to_owned());
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err("the URL has no host".to_owned());
        }
        let loopback = host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !https && !loopback {
            return Err(format!(
                "plain http:// to {host} would send the notification (and the URL) unprotected: \
                 use https://, http:// is only for a receiver on 127.0.0.1 or ::1"
            ));
        }
        Ok(WebhookUrl {
            port: authority.port_u16().unwrap_or(if https { 443 } else { 80 }),
            host: host.to_owned(),
            https,
            uri,
        })
    }

    /// `HOST:PORT`, safe to log.
    pub fn endpoint(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!("[{}]:{}", self.host, self.port),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

/// A webhook receiver of notifications.
pub struct Webhook {
    name: String,
    url: WebhookUrl,
    format: Format,
    events: BTreeSet<EventKind>,
    secret: Option<Secret>,
    tls: TlsConnector,
}

impl Webhook {
    /// A webhook posting `format` bodies of `events` to `url`, signed with `secret` if given,
    /// trusting `roots` for HTTPS.
    pub fn new(
        url: WebhookUrl,
        format: Format,
        events: BTreeSet<EventKind>,
        secret: Option<Secret>,
        roots: Arc<RootCertStore>,
    ) -> Result<Webhook, String> {
        let mut config = ClientConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .map_err(|error| format!("TLS configuration: {error}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Webhook {
            name: format!("webhook:{}", url.endpoint()),
            url,
            format,
            events,
            secret,
            tls: TlsConnector::from(Arc::new(config)),
        })
    }

    /// The request for `body`, signed at `now` (Unix seconds) if the webhook has a secret.
    fn request(&self, body: Bytes, now: i64) -> Result<Request<Full<Bytes>>, DeliveryError> {
        let path = self
            .url
            .uri
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(HOST, self.url.endpoint())
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("sentinel/", env!("CARGO_PKG_VERSION")));
        if let Some(secret) = &self.secret {
            request = request
                .header(TIMESTAMP_HEADER, now)
                .header(SIGNATURE_HEADER, secret.sign(now, &body));
        }
        request
            .body(Full::new(body))
            .map_err(|error| DeliveryError::new(format!("cannot build the request: {error}")))
    }

    /// Connects (with TLS for https) and posts `request`.
    async fn post(&self, request: Request<Full<Bytes>>) -> Result<(), DeliveryError> {
        let failed = |what: String| DeliveryError::new(format!("{}: {what}", self.name));
        let tcp = TcpStream::connect((self.url.host.as_str(), self.url.port))
            .await
            .map_err(|error| failed(format!("cannot connect: {error}")))?;
        let status = if self.url.https {
            let name = ServerName::try_from(self.url.host.clone())
                .map_err(|error| failed(format!("not a TLS server name: {error}")))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|error| failed(format!("TLS handshake: {error}")))?;
            exchange(tls, request).await
        } else {
            exchange(tcp, request).await
        }
        .map_err(failed)?;
        if status.is_success() {
            Ok(())
        } else {
            Err(failed(format!("answered {status}")))
        }
    }
}

/// Sends `request` over `io` (HTTP/1.1) and returns the answer's status.
async fn exchange<T>(io: T, request: Request<Full<Bytes>>) -> Result<http::StatusCode, String>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|error| format!("HTTP handshake: {error}"))?;
    let mut connection = std::pin::pin!(connection);
    // The connection is driven here, not in a task of its own, so that a cancelled attempt
    // (the delivery's attempt timeout) closes it.
    tokio::select! {
        answer = sender.send_request(request) => answer
            .map(|response| response.status())
            .map_err(|error| format!("no answer: {error}")),
        ended = &mut connection => Err(match ended {
            Ok(()) => "the connection closed before an answer".to_owned(),
            Err(error) => format!("connection: {error}"),
        }),
    }
}

#[async_trait::async_trait]
impl Sink for Webhook {
    fn name(&self) -> &str {
        &self.name
    }

    fn wants(&self, event: EventKind) -> bool {
        self.events.contains(&event)
    }

    async fn deliver(&self, notification: &Notification) -> Result<(), DeliveryError> {
        let document = match self.format {
            Format::Json => notification.to_json(),
            Format::Slack => slack::body(notification),
        };
        let body = Bytes::from(document.to_string());
        let request = self.request(body, jiff::Timestamp::now().as_second())?;
        self.post(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_plain_http_only_to_loopback() {
        let slack = WebhookUrl::parse("https://hooks.slack.com/services/T0/B0/secret").expect("ok");
        assert_eq!(slack.endpoint(), "hooks.slack.com:443");
        assert!(!format!("{slack:?}").contains("secret"));
        assert_eq!(
            WebhookUrl::parse("http://127.0.0.1:8080/hook")
                .expect("loopback")
                .endpoint(),
            "127.0.0.1:8080"
        );
        assert_eq!(
            WebhookUrl::parse("http://[::1]/hook")
                .expect("loopback")
                .endpoint(),
            "[::1]:80"
        );
        for (bad, expected) in [
            (
                "http://hooks.example.com/secret-path",
                "only for a receiver on 127.0.0.1",
            ),
            ("http://localhost/hook", "only for a receiver"),
            ("ftp://example.com/", "expected an https:// URL"),
            ("/just/a/path", "expected an https:// URL"),
            ("https://user:pw@example.com/", "user name or password"),
            ("not a url at all", "not a URL"),
        ] {
            let problem = WebhookUrl::parse(bad).expect_err(bad);
            assert!(problem.contains(expected), "{bad}: {problem}");
            assert!(!problem.contains("secret-path"), "{problem}");
        }
    }

    #[test]
    fn formats_are_named_json_or_slack() {
        assert_eq!(Format::parse("json"), Some(Format::Json));
        assert_eq!(Format::parse("slack"), Some(Format::Slack));
        assert_eq!(Format::parse("JSON"), None);
    }
}
