//! One request a run sends, built from a URL: its origin (scheme, host and port: where it
//! connects), the request line, the headers and the body, and its weight among several.
//!
//! User info in the URL (`http://user:secret@host/`) becomes an `Authorization: Basic` header,
//! as curl and browsers do; it never reaches the `Host` header, and the URL is only ever shown
//! with it hidden.

use base64::Engine;
use bytes::Bytes;
use http::header::{AUTHORIZATION, HOST, HeaderName, HeaderValue};
use http::uri::Authority;
use http::{HeaderMap, Method, Uri};

/// One request a run sends.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    /// The method.
    pub method: Method,
    /// Path and query sent on the request line.
    pub path: Uri,
    /// Headers sent with every request (`Host` included; credentials are marked sensitive, so
    /// `Debug` does not print them).
    pub headers: HeaderMap,
    /// The request body (empty for none).
    pub body: Bytes,
    /// How often this target is taken, relative to the others, in a weighted mix (1 unless
    /// given).
    pub weight: u32,
    origin: Origin,
    /// The URL with any user info hidden, for reports and messages.
    shown: String,
}

/// Where a target's requests connect: requests to the same origin share connections.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// Whether it is an `https://` origin (TLS).
    pub https: bool,
    /// The host, as resolved and as TLS names it (an IPv6 address without brackets).
    pub host: String,
    /// The port (the scheme's default unless given).
    pub port: u16,
}

/// Why a target could not be built from a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The URL does not parse (shown with any user info hidden).
    #[error("`{0}` is not a URL")]
    Url(String),
    /// Only `http://` and `https://` are spoken.
    #[error("`{0}`: only http:// and https:// URLs are supported")]
    Scheme(String),
    /// A header is not written `Name: value`.
    #[error("a header must be written `Name: value`")]
    HeaderSyntax,
    /// A header's name or value is invalid (named by its name only: its value may be a
    /// secret).
    #[error("header `{0}`: the name must be a token and the value visible ASCII characters")]
    Header(String),
}

impl HttpTarget {
    /// A `GET` of `url` with no extra headers and no body, of weight 1. The host is resolved
    /// later, once per origin, by the driver.
    pub fn from_url(url: &str) -> Result<Self, TargetError> {
        let shown = hide_user_info(url);
        let bad_url = || TargetError::Url(shown.clone());
        let uri: Uri = url.parse().map_err(|_| bad_url())?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(TargetError::Scheme(shown)),
        };
        let authority = uri.authority().ok_or_else(bad_url)?;
        let (user_info, host_port) = split_user_info(authority);
        let host = authority.host();
        if host.is_empty() {
            return Err(bad_url());
        }
        let origin = Origin {
            https,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port: authority.port_u16().unwrap_or(if https { 443 } else { 80 }),
        };
        let path = uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(|_| bad_url())?;
        let mut headers = HeaderMap::new();
        headers.insert(
            HOST,
            HeaderValue::from_str(host_port).map_err(|_| bad_url())?,
        );
        if let Some(user_info) = user_info {
            headers.insert(
                AUTHORIZATION,
                basic_authorization(user_info).ok_or_else(bad_url)?,
            );
        }
        Ok(Self {
            method: Method::GET,
            path,
            headers,
            body: Bytes::new(),
            weight: 1,
            origin,
            shown,
        })
    }

    /// Adds (or replaces) a header given as `Name: value`.
    pub fn header(&mut self, line: &str) -> Result<(), TargetError> {
        let (name, value) = line.split_once(':').ok_or(TargetError::HeaderSyntax)?;
        self.insert_header(name, value)
    }

    /// Adds (or replaces) the header `name` with `value` (both trimmed).
    pub fn insert_header(&mut self, name: &str, value: &str) -> Result<(), TargetError> {
        let bad = || TargetError::Header(name.trim().to_owned());
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| bad())?;
        let mut value = HeaderValue::from_str(value.trim()).map_err(|_| bad())?;
        if is_credential(&name) {
            value.set_sensitive(true);
        }
        self.headers.insert(name, value);
        Ok(())
    }

    /// The URL as it may be shown: user info replaced by `***`.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// Where its requests connect.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The target as a report names it: `POST https://host/path` (user info hidden).
    pub fn name(&self) -> String {
        format!("{} {}", self.method, self.shown)
    }
}

/// The user info and the `host[:port]` of an authority.
fn split_user_info(authority: &Authority) -> (Option<&str>, &str) {
    match authority.as_str().rsplit_once('@') {
        Some((user_info, host_port)) => (Some(user_info), host_port),
        None => (None, authority.as_str()),
    }
}

/// `Basic base64(user:password)` from percent-encoded URL user info, marked sensitive.
fn basic_authorization(user_info: &str) -> Option<HeaderValue> {
    let (user, password) = user_info.split_once(':').unwrap_or((user_info, ""));
    let mut credentials = percent_encoding::percent_decode_str(user).collect::<Vec<u8>>();
    credentials.push(b':');
    credentials.extend(percent_encoding::percent_decode_str(password));
    let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
    let mut value = HeaderValue::from_str(&format!("Basic {encoded}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// Whether a header carries credentials, so that `Debug` output must not show it.
fn is_credential(name: &HeaderName) -> bool {
    [
        AUTHORIZATION,
        http::header::PROXY_AUTHORIZATION,
        http::header::COOKIE,
    ]
    .contains(name)
}

/// Whether a request of `method` carries a body, so that an empty one is declared as such.
pub(super) fn expects_body(method: &Method) -> bool {
    [Method::POST, Method::PUT, Method::PATCH].contains(method)
}

/// `url` with everything between `://` and the host's `@` replaced by `***`, so that a
/// password never reaches a report, a message or a log.
pub fn hide_user_info(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|at| at + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}***{}", &url[..scheme_end], &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_becomes_basic_authorization_and_never_the_host() {
        let target = HttpTarget::from_url("http://al%40ice:s%3Acret@127.0.0.1:9/x").unwrap();
        assert_eq!(target.headers[HOST], "127.0.0.1:9");
        let expected = base64::engine::general_purpose::STANDARD.encode("al@ice:s:cret");
        assert_eq!(
            target.headers[AUTHORIZATION],
            format!("Basic {expected}").as_str()
        );
        assert!(target.headers[AUTHORIZATION].is_sensitive());
        assert_eq!(target.url(), "http://***@127.0.0.1:9/x");
        assert!(
            !format!("{target:?}").contains(&expected),
            "Debug hides credentials"
        );
    }

    #[test]
    fn a_user_without_a_password_still_authenticates() {
        let target = HttpTarget::from_url("http://token@127.0.0.1:9/").unwrap();
        let expected = base64::engine::general_purpose::STANDARD.encode("token:");
        assert_eq!(
            target.headers[AUTHORIZATION],
            format!("Basic {expected}").as_str()
        );
    }

    #[test]
    fn errors_never_show_the_password() {
        let error = HttpTarget::from_url("ftp://u:hunter2@127.0.0.1/").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let error = HttpTarget::from_url("http://u:hunter2@bad host/").unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn hides_user_info_only_in_the_authority() {
        assert_eq!(hide_user_info("http://a:b@h:1/p@q"), "http://***@h:1/p@q");
        assert_eq!(hide_user_info("http://h/p@q"), "http://h/p@q");
        assert_eq!(hide_user_info("not a url"), "not a url");
    }

    #[test]
    fn brackets_an_ipv6_host_only_in_the_header() {
        let target = HttpTarget::from_url("http://[::1]:9/").unwrap();
        assert_eq!(target.origin().host, "::1");
        assert_eq!(target.headers[HOST], "[::1]:9");
    }

    #[test]
    fn the_origin_is_the_scheme_the_host_and_the_port_or_its_default() {
        let origin = |url| HttpTarget::from_url(url).unwrap().origin().clone();
        let secure = origin("https://example.com/x");
        assert_eq!(
            secure,
            Origin {
                https: true,
                host: "example.com".into(),
                port: 443
            }
        );
        assert_eq!(origin("http://example.com/").port, 80);
        assert_eq!(origin("https://example.com:8443/").port, 8443);
        assert_ne!(origin("http://example.com:443/"), secure);
        let target = HttpTarget::from_url("https://u:p@example.com/a?b").unwrap();
        assert_eq!(target.name(), "GET https://***@example.com/a?b");
        assert_eq!(target.path, "/a?b");
    }
}
