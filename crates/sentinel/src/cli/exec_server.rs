//! `sentinel exec --server --profile P -- CMD`: runs CMD with a credential server of its own on
//! a random loopback port, instead of one set of credentials in its environment. CMD's SDK asks
//! the server whenever it needs credentials, so a long-running CMD keeps working past one
//! session's lifetime, and every refresh is a policy decision.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use sentinel_server::{Limits, Server, Token};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::issue::IssueArgs;
use super::remote::RemoteArgs;
use super::serve::ServerArgs;
use super::{Outcome, child_env, signals};

/// Runs CMD against its own server; exits with CMD's status (128 + N if signal N ended it).
/// `kill_after` is how long CMD may take to exit after a signal that ends processes.
pub fn run(
    issue: &IssueArgs,
    remote: &RemoteArgs,
    command: &[OsString],
    kill_after: Duration,
) -> Result<Outcome> {
    super::block_on(serve_and_run(issue, remote, command, kill_after))
}

async fn serve_and_run(
    issue: &IssueArgs,
    remote: &RemoteArgs,
    command: &[OsString],
    kill_after: Duration,
) -> Result<Outcome> {
    let (program, arguments) = command
        .split_first()
        .ok_or_else(|| anyhow!("no command given after --"))?;
    let token = Token::generate()?;
    // With a remote server, every SDK refresh is a request to it; otherwise to a broker here.
    let (server, region) = if let Some(source) =
        remote.source(&issue.profile, issue.sts_timeout).await?
    {
        let region = source.region();
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let server =
            Server::bind_forwarding(loopback, Limits::default(), token.clone(), Arc::new(source))
                .await?;
        (server, region)
    } else {
        let (server, issuance) = ServerArgs::loopback().bind(issue, token.clone()).await?;
        (server, issuance.settings.region)
    };
    let mut child = tokio::process::Command::new(program);
    child.args(arguments);
    child_env::prepare(child.as_std_mut(), region.as_deref());
    child
        .env("AWS_CONTAINER_CREDENTIALS_FULL_URI", server.url())
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", token.expose())
        // No shared config or credentials file, so no profile there outranks the server.
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        // CMD cannot outlive its credential server, whichever way this function returns.
        .kill_on_drop(true);
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    // Watched before CMD starts, so that no signal can end Sentinel while CMD runs on.
    let mut signals = signals::watch()?;
    let mut child = child
        .spawn()
        .with_context(|| format!("cannot run {}", program.to_string_lossy()))?;
    let mut kill_at: Option<Instant> = None;
    let status = loop {
        let deadline = async {
            match kill_at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            status = child.wait() => break status.context("waiting for the command")?,
            Some(relayed) = signals.recv() => {
                if let Some(pid) = child.id() {
                    signals::pass_on(relayed, pid);
                }
                if relayed.ends && kill_at.is_none() {
                    kill_at = Some(Instant::now() + kill_after);
                }
            }
            () = deadline => {
                eprintln!(
                    "sentinel: {} did not exit within {kill_after:?} of being told to stop; \
                     killing it",
                    program.to_string_lossy()
                );
                let _ = child.start_kill();
                kill_at = None;
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
    Ok(Outcome::Child(u8::try_from(code).unwrap_or(1)))
}
