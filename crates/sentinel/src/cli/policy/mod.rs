//! `sentinel policy ...`: validate, evaluate and describe policies. The output of `validate`
//! and `evaluate --json` is a contract scripts rely on; keep it stable.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use jiff::Timestamp;
use sentinel_policy::{Decision, Effect, Policy, Request};

use super::Outcome;
use report::report;

mod report;
mod store;

/// The `policy` subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check policy files and report every problem with its line and column.
    Validate(ValidateArgs),
    /// Decide one request against a policy, as the broker would.
    Evaluate(EvaluateArgs),
    /// Print the JSON Schema of the policy format (for editors and the YAML language server).
    Schema,
    #[command(flatten)]
    Store(store::StoreCommand),
}

/// Arguments of `sentinel policy validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Policy files to check.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// Arguments of `sentinel policy evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// The policy to evaluate: a file path, or ssm:PARAMETER_NAME for SSM Parameter Store.
    #[arg(long, value_name = "LOCATION")]
    policy: PathBuf,
    /// Who is asking.
    #[arg(long)]
    user: String,
    /// The AWS profile asked for.
    #[arg(long)]
    profile: String,
    /// The instant of the request, RFC 3339 (e.g. 2026-03-09T13:00:00Z); default now.
    #[arg(long, value_parser = parse_instant)]
    at: Option<Timestamp>,
    /// Print the decision as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs one `policy` subcommand.
pub fn run(command: PolicyCommand) -> Result<Outcome> {
    match command {
        PolicyCommand::Validate(args) => validate(&args),
        PolicyCommand::Evaluate(args) => evaluate(&args),
        PolicyCommand::Schema => {
            writeln!(io::stdout(), "{}", sentinel_policy::json_schema())?;
            Ok(Outcome::Success)
        }
        PolicyCommand::Store(command) => store::run(&command),
    }
}

fn parse_instant(text: &str) -> Result<Timestamp, String> {
    text.parse()
        .map_err(|e| format!("expected an RFC 3339 instant such as 2026-03-09T13:00:00Z: {e}"))
}

/// Checks each file: `FILE: ok`, or its problems; 1 if any file is invalid or unreadable.
fn validate(args: &ValidateArgs) -> Result<Outcome> {
    let mut out = io::stdout().lock();
    let mut outcome = Outcome::Success;
    for file in &args.files {
        let name = file.display();
        let source = match store::read_location(file) {
            Ok(source) => source,
            Err(error) => {
                eprintln!("sentinel: {error:#}");
                outcome = Outcome::Failure;
                continue;
            }
        };
        let validation = Policy::validate(&source);
        let problems = validation.errors().iter().chain(validation.warnings());
        write!(out, "{}", report(&name.to_string(), &source, problems))?;
        if validation.passed() {
            writeln!(out, "{name}: ok")?;
        } else {
            outcome = Outcome::Failure;
        }
    }
    Ok(outcome)
}

/// Decides one request: 0 on allow, 1 on anything else (an invalid policy decides nothing,
/// which is a deny).
fn evaluate(args: &EvaluateArgs) -> Result<Outcome> {
    let source = store::read_location(&args.policy)?;
    let policy = match Policy::from_yaml_bytes(&source) {
        Ok(policy) => policy,
        Err(problems) => {
            let name = args.policy.display().to_string();
            eprint!("{}", report(&name, &source, &problems));
            eprintln!("sentinel: the policy is invalid, so it decides nothing");
            return Ok(Outcome::Failure);
        }
    };
    let at = args.at.unwrap_or_else(Timestamp::now);
    let decision = policy.evaluate(&Request::new(&args.user, &args.profile, at));
    let mut out = io::stdout().lock();
    if args.json {
        let json = serde_json::to_string(&decision).context("cannot write the decision as JSON")?;
        writeln!(out, "{json}")?;
    } else {
        writeln!(out, "{}", describe(&decision))?;
    }
    Ok(if decision.effect == Effect::Allow {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

/// The decision as one line of text for people.
fn describe(decision: &Decision<'_>) -> String {
    let effect = decision.effect.as_str();
    let mut line = match (decision.rule, decision.rule_index) {
        (Some(rule), Some(index)) => format!("{effect} by rule \"{rule}\" (index {index})"),
        _ => format!("{effect}: no rule matched (default deny)"),
    };
    if let Some(reason) = decision.reason {
        let _ = write!(line, ": {reason}");
    }
    line
}
