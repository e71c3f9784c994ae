//! Approvals and break-glass over a shared store: asking for an approval (once per pending
//! request, however often the requester asks), voting, listing, and breaking the glass within a
//! rule's limits. Every change is a conditional write over what was read; a write that loses a
//! race reads again and decides again, so two replicas or two approvers at once can neither
//! double-approve nor vote on a decided request. Each change is a line in the decision log,
//! written before the change is reported, and is told to an [`Observer`] (notifications,
//! metrics).

use std::sync::Arc;

use jiff::Timestamp;
use sentinel_policy::{Approval, BreakGlass};

use crate::decision_log::{DecisionLog, Event, LogError, WorkflowRecord};
use crate::identity::{IdentityError, RequestId};
use crate::state::approvals::{ApprovalId, ApprovalRequest, Status, Vote, VoteRefused};
use crate::state::break_glass::{GlassRefused, Ledger};
use crate::state::{ApprovalStore, BreakGlassStore, StateError};

/// How often a conditional write that lost a race is tried again before giving up.
const ATTEMPTS: usize = 8;

/// What happened in the workflow, for notifications and metrics.
#[derive(Debug, Clone, Copy)]
pub enum Happened<'a> {
    /// A new request waits for its approvers.
    Requested(&'a ApprovalRequest),
    /// An approver voted (the request as it is after the vote).
    Voted(&'a ApprovalRequest, &'a Vote),
    /// The request got its last approval.
    Approved(&'a ApprovalRequest),
    /// An approver denied the request.
    Denied(&'a ApprovalRequest),
    /// The request lapsed undecided.
    Expired(&'a ApprovalRequest),
    /// `user` broke the glass for `profile` under `rule`, giving `reason`.
    BrokeGlass {
        /// The decision's request ID.
        request_id: RequestId,
        /// Who broke the glass.
        user: &'a str,
        /// The profile.
        profile: &'a str,
        /// The break-glass rule.
        rule: &'a str,
        /// The reason given.
        reason: &'a str,
    },
}

/// Told about everything that happens, after it is recorded. Must not block.
pub trait Observer: Send + Sync {
    /// `event` happened.
    fn happened(&self, event: Happened<'_>);
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct Unobserved;

impl Observer for Unobserved {
    fn happened(&self, _: Happened<'_>) {}
}

/// Why the workflow could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The store failed.
    #[error("{0}")]
    State(#[from] StateError),
    /// The change could not be logged, so it was not reported.
    #[error("{0}")]
    Log(#[from] LogError),
    /// No ID could be generated.
    #[error("{0}")]
    Identity(#[from] IdentityError),
    /// The store kept changing under every attempt.
    #[error("the state store kept changing; try again")]
    Contended,
}

/// Why a vote failed.
#[derive(Debug, thiserror::Error)]
pub enum VoteError {
    /// No request has this ID.
    #[error("no approval request {0}")]
    NotFound(ApprovalId),
    /// The rules refuse the vote.
    #[error("{0}")]
    Refused(#[from] VoteRefused),
    /// Something failed.
    #[error("{0}")]
    Failed(#[from] WorkflowError),
}

/// Why breaking the glass failed.
#[derive(Debug, thiserror::Error)]
pub enum GlassError {
    /// The rule's limits refuse it now.
    #[error("{0}")]
    Refused(#[from] GlassRefused),
    /// Something failed.
    #[error("{0}")]
    Failed(#[from] WorkflowError),
}

/// What asking for an approved profile gave.
#[derive(Debug, Clone)]
pub struct Asked {
    /// The open request: pending (maybe just made), or approved and still valid.
    pub request: ApprovalRequest,
    /// Whether this call made it.
    pub created: bool,
}

/// Who is acting, as the decision log names them.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The user, under the policy's identity rules.
    pub user: &'a str,
    /// The principal's ARN, as AWS named it.
    pub principal_arn: &'a str,
}

/// The approvals and break-glass ledger of a server, over its store.
#[derive(Clone)]
pub struct Workflow {
    approvals: Arc<dyn ApprovalStore>,
    ledger: Arc<dyn BreakGlassStore>,
    log: Arc<DecisionLog>,
    observer: Arc<dyn Observer>,
}

impl Workflow {
    /// A workflow over these stores, logging to `log` and telling `observer`.
    pub fn new(
        approvals: Arc<dyn ApprovalStore>,
        ledger: Arc<dyn BreakGlassStore>,
        log: Arc<DecisionLog>,
        observer: Arc<dyn Observer>,
    ) -> Workflow {
        Workflow {
            approvals,
            ledger,
            log,
            observer,
        }
    }

    /// The open request of `actor` for `profile` under `rule`, made if there is none that is
    /// pending or still grants: the same ID for every ask while it is pending.
    pub async fn ask(
        &self,
        actor: Actor<'_>,
        profile: &str,
        rule: &str,
        approval: &Approval,
        now: Timestamp,
    ) -> Result<Asked, WorkflowError> {
        for _ in 0..ATTEMPTS {
            let open = self.approvals.open(actor.user, profile, rule).await?;
            if let Some(open) = &open {
                if open.status_at(now) == Status::Pending || open.grants_at(now) {
                    return Ok(Asked {
                        request: open.clone(),
                        created: false,
                    });
                }
                self.lapse(actor, open, now).await?;
            }
            let request = new_request(actor.user, profile, rule, approval, now)?;
            if self
                .approvals
                .create(&request, open.as_ref().map(|r| r.id))
                .await?
            {
                self.record(actor, Event::ApprovalRequested, &request, None)
                    .await?;
                self.observer.happened(Happened::Requested(&request));
                return Ok(Asked {
                    request,
                    created: true,
                });
            }
        }
        Err(WorkflowError::Contended)
    }

    /// Counts `actor`'s vote on request `id` (approve or deny, with an optional reason).
    pub async fn vote(
        &self,
        actor: Actor<'_>,
        id: ApprovalId,
        approve: bool,
        reason: Option<&str>,
        now: Timestamp,
    ) -> Result<ApprovalRequest, VoteError> {
        for _ in 0..ATTEMPTS {
            let stored = self
                .approvals
                .get(id)
                .await
                .map_err(WorkflowError::from)?
                .ok_or(VoteError::NotFound(id))?;
            let vote = Vote {
                approver: actor.user.to_owned(),
                approve,
                reason: reason.map(str::to_owned),
                at: now,
            };
            let voted = match stored.vote(vote.clone()) {
                Ok(voted) => voted,
                Err(refused) => {
                    if let VoteRefused::Expired(_) = refused {
                        self.lapse(actor, &stored, now).await?;
                    }
                    return Err(refused.into());
                }
            };
            if !self
                .approvals
                .transition(&stored, &voted)
                .await
                .map_err(WorkflowError::from)?
            {
                continue;
            }
            self.record(actor, Event::Vote, &voted, reason).await?;
            self.observer.happened(Happened::Voted(&voted, &vote));
            match voted.status {
                Status::Approved => {
                    self.record(actor, Event::Approved, &voted, reason).await?;
                    self.observer.happened(Happened::Approved(&voted));
                }
                Status::Denied => {
                    self.record(actor, Event::ApprovalDenied, &voted, reason)
                        .await?;
                    self.observer.happened(Happened::Denied(&voted));
                }
                Status::Pending | Status::Expired => {}
            }
            return Ok(voted);
        }
        Err(WorkflowError::Contended.into())
    }

    /// The request with `id`, as stored.
    pub async fn get(&self, id: ApprovalId) -> Result<Option<ApprovalRequest>, WorkflowError> {
        Ok(self.approvals.get(id).await?)
    }

    /// The requests `user` made or may decide, newest first, each with its status at `now`.
    pub async fn list(
        &self,
        user: &str,
        now: Timestamp,
    ) -> Result<Vec<ApprovalRequest>, WorkflowError> {
        let mut requests = self.approvals.list(user).await?;
        for request in &mut requests {
            request.status = request.status_at(now);
        }
        Ok(requests)
    }

    /// Records that `user` breaks the glass under `limits` at `now`, or why they may not.
    /// Durable in the store before it returns, so that credentials follow only a counted use.
    pub async fn break_glass(
        &self,
        user: &str,
        limits: &BreakGlass,
        now: Timestamp,
    ) -> Result<(), GlassError> {
        for _ in 0..ATTEMPTS {
            let ledger: Ledger = self
                .ledger
                .ledger(user)
                .await
                .map_err(WorkflowError::from)?;
            let used = ledger.record(limits, now)?;
            if self
                .ledger
                .record(user, &ledger, &used)
                .await
                .map_err(WorkflowError::from)?
            {
                return Ok(());
            }
        }
        Err(WorkflowError::Contended.into())
    }

    /// Tells the observer that `user` broke the glass (the decision line says so already).
    pub fn broke_glass(&self, event: Happened<'_>) {
        self.observer.happened(event);
    }

    /// Marks `request` expired if it lapsed (once, whoever notices first) and logs it.
    async fn lapse(
        &self,
        actor: Actor<'_>,
        request: &ApprovalRequest,
        now: Timestamp,
    ) -> Result<(), WorkflowError> {
        if let Some(expired) = request.expire(now)
            && self.approvals.transition(request, &expired).await?
        {
            self.record(actor, Event::Expired, &expired, None).await?;
            self.observer.happened(Happened::Expired(&expired));
        }
        Ok(())
    }

    /// Writes the line of `event` on `request`, durably.
    async fn record(
        &self,
        actor: Actor<'_>,
        event: Event,
        request: &ApprovalRequest,
        reason: Option<&str>,
    ) -> Result<(), WorkflowError> {
        let record = WorkflowRecord::new(event, request, actor.user, actor.principal_arn, reason);
        Ok(self.log.append_durable(&record).await?)
    }
}

/// A new pending request of `requester` under `approval`.
fn new_request(
    requester: &str,
    profile: &str,
    rule: &str,
    approval: &Approval,
    now: Timestamp,
) -> Result<ApprovalRequest, IdentityError> {
    Ok(ApprovalRequest {
        id: RequestId::generate()?,
        requester: requester.to_owned(),
        profile: profile.to_owned(),
        rule: rule.to_owned(),
        approvers: approval.approvers.iter().map(ToString::to_string).collect(),
        count: approval.count,
        created_at: now,
        expires_at: now
            .checked_add(approval.expires_after)
            .unwrap_or(Timestamp::MAX),
        valid_for: approval.valid_for,
        status: Status::Pending,
        decided_at: None,
        votes: Vec::new(),
        version: 1,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::state::memory::MemoryState;

    fn approval(approvers: &[&str], count: u32) -> Approval {
        Approval {
            approvers: approvers.iter().map(|a| Box::from(*a)).collect(),
            count,
            expires_after: Duration::from_secs(1800),
            valid_for: Duration::from_secs(3600),
        }
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).expect("instant")
    }

    fn actor(user: &str) -> Actor<'_> {
        Actor {
            user,
            principal_arn: "arn:aws:iam::123456789012:user/x",
        }
    }

    struct Fixture {
        workflow: Workflow,
        log: std::path::PathBuf,
        _dir: tempfile::TempDir,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = dir.path().join("decisions.log");
        let state = Arc::new(MemoryState::new());
        let workflow = Workflow::new(
            state.clone(),
            state,
            Arc::new(DecisionLog::open(&log).expect("log")),
            Arc::new(Unobserved),
        );
        Fixture {
            workflow,
            log,
            _dir: dir,
        }
    }

    fn events(log: &std::path::Path) -> Vec<String> {
        std::fs::read_to_string(log)
            .expect("log")
            .lines()
            .map(|line| {
                let line: serde_json::Value = serde_json::from_str(line).expect("JSON");
                line["event"].as_str().expect("event").to_owned()
            })
            .collect()
    }

    #[tokio::test]
    async fn asking_again_while_pending_gives_the_same_request_and_one_line() {
        let f = fixture();
        let rule = approval(&["carol", "dave"], 1);
        let first = f
            .workflow
            .ask(actor("bob"), "prod", "r", &rule, at(0))
            .await
            .unwrap();
        let again = f
            .workflow
            .ask(actor("bob"), "prod", "r", &rule, at(60))
            .await
            .unwrap();
        assert!(first.created && !again.created);
        assert_eq!(first.request.id, again.request.id);
        assert_eq!(events(&f.log), ["approval_requested"]);
    }

    #[tokio::test]
    async fn an_approved_request_grants_for_valid_for_then_a_new_one_is_made() {
        let f = fixture();
        let rule = approval(&["carol"], 1);
        let asked = f
            .workflow
            .ask(actor("bob"), "prod", "r", &rule, at(0))
            .await
            .unwrap();
        let id = asked.request.id;
        let voted = f
            .workflow
            .vote(actor("carol"), id, true, Some("ok"), at(10))
            .await
            .unwrap();
        assert_eq!(voted.status, Status::Approved);
        let during = f
            .workflow
            .ask(actor("bob"), "prod", "r", &rule, at(3609))
            .await
            .unwrap();
        assert_eq!((during.request.id, during.created), (id, false));
        assert!(during.request.grants_at(at(3609)));
        let after = f
            .workflow
            .ask(actor("bob"), "prod", "r", &rule, at(3610))
            .await
            .unwrap();
        assert!(after.created && after.request.id != id);
        assert_eq!(
            events(&f.log),
            [
                "approval_requested",
                "vote",
                "approved",
                "approval_requested"
            ]
        );
    }

    #[tokio::test]
    async fn a_lapsed_request_is_expired_once_and_refuses_votes() {
        let f = fixture();
        let rule = approval(&["carol"], 1);
        let id = f
            .workflow
            .ask(actor("bob"), "prod", "r", &rule, at(0))
            .await
            .unwrap()
            .request
            .id;
        let late = f
            .workflow
            .vote(actor("carol"), id, true, None, at(1800))
            .await;
        assert!(matches!(
            late,
            Err(VoteError::Refused(VoteRefused::Expired(_)))
        ));
        let listed = f.workflow.list("carol", at(1800)).await.unwrap();
        assert_eq!(listed[0].status, Status::Expired);
        let again = f
            .workflow
            .vote(actor("carol"), id, true, None, at(1801))
            .await;
        assert!(matches!(
            again,
            Err(VoteError::Refused(VoteRefused::Expired(_)))
        ));
        assert_eq!(events(&f.log), ["approval_requested", "expired"]);
    }

    #[tokio::test]
    async fn requester_strangers_and_second_votes_are_refused_each_with_its_own_code() {
        let f = fixture();
        let rule = approval(&["bob", "carol", "dave"], 2);
        let id = f
            .workflow
            .ask(actor("bob"), "prod", "r", &rule, at(0))
            .await
            .unwrap()
            .request
            .id;
        let refused = |result: Result<ApprovalRequest, VoteError>| match result {
            Err(VoteError::Refused(refused)) => refused.code(),
            other => panic!("not refused: {other:?}"),
        };
        let own = f.workflow.vote(actor("bob"), id, true, None, at(1)).await;
        assert_eq!(refused(own), "OwnRequest");
        let stranger = f
            .workflow
            .vote(actor("mallory"), id, true, None, at(1))
            .await;
        assert_eq!(refused(stranger), "NotAnApprover");
        f.workflow
            .vote(actor("carol"), id, true, None, at(2))
            .await
            .unwrap();
        let twice = f.workflow.vote(actor("carol"), id, true, None, at(3)).await;
        assert_eq!(refused(twice), "AlreadyVoted");
        let approved = f
            .workflow
            .vote(actor("dave"), id, true, None, at(4))
            .await
            .unwrap();
        assert_eq!(approved.status, Status::Approved);
        let unknown = f
            .workflow
            .vote(
                actor("dave"),
                RequestId::generate().unwrap(),
                true,
                None,
                at(5),
            )
            .await;
        assert!(matches!(unknown, Err(VoteError::NotFound(_))));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn approvers_racing_cannot_both_decide_and_one_approver_counts_once() {
        for _ in 0..20 {
            let f = fixture();
            let rule = approval(&["carol", "dave"], 1);
            let id = f
                .workflow
                .ask(actor("bob"), "prod", "r", &rule, at(0))
                .await
                .unwrap()
                .request
                .id;
            let (a, b) = tokio::join!(
                f.workflow.vote(actor("carol"), id, true, None, at(1)),
                f.workflow.vote(actor("dave"), id, false, None, at(1)),
            );
            assert_eq!(
                u8::from(a.is_ok()) + u8::from(b.is_ok()),
                1,
                "exactly one vote decides"
            );
            let decided = f.workflow.get(id).await.unwrap().unwrap();
            assert_eq!(decided.votes.len(), 1);
            let rule = approval(&["carol", "dave"], 2);
            let id = f
                .workflow
                .ask(actor("erin"), "prod", "r", &rule, at(0))
                .await
                .unwrap()
                .request
                .id;
            let (a, b) = tokio::join!(
                f.workflow.vote(actor("carol"), id, true, None, at(1)),
                f.workflow.vote(actor("carol"), id, true, None, at(1)),
            );
            assert_eq!(
                u8::from(a.is_ok()) + u8::from(b.is_ok()),
                1,
                "one approver, one vote"
            );
            let pending = f.workflow.get(id).await.unwrap().unwrap();
            assert_eq!((pending.status, pending.approvals()), (Status::Pending, 1));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_quota_of_one_holds_against_two_uses_at_once() {
        let f = fixture();
        let limits = BreakGlass {
            duration: Duration::from_secs(900),
            cooldown: Duration::ZERO,
            max_per_day: Some(1),
        };
        let (a, b) = tokio::join!(
            f.workflow.break_glass("alice", &limits, at(0)),
            f.workflow.break_glass("alice", &limits, at(0)),
        );
        assert_eq!(u8::from(a.is_ok()) + u8::from(b.is_ok()), 1);
        let refused = f.workflow.break_glass("alice", &limits, at(10)).await;
        assert!(matches!(
            refused,
            Err(GlassError::Refused(GlassRefused::Quota { .. }))
        ));
        f.workflow
            .break_glass("bob", &limits, at(10))
            .await
            .expect("bob has his own quota");
    }
}
