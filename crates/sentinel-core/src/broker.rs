//! The issuance pipeline: request → policy (from a possibly cached source) → evaluation →
//! decision log → issuer → outcome log. Every step that fails refuses the request: credentials
//! exist only after an `allow` has been written to the log and the issuer answered in time.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use sentinel_policy::Effect;

use crate::decision_log::{DecisionLog, Event, LogError, LogRecord, Outcome};
use crate::identity::{IdentityError, RequestId, SourceIdentity};
use crate::issuer::{Credentials, IssueRequest, Issuer, IssuerError};
use crate::source::{PolicySource, SourceError};

/// What a profile stands for: its policy and the role it hands out.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The profile's name, as policies match it.
    pub name: String,
    /// The key its policy is stored under in the broker's source.
    pub policy_key: String,
    /// The role to assume on `allow`.
    pub role_arn: String,
    /// How long issued credentials live.
    pub session_duration: Duration,
    /// The external ID the role's trust policy may require.
    pub external_id: Option<String>,
}

/// One request for credentials.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Who is asking (from their own AWS identity, never from a flag).
    pub user: &'a str,
    /// The profile asked for.
    pub profile: &'a Profile,
    /// The instant the policy is evaluated at.
    pub at: Timestamp,
}

/// Credentials handed out, with what ties them to the decision log.
#[derive(Debug)]
pub struct Grant {
    /// The credentials.
    pub credentials: Credentials,
    /// The request's ID, as logged.
    pub request_id: RequestId,
    /// The `SourceIdentity` the credentials carry.
    pub source_identity: SourceIdentity,
}

/// Why no credentials were handed out.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The policy denied the request (a deny rule, or no rule matched).
    #[error("denied by {}{}", rule_name(.rule), reason_suffix(.reason))]
    Denied {
        /// The deciding rule; `None` for the default deny.
        rule: Option<String>,
        /// The rule's reason.
        reason: Option<String>,
    },
    /// The policy requires an approval, and no approval workflow exists yet.
    #[error("approval required by rule {rule}{}", reason_suffix(.reason))]
    ApprovalRequired {
        /// The deciding rule.
        rule: String,
        /// The rule's reason.
        reason: Option<String>,
    },
    /// The policy could not be loaded, so nothing can be allowed.
    #[error("denied: {0}")]
    Policy(#[from] SourceError),
    /// The request ID could not be generated, or the user cannot form a `SourceIdentity`.
    #[error("denied: {0}")]
    Identity(#[from] IdentityError),
    /// The decision could not be recorded, so it must not take effect.
    #[error("denied: {0}")]
    Log(#[from] LogError),
    /// The issuer failed.
    #[error("credentials could not be issued: {0}")]
    Issuer(#[from] IssuerError),
    /// The issuer did not answer in time.
    #[error("credentials could not be issued: the issuer did not answer within {0:?}")]
    IssuerTimeout(Duration),
}

fn rule_name(rule: &Option<String>) -> String {
    match rule {
        Some(rule) => format!("rule {rule}"),
        None => "default (no rule matched)".to_owned(),
    }
}

fn reason_suffix(reason: &Option<String>) -> String {
    reason
        .as_ref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default()
}

impl Refusal {
    /// A short, stable name for the kind of refusal (for metrics, load reports and HTTP).
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::Denied { .. } => "deny",
            Refusal::ApprovalRequired { .. } => "approval_required",
            Refusal::Policy(_) => "policy_unavailable",
            Refusal::Identity(_) => "identity",
            Refusal::Log(_) => "decision_log",
            Refusal::Issuer(_) => "issuer",
            Refusal::IssuerTimeout(_) => "issuer_timeout",
        }
    }

    /// Whether the policy itself said no (as opposed to something failing).
    pub fn is_policy_decision(&self) -> bool {
        matches!(
            self,
            Refusal::Denied { .. } | Refusal::ApprovalRequired { .. }
        )
    }
}

/// The issuance pipeline, shared by every request (cheap to clone).
#[derive(Clone)]
pub struct Broker {
    source: Arc<dyn PolicySource>,
    log: Arc<DecisionLog>,
    issuer: Arc<dyn Issuer>,
    issuer_timeout: Duration,
}

impl Broker {
    /// A broker that reads policies from `source`, records to `log`, and issues through
    /// `issuer`, giving it at most `issuer_timeout` per request.
    pub fn new(
        source: Arc<dyn PolicySource>,
        log: Arc<DecisionLog>,
        issuer: Arc<dyn Issuer>,
        issuer_timeout: Duration,
    ) -> Broker {
        Broker {
            source,
            log,
            issuer,
            issuer_timeout,
        }
    }

    /// The decision log this broker writes to.
    pub fn decision_log(&self) -> &DecisionLog {
        &self.log
    }

    /// Runs one request through the pipeline: credentials on `allow`, otherwise why not.
    pub async fn issue(&self, request: Request<'_>) -> Result<Grant, Refusal> {
        let request_id = RequestId::generate()?;
        let id_text = request_id.to_string();
        let mut line = LogRecord {
            timestamp: Timestamp::now(),
            event: Event::Decision,
            request_id: &id_text,
            user: request.user,
            profile: &request.profile.name,
            effect: Effect::Deny.as_str(),
            rule: None,
            rule_index: None,
            reason: None,
            policy_source: None,
            source_identity: None,
            role_arn: &request.profile.role_arn,
            session_duration_s: request.profile.session_duration.as_secs(),
            outcome: Outcome::Denied,
            error: None,
        };
        let identity = match SourceIdentity::new(request.user, request_id) {
            Ok(identity) => identity,
            Err(error) => {
                let message = error.to_string();
                line.reason = Some("user cannot form a SourceIdentity");
                line.error = Some(&message);
                self.log.append(&line)?;
                return Err(Refusal::Identity(error));
            }
        };
        line.source_identity = Some(identity.as_str());

        let loaded = match self.source.load(&request.profile.policy_key).await {
            Ok(loaded) => loaded,
            Err(error) => {
                let message = error.to_string();
                line.reason = Some("policy unavailable");
                line.error = Some(&message);
                self.log.append(&line)?;
                return Err(Refusal::Policy(error));
            }
        };
        let decision = loaded
            .policy
            .evaluate(request.user, &request.profile.name, request.at);
        line.effect = decision.effect.as_str();
        line.rule = decision.rule;
        line.rule_index = decision.rule_index;
        line.reason = decision.reason;
        line.policy_source = Some(&loaded.origin);

        match decision.effect {
            Effect::Deny => {
                self.log.append(&line)?;
                return Err(Refusal::Denied {
                    rule: decision.rule.map(str::to_owned),
                    reason: decision.reason.map(str::to_owned),
                });
            }
            Effect::RequireApproval => {
                line.error = Some("approval required");
                self.log.append(&line)?;
                return Err(Refusal::ApprovalRequired {
                    rule: decision.rule.unwrap_or_default().to_owned(),
                    reason: decision.reason.map(str::to_owned),
                });
            }
            Effect::Allow => {}
        }
        line.outcome = Outcome::Pending;
        self.log.append(&line)?;

        // The issuer call and the outcome line run in a task of their own, so that a caller
        // that goes away (a client disconnecting, a request timing out) cannot leave an allowed
        // decision without its outcome, even if STS has already issued the credentials.
        let allowed = Allowed {
            request_id,
            decision: OwnedRecord::from(&line),
            profile: request.profile.clone(),
            identity,
        };
        let broker = self.clone();
        tokio::spawn(async move { broker.complete(allowed).await })
            .await
            .unwrap_or_else(|error| {
                Err(Refusal::Issuer(IssuerError::new(format!(
                    "the issuing task did not finish: {error}"
                ))))
            })
    }

    /// Asks the issuer for an allowed request's credentials and logs the outcome.
    async fn complete(&self, allowed: Allowed) -> Result<Grant, Refusal> {
        let identity = allowed.identity.as_str();
        let issue = IssueRequest {
            role_arn: &allowed.profile.role_arn,
            role_session_name: identity,
            source_identity: identity,
            duration: allowed.profile.session_duration,
            external_id: allowed.profile.external_id.as_deref(),
        };
        let result =
            match tokio::time::timeout(self.issuer_timeout, self.issuer.issue(&issue)).await {
                Ok(Ok(credentials)) => Ok(credentials),
                Ok(Err(error)) => Err(Refusal::Issuer(error)),
                Err(_) => Err(Refusal::IssuerTimeout(self.issuer_timeout)),
            };
        let error = result.as_ref().err().map(ToString::to_string);
        let mut line = allowed.decision.record();
        line.event = Event::Outcome;
        line.outcome = if result.is_ok() {
            Outcome::Issued
        } else {
            Outcome::Error
        };
        line.error = error.as_deref();
        self.log.append(&line)?;
        Ok(Grant {
            credentials: result?,
            request_id: allowed.request_id,
            source_identity: allowed.identity,
        })
    }
}

/// An allowed request between its decision line and its outcome line, owning what it needs so
/// that it can outlive the caller.
struct Allowed {
    request_id: RequestId,
    decision: OwnedRecord,
    profile: Profile,
    identity: SourceIdentity,
}

/// The fields an outcome line repeats from its decision line, owned.
struct OwnedRecord {
    request_id: String,
    user: String,
    profile: String,
    effect: String,
    rule: Option<String>,
    rule_index: Option<usize>,
    reason: Option<String>,
    policy_source: Option<String>,
    source_identity: Option<String>,
    role_arn: String,
    session_duration_s: u64,
}

impl From<&LogRecord<'_>> for OwnedRecord {
    fn from(line: &LogRecord<'_>) -> OwnedRecord {
        let owned = |text: Option<&str>| text.map(str::to_owned);
        OwnedRecord {
            request_id: line.request_id.to_owned(),
            user: line.user.to_owned(),
            profile: line.profile.to_owned(),
            effect: line.effect.to_owned(),
            rule: owned(line.rule),
            rule_index: line.rule_index,
            reason: owned(line.reason),
            policy_source: owned(line.policy_source),
            source_identity: owned(line.source_identity),
            role_arn: line.role_arn.to_owned(),
            session_duration_s: line.session_duration_s,
        }
    }
}

impl OwnedRecord {
    /// A line with these fields, stamped now, with no outcome or error yet.
    fn record(&self) -> LogRecord<'_> {
        LogRecord {
            timestamp: Timestamp::now(),
            event: Event::Decision,
            request_id: &self.request_id,
            user: &self.user,
            profile: &self.profile,
            effect: &self.effect,
            rule: self.rule.as_deref(),
            rule_index: self.rule_index,
            reason: self.reason.as_deref(),
            policy_source: self.policy_source.as_deref(),
            source_identity: self.source_identity.as_deref(),
            role_arn: &self.role_arn,
            session_duration_s: self.session_duration_s,
            outcome: Outcome::Pending,
            error: None,
        }
    }
}
