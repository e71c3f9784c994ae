//! The identity proof a caller hands the remote server: an STS `GetCallerIdentity` request that
//! the caller signed with its own AWS credentials (SigV4) and did not send. The server sends it
//! to STS, and STS's answer says who signed it; no secret is shared and no user database kept.
//!
//! A proof is checked here before anything is called: it must be exactly `GetCallerIdentity`,
//! `POST`, for one of the configured STS endpoints (never anywhere else: a caller must not name
//! their own "STS"), bound to this server's audience by a signed `X-Sentinel-Audience` header and
//! to the profile asked for by a signed `X-Sentinel-Profile`, made unique by a signed random
//! `X-Sentinel-Nonce`, and dated within five minutes of now. A proof made for another server or
//! another profile therefore cannot be replayed, and a captured one stops working within
//! minutes; the server keeps each proof's [`ProofSignature`] for those minutes to accept it once.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, Uri};
use jiff::Timestamp;
use jiff::civil::DateTime;
use serde::{Deserialize, Serialize};

use crate::endpoint::StsEndpoints;

/// The only body a proof may carry.
pub const GET_CALLER_IDENTITY_BODY: &str = "Action=GetCallerIdentity&Version=2011-06-15";
/// The content type of that body.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
/// The header that binds a proof to one server; it must be among the signed headers.
pub const AUDIENCE_HEADER: &str = "x-sentinel-audience";
/// The header that binds a proof to the profile asked for; it must be among the signed headers.
pub const PROFILE_HEADER: &str = "x-sentinel-profile";
/// The header that makes each proof unique: at least [`MIN_NONCE_LEN`] random characters of
/// the base64url alphabet (hex digits are among them); it must be among the signed headers.
pub const NONCE_HEADER: &str = "x-sentinel-nonce";
/// The fewest characters a nonce may have: 32 hex digits are 128 random bits.
pub const MIN_NONCE_LEN: usize = 32;
/// The most characters a nonce may have.
pub const MAX_NONCE_LEN: usize = 128;
/// How far a proof's `X-Amz-Date` may be from the server's clock, either way.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// The one signature algorithm STS accepts in an `Authorization` header.
const SIGV4: &str = "AWS4-HMAC-SHA256";

/// A signed, unsent STS `GetCallerIdentity` request, as it travels in the request body.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// The HTTP method; only `POST` is accepted.
    pub method: String,
    /// The STS endpoint the request was signed for, e.g. `https://sts.us-east-1.amazonaws.com/`.
    pub url: String,
    /// The request headers, `Authorization` and `X-Amz-Date` among them.
    pub headers: BTreeMap<String, String>,
    /// The form body; only [`GET_CALLER_IDENTITY_BODY`] is accepted.
    pub body: String,
}

impl fmt::Debug for Proof {
    /// Shows the header names only: the values include a session token.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proof")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body", &self.body)
            .finish()
    }
}

/// The body of `POST /v1/credentials`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsRequest {
    /// The profile credentials are asked for.
    pub profile: String,
    /// Who is asking, as a signed proof.
    pub proof: Proof,
    /// Why the caller breaks the glass, if they do (see [`crate::check_reason`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<String>,
}

/// A proof that passed every check: what to send to STS, and where.
#[derive(Debug, Clone)]
pub struct CheckedProof {
    /// The STS endpoint, one of the configured ones.
    pub uri: Uri,
    /// The headers to send, exactly as the caller signed them (no `Host`: it follows the URI).
    pub headers: HeaderMap,
    /// The signature, which names this proof and no other.
    pub signature: ProofSignature,
    /// The proof's `X-Amz-Date`.
    pub date: Timestamp,
}

impl CheckedProof {
    /// The body to send with the headers (the only one a proof may have).
    pub fn body(&self) -> &'static str {
        GET_CALLER_IDENTITY_BODY
    }

    /// The last instant the proof is fresh by the server's clock: after it, [`ProofRules::check`]
    /// refuses the proof as stale, so whoever remembers it for single use may forget it then.
    pub fn fresh_until(&self) -> Timestamp {
        // Only calendar units can make the addition fail; a `Duration` has none.
        self.date
            .saturating_add(MAX_CLOCK_SKEW)
            .unwrap_or(Timestamp::MAX)
    }
}

/// A proof's SigV4 signature: the 32 bytes of HMAC-SHA256 in the `Signature=` of its
/// `Authorization`. It depends on everything signed (the nonce, the date, the audience, the
/// profile, the caller's key), so two proofs share it only if they are one; what a caller may
/// change without STS noticing (spaces in a signed value, an unsigned header, the case of the
/// hex digits) leaves it unchanged. `Debug` hides it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProofSignature([u8; 32]);

impl ProofSignature {
    /// The signature with these bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> ProofSignature {
        ProofSignature(bytes)
    }

    /// The signature's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The signature written as 64 hex digits, in either case.
    fn from_hex(text: &str) -> Option<ProofSignature> {
        let digits = text.as_bytes();
        if digits.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let nibble = |digit: u8| char::from(digit).to_digit(16);
            *byte = u8::try_from((nibble(pair[0])? << 4) | nibble(pair[1])?).ok()?;
        }
        Some(ProofSignature(bytes))
    }
}

impl fmt::Debug for ProofSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProofSignature(..)")
    }
}

/// Why a proof was refused before anything was called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofRejection {
    /// Not a well-formed signed `GetCallerIdentity` request (answered `400`).
    #[error("malformed proof: {0}")]
    Malformed(String),
    /// Signed for an endpoint this server does not send proofs to (answered `401`).
    #[error("the proof is for {0}, which is not one of this server's STS endpoints")]
    Endpoint(String),
    /// No `X-Sentinel-Audience`, or another server's (answered `401`).
    #[error("{0}")]
    Audience(String),
    /// `X-Sentinel-Audience` is present but not signed, so anyone could have set it (`401`).
    #[error("the X-Sentinel-Audience header is not among the signed headers of Authorization")]
    UnsignedAudience,
    /// No signed `X-Sentinel-Profile`, or one for another profile than the one asked for
    /// (answered `401`).
    #[error("{0}")]
    Profile(String),
    /// No signed `X-Sentinel-Nonce`, or one too short or long, or of other characters than the
    /// base64url alphabet (answered `401`).
    #[error("{0}")]
    Nonce(String),
    /// `X-Amz-Date` is too far from now, either way (answered `401`). Its message says which way
    /// the client's clock is off.
    #[error("{}", skew_message(*date, *now))]
    Stale {
        /// The proof's date.
        date: Timestamp,
        /// The server's clock.
        now: Timestamp,
    },
}

impl ProofRejection {
    /// A short, stable name for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ProofRejection::Malformed(_) => "malformed_proof",
            ProofRejection::Endpoint(_) => "proof_endpoint",
            ProofRejection::Audience(_) => "proof_audience",
            ProofRejection::UnsignedAudience => "proof_unsigned_audience",
            ProofRejection::Profile(_) => "proof_profile",
            ProofRejection::Nonce(_) => "proof_nonce",
            ProofRejection::Stale { .. } => "proof_stale",
        }
    }
}

/// Why a proof dated `date` is stale at `now`, and which way the client's clock is off.
fn skew_message(date: Timestamp, now: Timestamp) -> String {
    let offset = date.duration_since(now);
    let (way, clock) = if offset.is_positive() {
        ("ahead of", "the client's clock is fast")
    } else {
        ("behind", "the client's clock is slow, or the proof is old")
    };
    let whole_seconds = jiff::SignedDuration::from_secs(offset.abs().as_secs());
    let second = "%Y-%m-%dT%H:%M:%SZ";
    format!(
        "the proof is dated {whole_seconds:#} {way} the server's clock, more than the {} minutes \
         allowed: {clock} (X-Amz-Date {}, server clock {})",
        MAX_CLOCK_SKEW.as_secs() / 60,
        date.strftime(second),
        now.strftime(second)
    )
}

/// What a proof must match to be sent on.
#[derive(Debug, Clone)]
pub struct ProofRules {
    /// This server's audience: the value of `X-Sentinel-Audience` it accepts.
    pub audience: String,
    /// Where proofs may be sent.
    pub endpoints: StsEndpoints,
}

/// The headers a proof may sign: what a SigV4 `GetCallerIdentity` request needs, and the
/// audience, profile and nonce. A proof that signs anything else is refused, since STS would be
/// sent it.
pub const SIGNABLE_HEADERS: [&str; 9] = [
    "content-length",
    "content-type",
    "host",
    "x-amz-content-sha256",
    "x-amz-date",
    "x-amz-security-token",
    AUDIENCE_HEADER,
    PROFILE_HEADER,
    NONCE_HEADER,
];

/// Headers a proof may not carry: the server frames the request itself.
const FRAMING_HEADERS: [&str; 5] = [
    "connection",
    "transfer-encoding",
    "keep-alive",
    "upgrade",
    "te",
];

impl ProofRules {
    /// Checks `proof`, handed over with a request for `profile`, against every rule, at the
    /// instant `now`, without calling anything.
    pub fn check(
        &self,
        proof: &Proof,
        profile: &str,
        now: Timestamp,
    ) -> Result<CheckedProof, ProofRejection> {
        let malformed = |problem: &str| Err(ProofRejection::Malformed(problem.to_owned()));
        if proof.body != GET_CALLER_IDENTITY_BODY {
            return malformed(&format!(
                "the body must be exactly {GET_CALLER_IDENTITY_BODY:?}"
            ));
        }
        if proof.method != Method::POST.as_str() {
            return malformed("the method must be POST");
        }
        let uri = parse_url(&proof.url)?;
        let headers = parse_headers(&proof.headers, &uri)?;
        if !self.endpoints.allows(&uri) {
            return Err(ProofRejection::Endpoint(proof.url.clone()));
        }
        let Authorization { signed, signature } = authorization(&headers)?;
        if let Some(name) = signed.iter().find(|name| !SIGNABLE_HEADERS.contains(name)) {
            return malformed(&format!(
                "it signs {name}, which is not one of {}",
                SIGNABLE_HEADERS.join(", ")
            ));
        }
        match headers.get(AUDIENCE_HEADER) {
            None => {
                return Err(ProofRejection::Audience(
                    "the proof has no X-Sentinel-Audience header".to_owned(),
                ));
            }
            Some(audience) if audience.as_bytes() != self.audience.as_bytes() => {
                return Err(ProofRejection::Audience(format!(
                    "the proof is for audience {:?}, not this server's ({:?})",
                    String::from_utf8_lossy(audience.as_bytes()),
                    self.audience
                )));
            }
            Some(_) => {}
        }
        if !signed.contains(&AUDIENCE_HEADER) {
            return Err(ProofRejection::UnsignedAudience);
        }
        let bound = signed_value(&headers, &signed, PROFILE_HEADER, "X-Sentinel-Profile")
            .map_err(ProofRejection::Profile)?;
        if bound != profile.as_bytes() {
            return Err(ProofRejection::Profile(format!(
                "the proof is for profile {:?}, not {profile:?}, which is asked for",
                String::from_utf8_lossy(bound)
            )));
        }
        let nonce = signed_value(&headers, &signed, NONCE_HEADER, "X-Sentinel-Nonce")
            .map_err(ProofRejection::Nonce)?;
        let base64url = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
        if !(MIN_NONCE_LEN..=MAX_NONCE_LEN).contains(&nonce.len()) || !nonce.iter().all(base64url) {
            return Err(ProofRejection::Nonce(format!(
                "its X-Sentinel-Nonce is not {MIN_NONCE_LEN} to {MAX_NONCE_LEN} random letters, \
                 digits, - or _ (it has {} characters)",
                nonce.len()
            )));
        }
        let date = amz_date(&headers)?;
        if date.duration_since(now).unsigned_abs() > MAX_CLOCK_SKEW {
            return Err(ProofRejection::Stale { date, now });
        }
        let headers = forwarded(&headers, &signed);
        Ok(CheckedProof {
            uri,
            headers,
            signature,
            date,
        })
    }
}

/// The value of the header `name` (`shown` in messages), which must be given and signed; the
/// error says which it is not.
fn signed_value<'h>(
    headers: &'h HeaderMap,
    signed: &[&str],
    name: &str,
    shown: &str,
) -> Result<&'h [u8], String> {
    let Some(value) = headers.get(name) else {
        return Err(format!("the proof has no {shown} header"));
    };
    if !signed.contains(&name) {
        return Err(format!(
            "the {shown} header is not among the signed headers of Authorization"
        ));
    }
    Ok(value.as_bytes())
}

/// What is sent on to STS: `Authorization`, the signed headers, and the body's `Content-Type`
/// and `Content-Length`; no other header the caller chose (a `Cookie`, an `X-Forwarded-For`...).
fn forwarded(headers: &HeaderMap, signed: &[&str]) -> HeaderMap {
    use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
    let mut sent = HeaderMap::with_capacity(signed.len() + 2);
    for (name, value) in headers {
        let needed = [AUTHORIZATION, CONTENT_TYPE, CONTENT_LENGTH].contains(name);
        if needed || signed.contains(&name.as_str()) {
            sent.insert(name.clone(), value.clone());
        }
    }
    sent
}

/// The proof's URL as a URI: `http` or `https`, a host, and nothing after it but `/`.
fn parse_url(url: &str) -> Result<Uri, ProofRejection> {
    let malformed = |problem: &str| ProofRejection::Malformed(format!("url {url:?}: {problem}"));
    let uri: Uri = url
        .parse()
        .map_err(|_| malformed("not an absolute http(s) URL"))?;
    match uri.scheme_str() {
        Some("https" | "http") => {}
        _ => return Err(malformed("not an absolute http(s) URL")),
    }
    let authority = uri.authority().ok_or_else(|| malformed("it has no host"))?;
    if authority.as_str().contains('@') {
        return Err(malformed("user information is not allowed"));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(malformed("an STS endpoint URL has no path or query"));
    }
    Ok(uri)
}

/// The proof's headers as a header map, each name once; `Host`, if given, must name the URL's
/// authority, and framing headers are refused (the server frames what it sends).
fn parse_headers(
    headers: &BTreeMap<String, String>,
    uri: &Uri,
) -> Result<HeaderMap, ProofRejection> {
    let malformed = |problem: String| ProofRejection::Malformed(problem);
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| malformed(format!("{name:?} is not a header name")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| malformed(format!("the value of {name} is not a header value")))?;
        if FRAMING_HEADERS.contains(&name.as_str()) {
            return Err(malformed(format!("a proof may not set {name}")));
        }
        if name == http::header::HOST {
            let authority = uri
                .authority()
                .map(http::uri::Authority::as_str)
                .unwrap_or_default();
            if !value.as_bytes().eq_ignore_ascii_case(authority.as_bytes()) {
                return Err(malformed(format!(
                    "its Host header does not name the URL's host {authority:?}"
                )));
            }
            continue;
        }
        if name == http::header::CONTENT_LENGTH {
            if value.as_bytes() != GET_CALLER_IDENTITY_BODY.len().to_string().as_bytes() {
                return Err(malformed("its Content-Length is not the body's".to_owned()));
            }
            continue;
        }
        if map.insert(name.clone(), value).is_some() {
            return Err(malformed(format!("the header {name} is given twice")));
        }
    }
    Ok(map)
}

/// What a SigV4 `Authorization` header says.
struct Authorization<'h> {
    /// The lower-case names in its `SignedHeaders`.
    signed: Vec<&'h str>,
    /// Its `Signature`.
    signature: ProofSignature,
}

/// The `SignedHeaders` and `Signature` of a SigV4 `Authorization` header.
fn authorization(headers: &HeaderMap) -> Result<Authorization<'_>, ProofRejection> {
    let malformed = |problem: &str| Err(ProofRejection::Malformed(problem.to_owned()));
    let Some(authorization) = headers.get(http::header::AUTHORIZATION) else {
        return malformed("it has no Authorization header");
    };
    let Ok(authorization) = authorization.to_str() else {
        return malformed("its Authorization header is not text");
    };
    let Some(fields) = authorization
        .strip_prefix(SIGV4)
        .filter(|rest| rest.starts_with(' '))
    else {
        return malformed("its Authorization header is not an AWS4-HMAC-SHA256 signature");
    };
    // Exactly `Credential`, `SignedHeaders` and `Signature`, each once with a value, and
    // nothing else: a decoy or a second field must not pass here while STS reads another.
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for field in fields.split(',') {
        let (key, value) = field.trim().split_once('=').unwrap_or(("", ""));
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => {
                return malformed(
                    "its Authorization header has a field other than Credential, SignedHeaders \
                     and Signature",
                );
            }
        };
        if value.is_empty() || slot.replace(value).is_some() {
            return malformed("its Authorization header gives a field twice or without a value");
        }
    }
    let (Some(_), Some(names), Some(signature)) = (credential, signed, signature) else {
        return malformed("its Authorization header lacks Credential, SignedHeaders or Signature");
    };
    let Some(signature) = ProofSignature::from_hex(signature) else {
        return malformed("its Signature is not 64 hex digits (HMAC-SHA256)");
    };
    let names: Vec<&str> = names.split(';').collect();
    let well_formed = |name: &&str| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !names.iter().all(well_formed) {
        return malformed("its SignedHeaders are not lower-case header names separated by ;");
    }
    Ok(Authorization {
        signed: names,
        signature,
    })
}

/// The instant in the proof's `X-Amz-Date` (`YYYYMMDDTHHMMSSZ`, UTC).
fn amz_date(headers: &HeaderMap) -> Result<Timestamp, ProofRejection> {
    let malformed =
        || ProofRejection::Malformed("it has no X-Amz-Date of the form 20250101T120000Z".into());
    let text = headers
        .get("x-amz-date")
        .and_then(|value| value.to_str().ok())
        .ok_or_else(malformed)?;
    let civil = DateTime::strptime("%Y%m%dT%H%M%SZ", text).map_err(|_| malformed())?;
    jiff::tz::TimeZone::UTC
        .to_timestamp(civil)
        .map_err(|_| malformed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoint::Endpoint;
    use proptest::prelude::*;

    const NOW: i64 = 1_750_000_000;
    const PROFILE: &str = "production";
    const NONCE: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    const SIGNATURE: &str = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
    /// What a well-formed proof signs.
    const SIGNED: &str =
        "content-type;host;x-amz-date;x-sentinel-audience;x-sentinel-nonce;x-sentinel-profile";

    fn rules() -> ProofRules {
        ProofRules {
            audience: "sentinel.example.com".to_owned(),
            endpoints: StsEndpoints::Listed(vec![
                Endpoint::parse("https://sts.us-east-1.amazonaws.com").expect("endpoint"),
            ]),
        }
    }

    fn now() -> Timestamp {
        Timestamp::from_second(NOW).expect("instant")
    }

    /// A SigV4 `Authorization` that signs `signed` (its signature is never checked here).
    fn authorization(signed: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250615/us-east-1/sts/aws4_request, \
             SignedHeaders={signed}, Signature={SIGNATURE}"
        )
    }

    /// A proof of the right shape for [`PROFILE`], dated `now()`.
    fn proof() -> Proof {
        let date = now().strftime("%Y%m%dT%H%M%SZ").to_string();
        let authorization = authorization(SIGNED);
        let headers = [
            ("Authorization", authorization.as_str()),
            ("X-Amz-Date", date.as_str()),
            ("Content-Type", FORM_CONTENT_TYPE),
            ("X-Sentinel-Audience", "sentinel.example.com"),
            ("X-Sentinel-Profile", PROFILE),
            ("X-Sentinel-Nonce", NONCE),
        ];
        Proof {
            method: "POST".into(),
            url: "https://sts.us-east-1.amazonaws.com/".into(),
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            body: GET_CALLER_IDENTITY_BODY.into(),
        }
    }

    fn check(proof: &Proof) -> Result<CheckedProof, ProofRejection> {
        rules().check(proof, PROFILE, now())
    }

    fn with_header(name: &str, value: Option<&str>) -> Proof {
        let mut proof = proof();
        proof
            .headers
            .retain(|key, _| !key.eq_ignore_ascii_case(name));
        if let Some(value) = value {
            proof.headers.insert(name.to_owned(), value.to_owned());
        }
        proof
    }

    /// The well-formed proof, signing `signed` instead.
    fn signing(signed: &str) -> Proof {
        with_header("Authorization", Some(&authorization(signed)))
    }

    #[test]
    fn only_authorization_the_signed_headers_and_the_bodys_are_sent_on() {
        let mut proof = proof();
        for (name, value) in [
            ("Cookie", "session=1"),
            ("Proxy-Authorization", "Basic eDp5"),
            ("X-Forwarded-For", "10.0.0.1"),
            (
                "X-Amz-Target",
                "AWSSecurityTokenServiceV20110615.AssumeRole",
            ),
            ("Content-Encoding", "gzip"),
        ] {
            proof.headers.insert(name.into(), value.into());
        }
        let checked = check(&proof).expect("valid");
        let mut sent: Vec<&str> = checked.headers.keys().map(HeaderName::as_str).collect();
        sent.sort_unstable();
        assert_eq!(
            sent,
            [
                "authorization",
                "content-type",
                "x-amz-date",
                "x-sentinel-audience",
                "x-sentinel-nonce",
                "x-sentinel-profile"
            ]
        );
    }

    #[test]
    fn a_proof_that_signs_a_header_sts_has_no_use_for_is_malformed() {
        let mut proof = signing(&format!("cookie;{SIGNED}"));
        proof.headers.insert("Cookie".into(), "session=1".into());
        let rejection = check(&proof).expect_err("refused");
        assert!(
            matches!(rejection, ProofRejection::Malformed(_)),
            "{rejection}"
        );
        assert!(
            rejection.to_string().contains("it signs cookie"),
            "{rejection}"
        );
    }

    #[test]
    fn a_well_formed_proof_passes_with_its_headers_signature_and_date() {
        let checked = check(&proof()).expect("valid");
        assert_eq!(checked.uri, "https://sts.us-east-1.amazonaws.com/");
        assert_eq!(checked.headers.len(), 6);
        assert_eq!(checked.headers[AUDIENCE_HEADER], "sentinel.example.com");
        assert_eq!(checked.headers[PROFILE_HEADER], PROFILE);
        assert_eq!(checked.headers[NONCE_HEADER], NONCE);
        assert_eq!(checked.body(), GET_CALLER_IDENTITY_BODY);
        assert_eq!(checked.signature.as_bytes()[..4], [0x5d, 0x67, 0x2d, 0x79]);
        assert_eq!(checked.date, now());
        assert_eq!(
            checked.fresh_until(),
            Timestamp::from_second(NOW + 300).expect("instant")
        );
    }

    #[test]
    fn the_signature_is_64_hex_digits_in_either_case_and_names_the_proof() {
        let upper = with_header(
            "Authorization",
            Some(&authorization(SIGNED).replace(SIGNATURE, &SIGNATURE.to_uppercase())),
        );
        assert_eq!(
            check(&upper).expect("valid").signature,
            check(&proof()).expect("valid").signature
        );
        for bad in [
            &SIGNATURE[1..],
            "y",
            &format!("{SIGNATURE}00"),
            &SIGNATURE.replace('5', "g"),
        ] {
            let proof = with_header(
                "Authorization",
                Some(&authorization(SIGNED).replace(SIGNATURE, bad)),
            );
            let rejection = check(&proof).expect_err("malformed");
            assert!(
                rejection.to_string().contains("64 hex digits"),
                "{bad}: {rejection}"
            );
        }
        let shown = format!("{:?}", check(&proof()).expect("valid").signature);
        assert!(!shown.contains("5d67"), "{shown}");
    }

    #[test]
    fn anything_but_get_caller_identity_by_post_is_malformed() {
        let mut tampered = proof();
        tampered.body = "Action=AssumeRole&Version=2011-06-15&RoleArn=x".into();
        let mut get = proof();
        get.method = "GET".into();
        let mut query = proof();
        query.url = "https://sts.us-east-1.amazonaws.com/?Action=AssumeRole".into();
        let mut path = proof();
        path.url = "https://sts.us-east-1.amazonaws.com/other".into();
        let mut user_info = proof();
        user_info.url = "https://me@sts.us-east-1.amazonaws.com/".into();
        let signed = format!("SignedHeaders={SIGNED}");
        let signature = format!("Signature={SIGNATURE}");
        // No SignedHeaders; a decoy beside the real field; a second SignedHeaders; a field STS
        // does not know; an empty one; names that are not lower-case header names.
        let authorizations = [
            format!("AWS4-HMAC-SHA256 Credential=x, {signature}"),
            format!("AWS4-HMAC-SHA256 Credential=x, XSignedHeaders=host, {signed}, {signature}"),
            format!("AWS4-HMAC-SHA256 Credential=x, {signed}, SignedHeaders=host, {signature}"),
            format!("AWS4-HMAC-SHA256 Credential=x, {signed}, {signature}, Extra=z"),
            format!("AWS4-HMAC-SHA256 Credential=, {signed}, {signature}"),
            authorization(&SIGNED.replace(";host;", ";;host;")),
            authorization(&SIGNED.replace("x-sentinel-audience", "X-Sentinel-Audience")),
        ]
        .map(|authorization| with_header("Authorization", Some(&authorization)));
        let cases = [
            tampered,
            get,
            query,
            path,
            user_info,
            with_header("Authorization", None),
            with_header("Authorization", Some("Bearer abc")),
            with_header("X-Amz-Date", None),
            with_header("X-Amz-Date", Some("yesterday")),
            with_header("Transfer-Encoding", Some("chunked")),
            with_header("Host", Some("evil.example")),
            with_header("Content-Length", Some("5")),
            with_header("Bad Name", Some("x")),
        ];
        for case in cases.into_iter().chain(authorizations) {
            let rejection = check(&case).expect_err("malformed");
            assert!(
                matches!(rejection, ProofRejection::Malformed(_)),
                "{case:?}: {rejection}"
            );
            assert_eq!(rejection.kind(), "malformed_proof");
        }
    }

    #[test]
    fn a_header_given_twice_in_different_cases_is_malformed() {
        let mut twice = proof();
        twice
            .headers
            .insert("x-sentinel-audience".into(), "sentinel.example.com".into());
        assert!(matches!(check(&twice), Err(ProofRejection::Malformed(_))));
    }

    #[test]
    fn a_matching_host_and_content_length_are_accepted_and_not_forwarded_twice() {
        let mut explicit = with_header("Host", Some("STS.us-east-1.amazonaws.com"));
        explicit.headers.insert(
            "Content-Length".into(),
            GET_CALLER_IDENTITY_BODY.len().to_string(),
        );
        let checked = check(&explicit).expect("valid");
        assert!(!checked.headers.contains_key(http::header::HOST));
        assert!(!checked.headers.contains_key(http::header::CONTENT_LENGTH));
    }

    #[test]
    fn an_unlisted_endpoint_is_refused() {
        for url in [
            "https://sts.eu-west-1.amazonaws.com/",
            "http://sts.us-east-1.amazonaws.com/",
            "https://sts.us-east-1.amazonaws.com:444/",
            "https://127.0.0.1:9/",
        ] {
            let mut elsewhere = proof();
            elsewhere.url = url.into();
            assert!(
                matches!(check(&elsewhere), Err(ProofRejection::Endpoint(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn the_audience_must_be_present_ours_and_signed() {
        let missing = check(&with_header("X-Sentinel-Audience", None)).expect_err("missing");
        assert!(
            missing.to_string().contains("no X-Sentinel-Audience"),
            "{missing}"
        );
        let other = check(&with_header(
            "X-Sentinel-Audience",
            Some("other.example.com"),
        ))
        .expect_err("other audience");
        assert!(matches!(other, ProofRejection::Audience(_)));
        assert!(other.to_string().contains("other.example.com"), "{other}");
        let unsigned = signing(&SIGNED.replace(";x-sentinel-audience", ""));
        assert_eq!(
            check(&unsigned).expect_err("unsigned"),
            ProofRejection::UnsignedAudience
        );
        // A signed header whose name only contains the audience header's is not it, and being
        // no header a proof may sign, it is refused before the audience is looked at.
        let lookalike = signing(&SIGNED.replace("x-sentinel-audience", "x-sentinel-audience-not"));
        let refused = check(&lookalike).expect_err("lookalike");
        assert!(
            refused
                .to_string()
                .contains("it signs x-sentinel-audience-not"),
            "{refused}"
        );
    }

    #[test]
    fn the_profile_must_be_present_signed_and_the_one_asked_for() {
        let missing = check(&with_header("X-Sentinel-Profile", None)).expect_err("missing");
        assert!(
            missing.to_string().contains("no X-Sentinel-Profile header"),
            "{missing}"
        );
        let unsigned =
            check(&signing(&SIGNED.replace(";x-sentinel-profile", ""))).expect_err("unsigned");
        assert!(
            unsigned
                .to_string()
                .contains("X-Sentinel-Profile header is not among the signed headers"),
            "{unsigned}"
        );
        // A proof made for staging, handed over with a request for production.
        let replayed = rules()
            .check(
                &with_header("X-Sentinel-Profile", Some("staging")),
                PROFILE,
                now(),
            )
            .expect_err("another profile");
        assert_eq!(
            replayed.to_string(),
            "the proof is for profile \"staging\", not \"production\", which is asked for"
        );
        let asked_elsewhere = rules()
            .check(&proof(), "staging", now())
            .expect_err("asked for another profile");
        // The comparison is exact: no case folding, no trimming.
        let loose = [" production", "Production", "production "].map(|asked| {
            rules()
                .check(&proof(), asked, now())
                .expect_err("not exactly the signed profile")
        });
        for rejection in [missing, unsigned, replayed, asked_elsewhere]
            .into_iter()
            .chain(loose)
        {
            assert!(
                matches!(rejection, ProofRejection::Profile(_)),
                "{rejection}"
            );
            assert_eq!(rejection.kind(), "proof_profile");
        }
    }

    #[test]
    fn the_nonce_must_be_present_signed_and_long_enough() {
        let missing = check(&with_header("X-Sentinel-Nonce", None)).expect_err("missing");
        assert!(
            missing.to_string().contains("no X-Sentinel-Nonce header"),
            "{missing}"
        );
        let unsigned =
            check(&signing(&SIGNED.replace(";x-sentinel-nonce", ""))).expect_err("unsigned");
        assert!(
            unsigned
                .to_string()
                .contains("X-Sentinel-Nonce header is not among the signed headers"),
            "{unsigned}"
        );
        let short = check(&with_header("X-Sentinel-Nonce", Some(&NONCE[1..]))).expect_err("short");
        assert!(
            short.to_string().contains("it has 31 characters"),
            "{short}"
        );
        for rejection in [missing, unsigned, short] {
            assert!(matches!(rejection, ProofRejection::Nonce(_)), "{rejection}");
            assert_eq!(rejection.kind(), "proof_nonce");
        }
        // 32 hex digits and 43 base64url characters are each at least 128 bits.
        let base64url = "Zm9vYmFyLWJhei1xdXV4LWNvcmdlLWdyYXVsdC1nYXJw";
        assert!(check(&with_header("X-Sentinel-Nonce", Some(base64url))).is_ok());
    }

    proptest! {
        #[test]
        fn a_nonce_is_accepted_exactly_when_it_is_32_to_128_base64url_characters(
            nonce in prop_oneof!["[A-Za-z0-9_-]{0,140}", "[A-Za-z0-9_-]{20,40}[ -~]?", "[ -~]{0,140}"]
        ) {
            let expected = (MIN_NONCE_LEN..=MAX_NONCE_LEN).contains(&nonce.len())
                && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            let result = check(&with_header("X-Sentinel-Nonce", Some(&nonce)));
            match expected {
                true => prop_assert!(result.is_ok(), "{nonce:?}: {result:?}"),
                false => prop_assert!(
                    matches!(result, Err(ProofRejection::Nonce(_))),
                    "{nonce:?}: {result:?}"
                ),
            }
        }
    }

    #[test]
    fn a_proof_more_than_five_minutes_off_is_stale() {
        for (offset, fresh) in [
            (-300, true),
            (300, true),
            (-301, false),
            (301, false),
            (-86_400, false),
        ] {
            let date = Timestamp::from_second(NOW + offset)
                .expect("instant")
                .strftime("%Y%m%dT%H%M%SZ")
                .to_string();
            let result = check(&with_header("X-Amz-Date", Some(&date)));
            match fresh {
                true => assert!(result.is_ok(), "{offset}s: {result:?}"),
                false => assert!(
                    matches!(result, Err(ProofRejection::Stale { .. })),
                    "{offset}s: {result:?}"
                ),
            }
        }
    }

    #[test]
    fn a_stale_proof_says_which_way_the_clients_clock_is_off() {
        let at = |offset: i64| {
            let date = Timestamp::from_second(NOW + offset)
                .expect("instant")
                .strftime("%Y%m%dT%H%M%SZ")
                .to_string();
            check(&with_header("X-Amz-Date", Some(&date)))
                .expect_err("stale")
                .to_string()
        };
        let fast = at(7 * 60);
        assert!(
            fast.starts_with(
                "the proof is dated 7m ahead of the server's clock, more than the 5 minutes \
                 allowed: the client's clock is fast"
            ),
            "{fast}"
        );
        let slow = at(-(10 * 60 + 5));
        assert!(
            slow.starts_with(
                "the proof is dated 10m 5s behind the server's clock, more than the 5 minutes \
                 allowed: the client's clock is slow"
            ),
            "{slow}"
        );
        assert!(
            slow.ends_with("(X-Amz-Date 2025-06-15T14:56:35Z, server clock 2025-06-15T15:06:40Z)"),
            "{slow}"
        );
        let mid_second = ProofRejection::Stale {
            date: now(),
            now: Timestamp::from_second(NOW + 400).expect("instant")
                + jiff::SignedDuration::from_millis(250),
        };
        assert!(
            mid_second
                .to_string()
                .ends_with("server clock 2025-06-15T15:13:20Z)"),
            "{mid_second}"
        );
    }

    #[test]
    fn debug_output_hides_header_values() {
        let shown = format!(
            "{:?}",
            with_header("X-Amz-Security-Token", Some("secret-token"))
        );
        assert!(shown.contains("X-Amz-Security-Token"), "{shown}");
        assert!(!shown.contains("secret-token"), "{shown}");
    }

    #[test]
    fn the_request_body_round_trips_and_refuses_unknown_fields() {
        let request = CredentialsRequest {
            profile: "production".into(),
            proof: proof(),
            break_glass: None,
        };
        let json = serde_json::to_string(&request).expect("json");
        let back: CredentialsRequest = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, request);
        let extra = json.replacen("{\"profile\"", "{\"user\":\"alice\",\"profile\"", 1);
        assert!(serde_json::from_str::<CredentialsRequest>(&extra).is_err());
    }
}
