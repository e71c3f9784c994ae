//! The STS issuer and the caller lookup against the moto emulator, through the real SDK.

use std::time::Duration;

use sentinel_aws::caller::caller_identity;
use sentinel_aws::sts::StsIssuer;
use sentinel_core::issuer::{IssueRequest, Issuer};
use sentinel_testkit::Moto;

fn request<'a>(session: &'a str, identity: &'a str) -> IssueRequest<'a> {
    IssueRequest {
        role_arn: "arn:aws:iam::123456789012:role/prod",
        role_session_name: session,
        source_identity: identity,
        duration: Duration::from_secs(900),
        external_id: Some("ext-42"),
    }
}

#[tokio::test]
async fn assume_role_sends_the_source_identity_and_returns_credentials() {
    let moto = Moto::connect();
    let alice = moto.create_user("alice");
    let config = moto.sdk_config_with(alice).await;
    moto.start_recording();
    let identity = "sentinel.alice.0123456789abcdef";
    let credentials = StsIssuer::new(&config)
        .issue(&request(identity, identity))
        .await
        .expect("issued");
    assert!(!credentials.access_key_id.is_empty());
    assert!(credentials.expiration > jiff::Timestamp::now());

    let calls = moto.recorded_calls("AssumeRole");
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["SourceIdentity"], identity);
    assert_eq!(calls[0]["RoleSessionName"], identity);
    assert_eq!(calls[0]["ExternalId"], "ext-42");
    assert_eq!(calls[0]["DurationSeconds"], "900");
}

#[tokio::test]
async fn names_sts_would_reject_are_refused_before_any_call() {
    let moto = Moto::connect();
    let config = moto.sdk_config().await;
    moto.start_recording();
    let error = StsIssuer::new(&config)
        .issue(&request("a:b", "sentinel.alice.0123456789abcdef"))
        .await
        .expect_err("refused");
    assert!(error.to_string().contains("RoleSessionName"), "{error}");
    assert!(moto.recorded_calls("AssumeRole").is_empty());
}

#[tokio::test]
async fn the_caller_is_the_iam_user_behind_the_keys() {
    let moto = Moto::connect();
    let carol = moto.create_user("carol");
    let config = moto.sdk_config_with(carol).await;
    let caller = caller_identity(&config).await.expect("caller");
    assert_eq!(caller.arn, "arn:aws:iam::123456789012:user/carol");
    assert_eq!(caller.account, "123456789012");
}
