//! `remote`: a real `sentinel server` on loopback, over TLS, and each request a freshly signed
//! identity proof for alice asking for `production`: the server checks the proof, sends it to
//! STS (answered in-process, signature checked), and the whole broker decides, logs and issues
//! (cached example policy, decision log file, in-process issuer). Every credential issued must
//! have been verified by STS and have its decision line, and no request more than one.

mod client;
mod sts;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use sentinel_aws::proof::{Binding, sign};
use sentinel_aws::sts_proof::StsProofVerifier;
use sentinel_core::broker::Broker;
use sentinel_core::caller::Caller;
use sentinel_core::decision_log::DecisionLog;
use sentinel_core::issuer::LocalIssuer;
use sentinel_core::notify::Notifications;
use sentinel_core::roles::{Role, RoleDirectory, RoleLookupError};
use sentinel_core::source::PolicySource;
use sentinel_load::{LoadTestConfig, LoadTestResult, RequestContext, RequestError, Threshold};
use sentinel_protocol::{CredentialsRequest, Endpoint, ProofRules, StsEndpoints};
use sentinel_server::remote::{
    Admission, BrokerIdentity, DEFAULT_MAX_SEEN_PROOFS, MAX_CACHED_ROLES, MemorySeenProofs,
    Metrics, Rate, RateLimits, RemoteServer, RemoteService, RoleCache, Security,
};
use sentinel_server::tls::{LoopbackCertificates, acceptor_from_pem};
use sentinel_server::{Drained, Limits};
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use crate::cache::{Cache, CacheFigures};
use crate::defaults;
use crate::findings::{CheckResult, Figures};
use crate::fixture;
use crate::issuance::{LogFile, SyncedLines};
use crate::scenario::{LoadScenario, Setup, SetupError, Workload};

use self::client::Client;
use self::sts::LocalSts;

/// The audience the run's server expects.
const AUDIENCE: &str = "sentinel.load";
/// How many requests each worker's connection sends before the run.
const WARM_UP_ROUNDS: usize = 3;
/// How many workers send their warm-up requests at once: the default 50 all together, and with
/// thousands of workers, no more connections to STS than a busy run would open.
const WARM_UP_AT_ONCE: usize = 64;
/// How long the broker gives the issuer, and the server gives STS.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(1);

/// Rate limits no run reaches: a billion requests a second, in bursts as large.
fn unlimited_rates() -> RateLimits {
    let unlimited = Rate {
        per_second: 1e9,
        burst: 1_000_000_000,
    };
    RateLimits {
        per_client: unlimited,
        per_principal: unlimited,
    }
}

/// Sentinel's remote server under load, every request a new proof.
#[derive(Debug, Clone, Copy)]
pub struct Remote;

/// The running server, its STS, the caller's keys and a client.
pub struct RemoteWorkload {
    credentials: Credentials,
    sts: LocalSts,
    client: Arc<Client>,
    cache: Cache,
    log: LogFile,
    synced: SyncedLines,
    stop: std::sync::Mutex<Option<oneshot::Sender<()>>>,
    serving: JoinHandle<Drained>,
}

/// What a run of `remote` showed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RemoteFigures {
    /// The server's policy cache over the run.
    #[serde(flatten)]
    pub cache: CacheFigures,
    /// Proofs STS accepted during the run.
    pub sts_verified: u64,
    /// Decision lines the run added to the log; absent when the log could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision_log_lines: Option<u64>,
    /// Decision lines the run synced to disk before issuing.
    pub decision_lines_synced: u64,
}

impl LoadScenario for Remote {
    type Workload = RemoteWorkload;

    fn name(&self) -> &'static str {
        "remote"
    }

    fn summary(&self) -> &'static str {
        "sentinel server over TLS: a signed proof per request, STS, broker"
    }

    fn config(&self) -> LoadTestConfig {
        defaults::config(1000.0, 10, 50)
    }

    fn thresholds(&self, _rate: f64) -> Vec<Threshold> {
        defaults::thresholds(&["success>99%", "p99<10ms"])
    }

    async fn prepare(
        &self,
        config: &LoadTestConfig,
        setup: &Setup,
    ) -> Result<RemoteWorkload, SetupError> {
        let other = |error: String| SetupError::Other(error.into());
        let credentials = Credentials::new(
            "AKIASENTINELLOADTEST",
            "load-test-secret-not-a-real-key",
            None,
            None,
            "sentinel-load",
        );
        let sts = LocalSts::start(credentials.clone(), fixture::allowed_caller()).await?;
        let certificates = LoopbackCertificates::generate().map_err(|e| other(e.to_string()))?;
        let acceptor = acceptor_from_pem(certificates.cert.as_bytes(), certificates.key.as_bytes())
            .map_err(|error| other(error.to_string()))?;
        let cache = Cache::warm().await?;
        let log = LogFile::open(setup.decision_log.clone())?;
        let decisions = Arc::new(DecisionLog::open(&log.path)?);
        let broker = Broker::new(
            Arc::clone(&cache.source) as Arc<dyn PolicySource>,
            Arc::clone(&decisions),
            Arc::new(LocalIssuer),
            UPSTREAM_TIMEOUT,
        );
        let sts_endpoint = Endpoint::parse(&sts.target.url).map_err(|e| other(e.to_string()))?;
        let profile = fixture::profile();
        let profile_name = profile.name.clone();
        let service = RemoteService {
            broker,
            profiles: HashMap::from([(profile.name.clone(), profile)]),
            rules: ProofRules {
                audience: AUDIENCE.to_owned(),
                endpoints: StsEndpoints::Listed(vec![sts_endpoint]),
            },
            verifier: Arc::new(StsProofVerifier::new(UPSTREAM_TIMEOUT)),
            sts_timeout: UPSTREAM_TIMEOUT,
            metrics: Metrics::new([profile_name.as_str()]),
            seen_proofs: Arc::new(MemorySeenProofs::new(DEFAULT_MAX_SEEN_PROOFS)),
            rate_limits: unlimited_rates(),
            admission: admission(&fixture::allowed_caller())?,
            notifications: Notifications::none(),
        };
        // Every worker is one loopback client and one principal: the per-client limits are
        // the whole server's, and the rate limits never refuse (their buckets are still taken
        // from on every request, so their cost is part of the run).
        let most = config.workers.max(1) * 2;
        let limits = Limits {
            max_connections: most,
            max_connections_per_client: most,
            ..Limits::default()
        };
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let server =
            RemoteServer::bind(loopback, loopback, Security::Tls(acceptor), limits, service)
                .await
                .map_err(|error| other(error.to_string()))?;
        let client = Arc::new(
            Client::new(server.local_addr(), &certificates.ca, config.workers).map_err(other)?,
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        // Every worker's connection is opened (TLS handshakes are not part of the run, as for
        // any keep-alive client) and warmed up, so a server that cannot issue fails the setup,
        // not the run. The run's counts start after it.
        let first = match client.connect_all().await {
            Ok(()) => warm_up(&client, &credentials, &sts, config.workers).await,
            Err(error) => Err(error),
        };
        if let Err(error) = first {
            let _ = stop.send(());
            return Err(other(format!("the server's first answer: {error}")));
        }
        sts.accepted.store(0, Ordering::Relaxed);
        let log = LogFile::open(Some(log.path.clone())).map(|run| run.keeping(log))?;
        Ok(RemoteWorkload {
            credentials,
            sts,
            client,
            cache,
            log,
            synced: SyncedLines::from_now(decisions),
            stop: std::sync::Mutex::new(Some(stop)),
            serving,
        })
    }
}

impl Workload for RemoteWorkload {
    type Figures = RemoteFigures;

    async fn request(&self, ctx: RequestContext) -> Result<(), RequestError> {
        let body = request_body(&self.credentials, &self.sts)?;
        self.client.post(ctx.worker, body).await
    }

    fn finish(&self, result: &LoadTestResult) -> (RemoteFigures, Vec<CheckResult>) {
        let (sent, ok) = (result.requests.sent, result.requests.ok);
        // A request the generator gave up on may never have reached the server; every request
        // answered with credentials has its line, and none has two.
        let (lines, lines_check) = match self.log.lines() {
            Ok(lines) => (
                Some(lines),
                CheckResult::new(
                    "decision_log_lines",
                    (ok..=sent).contains(&lines),
                    format!("{lines} decision lines for {ok} issued of {sent} requests sent"),
                ),
            ),
            Err(error) => (
                None,
                CheckResult::new(
                    "decision_log_lines",
                    false,
                    format!("cannot read {}: {error}", self.log.path.display()),
                ),
            ),
        };
        let verified = self.sts.accepted.load(Ordering::Relaxed);
        let verified_check = CheckResult::new(
            "sts_verified",
            verified >= result.requests.ok,
            format!(
                "STS verified {verified} proofs for {} credentials issued",
                result.requests.ok
            ),
        );
        let (synced, synced_check) = self.synced.check(result);
        let figures = RemoteFigures {
            cache: self.cache.figures(),
            sts_verified: verified,
            decision_log_lines: lines,
            decision_lines_synced: synced,
        };
        (figures, vec![lines_check, synced_check, verified_check])
    }
}

/// Sends every worker's connection [`WARM_UP_ROUNDS`] requests, [`WARM_UP_AT_ONCE`] workers at
/// a time, and fails if any is refused. What grows with concurrency (the server's connections to
/// STS, the allocator's pages, every code path's first use) has then grown before the first
/// counted request, as in a server that has been serving for a while.
async fn warm_up(
    client: &Arc<Client>,
    credentials: &Credentials,
    sts: &LocalSts,
    workers: usize,
) -> Result<(), RequestError> {
    for _ in 0..WARM_UP_ROUNDS {
        for first in (0..workers).step_by(WARM_UP_AT_ONCE) {
            let mut requests = JoinSet::new();
            for worker in first..workers.min(first + WARM_UP_AT_ONCE) {
                let body = request_body(credentials, sts)?;
                let client = Arc::clone(client);
                requests.spawn(async move { client.post(worker, body).await });
            }
            while let Some(answer) = requests.join_next().await {
                answer.map_err(|_| RequestError::new("warm_up"))??;
            }
        }
    }
    Ok(())
}

/// A credentials request for `production`, with a proof of its own signed now by `credentials`
/// (the server accepts each proof once).
fn request_body(credentials: &Credentials, sts: &LocalSts) -> Result<Vec<u8>, RequestError> {
    let binding =
        Binding::fresh(AUDIENCE, fixture::PROFILE).map_err(|_| RequestError::new("signing"))?;
    let proof = sign(credentials, &sts.target, &binding, SystemTime::now())
        .map_err(|_| RequestError::new("signing"))?;
    serde_json::to_vec(&CredentialsRequest {
        profile: fixture::PROFILE.to_owned(),
        proof,
        break_glass: None,
    })
    .map_err(|_| RequestError::new("encoding"))
}

impl Drop for RemoteWorkload {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.lock().ok().and_then(|mut stop| stop.take()) {
            let _ = stop.send(());
        }
        self.serving.abort();
    }
}

impl Figures for RemoteFigures {
    fn summary(&self) -> String {
        let lines = self
            .decision_log_lines
            .map(|lines| format!(", {lines} log lines"))
            .unwrap_or_default();
        format!("{} verified{lines}", self.sts_verified)
    }
}

/// The server's rule for callers: the caller's own account and partition, as if the broker ran
/// there; the run's caller is an IAM user, so no role is ever looked up.
fn admission(caller: &Caller) -> Result<Admission, SetupError> {
    let broker = BrokerIdentity::of(caller).map_err(|error| SetupError::Other(error.into()))?;
    let accounts = std::collections::BTreeSet::from([caller.account.clone()]);
    let roles = RoleCache::new(
        Arc::new(IamUsersOnly),
        Duration::from_secs(60),
        MAX_CACHED_ROLES,
    );
    Ok(Admission::new(&broker, accounts, Vec::new(), roles))
}

/// IAM as the run sees it: its caller is an IAM user, and no role session is a user.
struct IamUsersOnly;

#[async_trait::async_trait]
impl RoleDirectory for IamUsersOnly {
    async fn role(&self, account: &str, name: &str) -> Result<Role, RoleLookupError> {
        Err(RoleLookupError::Failed {
            account: account.to_owned(),
            name: name.to_owned(),
            problem: "the remote scenario's callers are IAM users".to_owned(),
        })
    }
}
