//! `sentinel policy ...`: validate, evaluate and describe policies. The output of `validate`
//! and `evaluate --json` is a contract scripts rely on; keep it stable.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use jiff::Timestamp;
use sentinel_policy::{Decision, Diagnostic, Policy, Request};

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
    Store(super::policy_store::StoreCommand),
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
pub fn run(command: PolicyCommand) -> ExitCode {
    match command {
        PolicyCommand::Validate(args) => validate(&args),
        PolicyCommand::Evaluate(args) => evaluate(&args),
        PolicyCommand::Schema => {
            println!("{}", sentinel_policy::json_schema());
            ExitCode::SUCCESS
        }
        PolicyCommand::Store(command) => super::policy_store::run(command),
    }
}

/// Whether this process was started as `sentinel policy ...`, whose bad arguments exit 1
/// rather than clap's 2, as the exit-code contract promises.
pub fn is_policy_invocation() -> bool {
    std::env::args_os().nth(1).as_deref() == Some(OsStr::new("policy"))
}

fn parse_instant(text: &str) -> Result<Timestamp, String> {
    text.parse()
        .map_err(|e| format!("expected an RFC 3339 instant such as 2026-03-09T13:00:00Z: {e}"))
}

/// Reads a policy's bytes from where it lives: `ssm:NAME` or a file path.
fn read_policy(location: &Path) -> anyhow::Result<Vec<u8>> {
    super::policy_store::read_location(location)
}

fn validate(args: &ValidateArgs) -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    for file in &args.files {
        let name = file.display();
        let source = match read_policy(file) {
            Ok(source) => source,
            Err(error) => {
                eprintln!("sentinel: {error:#}");
                status = ExitCode::FAILURE;
                continue;
            }
        };
        let validation = Policy::validate(&source);
        let problems = validation.errors().iter().chain(validation.warnings());
        print!("{}", report(&name.to_string(), &source, problems));
        if validation.passed() {
            println!("{name}: ok");
        } else {
            status = ExitCode::FAILURE;
        }
    }
    status
}

fn evaluate(args: &EvaluateArgs) -> ExitCode {
    let source = match read_policy(&args.policy) {
        Ok(source) => source,
        Err(error) => {
            eprintln!("sentinel: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let policy = match Policy::from_yaml_bytes(&source) {
        Ok(policy) => policy,
        Err(problems) => {
            let name = args.policy.display().to_string();
            eprint!("{}", report(&name, &source, &problems));
            eprintln!("sentinel: the policy is invalid, so it decides nothing");
            return ExitCode::FAILURE;
        }
    };
    let at = args.at.unwrap_or_else(Timestamp::now);
    let decision = policy.evaluate(&Request::new(&args.user, &args.profile, at));
    if args.json {
        match serde_json::to_string(&decision) {
            Ok(json) => println!("{json}"),
            Err(error) => {
                eprintln!("sentinel: cannot write the decision as JSON: {error}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        println!("{}", describe(&decision));
    }
    ExitCode::SUCCESS
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

/// One `FILE:LINE:COLUMN: message` line per problem (`FILE:LINE:COLUMN: warning: message` for
/// a warning), each followed by the source line and a caret under the column.
pub(super) fn report<'a>(
    name: &str,
    source: &[u8],
    problems: impl IntoIterator<Item = &'a Diagnostic>,
) -> String {
    let text = String::from_utf8_lossy(source);
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    for problem in problems {
        let _ = writeln!(out, "{name}:{problem}");
        if let Some(line) = problem.line.checked_sub(1).and_then(|i| lines.get(i)) {
            let number = problem.line.to_string();
            let pad = " ".repeat(number.len());
            // Keep tabs so the caret lines up under the offending character.
            let indent: String = line
                .chars()
                .take(problem.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = writeln!(out, "  {number} | {line}");
            let _ = writeln!(out, "  {pad} | {indent}^");
        }
    }
    out
}
