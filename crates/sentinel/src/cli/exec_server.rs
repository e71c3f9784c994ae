//! `sentinel exec --server --profile P -- CMD`: runs CMD with a credential server of its own on
//! a random loopback port, instead of one set of credentials in its environment. CMD's SDK asks
//! the server whenever it needs credentials, so a long-running CMD keeps working past one
//! session's lifetime, and every refresh is a policy decision.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use sentinel_server::{Limits, Server, Token};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::oneshot;

use super::issue::IssueArgs;
use super::remote::RemoteArgs;
use super::serve::ServerArgs;

/// Variables that would make CMD's SDK take other credentials before the container provider's,
/// or point the container provider elsewhere.
const CLEARED: [&str; 11] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
];

/// Runs CMD against its own server; exits with CMD's status (128 + N if signal N ended it).
pub fn run(issue: &IssueArgs, remote: &RemoteArgs, command: &[OsString]) -> ExitCode {
    super::block_on(serve_and_run(issue, remote, command))
        .unwrap_or_else(|error| super::fail(&error))
}

async fn serve_and_run(
    issue: &IssueArgs,
    remote: &RemoteArgs,
    command: &[OsString],
) -> Result<ExitCode> {
    let (program, arguments) = command
        .split_first()
        .ok_or_else(|| anyhow!("no command given after --"))?;
    let token = Token::generate()?;
    // With a remote server, every SDK refresh is a request to it; otherwise to a broker here.
    let (server, region) = match remote.source(&issue.profile, issue.sts_timeout).await? {
        Some(source) => {
            let region = source.region();
            let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
            let server = Server::bind_forwarding(
                loopback,
                Limits::default(),
                token.clone(),
                Arc::new(source),
            )
            .await?;
            (server, region)
        }
        None => {
            let (server, issuance) = ServerArgs::loopback().bind(issue, token.clone()).await?;
            (server, issuance.settings.region)
        }
    };
    let mut child = tokio::process::Command::new(program);
    child
        .args(arguments)
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url())
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", token.expose())
        // No shared config or credentials file, so no profile there outranks the server.
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove(super::NESTED_GUARD)
        // CMD cannot outlive its credential server, whichever way this function returns.
        .kill_on_drop(true);
    for variable in CLEARED {
        child.env_remove(variable);
    }
    if let Some(region) = &region {
        child
            .env("AWS_REGION", region)
            .env("AWS_DEFAULT_REGION", region);
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    // The terminal sends Ctrl-C to CMD too; CMD decides what it means, and we wait for it.
    // SIGTERM is meant for us: stop CMD (it cannot outlive its credential server). Both are
    // watched before CMD starts, so no signal can end us while CMD runs on.
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut child = child
        .spawn()
        .with_context(|| format!("cannot run {}", program.to_string_lossy()))?;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status.context("waiting for the command")?,
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {
                let _ = child.start_kill();
            }
        }
    };
    let _ = stop.send(());
    let drained = serving.await.context("the credential server failed")?;
    if drained.abandoned > 0 {
        eprintln!(
            "sentinel: {} request(s) to the credential server were still busy at exit",
            drained.abandoned
        );
    }
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    };
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
