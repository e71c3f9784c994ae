//! The trust policy that makes a protected role reachable only through the broker: assumable by
//! the broker's role alone, and only with a `sentinel.`-prefixed `SourceIdentity` and role
//! session name, so neither a caller nor a misconfigured broker can walk around the gate.

use std::collections::BTreeMap;

use serde::Serialize;

use super::config::check_role_arn;

/// Refuses anything but an IAM role or user ARN.
fn check_principal(arn: &str) -> Result<(), String> {
    let as_role = arn.replacen(":user/", ":role/", 1);
    check_role_arn(&as_role).map_err(|_| {
        format!("{arn:?} is not an IAM role (or user) ARN, like arn:aws:iam::123456789012:role/sentinel-broker")
    })
}

/// The prefix of every `SourceIdentity` and role session name the broker sets.
pub const SOURCE_IDENTITY_PATTERN: &str = "sentinel.*";

/// An IAM trust policy document, serialized in the order IAM documents are read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrustPolicy {
    /// The policy language version.
    pub version: &'static str,
    /// The one statement.
    pub statement: [Statement; 1],
}

/// A statement of a trust policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    /// A name for the statement.
    pub sid: &'static str,
    /// Always `Allow`.
    pub effect: &'static str,
    /// Who may assume the role: `{"AWS": <broker role>}`.
    pub principal: BTreeMap<&'static str, String>,
    /// `sts:AssumeRole` and `sts:SetSourceIdentity`.
    pub action: [&'static str; 2],
    /// Operator → condition key → value.
    pub condition: BTreeMap<&'static str, BTreeMap<&'static str, String>>,
}

/// The trust policy for a role served by the broker running as `broker` (an IAM role ARN, or
/// an IAM user's for a broker that runs with an access key), requiring `external_id` when the
/// profile has one.
pub fn trust_policy(broker: &str, external_id: Option<&str>) -> Result<TrustPolicy, String> {
    check_principal(broker)?;
    let broker_role = broker;
    let pattern = SOURCE_IDENTITY_PATTERN.to_owned();
    let mut condition = BTreeMap::from([(
        "StringLike",
        BTreeMap::from([
            ("sts:SourceIdentity", pattern.clone()),
            ("sts:RoleSessionName", pattern),
        ]),
    )]);
    if let Some(id) = external_id {
        condition.insert(
            "StringEquals",
            BTreeMap::from([("sts:ExternalId", id.to_owned())]),
        );
    }
    Ok(TrustPolicy {
        version: "2012-10-17",
        statement: [Statement {
            sid: "OnlyTheSentinelBroker",
            effect: "Allow",
            principal: BTreeMap::from([("AWS", broker_role.to_owned())]),
            action: ["sts:AssumeRole", "sts:SetSourceIdentity"],
            condition,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json_of(policy: &TrustPolicy) -> serde_json::Value {
        serde_json::to_value(policy).expect("json")
    }

    const BROKER: &str = "arn:aws:iam::111122223333:role/sentinel-broker";

    #[test]
    fn only_the_broker_with_a_sentinel_source_identity() {
        let policy = json_of(&trust_policy(BROKER, None).expect("policy"));
        let statements = policy["Statement"].as_array().expect("statements");
        assert_eq!(statements.len(), 1);
        let statement = &statements[0];
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(statement["Principal"], json!({ "AWS": BROKER }));
        assert_eq!(
            statement["Action"],
            json!(["sts:AssumeRole", "sts:SetSourceIdentity"])
        );
        assert_eq!(
            statement["Condition"]["StringLike"]["sts:SourceIdentity"],
            "sentinel.*"
        );
        assert!(statement["Condition"].get("StringEquals").is_none());
        let text =
            serde_json::to_string(&trust_policy(BROKER, None).expect("policy")).expect("json");
        assert!(
            text.starts_with(r#"{"Version":"2012-10-17","Statement":[{"Sid""#),
            "{text}"
        );
    }

    #[test]
    fn an_external_id_is_required_when_the_profile_has_one() {
        let policy = json_of(&trust_policy(BROKER, Some("ext-42")).expect("policy"));
        assert_eq!(
            policy["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"],
            "ext-42"
        );
    }

    #[test]
    fn the_broker_must_be_a_role_or_user() {
        assert!(trust_policy("arn:aws:iam::111122223333:user/broker", None).is_ok());
        for bad in [
            "arn:aws:iam::111122223333:group/brokers",
            "arn:aws:sts::111122223333:assumed-role/broker/session",
            "sentinel-broker",
        ] {
            assert!(trust_policy(bad, None).is_err(), "{bad}");
        }
    }
}
