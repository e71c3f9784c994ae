//! The issuance pipeline: request → policy (from a possibly cached source) → who the caller is,
//! under the policy's identity rules → evaluation → decision log → issuer → outcome log. Every
//! step that fails refuses the request: credentials exist only after an `allow` is on disk in
//! the decision log and the issuer answered in time.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use sentinel_policy::{self as policy, Effect};

use crate::caller::{Caller, arn_account};
use crate::decision_log::{DecisionLog, Event, LogRecord, Outcome};
use crate::identity::{RequestId, SourceIdentity};
use crate::issuer::{Credentials, IssueRequest, Issuer, IssuerError};
use crate::refusal::Refusal;
use crate::source::PolicySource;
use crate::workflow::{Actor, GlassError, Happened, Workflow};

/// Why a `require_approval` rule denies where no approval can be asked for.
pub const APPROVALS_NEED_STATE: &str = "approvals need `state` in the server config";
/// Why a break-glass rule denies where no use can be counted.
pub const BREAK_GLASS_NEEDS_STATE: &str = "break-glass needs `state` in the server config";

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

impl Profile {
    /// The account of the role this profile hands out: whose principals may be users when the
    /// policy lists no `identity.accounts`.
    pub fn role_account(&self) -> Option<&str> {
        arn_account(&self.role_arn)
    }
}

/// One request for credentials.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Who is asking, as AWS says (never from a flag); the policy's identity rules turn it into
    /// the user its rules match.
    pub caller: &'a Caller,
    /// The profile asked for.
    pub profile: &'a Profile,
    /// The instant the policy is evaluated at.
    pub at: Timestamp,
    /// The reason given for breaking the glass, if the request breaks it.
    pub break_glass: Option<&'a str>,
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

/// The issuance pipeline, shared by every request (cheap to clone).
#[derive(Clone)]
pub struct Broker {
    source: Arc<dyn PolicySource>,
    log: Arc<DecisionLog>,
    issuer: Arc<dyn Issuer>,
    issuer_timeout: Duration,
    /// Approvals and break-glass over shared state; `None` where there is none.
    workflow: Option<Arc<Workflow>>,
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
            workflow: None,
        }
    }

    /// The same broker, asking for approvals and counting break-glass uses through `workflow`.
    pub fn with_workflow(self, workflow: Workflow) -> Broker {
        Broker {
            workflow: Some(Arc::new(workflow)),
            ..self
        }
    }

    /// The approvals and break-glass workflow, if this broker has shared state.
    pub fn workflow(&self) -> Option<&Workflow> {
        self.workflow.as_deref()
    }

    /// The decision log this broker writes to.
    pub fn decision_log(&self) -> &DecisionLog {
        &self.log
    }

    /// Runs one request through the pipeline: credentials on `allow`, otherwise why not.
    pub async fn issue(&self, request: Request<'_>) -> Result<Grant, Refusal> {
        let request_id = RequestId::generate().map_err(Refusal::Identity)?;
        // A server's request span (if any) carries the ID into every event of the request.
        tracing::Span::current().record("request_id", tracing::field::display(request_id));
        let mut record = decision_record(request_id, &request);
        let loaded = match self.source.load(&request.profile.policy_key).await {
            Ok(loaded) => loaded,
            Err(error) => return Err(self.refuse(record, Refusal::Policy(error))),
        };
        record.policy_source = Some(Arc::clone(&loaded.origin));
        let identity_rules = loaded.policy.identity();
        let user = match request
            .caller
            .user(identity_rules, request.profile.role_account())
        {
            Ok(user) => user,
            Err(refused) => return Err(self.refuse(record, Refusal::Principal(refused))),
        };
        record.user = Some(user.to_owned());
        let identity = match SourceIdentity::new(user, request_id) {
            Ok(identity) => identity,
            Err(error) => return Err(self.refuse(record, Refusal::Identity(error))),
        };
        record.source_identity = Some(identity.clone());
        let asked = policy::Request::new(user, &request.profile.name, request.at)
            .breaking_glass(request.break_glass.is_some());
        let decision = loaded.policy.evaluate(&asked);
        record.effect = decision.effect;
        record.rule = decision.rule.map(str::to_owned);
        record.rule_index = decision.rule_index;
        record.reason = decision.reason.map(str::to_owned);
        record.break_glass = request.break_glass.map(str::to_owned);
        let mut session_duration = request.profile.session_duration;
        if request.break_glass.is_some()
            && (decision.effect != Effect::Deny && decision.break_glass.is_none())
        {
            let refusal = Refusal::BreakGlassUnmatched {
                rule: record.rule.clone(),
            };
            return Err(self.refuse(record, refusal));
        }
        match decision.effect {
            Effect::Allow => {
                if let Some(limits) = decision.break_glass {
                    let Some(workflow) = &self.workflow else {
                        let refusal = Refusal::Denied {
                            rule: record.rule.clone(),
                            reason: Some(BREAK_GLASS_NEEDS_STATE.to_owned()),
                        };
                        return Err(self.refuse(record, refusal));
                    };
                    match workflow.break_glass(user, limits, request.at).await {
                        Ok(()) => session_duration = session_duration.min(limits.duration),
                        Err(GlassError::Refused(refused)) => {
                            return Err(self.refuse(record, Refusal::BreakGlassLimited(refused)));
                        }
                        Err(GlassError::Failed(error)) => {
                            return Err(self.refuse(record, Refusal::State(error)));
                        }
                    }
                }
            }
            Effect::Deny => {
                let refusal = Refusal::Denied {
                    rule: record.rule.clone(),
                    reason: record.reason.clone(),
                };
                return Err(self.refuse(record, refusal));
            }
            Effect::RequireApproval => {
                let rule = record.rule.clone().unwrap_or_default();
                let (workflow, approval) = match (&self.workflow, decision.approval) {
                    (Some(workflow), Some(approval)) => (workflow, approval),
                    (workflow, _) => {
                        let cause = if workflow.is_none() {
                            APPROVALS_NEED_STATE
                        } else {
                            "the rule names no approvers"
                        };
                        let refusal = Refusal::ApprovalRequired {
                            rule,
                            reason: record.reason.clone(),
                            cause,
                        };
                        return Err(self.refuse(record, refusal));
                    }
                };
                let actor = Actor {
                    user,
                    principal_arn: &request.caller.arn,
                };
                let asked = match workflow
                    .ask(actor, &request.profile.name, &rule, approval, request.at)
                    .await
                {
                    Ok(asked) => asked.request,
                    Err(error) => return Err(self.refuse(record, Refusal::State(error))),
                };
                record.approval_id = Some(asked.id);
                if !asked.grants_at(request.at) {
                    let refusal = Refusal::ApprovalPending {
                        id: asked.id,
                        profile: asked.profile,
                        rule,
                        approvers: asked.approvers,
                    };
                    return Err(self.refuse(record, refusal));
                }
            }
        }
        record.session_duration_s = session_duration.as_secs();
        record.outcome = Outcome::Pending;
        // On disk, not only written, before anyone is asked for credentials.
        self.log
            .append_durable(&record)
            .await
            .map_err(Refusal::Log)?;
        if let (Some(workflow), Some(reason), Some(rule)) =
            (&self.workflow, request.break_glass, record.rule.as_deref())
        {
            workflow.broke_glass(Happened::BrokeGlass {
                request_id,
                user,
                profile: &request.profile.name,
                rule,
                reason,
            });
        }

        // The issuer call and the outcome line run in a task of their own, so that a caller
        // that goes away (a client disconnecting, a request timing out) cannot leave an allowed
        // decision without its outcome, even if STS has already issued the credentials.
        let allowed = Allowed {
            record,
            profile: request.profile.clone(),
            identity,
            session_duration,
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

    /// The user `caller` is under the identity rules of `profile`'s policy (for an approver,
    /// who asks for no credentials).
    pub async fn user_of(&self, caller: &Caller, profile: &Profile) -> Result<String, Refusal> {
        let loaded = self
            .source
            .load(&profile.policy_key)
            .await
            .map_err(Refusal::Policy)?;
        caller
            .user(loaded.policy.identity(), profile.role_account())
            .map(str::to_owned)
            .map_err(Refusal::Principal)
    }

    /// Refuses `request` before its profile's policy is read (a server's own rule for who may
    /// be a caller at all refused it), with a decision line that says why, like every refusal
    /// of the pipeline.
    pub fn refuse_before_policy(&self, request: Request<'_>, refusal: Refusal) -> Refusal {
        let request_id = match RequestId::generate() {
            Ok(id) => id,
            Err(error) => return Refusal::Identity(error),
        };
        tracing::Span::current().record("request_id", tracing::field::display(request_id));
        self.refuse(decision_record(request_id, &request), refusal)
    }

    /// Records why `refusal` gave no credentials in `record`, appends it, and returns the
    /// refusal. If the line cannot be written, the log's error is the refusal (it is no less a
    /// denial).
    fn refuse(&self, mut record: LogRecord, refusal: Refusal) -> Refusal {
        record.outcome = Outcome::Denied;
        match &refusal {
            // The rule's own reason is already in the record.
            Refusal::Denied { .. } => {}
            Refusal::ApprovalRequired { cause, .. } => record.error = Some((*cause).into()),
            Refusal::ApprovalPending { .. } => record.error = Some("approval pending".into()),
            Refusal::State(error) => {
                record.reason = Some("the shared state is unavailable".into());
                record.error = Some(error.to_string());
            }
            Refusal::Principal(refused) => record.reason = Some(refused.to_string()),
            Refusal::RoleUnresolved(error) => {
                record.reason = Some("the caller's role cannot be verified".into());
                record.error = Some(error.to_string());
            }
            Refusal::Policy(error) => {
                record.reason = Some("policy unavailable".into());
                record.error = Some(error.to_string());
            }
            Refusal::Identity(error) => {
                record.reason = Some("user cannot form a SourceIdentity".into());
                record.error = Some(error.to_string());
            }
            Refusal::BreakGlassUnmatched { .. }
            | Refusal::BreakGlassLimited(_)
            | Refusal::Log(_)
            | Refusal::Issuer(_)
            | Refusal::IssuerTimeout(_) => {
                record.error = Some(refusal.to_string());
            }
        }
        match self.log.append(&record) {
            Ok(()) => refusal,
            Err(error) => Refusal::Log(error),
        }
    }

    /// Asks the issuer for an allowed request's credentials and logs the outcome.
    async fn complete(&self, allowed: Allowed) -> Result<Grant, Refusal> {
        let Allowed {
            mut record,
            profile,
            identity,
            session_duration,
        } = allowed;
        let issue = IssueRequest {
            role_arn: &profile.role_arn,
            role_session_name: identity.as_str(),
            source_identity: identity.as_str(),
            duration: session_duration,
            external_id: profile.external_id.as_deref(),
        };
        let result =
            match tokio::time::timeout(self.issuer_timeout, self.issuer.issue(&issue)).await {
                Ok(Ok(credentials)) => Ok(credentials),
                Ok(Err(error)) => Err(Refusal::Issuer(error)),
                Err(_) => Err(Refusal::IssuerTimeout(self.issuer_timeout)),
            };
        record.timestamp = Timestamp::now();
        record.event = Event::Outcome;
        record.outcome = if result.is_ok() {
            Outcome::Issued
        } else {
            Outcome::Error
        };
        record.error = result.as_ref().err().map(ToString::to_string);
        self.log.append(&record).map_err(Refusal::Log)?;
        Ok(Grant {
            credentials: result?,
            request_id: record.request_id,
            source_identity: identity,
        })
    }
}

/// The decision line of a request before anything but the caller is known: a deny of no rule.
fn decision_record(request_id: RequestId, request: &Request<'_>) -> LogRecord {
    LogRecord {
        timestamp: Timestamp::now(),
        event: Event::Decision,
        request_id,
        user: None,
        principal_arn: request.caller.arn.clone(),
        account: request.caller.account.clone(),
        principal_id: request.caller.user_id.clone(),
        profile: request.profile.name.clone(),
        effect: Effect::Deny,
        rule: None,
        rule_index: None,
        reason: None,
        policy_source: None,
        source_identity: None,
        role_arn: request.profile.role_arn.clone(),
        session_duration_s: request.profile.session_duration.as_secs(),
        outcome: Outcome::Denied,
        error: None,
        approval_id: None,
        break_glass: None,
    }
}

/// An allowed request between its decision line and its outcome line, owning what it needs so
/// that it can outlive the caller.
struct Allowed {
    record: LogRecord,
    profile: Profile,
    identity: SourceIdentity,
    /// The profile's, or shorter under a break-glass rule.
    session_duration: Duration,
}
