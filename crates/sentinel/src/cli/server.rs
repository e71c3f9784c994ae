//! `sentinel server --config FILE`: the broker as a network service that enforces the policy.
//! Callers prove who they are with a signed, unsent STS `GetCallerIdentity` request; the server
//! issues with its own credentials, which the protected roles alone trust.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use sentinel_aws::caller::caller_identity;
use sentinel_aws::dynamodb::DynamoState;
use sentinel_aws::iam_roles::IamRoles;
use sentinel_aws::location::{LocationSource, PolicyLocation};
use sentinel_aws::sdk;
use sentinel_aws::sns::SnsTopic;
use sentinel_aws::sts::StsIssuer;
use sentinel_aws::sts_proof::StsProofVerifier;
use sentinel_core::broker::{Broker, Profile};
use sentinel_core::decision_log::DecisionLog;
use sentinel_core::notify::{DeliveryPolicy, Sink};
use sentinel_core::source::{CacheConfig, CachedSource};
use sentinel_core::state::UsedProofs;
use sentinel_core::workflow::Workflow;
use sentinel_protocol::ProofRules;
use sentinel_server::remote::{
    Admission, Announcer, BrokerIdentity, MAX_CACHED_ROLES, MemorySeenProofs, Metrics,
    RemoteServer, RemoteService, RoleCache, Security, ServerConfig, SnsTarget, notify,
};
use sentinel_server::tls::CertificateFiles;

use super::Outcome;
use super::logging::LogFormat;
use super::serve::shutdown_signal;

/// The `server` arguments.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The configuration (YAML) names where to listen, the TLS certificate and key, \
    the audience proofs must be bound to, the decision log and the profiles served; see \
    docs/server.md. The server runs until SIGINT or SIGTERM, then stops accepting, finishes the \
    requests in flight and exits.\n\nRoutes: POST /v1/credentials (a profile and an identity \
    proof), POST /v1/approvals/vote and POST /v1/approvals/list (with `state`) and GET /healthz     on the listen address; GET /healthz and GET /metrics (Prometheus) \
    on admin_listen (plain HTTP, default 127.0.0.1:9090).\n\nExit status: 0 after a clean shutdown \
    (or a valid configuration with --check); 1 on any error."
)]
pub struct RemoteServerArgs {
    /// The server's configuration file (YAML).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,

    /// Only validate the configuration (and the TLS files), then exit.
    #[arg(long)]
    check: bool,

    /// How the server writes its events on stderr: text, or json (one object per line, for
    /// container platforms).
    #[arg(long, value_enum, default_value_t, value_name = "FORMAT")]
    pub log_format: LogFormat,
}

/// How often the TLS certificate and key files are checked for a new pair.
const CERTIFICATE_CHECK_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `sentinel server`.
pub fn run(args: RemoteServerArgs) -> Result<Outcome> {
    super::block_on(server(args))
}

async fn server(args: RemoteServerArgs) -> Result<Outcome> {
    let config = ServerConfig::load(&args.config)?;
    let certificates = match &config.tls {
        Some(files) => Some(CertificateFiles::load(&files.cert, &files.key)?),
        None => None,
    };
    if args.check {
        writeln!(std::io::stdout(), "{}: ok", args.config.display())?;
        return Ok(Outcome::Success);
    }
    // Watched from here on: a SIGTERM during start-up, or right after the start line, stops
    // the server gracefully instead of killing it.
    let shutdown = shutdown_signal();
    let security = match certificates {
        Some(certificates) => {
            tokio::spawn(Arc::clone(&certificates).watch(CERTIFICATE_CHECK_INTERVAL));
            Security::Tls(certificates.acceptor()?)
        }
        None => Security::PlainLoopback,
    };
    let (service, broker) = remote_service(&config).await?;
    let log = config.decision_log.to_string();
    let server = RemoteServer::bind(
        config.listen,
        config.admin_listen,
        security,
        config.limits,
        service,
    )
    .await?;
    if config.insecure_sts_http {
        tracing::warn!(
            "insecure_sts_http is on: proofs may be sent to STS over plain HTTP ({}); this is \
             for tests against an emulator only",
            config.sts_endpoints
        );
    }
    if !server.is_tls() {
        tracing::warn!(
            "tls is off: plain HTTP on {}; only a TLS-terminating proxy on this host may forward \
             to it",
            server.local_addr()
        );
    }
    let profiles: Vec<&str> = config.profiles.keys().map(String::as_str).collect();
    tracing::info!(
        "admin listener (GET /healthz, GET /metrics) at {}",
        server.admin_url()
    );
    tracing::info!(
        "serving {} as {} (account {}) for profiles {} (audience {}; proofs to {}; decision log \
         {log}; {} notification target(s)); stop with Ctrl-C",
        server.url(),
        broker.arn,
        broker.account,
        profiles.join(", "),
        config.audience,
        config.sts_endpoints,
        config.notify.len(),
    );
    if let Some(state) = &config.state {
        tracing::info!(
            "shared state in DynamoDB table {}: approvals and break-glass on, proofs single-use \
             across replicas",
            state.dynamodb_table
        );
    } else {
        tracing::warn!(
            "no state configured: require_approval rules deny (approvals need `state` in the \
             server config), break-glass is refused, and proofs are single-use per replica only"
        );
    }
    let drained = server.run(shutdown).await;
    if drained.abandoned > 0 {
        anyhow::bail!(
            "stopped with {} connection(s) still busy after the drain deadline",
            drained.abandoned
        );
    }
    tracing::info!("stopped; every request in flight was answered");
    Ok(Outcome::Success)
}

/// The service `config` describes: one broker for every profile (policies from wherever each
/// profile names, behind one cache), issuing with the server's own credentials (the SDK's
/// default chain: its ECS, EKS or EC2 role) in the configured region, and proofs sent to STS;
/// with who the server runs as (STS `GetCallerIdentity` at start: callers must be of its
/// partition, and its own account's roles are looked up with its own credentials); and the
/// notifications to the configured webhooks and SNS topics (published with the server's own
/// credentials).
async fn remote_service(config: &ServerConfig) -> Result<(RemoteService, BrokerIdentity)> {
    let log = DecisionLog::to(&config.decision_log).context("opening the decision log")?;
    let sdk = sdk::load_in_region(config.region.as_deref()).await;
    let own = tokio::time::timeout(config.sts_timeout, caller_identity(&sdk))
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "cannot determine who the server runs as: STS did not answer within {:?}",
                config.sts_timeout
            )
        })?
        .context("asking STS who the server runs as")?;
    let broker_identity = BrokerIdentity::of(&own).map_err(anyhow::Error::msg)?;
    let callers = &config.callers;
    let roles = IamRoles::new(
        &sdk,
        &broker_identity.account,
        callers.role_reader.clone(),
        config.sts_timeout,
    );
    let admission = Admission::new(
        &broker_identity,
        callers.accounts.clone(),
        callers.session_name_roles.clone(),
        RoleCache::new(Arc::new(roles), callers.role_cache_ttl, MAX_CACHED_ROLES),
    );
    let cache = CacheConfig {
        ttl: config.policy_ttl,
        max_stale: config.policy_max_stale,
        ..CacheConfig::default()
    };
    let source = Arc::new(CachedSource::new(
        Arc::new(LocationSource::new(&sdk)),
        cache,
    ));
    let metrics = Metrics::new(config.profiles.keys().map(String::as_str));
    let issuer = metrics.timed(Arc::new(StsIssuer::new(&sdk)));
    let sns = |topic: &SnsTarget| -> Arc<dyn Sink> {
        Arc::new(SnsTopic::new(&sdk, &topic.topic_arn, topic.events.clone()))
    };
    let notifications = notify::start(&config.notify, DeliveryPolicy::default(), &metrics, &sns)
        .map_err(anyhow::Error::msg)
        .context("starting the notifications")?;
    let log = Arc::new(log);
    let mut broker = Broker::new(source, Arc::clone(&log), issuer, config.sts_timeout);
    let seen_proofs: Arc<dyn UsedProofs> = match &config.state {
        Some(state) => {
            let table = Arc::new(DynamoState::new(&sdk, &state.dynamodb_table));
            let announcer = Announcer::new(
                metrics.clone(),
                notifications.clone(),
                format!("https://{}", config.audience),
            );
            let workflow = Workflow::new(table.clone(), table.clone(), log, Arc::new(announcer));
            broker = broker.with_workflow(workflow);
            table
        }
        None => Arc::new(MemorySeenProofs::new(config.max_seen_proofs)),
    };
    let profiles: HashMap<String, Profile> = config
        .profiles
        .iter()
        .map(|(name, profile)| {
            let location = profile
                .policy
                .as_deref()
                .map(PolicyLocation::parse)
                .unwrap_or_else(|| PolicyLocation::default_for_profile(name));
            let settings = Profile {
                name: name.clone(),
                policy_key: location.to_string(),
                role_arn: profile.role_arn.clone(),
                session_duration: profile.duration,
                external_id: profile.external_id.clone(),
            };
            (name.clone(), settings)
        })
        .collect();
    let service = RemoteService {
        broker,
        profiles,
        rules: ProofRules {
            audience: config.audience.clone(),
            endpoints: config.sts_endpoints.clone(),
        },
        verifier: Arc::new(StsProofVerifier::new(config.sts_timeout)),
        sts_timeout: config.sts_timeout,
        metrics,
        seen_proofs,
        rate_limits: config.rate_limits,
        admission,
        notifications,
    };
    Ok((service, broker_identity))
}
