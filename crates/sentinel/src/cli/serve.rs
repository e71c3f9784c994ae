//! `sentinel serve --profile P`: a credential server on the AWS container-credentials protocol,
//! so any AWS SDK on the machine gets policy-gated credentials through two environment
//! variables, and every refresh is a fresh policy decision in the decision log.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use sentinel_core::source::CacheConfig;
use sentinel_duration::parse_duration;
use sentinel_load::raise_open_file_limit;
use sentinel_server::{
    CredentialService, Limits, RESERVED_DESCRIPTORS, Server, Token, fit_connections,
};

use super::Outcome;
use super::issue::{Issuance, IssueArgs};
use super::logging::LogFormat;

/// The `serve` arguments.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "On start, the two lines a client needs are printed on stdout, ready for \
    `eval`; the server runs until SIGINT or SIGTERM, then stops accepting, finishes the requests \
    in flight and exits.\n\nA deny is answered 403 with {\"Code\", \"Message\"} naming the rule; \
    a failure is 5xx with the same shape; a missing or wrong token is 401."
)]
pub struct ServeArgs {
    #[command(flatten)]
    issue: IssueArgs,

    #[command(flatten)]
    server: ServerArgs,

    /// Read the token clients must present from this file; otherwise a random 256-bit token is
    /// generated and printed.
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,

    /// How the server writes its events on stderr: text, or json (one object per line).
    #[arg(long, value_enum, default_value_t, value_name = "FORMAT")]
    pub log_format: LogFormat,
}

/// How the server listens and what it tolerates (shared with `exec --server`).
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// The address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    listen: SocketAddr,

    /// Allow a non-loopback --listen address: anyone who can reach it and has the token gets
    /// credentials.
    #[arg(long)]
    allow_remote: bool,

    /// How long a loaded policy is used before it is read again.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    policy_ttl: Duration,

    /// How long a client may take to send a request's headers (and how long an idle
    /// connection stays open).
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    header_timeout: Duration,

    /// How long one request may take in the broker before it is answered 504.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    request_timeout: Duration,

    /// The most client connections open at once (kept below the open-file limit, which is
    /// raised to its hard limit at start).
    #[arg(long, default_value_t = 1024, value_name = "N")]
    max_connections: usize,

    /// How long a connection may stay open; then it closes after its response in progress, so
    /// that no client holds a connection for good (it reconnects as it needs).
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    connection_timeout: Duration,
}

impl ServerArgs {
    /// The defaults of `serve`'s flags (loopback), which `exec --server` uses.
    pub fn loopback() -> ServerArgs {
        /// `ServerArgs` alone, to parse an empty command line into its defaults.
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            args: ServerArgs,
        }
        <Defaults as clap::Parser>::try_parse_from(["serve"])
            .expect("every flag of ServerArgs has a default that parses")
            .args
    }

    /// Prepares the issuance for `issue` (policy cached) and binds a server for it.
    pub async fn bind(&self, issue: &IssueArgs, token: Token) -> Result<(Server, Issuance)> {
        let cache = CacheConfig {
            ttl: self.policy_ttl,
            ..CacheConfig::default()
        };
        let issuance = Issuance::prepare_with(issue, Some(cache)).await?;
        let budget = fit_connections(raise_open_file_limit(), self.max_connections);
        if budget.lowered {
            tracing::warn!(
                "--max-connections {} lowered to {}: the open-file limit is {} and {} \
                 descriptors are kept for the log, the runtime and AWS",
                self.max_connections,
                budget.max_connections,
                budget.open_files,
                RESERVED_DESCRIPTORS
            );
        }
        // Every client of a loopback server is this machine: one client network, which may
        // use every connection.
        let limits = Limits {
            header_timeout: self.header_timeout,
            handshake_timeout: self.header_timeout,
            request_timeout: self.request_timeout,
            max_connections: budget.max_connections,
            max_connections_per_client: budget.max_connections,
            connection_timeout: self.connection_timeout,
            ..Limits::default()
        };
        let service = CredentialService {
            broker: issuance.broker.clone(),
            profile: issuance.profile.clone(),
            caller: issuance.tracker.clone(),
            token,
        };
        let server = Server::bind(self.listen, self.allow_remote, limits, service).await?;
        Ok((server, issuance))
    }
}

/// Runs `sentinel serve`.
pub fn run(args: &ServeArgs) -> Result<Outcome> {
    super::block_on(serve(args))
}

async fn serve(args: &ServeArgs) -> Result<Outcome> {
    let token = match &args.token_file {
        Some(path) => Token::from_file(path)?,
        None => Token::generate()?,
    };
    let (server, issuance) = args.server.bind(&args.issue, token.clone()).await?;
    let shutdown = shutdown_signal();
    let token_line = match &args.token_file {
        Some(path) => format!("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE={}", path.display()),
        None => format!("AWS_CONTAINER_AUTHORIZATION_TOKEN={}", token.expose()),
    };
    writeln!(
        std::io::stdout(),
        "export AWS_CONTAINER_CREDENTIALS_FULL_URI={}\nexport {token_line}",
        server.url()
    )?;
    tracing::info!(
        "serving credentials for profile {} to {} at {} (decision log: {}); stop with Ctrl-C",
        issuance.profile.name,
        issuance.caller.arn,
        server.url(),
        issuance.broker.decision_log().path().display(),
    );
    let drained = server.run(shutdown).await;
    if drained.abandoned > 0 {
        anyhow::bail!(
            "stopped with {} connection(s) still busy after the drain deadline",
            drained.abandoned
        );
    }
    let log = issuance.broker.decision_log().stats();
    tracing::info!("stopped; every request in flight was answered (decision log: {log})");
    Ok(Outcome::Success)
}

/// Watches SIGINT and SIGTERM from now on (so that a signal sent as soon as the server says it
/// serves still drains it), and completes on the first (or at once if they cannot be watched, so
/// the server never runs unstoppable).
pub fn shutdown_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let watched = signal(SignalKind::interrupt()).and_then(|interrupt| {
        signal(SignalKind::terminate()).map(|terminate| (interrupt, terminate))
    });
    async move {
        match watched.context("cannot watch SIGINT and SIGTERM") {
            Ok((mut interrupt, mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
                tracing::info!("shutting down: no new connections; finishing requests in flight");
            }
            Err(error) => tracing::error!("{error:#}; stopping"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loopback_defaults_are_the_servers_own_limits() {
        let args = ServerArgs::loopback();
        let limits = Limits::default();
        assert_eq!(args.listen, SocketAddr::from(([127, 0, 0, 1], 0)));
        assert!(!args.allow_remote);
        assert_eq!(args.policy_ttl, Duration::from_secs(60));
        assert_eq!(
            (
                args.header_timeout,
                args.request_timeout,
                args.max_connections,
                args.connection_timeout
            ),
            (
                limits.header_timeout,
                limits.request_timeout,
                limits.max_connections,
                limits.connection_timeout
            )
        );
    }
}
