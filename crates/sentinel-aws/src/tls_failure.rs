//! Why a connection to a Sentinel server failed, in plain words with the fix: a TLS failure is
//! buried several errors deep under the HTTP client's "io error", and what the caller needs is
//! its cause (an untrusted issuer, a name the certificate does not carry, an expired
//! certificate, a CA certificate served as the server's own) and what to do about it.

use std::error::Error;

use rustls::CertificateError;
use rustls::pki_types::UnixTime;

use crate::error::{and_beneath, chain};

/// What went wrong with a request to `host`, from `error` and every error beneath it: the TLS
/// cause in plain words where there is one, else each error's text, outermost first.
pub fn describe(error: &(dyn Error + 'static), host: &str) -> String {
    match certificate_error(error) {
        Some(cause) => explain(&cause, host),
        None => chain(error),
    }
}

/// The certificate verification failure somewhere under `error`, if that is what failed.
fn certificate_error(error: &(dyn Error + 'static)) -> Option<CertificateError> {
    and_beneath(Some(error)).find_map(|error| match error.downcast_ref() {
        Some(rustls::Error::InvalidCertificate(cause)) => Some(cause.clone()),
        _ => None,
    })
}

/// `cause` in plain words, with what fixes it.
fn explain(cause: &CertificateError, host: &str) -> String {
    match cause {
        CertificateError::UnknownIssuer => format!(
            "the certificate of {host} is not signed by a CA this machine trusts: pass the CA \
             certificate that issued it with --cacert FILE (or sentinel_ca_bundle in the AWS \
             config profile)"
        ),
        CertificateError::NotValidForNameContext { presented, .. } => format!(
            "the certificate of {host} is not valid for the name {host}: it carries {}. Connect \
             with one of those names, or give the server a certificate for {host}",
            if presented.is_empty() {
                "no names".to_owned()
            } else {
                presented
                    .iter()
                    .map(|name| plain_name(name))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ),
        CertificateError::NotValidForName => format!(
            "the certificate of {host} is not valid for the name {host}: connect with a name it \
             carries, or give the server a certificate for {host}"
        ),
        CertificateError::ExpiredContext { time, not_after } => format!(
            "the certificate of {host} expired at {} (this machine's clock says {}): the server \
             needs a renewed certificate",
            when(*not_after),
            when(*time)
        ),
        CertificateError::Expired => {
            format!("the certificate of {host} has expired: the server needs a renewed certificate")
        }
        CertificateError::NotValidYetContext { time, not_before } => format!(
            "the certificate of {host} is valid only from {} (this machine's clock says {}): \
             check the clocks, or wait",
            when(*not_before),
            when(*time)
        ),
        CertificateError::Other(other)
            if matches!(
                other.0.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::CaUsedAsEndEntity)
            ) =>
        {
            format!(
                "{host} presents a CA certificate as its own: the server's tls.cert must be a \
                 server certificate that the CA issued, not the CA certificate itself"
            )
        }
        other => format!("the certificate of {host} was refused: {other}"),
    }
}

/// A name as rustls presents it (`DnsName("a.example")`, `IpAddress(10.0.0.1)`), without the
/// wrapping: `a.example`, `10.0.0.1`.
fn plain_name(presented: &str) -> &str {
    ["DnsName(\"", "IpAddress("]
        .iter()
        .find_map(|prefix| presented.strip_prefix(prefix))
        .map_or(presented, |rest| {
            rest.trim_end_matches(')').trim_end_matches('"')
        })
}

/// A certificate time as an RFC 3339 instant.
fn when(time: UnixTime) -> String {
    i64::try_from(time.as_secs())
        .ok()
        .and_then(|seconds| jiff::Timestamp::from_second(seconds).ok())
        .map_or_else(
            || format!("{} s after 1970", time.as_secs()),
            |t| t.to_string(),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cause` as the HTTP client reports it: inside an `io::Error` inside another error.
    fn wrapped(cause: CertificateError) -> Box<dyn Error + 'static> {
        #[derive(Debug, thiserror::Error)]
        #[error("io error")]
        struct Outer(#[source] std::io::Error);
        let io = std::io::Error::other(rustls::Error::InvalidCertificate(cause));
        Box::new(Outer(io))
    }

    #[test]
    fn a_certificate_failure_is_found_under_the_io_error_and_explained() {
        let text = describe(&*wrapped(CertificateError::UnknownIssuer), "sentinel.test");
        assert!(
            text.contains("not signed by a CA this machine trusts"),
            "{text}"
        );
        assert!(text.contains("--cacert FILE"), "{text}");
    }

    #[test]
    fn the_names_a_certificate_carries_are_shown_plain() {
        let cause = CertificateError::NotValidForNameContext {
            expected: rustls::pki_types::ServerName::try_from("h.test")
                .expect("name")
                .to_owned(),
            presented: vec![
                "DnsName(\"a.test\")".to_owned(),
                "IpAddress(10.0.0.1)".to_owned(),
            ],
        };
        let text = describe(&*wrapped(cause), "h.test");
        assert!(text.contains("it carries a.test, 10.0.0.1."), "{text}");
    }

    #[test]
    fn any_other_failure_is_its_whole_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("io error")]
        struct Outer(#[source] std::io::Error);
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused here");
        let text = describe(&Outer(std::io::Error::other(refused)), "h");
        assert_eq!(text, "io error: refused here");
    }
}
