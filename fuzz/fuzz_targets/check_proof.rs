//! Any bytes given to the proof checks yield a checked proof or a rejection, never a panic: as a
//! JSON credentials request, and as the value of each header of an otherwise well-formed proof.
//! A proof that passes is bound to this server, to the profile asked for, has a nonce, and is
//! fresh.

#![no_main]

use std::collections::BTreeMap;

use jiff::Timestamp;
use libfuzzer_sys::fuzz_target;
use sentinel_protocol::proof::{
    AUDIENCE_HEADER, CredentialsRequest, GET_CALLER_IDENTITY_BODY, MAX_CLOCK_SKEW, MIN_NONCE_LEN,
    NONCE_HEADER, PROFILE_HEADER, Proof, ProofRules,
};
use sentinel_protocol::{Endpoint, StsEndpoints};

/// The instant the proofs are judged at: 2025-06-15T15:06:40Z, the seeds' `X-Amz-Date`.
const NOW: i64 = 1_750_000_000;

/// The headers of a well-formed proof for `production`, dated `NOW`.
const WELL_FORMED: [(&str, &str); 6] = [
    (
        "Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250615/us-east-1/sts/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date;x-sentinel-audience;x-sentinel-nonce;\
         x-sentinel-profile, \
         Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
    ),
    ("X-Amz-Date", "20250615T150640Z"),
    ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
    ("X-Sentinel-Audience", "sentinel.example.com"),
    ("X-Sentinel-Profile", "production"),
    ("X-Sentinel-Nonce", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
];

fuzz_target!(|data: &[u8]| {
    let rules = ProofRules {
        audience: "sentinel.example.com".to_owned(),
        endpoints: StsEndpoints::Listed(vec![
            Endpoint::parse("https://sts.us-east-1.amazonaws.com").expect("endpoint"),
        ]),
    };
    if let Ok(request) = serde_json::from_slice::<CredentialsRequest>(data) {
        judge(&rules, &request.proof, &request.profile);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for (name, _) in WELL_FORMED {
        let mut headers: BTreeMap<String, String> = WELL_FORMED
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        headers.insert(name.to_owned(), text.to_owned());
        let proof = Proof {
            method: "POST".to_owned(),
            url: "https://sts.us-east-1.amazonaws.com/".to_owned(),
            headers,
            body: GET_CALLER_IDENTITY_BODY.to_owned(),
        };
        judge(&rules, &proof, "production");
    }
});

/// Checks `proof` for `profile`; what passes must hold what the checks promise.
fn judge(rules: &ProofRules, proof: &Proof, profile: &str) {
    let now = Timestamp::from_second(NOW).expect("instant");
    match rules.check(proof, profile, now) {
        Ok(checked) => {
            assert_eq!(checked.headers[AUDIENCE_HEADER], rules.audience.as_str());
            assert_eq!(checked.headers[PROFILE_HEADER].as_bytes(), profile.as_bytes());
            assert!(checked.headers[NONCE_HEADER].len() >= MIN_NONCE_LEN);
            assert!(checked.date.duration_since(now).unsigned_abs() <= MAX_CLOCK_SKEW);
            assert!(checked.fresh_until() >= now);
        }
        Err(rejection) => {
            assert!(!rejection.kind().is_empty());
            assert!(!rejection.to_string().is_empty());
        }
    }
}
