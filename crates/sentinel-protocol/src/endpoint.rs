//! Where the remote server sends proofs: the STS endpoints it trusts to say who signed one. By
//! default AWS's own (the global endpoint and every regional one, their FIPS and dual-stack
//! variants, over HTTPS); a configuration may name others instead (a test emulator, a VPC
//! endpoint), compared by scheme, host and port.

use std::fmt;

use http::Uri;

/// One endpoint: scheme, lower-case host and port (the scheme's default when not written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    https: bool,
    host: String,
    port: u16,
}

/// Why an endpoint could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{url:?} is not an STS endpoint URL: {problem}")]
pub struct EndpointError {
    /// The text given.
    pub url: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl Endpoint {
    /// Reads `http(s)://host[:port][/]`.
    pub fn parse(url: &str) -> Result<Endpoint, EndpointError> {
        let error = |problem| EndpointError {
            url: url.to_owned(),
            problem,
        };
        let uri: Uri = url
            .parse()
            .map_err(|_| error("expected http(s)://host[:port]"))?;
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(error("an endpoint has no path or query"));
        }
        Endpoint::of(&uri).ok_or_else(|| error("expected http(s)://host[:port]"))
    }

    /// Whether the endpoint is reached over HTTPS.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// The endpoint a URI points at, if it is an `http` or `https` URI with a host and no user
    /// information.
    fn of(uri: &Uri) -> Option<Endpoint> {
        let https = match uri.scheme_str()? {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        let authority = uri.authority()?;
        if authority.as_str().contains('@') || authority.host().is_empty() {
            return None;
        }
        Some(Endpoint {
            https,
            host: authority.host().to_ascii_lowercase(),
            port: authority.port_u16().unwrap_or(if https { 443 } else { 80 }),
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

/// The endpoints proofs may be sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StsEndpoints {
    /// AWS's STS, port 443: `https://sts.amazonaws.com`, `https://sts.<region>.amazonaws.com`
    /// (or `.amazonaws.com.cn`), the FIPS `sts-fips.<region>.amazonaws.com` and the dual-stack
    /// `sts[-fips].<region>.api.aws`.
    Aws,
    /// Exactly these.
    Listed(Vec<Endpoint>),
}

impl StsEndpoints {
    /// Whether a proof for `uri` may be sent there.
    pub fn allows(&self, uri: &Uri) -> bool {
        let Some(endpoint) = Endpoint::of(uri) else {
            return false;
        };
        match self {
            StsEndpoints::Aws => {
                endpoint.https && endpoint.port == 443 && is_aws_sts(&endpoint.host)
            }
            StsEndpoints::Listed(listed) => listed.contains(&endpoint),
        }
    }
}

impl fmt::Display for StsEndpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StsEndpoints::Aws => f.write_str(
                "AWS STS (https://sts.amazonaws.com, https://sts[-fips].<region>.amazonaws.com, \
                 https://sts[-fips].<region>.api.aws)",
            ),
            StsEndpoints::Listed(listed) => {
                let names: Vec<String> = listed.iter().map(ToString::to_string).collect();
                f.write_str(&names.join(", "))
            }
        }
    }
}

/// Whether `host` is AWS's global STS endpoint or a regional one: `sts.<region>` or, for FIPS,
/// `sts-fips.<region>`, under `amazonaws.com`, `amazonaws.com.cn` or (dual-stack) `api.aws`.
fn is_aws_sts(host: &str) -> bool {
    if host == "sts.amazonaws.com" {
        return true;
    }
    let region = host
        .strip_prefix("sts.")
        .or_else(|| host.strip_prefix("sts-fips."))
        .and_then(|rest| {
            rest.strip_suffix(".amazonaws.com")
                .or_else(|| rest.strip_suffix(".amazonaws.com.cn"))
                .or_else(|| rest.strip_suffix(".api.aws"))
        });
    region.is_some_and(is_region)
}

/// Whether `name` has the shape of an AWS region: `us-east-1`, `ap-southeast-5`,
/// `us-gov-west-1`: lower-case words joined by `-`, the first of two letters, the last a number.
fn is_region(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    parts.len() >= 3
        && first.len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> Uri {
        text.parse().expect("uri")
    }

    #[test]
    fn aws_allows_the_global_and_regional_endpoints_over_https_only() {
        for good in [
            "https://sts.amazonaws.com/",
            "https://sts.us-east-1.amazonaws.com",
            "https://STS.eu-west-3.amazonaws.com:443/",
            "https://sts.us-gov-west-1.amazonaws.com/",
            "https://sts.cn-north-1.amazonaws.com.cn/",
            "https://sts-fips.us-east-1.amazonaws.com/",
            "https://sts-fips.us-gov-west-1.amazonaws.com/",
            "https://sts.eu-west-1.api.aws/",
            "https://sts-fips.us-east-2.api.aws/",
        ] {
            assert!(StsEndpoints::Aws.allows(&uri(good)), "{good}");
        }
        for bad in [
            "http://sts.amazonaws.com/",
            "https://sts.amazonaws.com:8443/",
            "https://sts.evil.example/",
            "https://sts.amazonaws.com.evil.example/",
            "https://evil.example/sts.us-east-1.amazonaws.com",
            "https://sts.us-east-1.amazonaws.com.evil.example/",
            "https://sts.bucket.s3.amazonaws.com/",
            "https://sts.useast1.amazonaws.com/",
            "https://xsts.amazonaws.com/",
            "https://user@sts.amazonaws.com/",
            "https://sts-fips.amazonaws.com/",
            "https://sts.api.aws/",
            "https://sts.evil.api.aws/",
            "http://sts-fips.us-east-1.amazonaws.com/",
            "https://sts-fips.us-east-1.api.aws.evil.example/",
        ] {
            assert!(!StsEndpoints::Aws.allows(&uri(bad)), "{bad}");
        }
    }

    #[test]
    fn listed_endpoints_match_by_scheme_host_and_port() {
        let listed = StsEndpoints::Listed(vec![
            Endpoint::parse("http://127.0.0.1:5000").expect("endpoint"),
            Endpoint::parse("https://sts.internal.example/").expect("endpoint"),
        ]);
        assert!(listed.allows(&uri("http://127.0.0.1:5000/")));
        assert!(listed.allows(&uri("https://STS.internal.example:443")));
        assert!(!listed.allows(&uri("https://127.0.0.1:5000/")));
        assert!(!listed.allows(&uri("http://127.0.0.1:5001/")));
        assert!(!listed.allows(&uri("http://localhost:5000/")));
        assert!(!listed.allows(&uri("http://sts.internal.example/")));
        assert!(!listed.allows(&uri("https://sts.amazonaws.com/")));
    }

    #[test]
    fn endpoint_urls_have_no_path_query_or_other_scheme() {
        for bad in [
            "ftp://sts.example",
            "sts.example",
            "https://sts.example/path",
            "https://sts.example/?x=1",
            "https://",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Endpoint::parse("HTTPS://Sts.Example")
                .expect("endpoint")
                .to_string(),
            "https://sts.example:443"
        );
    }
}
