//! The shared state in a DynamoDB table, against moto through the real SDK: a proof claimed
//! once across two replicas (two stores on one table), approval requests made, listed and
//! voted on by racing replicas, and a break-glass quota that two replicas cannot both slip
//! under.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use jiff::Timestamp;
use sentinel_aws::dynamodb::DynamoState;
use sentinel_core::decision_log::DecisionLog;
use sentinel_core::state::UsedProofs;
use sentinel_core::state::approvals::Status;
use sentinel_core::workflow::{Actor, GlassError, Unobserved, VoteError, Workflow};
use sentinel_policy::{Approval, BreakGlass};
use sentinel_testkit::Moto;

const TABLE: &str = "sentinel-state";

/// Creates the table as docs/server.md says, and two replicas' stores on it.
async fn two_replicas(moto: &Moto) -> (DynamoState, DynamoState) {
    let config = moto.sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute")
    };
    let key = |name: &str, kind| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("key")
    };
    client
        .create_table()
        .table_name(TABLE)
        .attribute_definitions(attribute("pk"))
        .attribute_definitions(attribute("sk"))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create the table");
    (
        DynamoState::new(&config, TABLE),
        DynamoState::new(&config, TABLE),
    )
}

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).expect("instant")
}

fn workflow(store: &DynamoState, log: &DecisionLog) -> Workflow {
    let store = Arc::new(store.clone());
    let log = Arc::new(DecisionLog::open(log.path()).expect("log"));
    Workflow::new(store.clone(), store, log, Arc::new(Unobserved))
}

fn actor(user: &str) -> Actor<'_> {
    Actor {
        user,
        principal_arn: "arn:aws:iam::123456789012:user/someone",
    }
}

#[tokio::test]
async fn moto_a_proof_is_claimed_once_across_replicas_until_it_expires() {
    let moto = Moto::connect();
    let (a, b) = two_replicas(&moto).await;
    let key = [7u8; 32];
    assert!(a.claim_once(&key, at(300), at(0)).await.expect("claim"));
    assert!(
        !b.claim_once(&key, at(300), at(1)).await.expect("claim"),
        "the other replica refuses it"
    );
    assert!(
        !a.claim_once(&key, at(300), at(300)).await.expect("claim"),
        "its last fresh second"
    );
    assert!(
        b.claim_once(&[8u8; 32], at(300), at(1))
            .await
            .expect("claim"),
        "another proof"
    );
    assert!(
        b.claim_once(&key, at(900), at(301)).await.expect("claim"),
        "an expired claim"
    );
    let (x, y) = tokio::join!(
        a.claim_once(&[9u8; 32], at(300), at(0)),
        b.claim_once(&[9u8; 32], at(300), at(0)),
    );
    assert_eq!(u8::from(x.expect("claim")) + u8::from(y.expect("claim")), 1);
}

#[tokio::test]
async fn moto_requests_are_shared_listed_by_query_and_decided_once_by_racing_replicas() {
    let moto = Moto::connect();
    let (a, b) = two_replicas(&moto).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let log = DecisionLog::open(&dir.path().join("decisions.log")).expect("log");
    let (one, two) = (workflow(&a, &log), workflow(&b, &log));
    let rule = Approval {
        approvers: vec!["carol".into(), "dave".into()].into_boxed_slice(),
        count: 1,
        expires_after: Duration::from_secs(1800),
        valid_for: Duration::from_secs(3600),
    };
    let first = one
        .ask(actor("bob"), "prod", "r", &rule, at(0))
        .await
        .expect("ask");
    let again = two
        .ask(actor("bob"), "prod", "r", &rule, at(5))
        .await
        .expect("ask");
    assert!(first.created && !again.created);
    assert_eq!(
        first.request.id, again.request.id,
        "the other replica gives the same ID"
    );
    let id = first.request.id;
    for user in ["bob", "carol", "dave"] {
        let listed = two.list(user, at(6)).await.expect("list");
        assert_eq!(
            listed.iter().map(|r| r.id).collect::<Vec<_>>(),
            [id],
            "{user}"
        );
    }
    assert!(two.list("mallory", at(6)).await.expect("list").is_empty());
    let (x, y) = tokio::join!(
        one.vote(actor("carol"), id, true, None, at(10)),
        two.vote(actor("dave"), id, false, Some("not now"), at(10)),
    );
    let decided = [&x, &y].iter().filter(|vote| vote.is_ok()).count();
    assert_eq!(
        decided, 1,
        "exactly one of two racing votes decides: {x:?} {y:?}"
    );
    let loser = if x.is_ok() { y } else { x };
    assert!(matches!(loser, Err(VoteError::Refused(_))), "{loser:?}");
    let stored = one.get(id).await.expect("get").expect("stored");
    assert_eq!(stored.votes.len(), 1);
    assert!(matches!(stored.status, Status::Approved | Status::Denied));
    let listed = one.list("bob", at(11)).await.expect("list");
    assert_eq!(
        listed[0].status, stored.status,
        "the copies follow the request"
    );
}

#[tokio::test]
async fn moto_a_break_glass_quota_holds_across_replicas() {
    let moto = Moto::connect();
    let (a, b) = two_replicas(&moto).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let log = DecisionLog::open(&dir.path().join("decisions.log")).expect("log");
    let (one, two) = (workflow(&a, &log), workflow(&b, &log));
    let limits = BreakGlass {
        duration: Duration::from_secs(900),
        cooldown: Duration::from_secs(3600),
        max_per_day: Some(3),
    };
    let (x, y) = tokio::join!(
        one.break_glass("alice", &limits, at(0)),
        two.break_glass("alice", &limits, at(0)),
    );
    assert_eq!(
        u8::from(x.is_ok()) + u8::from(y.is_ok()),
        1,
        "the cooldown lets one through"
    );
    let refused = two.break_glass("alice", &limits, at(60)).await;
    assert!(
        matches!(refused, Err(GlassError::Refused(_))),
        "{refused:?}"
    );
    one.break_glass("alice", &limits, at(3600))
        .await
        .expect("after the cooldown");
}
