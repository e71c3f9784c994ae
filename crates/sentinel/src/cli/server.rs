//! `sentinel server --config FILE`: the broker as a network service that enforces the policy.
//! Callers prove who they are with a signed, unsent STS `GetCallerIdentity` request; the server
//! issues with its own credentials, which the protected roles alone trust.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use sentinel_aws::server::remote_service;
use sentinel_server::remote::{RemoteServer, Security, ServerConfig};
use sentinel_server::tls;

use super::serve::shutdown_signal;

/// The `server` arguments.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "The configuration (YAML) names where to listen, the TLS certificate and key, \
    the audience proofs must be bound to, the decision log and the profiles served; see \
    docs/server.md. The server runs until SIGINT or SIGTERM, then stops accepting, finishes the \
    requests in flight and exits.\n\nRoutes: POST /v1/credentials (a profile and an identity \
    proof), GET /healthz, GET /metrics (Prometheus).\n\nExit status: 0 after a clean shutdown \
    (or a valid configuration with --check); 1 on any error."
)]
pub struct RemoteServerArgs {
    /// The server's configuration file (YAML).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,

    /// Only validate the configuration (and the TLS files), then exit.
    #[arg(long)]
    check: bool,
}

/// Runs `sentinel server`.
pub fn run(args: RemoteServerArgs) -> ExitCode {
    super::block_on(server(args)).unwrap_or_else(|error| super::fail(&error))
}

async fn server(args: RemoteServerArgs) -> Result<ExitCode> {
    let config = ServerConfig::load(&args.config)?;
    let security = match &config.tls {
        Some(files) => Security::Tls(tls::acceptor(&files.cert, &files.key)?),
        None => Security::PlainLoopback,
    };
    if args.check {
        println!("{}: ok", args.config.display());
        return Ok(ExitCode::SUCCESS);
    }
    let service = remote_service(&config)
        .await
        .context("opening the decision log")?;
    let log = service.broker.decision_log().path().display().to_string();
    let server = RemoteServer::bind(config.listen, security, config.limits, service).await?;
    if !server.is_tls() {
        eprintln!(
            "sentinel server: WARNING: tls is off: plain HTTP on {}; only a TLS-terminating \
             proxy on this host may forward to it",
            server.local_addr()
        );
    }
    let profiles: Vec<&str> = config.profiles.keys().map(String::as_str).collect();
    eprintln!(
        "sentinel server: serving {} for profiles {} (audience {}; proofs to {}; decision log \
         {log}); stop with Ctrl-C",
        server.url(),
        profiles.join(", "),
        config.audience,
        config.sts_endpoints,
    );
    let drained = server.run(shutdown_signal()).await;
    if drained.abandoned > 0 {
        anyhow::bail!(
            "stopped with {} connection(s) still busy after the drain deadline",
            drained.abandoned
        );
    }
    eprintln!("sentinel server: stopped; every request in flight was answered");
    Ok(ExitCode::SUCCESS)
}
