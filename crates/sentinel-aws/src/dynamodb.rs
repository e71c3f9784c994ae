//! The shared state of `sentinel server` in one DynamoDB table (string partition key `pk`,
//! string sort key `sk`, TTL on the number attribute `expires_at`). Every change is a
//! conditional write, so replicas racing each other cannot both win:
//!
//! - a used proof: `proof#HEX` / `proof`, put only if absent or expired;
//! - an approval request: `request#ID` / `request`, its JSON in `data` and its `version`,
//!   replaced only over the version read; with copies under `user#NAME` / `request#MILLIS#ID`
//!   for its requester and each approver, written in the same transaction, so that a user's
//!   list is one query;
//! - the open request of a requester for a profile and rule: `open#USER` / `["profile","rule"]`,
//!   naming its ID, replaced only over the ID read;
//! - a user's break-glass ledger: `glass#USER` / `ledger`, replaced only over its version.
//!
//! A request's items expire a week after it could last grant credentials; DynamoDB's TTL
//! deletes them some time later, so expiry is always judged by time, never by absence.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use jiff::Timestamp;
use sentinel_core::state::approvals::{ApprovalId, ApprovalRequest};
use sentinel_core::state::break_glass::{Ledger, QUOTA_WINDOW};
use sentinel_core::state::{ApprovalStore, BreakGlassStore, StateError, UsedProofs};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::describe;

/// How long a request's items are kept after it could last grant credentials.
const KEEP_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// The state table.
#[derive(Debug, Clone)]
pub struct DynamoState {
    client: Client,
    table: String,
}

impl DynamoState {
    /// The table `table`, reached with `sdk`'s credentials, region and endpoint.
    pub fn new(sdk: &SdkConfig, table: &str) -> DynamoState {
        DynamoState {
            client: Client::new(sdk),
            table: table.to_owned(),
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// A put of `item` into the table, under `condition` (with its values) if given.
    fn put(
        &self,
        item: HashMap<String, AttributeValue>,
        condition: Option<(&str, Vec<(&str, AttributeValue)>)>,
    ) -> Result<Put, StateError> {
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some((expression, values)) = condition {
            put = put.condition_expression(expression);
            for (name, value) in values {
                put = put.expression_attribute_values(name, value);
            }
        }
        put.build()
            .map_err(|error| StateError::Unavailable(error.to_string()))
    }

    /// Writes `puts` all or none: `false` if a condition failed.
    async fn transact(&self, puts: Vec<Put>) -> Result<bool, StateError> {
        let items = puts
            .into_iter()
            .map(|put| TransactWriteItem::builder().put(put).build())
            .collect();
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(service))
                if service.err().is_transaction_canceled_exception() =>
            {
                Ok(false)
            }
            Err(error) => Err(unavailable(&error)),
        }
    }

    /// The item at `pk`/`sk`, read consistently.
    async fn get_item(
        &self,
        pk: String,
        sk: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StateError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| unavailable(&error))?;
        Ok(answer.item)
    }

    /// The items of `request`: the request itself and its copies for each user's list.
    fn request_items(
        &self,
        request: &ApprovalRequest,
        condition: Option<(&str, Vec<(&str, AttributeValue)>)>,
    ) -> Result<Vec<Put>, StateError> {
        let data = encode(request)?;
        let version = number(request.version);
        let keep = number(keep_until(request));
        let main = HashMap::from([
            (
                "pk".to_owned(),
                AttributeValue::S(format!("request#{}", request.id)),
            ),
            ("sk".to_owned(), AttributeValue::S("request".to_owned())),
            ("data".to_owned(), AttributeValue::S(data.clone())),
            ("version".to_owned(), version.clone()),
            ("expires_at".to_owned(), keep.clone()),
        ]);
        let mut puts = vec![self.put(main, condition)?];
        let mut users: Vec<&str> = vec![request.requester.as_str()];
        users.extend(request.approvers.iter().map(String::as_str));
        users.dedup();
        let sort = format!(
            "request#{:015}#{}",
            request.created_at.as_millisecond().max(0),
            request.id
        );
        for user in users {
            let copy = HashMap::from([
                ("pk".to_owned(), AttributeValue::S(format!("user#{user}"))),
                ("sk".to_owned(), AttributeValue::S(sort.clone())),
                ("data".to_owned(), AttributeValue::S(data.clone())),
                ("version".to_owned(), version.clone()),
                ("expires_at".to_owned(), keep.clone()),
            ]);
            puts.push(self.put(copy, None)?);
        }
        Ok(puts)
    }
}

#[async_trait::async_trait]
impl UsedProofs for DynamoState {
    async fn claim_once(
        &self,
        key: &[u8],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<bool, StateError> {
        let hex: String = key.iter().map(|byte| format!("{byte:02x}")).collect();
        let answer = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(format!("proof#{hex}")))
            .item("sk", AttributeValue::S("proof".to_owned()))
            .item("expires_at", number(expires_at.as_second()))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", number(now.as_second()))
            .send()
            .await;
        match answer {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(service))
                if service.err().is_conditional_check_failed_exception() =>
            {
                Ok(false)
            }
            Err(error) => Err(unavailable(&error)),
        }
    }
}

#[async_trait::async_trait]
impl ApprovalStore for DynamoState {
    async fn open(
        &self,
        requester: &str,
        profile: &str,
        rule: &str,
    ) -> Result<Option<ApprovalRequest>, StateError> {
        let Some(pointer) = self
            .get_item(format!("open#{requester}"), &open_key(profile, rule)?)
            .await?
        else {
            return Ok(None);
        };
        let id = text(&pointer, "id")?
            .parse()
            .map_err(|_| StateError::Corrupt("an open request's ID".to_owned()))?;
        self.get(id).await
    }

    async fn create(
        &self,
        request: &ApprovalRequest,
        replacing: Option<ApprovalId>,
    ) -> Result<bool, StateError> {
        let pointer = HashMap::from([
            (
                "pk".to_owned(),
                AttributeValue::S(format!("open#{}", request.requester)),
            ),
            (
                "sk".to_owned(),
                AttributeValue::S(open_key(&request.profile, &request.rule)?),
            ),
            ("id".to_owned(), AttributeValue::S(request.id.to_string())),
            ("expires_at".to_owned(), number(keep_until(request))),
        ]);
        let pointer = match replacing {
            None => self.put(pointer, Some(("attribute_not_exists(pk)", Vec::new())))?,
            Some(old) => self.put(
                pointer,
                Some((
                    "id = :old",
                    vec![(":old", AttributeValue::S(old.to_string()))],
                )),
            )?,
        };
        let mut puts = vec![pointer];
        puts.extend(self.request_items(request, Some(("attribute_not_exists(pk)", Vec::new())))?);
        self.transact(puts).await
    }

    async fn get(&self, id: ApprovalId) -> Result<Option<ApprovalRequest>, StateError> {
        match self.get_item(format!("request#{id}"), "request").await? {
            Some(item) => decode(text(&item, "data")?).map(Some),
            None => Ok(None),
        }
    }

    async fn transition(
        &self,
        from: &ApprovalRequest,
        to: &ApprovalRequest,
    ) -> Result<bool, StateError> {
        let condition = (
            "version = :version",
            vec![(":version", number(from.version))],
        );
        let puts = self.request_items(to, Some(condition))?;
        self.transact(puts).await
    }

    async fn list(&self, user: &str) -> Result<Vec<ApprovalRequest>, StateError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", AttributeValue::S(format!("user#{user}")))
            .expression_attribute_values(":prefix", AttributeValue::S("request#".to_owned()))
            .scan_index_forward(false)
            .into_paginator()
            .send();
        let mut requests = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| unavailable(&error))?;
            for item in page.items() {
                requests.push(decode(text(item, "data")?)?);
            }
        }
        Ok(requests)
    }
}

#[async_trait::async_trait]
impl BreakGlassStore for DynamoState {
    async fn ledger(&self, user: &str) -> Result<Ledger, StateError> {
        match self.get_item(format!("glass#{user}"), "ledger").await? {
            Some(item) => decode(text(&item, "data")?),
            None => Ok(Ledger::default()),
        }
    }

    async fn record(&self, user: &str, from: &Ledger, to: &Ledger) -> Result<bool, StateError> {
        let last = to.uses.last().copied().unwrap_or_else(Timestamp::now);
        let keep = last.as_second() + QUOTA_WINDOW.as_secs() as i64;
        let item = HashMap::from([
            ("pk".to_owned(), AttributeValue::S(format!("glass#{user}"))),
            ("sk".to_owned(), AttributeValue::S("ledger".to_owned())),
            ("data".to_owned(), AttributeValue::S(encode(to)?)),
            ("version".to_owned(), number(to.version)),
            ("expires_at".to_owned(), number(keep)),
        ]);
        let condition = if from.version == 0 {
            ("attribute_not_exists(pk)", Vec::new())
        } else {
            (
                "version = :version",
                vec![(":version", number(from.version))],
            )
        };
        self.transact(vec![self.put(item, Some(condition))?]).await
    }
}

/// The sort key of an open request: the profile and rule as a JSON pair, which no two
/// different pairs share.
fn open_key(profile: &str, rule: &str) -> Result<String, StateError> {
    encode(&[profile, rule])
}

/// The second after which nothing of `request` is needed.
fn keep_until(request: &ApprovalRequest) -> i64 {
    let last = request.expires_at.as_second() + request.valid_for.as_secs() as i64;
    last + KEEP_AFTER.as_secs() as i64
}

fn number(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn encode(value: &impl Serialize) -> Result<String, StateError> {
    serde_json::to_string(value).map_err(|error| StateError::Corrupt(error.to_string()))
}

fn decode<T: DeserializeOwned>(data: &str) -> Result<T, StateError> {
    serde_json::from_str(data).map_err(|error| StateError::Corrupt(error.to_string()))
}

/// The string attribute `name` of `item`.
fn text<'i>(item: &'i HashMap<String, AttributeValue>, name: &str) -> Result<&'i str, StateError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(StateError::Corrupt(format!(
            "an item without the string {name}"
        ))),
    }
}

fn unavailable<E>(error: &SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>) -> StateError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    StateError::Unavailable(describe(error))
}
