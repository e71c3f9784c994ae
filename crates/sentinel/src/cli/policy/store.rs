//! `sentinel policy push|pull|diff`: keep a profile's policy in SSM Parameter Store, where the
//! broker reads it by default. Push validates before it writes, so an invalid policy never
//! reaches the store; diff shows what a push would change before anyone makes it.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use sentinel_aws::location::{PolicyLocation, default_parameter};
use sentinel_aws::sdk;
use sentinel_aws::ssm::{SsmSource, location};
use sentinel_core::source::SourceError;
use sentinel_policy::Policy;
use similar::TextDiff;

use super::report::report;
use crate::cli::{Outcome, block_on};

/// The subcommands that read and write the policy store.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Validate a policy file and store it in SSM Parameter Store.
    ///
    /// The policy is written as a SecureString, replacing the stored one. An invalid policy is
    /// refused with the same diagnostics as `validate`, and nothing is written.
    Push(FileArgs),
    /// Print the policy stored in SSM Parameter Store.
    Pull(Target),
    /// Show what `push` would change: a line diff from the stored policy to FILE.
    Diff(FileArgs),
}

/// Which stored policy a command is about.
#[derive(Debug, clap::Args)]
pub struct Target {
    /// The profile whose policy it is.
    #[arg(long)]
    profile: String,

    /// The SSM parameter holding it [default: /sentinel/policies/<profile>].
    #[arg(long, value_name = "NAME")]
    parameter: Option<String>,
}

/// A stored policy and a local policy file.
#[derive(Debug, clap::Args)]
pub struct FileArgs {
    #[command(flatten)]
    target: Target,

    /// The policy file (YAML).
    file: PathBuf,
}

impl Target {
    fn parameter(&self) -> String {
        self.parameter
            .clone()
            .unwrap_or_else(|| default_parameter(&self.profile))
    }
}

/// Runs one store subcommand.
pub fn run(command: &StoreCommand) -> Result<Outcome> {
    block_on(async {
        match command {
            StoreCommand::Push(args) => push(args).await,
            StoreCommand::Pull(target) => pull(target).await,
            StoreCommand::Diff(args) => diff(args).await,
        }
    })
}

/// Reads a policy's bytes from where it lives: `ssm:NAME` from SSM Parameter Store, anything
/// else from the file system.
pub fn read_location(location: &Path) -> Result<Vec<u8>> {
    match location.to_str().map(PolicyLocation::parse) {
        Some(PolicyLocation::Ssm(name)) => {
            block_on(async { Ok(store().await.fetch(&name).await?.into_bytes()) })
        }
        _ => std::fs::read(location)
            .with_context(|| format!("cannot read policy {}", location.display())),
    }
}

/// The file's text if it is a valid policy; `None` after printing its problems as `validate`
/// does.
fn read_valid(path: &Path) -> Result<Option<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read policy {}", path.display()))?;
    match Policy::from_yaml(&text) {
        Ok(_) => Ok(Some(text)),
        Err(problems) => {
            let name = path.display().to_string();
            eprint!("{}", report(&name, text.as_bytes(), &problems));
            eprintln!("sentinel: the policy is invalid, so nothing was stored");
            Ok(None)
        }
    }
}

/// The store, reached through the standard AWS configuration.
async fn store() -> SsmSource {
    SsmSource::new(&sdk::load(None).await)
}

/// Stores a valid policy; 1 (and nothing written) for an invalid one.
async fn push(args: &FileArgs) -> Result<Outcome> {
    let Some(text) = read_valid(&args.file)? else {
        return Ok(Outcome::Failure);
    };
    let parameter = args.target.parameter();
    store().await.push(&parameter, &text).await?;
    let pushed = args.file.display();
    writeln!(io::stdout(), "pushed {pushed} to {}", location(&parameter))?;
    Ok(Outcome::Success)
}

/// Prints the stored policy.
async fn pull(target: &Target) -> Result<Outcome> {
    let text = store().await.fetch(&target.parameter()).await?;
    let mut out = io::stdout().lock();
    write!(out, "{text}")?;
    if !text.ends_with('\n') {
        writeln!(out)?;
    }
    Ok(Outcome::Success)
}

/// Prints what a push would change: 0 when nothing would, 1 when it would (as `diff` does).
async fn diff(args: &FileArgs) -> Result<Outcome> {
    let Some(text) = read_valid(&args.file)? else {
        return Ok(Outcome::Failure);
    };
    let parameter = args.target.parameter();
    let stored = match store().await.fetch(&parameter).await {
        Ok(stored) => stored,
        Err(SourceError::NotFound { .. }) => String::new(),
        Err(error) => return Err(error.into()),
    };
    let stored_name = location(&parameter);
    let mut out = io::stdout().lock();
    if stored == text {
        let file = args.file.display();
        writeln!(out, "no changes: {file} matches {stored_name}")?;
        return Ok(Outcome::Success);
    }
    let file_name = args.file.display().to_string();
    let changes = TextDiff::from_lines(stored.as_str(), text.as_str());
    write!(
        out,
        "{}",
        changes
            .unified_diff()
            .missing_newline_hint(false)
            .header(&stored_name, &file_name)
    )?;
    Ok(Outcome::Failure)
}
