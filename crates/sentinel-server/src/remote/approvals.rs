//! The approval routes: `POST /v1/approvals/vote` (approve or deny one request) and
//! `POST /v1/approvals/list` (the requests the caller made and those they may decide). The
//! caller proves who they are exactly as for credentials, with the proof bound to the vote or
//! to the list; the policy of the request's profile says which user they are, and the
//! workflow's rules decide whether the vote counts.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Instant;

use http::{Request, StatusCode};
use hyper::body::Incoming;
use jiff::Timestamp;
use sentinel_core::caller::Caller;
use sentinel_core::state::approvals::ApprovalRequest;
use sentinel_core::workflow::{Actor, VoteError, Workflow};
use sentinel_protocol::{
    APPROVALS_VOTE_PATH, LIST_SCOPE, ListRequest, VoteRequest, check_reason, vote_scope,
};
use serde::Serialize;

use super::rate::RateLimit;
use super::service::{Failure, RemoteHandler, read_json};
use crate::client;
use crate::tail;
use crate::wire::{self, Reply};

/// The list route's answer.
#[derive(Serialize)]
struct Listed<'a> {
    requests: &'a [ApprovalRequest],
}

impl RemoteHandler {
    /// Answers either approval route from `client`, counting what happened.
    pub(super) async fn approvals(&self, request: Request<Incoming>, client: IpAddr) -> Reply {
        let voting = request.uri().path() == APPROVALS_VOTE_PATH;
        let work = async {
            self.per_client
                .take(&client::network(client), Instant::now())
                .map_err(|wait| Failure::RateLimited(RateLimit::Client, wait))?;
            if voting {
                let voted = self.vote(request).await?;
                Ok::<Reply, Failure>(wire::json(StatusCode::OK, &voted))
            } else {
                let requests = self.list(request).await?;
                Ok(wire::json(
                    StatusCode::OK,
                    &Listed {
                        requests: &requests,
                    },
                ))
            }
        };
        let metrics = self.metrics();
        tail::answer(
            self.request_timeout,
            tail::request_span(None),
            work,
            |kind| {
                metrics.refusal(kind);
            },
        )
        .await
    }

    /// Counts one vote.
    async fn vote(&self, request: Request<Incoming>) -> Result<ApprovalRequest, Failure> {
        let asked: VoteRequest = read_json(request, self.body_timeout).await?;
        if let Some(reason) = &asked.reason {
            check_reason(reason).map_err(|problem| Failure::Request {
                status: StatusCode::BAD_REQUEST,
                code: "InvalidReason",
                kind: "invalid_reason",
                message: format!("the reason is refused: {problem}"),
            })?;
        }
        let scope = vote_scope(&asked.id, asked.approve);
        let caller = self.admitted(&asked.proof, &scope).await?;
        let workflow = self.workflow()?;
        let unknown = || Failure::UnknownApproval(asked.id.clone());
        let id = asked.id.parse().map_err(|_| unknown())?;
        let stored = workflow
            .get(id)
            .await
            .map_err(Failure::Workflow)?
            .ok_or_else(unknown)?;
        let profile = self
            .service
            .profiles
            .get(&stored.profile)
            .ok_or_else(unknown)?;
        let user = self
            .service
            .broker
            .user_of(&caller, profile)
            .await
            .map_err(Failure::Broker)?;
        let actor = Actor {
            user: &user,
            principal_arn: &caller.arn,
        };
        let voted = workflow
            .vote(
                actor,
                id,
                asked.approve,
                asked.reason.as_deref(),
                Timestamp::now(),
            )
            .await;
        let voted = voted.map_err(|error| match error {
            VoteError::NotFound(_) => unknown(),
            VoteError::Refused(refused) => Failure::Vote(refused),
            VoteError::Failed(error) => Failure::Workflow(error),
        })?;
        Ok(voted)
    }

    /// The requests the caller made and those they may decide, newest first: for the user
    /// they are under each served profile's policy (usually one name).
    async fn list(&self, request: Request<Incoming>) -> Result<Vec<ApprovalRequest>, Failure> {
        let asked: ListRequest = read_json(request, self.body_timeout).await?;
        let caller = self.admitted(&asked.proof, LIST_SCOPE).await?;
        let workflow = self.workflow()?;
        let mut users = BTreeSet::new();
        let mut refused = None;
        for profile in self.service.profiles.values() {
            match self.service.broker.user_of(&caller, profile).await {
                Ok(user) => {
                    users.insert(user);
                }
                Err(refusal) => refused = Some(refusal),
            }
        }
        if users.is_empty() {
            return Err(refused.map_or(Failure::UnknownProfile(String::new()), Failure::Broker));
        }
        let now = Timestamp::now();
        let mut requests: Vec<ApprovalRequest> = Vec::new();
        for user in &users {
            for found in workflow.list(user, now).await.map_err(Failure::Workflow)? {
                if !requests.iter().any(|known| known.id == found.id) {
                    requests.push(found);
                }
            }
        }
        requests.sort_by_key(|request| std::cmp::Reverse(request.created_at));
        Ok(requests)
    }

    /// The caller of `proof` (bound to `scope`), admitted by the server's rule for callers.
    async fn admitted(
        &self,
        proof: &sentinel_protocol::Proof,
        scope: &str,
    ) -> Result<Caller, Failure> {
        let caller = self.identify(proof, scope).await?;
        self.service
            .admission
            .admit(&caller)
            .await
            .map_err(Failure::Admission)?;
        Ok(caller)
    }

    /// The workflow, or the refusal of a server without `state`.
    fn workflow(&self) -> Result<&Workflow, Failure> {
        self.service.broker.workflow().ok_or(Failure::NoState)
    }
}
