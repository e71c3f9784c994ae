//! The remote server's configuration file (YAML): where it listens (for callers, with which
//! certificate, and for probes and metrics), its audience, the STS endpoints it sends proofs to,
//! its decision log, its connection, time and rate limits, how many used proofs it remembers,
//! who may be a caller at all, and the profiles it issues for. Read strictly: an unknown key, a
//! missing one or a value of the wrong kind is an
//! error naming the file, line and column, and nothing starts until the file is right.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sentinel_core::decision_log::LogTarget;
use sentinel_protocol::{Endpoint, StsEndpoints};
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::admission::DEFAULT_SESSION_NAME_ROLES;
use super::notify::config::{self as notify, NotifyTarget};
use super::rate::{Rate, RateLimits};
use super::seen::DEFAULT_MAX_SEEN_PROOFS;
use crate::connections::Limits;

/// Where the admin listener (health and metrics) listens unless told otherwise: this host only.
pub const DEFAULT_ADMIN_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9090);

/// The shortest and longest sessions STS grants.
const SESSION_LIMITS: (Duration, Duration) =
    (Duration::from_secs(900), Duration::from_secs(43_200));

/// The remote server's settings, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// The address to listen on for callers.
    pub listen: SocketAddr,
    /// The address of the admin listener (`/healthz`, `/metrics`, plain HTTP).
    pub admin_listen: SocketAddr,
    /// The certificate and key, or `None` for `tls: off` (loopback only).
    pub tls: Option<TlsFiles>,
    /// The `X-Sentinel-Audience` value proofs must carry.
    pub audience: String,
    /// Where proofs may be sent.
    pub sts_endpoints: StsEndpoints,
    /// The AWS region of the server's own STS and SSM calls (default: the SDK's own lookup).
    pub region: Option<String>,
    /// The decision log: a file path, or `-` for standard output.
    pub decision_log: LogTarget,
    /// How long a loaded policy is used before it is read again.
    pub policy_ttl: Duration,
    /// How long past its TTL a cached policy may still be used while the store is failing
    /// (zero, the default, denies at once).
    pub policy_max_stale: Duration,
    /// How long STS may take, for a proof and for `AssumeRole` each.
    pub sts_timeout: Duration,
    /// Connection and request limits.
    pub limits: Limits,
    /// Requests per client network and per principal.
    pub rate_limits: RateLimits,
    /// How many used proofs the server remembers (each until it goes stale); when that many
    /// are fresh, new proofs are refused.
    pub max_seen_proofs: usize,
    /// Whether `http://` STS endpoints may be listed (for tests against an emulator).
    pub insecure_sts_http: bool,
    /// Who may be a caller at all, before any profile's policy is read.
    pub callers: CallerConfig,
    /// The profiles served, by name.
    pub profiles: BTreeMap<String, ProfileConfig>,
    /// Where the replicas share their state (approvals, break-glass uses, used proofs);
    /// `None`: no approvals or break-glass, and proofs single-use per replica.
    pub state: Option<StateConfig>,
    /// Who is told of approvals and break-glass (webhooks, SNS topics); empty: nobody.
    pub notify: Vec<NotifyTarget>,
}

/// Where the replicas share their state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateConfig {
    /// The DynamoDB table (partition key `pk`, sort key `sk`, both strings; TTL on
    /// `expires_at`), in the server's own region and endpoint.
    pub dynamodb_table: String,
}

/// Who may be a caller of the server at all (see [`super::admission`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerConfig {
    /// The accounts callers may be of (default: the accounts of the profiles' roles).
    pub accounts: BTreeSet<String>,
    /// The roles, as `role/PATH/NAME` globs, whose sessions may be users (default: IAM
    /// Identity Center's).
    pub session_name_roles: Vec<String>,
    /// The role, its ARN with `{account}` for the account, that the broker assumes to look up
    /// roles of accounts other than its own; `None`: only its own account's roles are looked up.
    pub role_reader: Option<String>,
    /// How long a looked-up role is trusted before IAM is asked again.
    pub role_cache_ttl: Duration,
}

/// The server's certificate chain and private key, PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key.
    pub key: PathBuf,
}

/// One profile the server issues for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileConfig {
    /// The role assumed on `allow`.
    pub role_arn: String,
    /// Where the policy lives (`ssm:PARAMETER` or a file path), if not the default
    /// `ssm:/sentinel/policies/<profile>`.
    pub policy: Option<String>,
    /// How long issued credentials live.
    pub duration: Duration,
    /// The external ID the role's trust policy requires, if any.
    pub external_id: Option<String>,
}

/// A problem in the configuration file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the server configuration {}: {problem}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        problem: String,
    },
    /// The file is not a valid configuration.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: u64,
        /// What is wrong and what was expected.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Spanned<String>,
    admin_listen: Option<Spanned<String>>,
    tls: Spanned<RawTls>,
    audience: Spanned<String>,
    sts_endpoints: Option<Spanned<Vec<Spanned<String>>>>,
    region: Option<Spanned<String>>,
    decision_log: Spanned<String>,
    policy_ttl: Option<Spanned<String>>,
    policy_max_stale: Option<Spanned<String>>,
    sts_timeout: Option<Spanned<String>>,
    request_timeout: Option<Spanned<String>>,
    header_timeout: Option<Spanned<String>>,
    handshake_timeout: Option<Spanned<String>>,
    body_timeout: Option<Spanned<String>>,
    max_connections: Option<Spanned<usize>>,
    max_connections_per_client: Option<Spanned<usize>>,
    rate_limit_per_client: Option<Spanned<RawRate>>,
    rate_limit_per_principal: Option<Spanned<RawRate>>,
    max_seen_proofs: Option<Spanned<usize>>,
    insecure_sts_http: Option<Spanned<bool>>,
    caller_accounts: Option<Spanned<Vec<Spanned<String>>>>,
    session_name_roles: Option<Spanned<Vec<Spanned<String>>>>,
    role_reader: Option<Spanned<String>>,
    role_cache_ttl: Option<Spanned<String>>,
    profiles: Spanned<BTreeMap<String, Spanned<RawProfile>>>,
    state: Option<Spanned<RawState>>,
    notify: Option<Spanned<Vec<Spanned<notify::RawTarget>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    dynamodb_table: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawTls {
    /// `off` unquoted reads as a YAML boolean.
    Switch(bool),
    Word(String),
    Files(TlsFilesRaw),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFilesRaw {
    cert: String,
    key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRate {
    per_second: f64,
    burst: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    role_arn: Spanned<String>,
    policy: Option<Spanned<String>>,
    duration: Option<Spanned<String>>,
    external_id: Option<Spanned<String>>,
}

/// The `state` section: a DynamoDB table name as DynamoDB allows them (3 to 255 of
/// `[A-Za-z0-9_.-]`).
fn state(
    raw: &RawConfig,
    invalid: &impl Fn(At, String) -> ConfigError,
) -> Result<Option<StateConfig>, ConfigError> {
    let Some(state) = &raw.state else {
        return Ok(None);
    };
    let table = &state.value.dynamodb_table;
    let name = &table.value;
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if !(3..=255).contains(&name.len()) || !name.chars().all(allowed) {
        return Err(invalid(
            At::from(table),
            format!(
                "state.dynamodb_table: {name:?} is not a DynamoDB table name (3 to 255 letters, \
                 digits, _ . -)"
            ),
        ));
    }
    Ok(Some(StateConfig {
        dynamodb_table: name.clone(),
    }))
}

/// Where a problem is: 1-based line and column.
#[derive(Clone, Copy)]
struct At {
    line: u64,
    column: u64,
}

impl<T> From<&Spanned<T>> for At {
    fn from(spanned: &Spanned<T>) -> At {
        At {
            line: spanned.referenced.line(),
            column: spanned.referenced.column(),
        }
    }
}

impl fmt::Debug for RawTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RawTls")
    }
}

impl ServerConfig {
    /// Reads and validates the configuration file at `path`.
    pub fn load(path: &Path) -> Result<ServerConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_owned(),
            problem: error.to_string(),
        })?;
        ServerConfig::parse(&text, path)
    }

    /// Validates `text`, the content of the file at `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<ServerConfig, ConfigError> {
        let invalid = |at: At, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            line: at.line,
            column: at.column,
            message,
        };
        let raw: RawConfig = serde_saphyr::from_str(text).map_err(|error| {
            let at = error
                .location()
                .map(|location| At {
                    line: location.line().max(1),
                    column: location.column().max(1),
                })
                .unwrap_or(At { line: 1, column: 1 });
            match error.without_snippet() {
                serde_saphyr::Error::SerdeMissingField { field, .. } => {
                    let (at, message) = missing_key(text, field, at);
                    invalid(at, message)
                }
                _ => invalid(at, syntax_message(&error, at)),
            }
        })?;
        let address = |field: &str, text: &Spanned<String>, like: &str| {
            text.value.trim().parse::<SocketAddr>().map_err(|_| {
                invalid(
                    At::from(text),
                    format!(
                        "{field}: {:?} is not an address and port, like {like}",
                        text.value
                    ),
                )
            })
        };
        let listen = address("listen", &raw.listen, "0.0.0.0:8443 or [::]:8443")?;
        let admin_listen = match &raw.admin_listen {
            None => DEFAULT_ADMIN_LISTEN,
            Some(text) => address("admin_listen", text, "127.0.0.1:9090 or 0.0.0.0:9090")?,
        };
        let tls = match &raw.tls.value {
            RawTls::Files(files) => Some(TlsFiles {
                cert: PathBuf::from(&files.cert),
                key: PathBuf::from(&files.key),
            }),
            RawTls::Switch(false) => None,
            RawTls::Word(word) if word == "off" => None,
            RawTls::Switch(true) | RawTls::Word(_) => {
                return Err(invalid(
                    At::from(&raw.tls),
                    "tls: expected {cert: FILE, key: FILE}, or off".to_owned(),
                ));
            }
        };
        if tls.is_none() && !listen.ip().is_loopback() {
            return Err(invalid(
                At::from(&raw.listen),
                format!(
                    "listen: {listen} is not a loopback address, and tls is off: plain HTTP is \
                     only for a TLS-terminating proxy on the same host (listen on 127.0.0.1), \
                     otherwise configure tls: {{cert, key}}"
                ),
            ));
        }
        let audience = raw.audience.value.clone();
        if audience.is_empty() || !audience.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(
                At::from(&raw.audience),
                "audience: expected visible ASCII without spaces, like sentinel.example.com"
                    .to_owned(),
            ));
        }
        let sts_endpoints = match &raw.sts_endpoints {
            None => StsEndpoints::Aws,
            Some(listed) if listed.value.is_empty() => {
                return Err(invalid(
                    At::from(listed),
                    "sts_endpoints: an empty list would refuse every proof; leave the key out \
                     for AWS's own STS endpoints"
                        .to_owned(),
                ));
            }
            Some(listed) => StsEndpoints::Listed(
                listed
                    .value
                    .iter()
                    .map(|url| {
                        Endpoint::parse(&url.value).map_err(|error| {
                            invalid(At::from(url), format!("sts_endpoints: {error}"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        let insecure_sts_http = raw.insecure_sts_http.as_ref().is_some_and(|on| on.value);
        if let (Some(listed), false) = (&raw.sts_endpoints, insecure_sts_http)
            && let Some(plain) = listed
                .value
                .iter()
                .find(|url| Endpoint::parse(&url.value).is_ok_and(|endpoint| !endpoint.is_https()))
        {
            return Err(invalid(
                At::from(plain),
                format!(
                    "sts_endpoints: {:?} is plain HTTP, so proofs and STS's answers would travel \
                     unprotected: use https, or set insecure_sts_http: true (only for tests \
                     against an emulator)",
                    plain.value
                ),
            ));
        }
        let duration = |field: &str, value: &Option<Spanned<String>>, default: Duration| {
            value.as_ref().map_or(Ok(default), |text| {
                parse_duration(&text.value)
                    .map_err(|problem| invalid(At::from(text), format!("{field}: {problem}")))
            })
        };
        let at_least_one = |field: &str, count: &Option<Spanned<usize>>, default: usize| match count
        {
            None => Ok(default),
            Some(count) if count.value == 0 => Err(invalid(
                At::from(count),
                format!("{field}: expected at least 1"),
            )),
            Some(count) => Ok(count.value),
        };
        let rate = |field: &str, value: &Option<Spanned<RawRate>>, default: Rate| {
            let Some(raw) = value else {
                return Ok(default);
            };
            let RawRate { per_second, burst } = raw.value;
            if !(per_second.is_finite() && per_second > 0.0) || burst == 0 {
                return Err(invalid(
                    At::from(raw),
                    format!(
                        "{field}: expected {{per_second: N, burst: N}} with a rate above 0 and a                          burst of at least 1"
                    ),
                ));
            }
            Ok(Rate { per_second, burst })
        };
        let defaults = Limits::default();
        let limits = Limits {
            handshake_timeout: duration(
                "handshake_timeout",
                &raw.handshake_timeout,
                defaults.handshake_timeout,
            )?,
            header_timeout: duration(
                "header_timeout",
                &raw.header_timeout,
                defaults.header_timeout,
            )?,
            body_timeout: duration("body_timeout", &raw.body_timeout, defaults.body_timeout)?,
            request_timeout: duration(
                "request_timeout",
                &raw.request_timeout,
                defaults.request_timeout,
            )?,
            max_header_bytes: defaults.max_header_bytes,
            connection_timeout: defaults.connection_timeout,
            max_connections: at_least_one(
                "max_connections",
                &raw.max_connections,
                defaults.max_connections,
            )?,
            max_connections_per_client: at_least_one(
                "max_connections_per_client",
                &raw.max_connections_per_client,
                defaults.max_connections_per_client,
            )?,
        };
        let default_rates = RateLimits::default();
        let rate_limits = RateLimits {
            per_client: rate(
                "rate_limit_per_client",
                &raw.rate_limit_per_client,
                default_rates.per_client,
            )?,
            per_principal: rate(
                "rate_limit_per_principal",
                &raw.rate_limit_per_principal,
                default_rates.per_principal,
            )?,
        };
        let max_seen_proofs = match &raw.max_seen_proofs {
            None => DEFAULT_MAX_SEEN_PROOFS,
            Some(count) if count.value == 0 => {
                return Err(invalid(
                    At::from(count),
                    "max_seen_proofs: expected at least 1 (every proof is remembered until it \
                     goes stale, and refused when it cannot be)"
                        .to_owned(),
                ));
            }
            Some(count) => count.value,
        };
        if raw.profiles.value.is_empty() {
            return Err(invalid(
                At::from(&raw.profiles),
                "profiles: expected at least one profile".to_owned(),
            ));
        }
        let mut profiles = BTreeMap::new();
        for (name, profile) in &raw.profiles.value {
            let at = At::from(profile);
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(invalid(
                    at,
                    format!("profiles: {name:?} is not a profile name (visible ASCII, no spaces)"),
                ));
            }
            let profile = &profile.value;
            let role_arn = &profile.role_arn;
            if let Err(problem) = check_role_arn(&role_arn.value) {
                return Err(invalid(
                    At::from(role_arn),
                    format!("profiles.{name}.role_arn: {problem}"),
                ));
            }
            let session = duration(
                &format!("profiles.{name}.duration"),
                &profile.duration,
                Duration::from_secs(3600),
            )?;
            let (shortest, longest) = SESSION_LIMITS;
            if !(shortest..=longest).contains(&session) {
                return Err(invalid(
                    profile.duration.as_ref().map_or(at, At::from),
                    format!(
                        "profiles.{name}.duration: STS issues sessions of 15m to 12h, not {session:?}"
                    ),
                ));
            }
            profiles.insert(
                name.clone(),
                ProfileConfig {
                    role_arn: role_arn.value.clone(),
                    policy: profile.policy.as_ref().map(|policy| policy.value.clone()),
                    duration: session,
                    external_id: profile.external_id.as_ref().map(|id| id.value.clone()),
                },
            );
        }
        let callers = CallerConfig {
            accounts: caller_accounts(&raw, &profiles, &invalid)?,
            session_name_roles: session_name_roles(&raw, &invalid)?,
            role_reader: role_reader(&raw, &invalid)?,
            role_cache_ttl: duration(
                "role_cache_ttl",
                &raw.role_cache_ttl,
                Duration::from_secs(300),
            )?,
        };
        let state = state(&raw, &invalid)?;
        Ok(ServerConfig {
            listen,
            admin_listen,
            tls,
            audience,
            sts_endpoints,
            region: raw.region.map(|region| region.value),
            decision_log: LogTarget::parse(&raw.decision_log.value),
            policy_ttl: duration("policy_ttl", &raw.policy_ttl, Duration::from_secs(60))?,
            policy_max_stale: duration("policy_max_stale", &raw.policy_max_stale, Duration::ZERO)?,
            sts_timeout: duration("sts_timeout", &raw.sts_timeout, Duration::from_secs(5))?,
            limits,
            rate_limits,
            max_seen_proofs,
            insecure_sts_http,
            callers,
            profiles,
            state,
            notify: notify::targets(raw.notify.as_ref()).map_err(|problem| {
                invalid(
                    At {
                        line: problem.line,
                        column: problem.column,
                    },
                    problem.message,
                )
            })?,
        })
    }
}

/// `caller_accounts`, or the accounts of the profiles' roles.
fn caller_accounts(
    raw: &RawConfig,
    profiles: &BTreeMap<String, ProfileConfig>,
    invalid: &impl Fn(At, String) -> ConfigError,
) -> Result<BTreeSet<String>, ConfigError> {
    let Some(listed) = &raw.caller_accounts else {
        return Ok(profiles
            .values()
            .filter_map(|profile| sentinel_core::caller::arn_account(&profile.role_arn))
            .map(str::to_owned)
            .collect());
    };
    if listed.value.is_empty() {
        return Err(invalid(
            At::from(listed),
            "caller_accounts: an empty list would refuse every caller".to_owned(),
        ));
    }
    listed
        .value
        .iter()
        .map(|account| {
            let digits = account.value.len() == 12 && account.value.bytes().all(|b| b.is_ascii_digit());
            if digits {
                Ok(account.value.clone())
            } else {
                Err(invalid(
                    At::from(account),
                    format!(
                        "caller_accounts: {:?} is not a 12-digit account ID (quote it: \"012345678901\")",
                        account.value
                    ),
                ))
            }
        })
        .collect()
}

/// `session_name_roles`, or IAM Identity Center's roles.
fn session_name_roles(
    raw: &RawConfig,
    invalid: &impl Fn(At, String) -> ConfigError,
) -> Result<Vec<String>, ConfigError> {
    let Some(listed) = &raw.session_name_roles else {
        return Ok(DEFAULT_SESSION_NAME_ROLES
            .iter()
            .map(|&pattern| pattern.to_owned())
            .collect());
    };
    listed
        .value
        .iter()
        .map(|pattern| {
            let named = pattern
                .value
                .strip_prefix("role/")
                .is_some_and(|rest| !rest.is_empty() && !rest.ends_with('/'));
            if named {
                Ok(pattern.value.clone())
            } else {
                Err(invalid(
                    At::from(pattern),
                    format!(
                        "session_name_roles: {:?} is not a role pattern: expected role/PATH/NAME, \
                         like role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_*",
                        pattern.value
                    ),
                ))
            }
        })
        .collect()
}

/// `role_reader`: a role ARN with `{account}` where the account goes.
fn role_reader(
    raw: &RawConfig,
    invalid: &impl Fn(At, String) -> ConfigError,
) -> Result<Option<String>, ConfigError> {
    let Some(reader) = &raw.role_reader else {
        return Ok(None);
    };
    let placeholder = "{account}";
    let example = reader.value.replace(placeholder, "123456789012");
    if !reader.value.contains(placeholder) || check_role_arn(&example).is_err() {
        return Err(invalid(
            At::from(reader),
            format!(
                "role_reader: {:?} is not a role ARN with {placeholder} for the account, like \
                 arn:aws:iam::{placeholder}:role/sentinel-role-reader",
                reader.value
            ),
        ));
    }
    Ok(Some(reader.value.clone()))
}

/// The YAML error's message without the location it ends with (the error carries it apart).
fn syntax_message(error: &serde_saphyr::Error, at: At) -> String {
    let plain = error.render_with_options(serde_saphyr::render_options! {
        snippets: serde_saphyr::SnippetMode::Off,
    });
    let suffix = format!(" at line {}, column {}", at.line, at.column);
    plain.strip_suffix(&suffix).unwrap_or(&plain).to_owned()
}

/// Where a required key that is missing belongs, and what to say of it. The parser reports the
/// last key it read of the mapping that lacks one (`profiles:` for a top-level key). That
/// mapping is a flow mapping opened on the reported line (`limit: {per_second: 1}`: `limit`),
/// else the whole file for a key read at column 1, else the nearest line above, less indented,
/// whose key opens it (`production:` for a profile).
fn missing_key(text: &str, field: &str, reported: At) -> (At, String) {
    let owner = |line: usize, column: usize, name: &str| {
        (
            At {
                line: line as u64,
                column: column as u64,
            },
            format!("`{name}` has no `{field}`, which it must set"),
        )
    };
    let whole_file = || {
        (
            At { line: 1, column: 1 },
            format!("the configuration has no `{field}`, which it must set"),
        )
    };
    let lines: Vec<&str> = text.lines().collect();
    let line = usize::try_from(reported.line).unwrap_or(1).max(1);
    let column = usize::try_from(reported.column).unwrap_or(1).max(1);
    let own = lines.get(line - 1).copied().unwrap_or("");
    let before = own.get(..column - 1).unwrap_or(own);
    if let Some(brace) = before.rfind('{') {
        let key = before[..brace].trim_end().trim_end_matches(':').trim_end();
        let start = key.rfind([' ', '{', ',']).map_or(0, |at| at + 1);
        return owner(line, start + 1, &key[start..]);
    }
    if column == 1 {
        return whole_file();
    }
    lines[..(line - 1).min(lines.len())]
        .iter()
        .enumerate()
        .rev()
        .find_map(|(index, text)| {
            let key = text.trim_start();
            let indent = text.len() - key.len();
            let opens = !key.is_empty() && !key.starts_with('#') && indent < column - 1;
            opens.then(|| {
                owner(
                    index + 1,
                    indent + 1,
                    key.split(':').next().unwrap_or(key).trim(),
                )
            })
        })
        .unwrap_or_else(whole_file)
}

/// Whether `arn` names an IAM role: `arn:PARTITION:iam::ACCOUNT:role/NAME`.
pub(crate) fn check_role_arn(arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let shaped = matches!(
        parts.as_slice(),
        ["arn", partition, "iam", "", account, resource]
            if partition.starts_with("aws")
                && account.len() == 12
                && account.bytes().all(|b| b.is_ascii_digit())
                && resource.strip_prefix("role/").is_some_and(|name| !name.is_empty())
    );
    if shaped {
        Ok(())
    } else {
        Err(format!(
            "{arn:?} is not an IAM role ARN, like arn:aws:iam::123456789012:role/production"
        ))
    }
}

/// Parses a duration such as `60s`, `15m` or `1h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    sentinel_duration::parse_duration(text).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
listen: 0.0.0.0:8443
tls:
  cert: /etc/sentinel/tls.crt
  key: /etc/sentinel/tls.key
audience: sentinel.example.com
decision_log: /var/log/sentinel/decisions.jsonl
policy_ttl: 30s
profiles:
  production:
    role_arn: arn:aws:iam::123456789012:role/production
    policy: ssm:/sentinel/policies/production
    duration: 30m
    external_id: ext-1
  staging:
    role_arn: arn:aws:iam::123456789012:role/staging
"#;

    fn parse(text: &str) -> Result<ServerConfig, ConfigError> {
        ServerConfig::parse(text, Path::new("server.yaml"))
    }

    fn error(text: &str) -> String {
        parse(text).expect_err("invalid").to_string()
    }

    #[test]
    fn reads_every_setting_and_fills_the_defaults() {
        let config = parse(GOOD).expect("valid");
        assert_eq!(config.listen, "0.0.0.0:8443".parse().expect("addr"));
        assert_eq!(
            config.tls,
            Some(TlsFiles {
                cert: "/etc/sentinel/tls.crt".into(),
                key: "/etc/sentinel/tls.key".into()
            })
        );
        assert_eq!(config.audience, "sentinel.example.com");
        assert_eq!(config.sts_endpoints, StsEndpoints::Aws);
        assert_eq!(config.policy_ttl, Duration::from_secs(30));
        assert_eq!(config.policy_max_stale, Duration::ZERO);
        assert_eq!(config.sts_timeout, Duration::from_secs(5));
        assert_eq!(config.limits, Limits::default());
        assert_eq!(config.admin_listen, DEFAULT_ADMIN_LISTEN);
        assert_eq!(config.rate_limits, RateLimits::default());
        assert_eq!(config.max_seen_proofs, 1_000_000);
        let bounded = parse(&format!("{GOOD}max_seen_proofs: 5000\n")).expect("valid");
        assert_eq!(bounded.max_seen_proofs, 5000);
        let production = &config.profiles["production"];
        assert_eq!(production.duration, Duration::from_secs(1800));
        assert_eq!(production.external_id.as_deref(), Some("ext-1"));
        let staging = &config.profiles["staging"];
        assert_eq!(staging.duration, Duration::from_secs(3600));
        assert_eq!(staging.policy, None);
    }

    #[test]
    fn plain_http_only_on_loopback() {
        let off = GOOD.replace(
            "tls:\n  cert: /etc/sentinel/tls.crt\n  key: /etc/sentinel/tls.key",
            "tls: off",
        );
        let refused = error(&off);
        assert!(refused.starts_with("server.yaml:2:9: listen:"), "{refused}");
        assert!(refused.contains("loopback"), "{refused}");
        let loopback = off.replace("0.0.0.0:8443", "127.0.0.1:8080");
        assert_eq!(parse(&loopback).expect("valid").tls, None);
        let other = loopback.replace("tls: off", "tls: maybe");
        assert!(error(&other).contains("tls: expected {cert: FILE, key: FILE}, or off"));
        let quoted = loopback.replace("tls: off", "tls: \"off\"");
        assert_eq!(parse(&quoted).expect("valid").tls, None);
    }

    #[test]
    fn problems_are_named_with_their_line_and_column() {
        let cases = [
            (
                GOOD.replace("policy_ttl: 30s", "policy_ttl: 30"),
                "8:13: policy_ttl:",
            ),
            (
                GOOD.replace(
                    "role_arn: arn:aws:iam::123456789012:role/staging",
                    "role_arn: staging",
                ),
                "16:15: profiles.staging.role_arn: \"staging\" is not an IAM role ARN",
            ),
            (
                GOOD.replace("duration: 30m", "duration: 13h"),
                "13:15: profiles.production.duration",
            ),
            (
                GOOD.replace("listen: 0.0.0.0:8443", "listen: somewhere"),
                "2:9: listen:",
            ),
            (
                GOOD.replace("audience: sentinel.example.com", "audience: two words"),
                "6:11: audience:",
            ),
            (
                GOOD.replace("policy_ttl: 30s", "policy_tll: 30s"),
                "8:1: unknown field `policy_tll`",
            ),
            (
                GOOD.replace("    duration: 30m\n", "    duraton: 30m\n"),
                "unknown field `duraton`",
            ),
            (
                GOOD.replace("decision_log: /var/log/sentinel/decisions.jsonl\n", ""),
                "server.yaml:1:1: the configuration has no `decision_log`, which it must set",
            ),
            (
                GOOD.replace("audience: sentinel.example.com\n", ""),
                "server.yaml:1:1: the configuration has no `audience`, which it must set",
            ),
            (
                GOOD.replace(
                    "    role_arn: arn:aws:iam::123456789012:role/production\n",
                    "",
                ),
                "server.yaml:10:3: `production` has no `role_arn`, which it must set",
            ),
            (
                format!("{GOOD}sts_endpoints: []\n"),
                "sts_endpoints: an empty list",
            ),
            (
                format!("{GOOD}sts_endpoints: [\"https://sts.example/path\"]\n"),
                "sts_endpoints: \"https://sts.example/path\" is not an STS endpoint URL",
            ),
            (
                format!("{GOOD}max_connections: 0\n"),
                "max_connections: expected at least 1",
            ),
            (
                format!("{GOOD}max_seen_proofs: 0\n"),
                "max_seen_proofs: expected at least 1",
            ),
            (format!("{GOOD}max_seen_proofs: lots\n"), "17:18: invalid"),
            ("profiles: {}\n".to_owned(), "has no `listen`"),
            (": : :\n".to_owned(), "server.yaml:1:"),
        ];
        for (text, expected) in cases {
            let message = error(&text);
            assert!(
                message.contains(expected),
                "expected {expected:?} in {message:?}"
            );
            assert!(message.starts_with("server.yaml:"), "{message}");
        }
    }

    #[test]
    fn reads_the_admin_address_and_every_limit() {
        let text = format!(
            "{GOOD}admin_listen: 0.0.0.0:9191\nhandshake_timeout: 2s\nheader_timeout: 3s\n\
             body_timeout: 4s\nmax_connections: 500\nmax_connections_per_client: 7\n\
             rate_limit_per_client: {{per_second: 2.5, burst: 5}}\n\
             rate_limit_per_principal: {{per_second: 1, burst: 2}}\n"
        );
        let config = parse(&text).expect("valid");
        assert_eq!(config.admin_listen, "0.0.0.0:9191".parse().expect("addr"));
        let limits = config.limits;
        assert_eq!(limits.handshake_timeout, Duration::from_secs(2));
        assert_eq!(limits.header_timeout, Duration::from_secs(3));
        assert_eq!(limits.body_timeout, Duration::from_secs(4));
        assert_eq!(limits.max_connections, 500);
        assert_eq!(limits.max_connections_per_client, 7);
        assert_eq!(
            config.rate_limits,
            RateLimits {
                per_client: Rate {
                    per_second: 2.5,
                    burst: 5
                },
                per_principal: Rate {
                    per_second: 1.0,
                    burst: 2
                },
            }
        );
        for (bad, expected) in [
            (
                "admin_listen: nowhere",
                "admin_listen: \"nowhere\" is not an address",
            ),
            (
                "max_connections_per_client: 0",
                "max_connections_per_client: expected at least 1",
            ),
            (
                "rate_limit_per_client: {per_second: 0, burst: 5}",
                "rate_limit_per_client: expected",
            ),
            (
                "rate_limit_per_principal: {per_second: 1, burst: 0}",
                "rate_limit_per_principal: expected",
            ),
            (
                "rate_limit_per_client: {per_second: 1}",
                "`rate_limit_per_client` has no `burst`, which it must set",
            ),
            ("body_timeout: soon", "body_timeout:"),
        ] {
            let message = error(&format!("{GOOD}{bad}\n"));
            assert!(
                message.contains(expected),
                "expected {expected:?} in {message:?}"
            );
        }
    }

    #[test]
    fn listed_endpoints_replace_the_aws_default() {
        let text =
            format!("{GOOD}sts_endpoints:\n  - http://127.0.0.1:5000\ninsecure_sts_http: true\n");
        let config = parse(&text).expect("valid");
        assert!(config.insecure_sts_http);
        assert_eq!(
            config.sts_endpoints,
            StsEndpoints::Listed(vec![Endpoint::parse("http://127.0.0.1:5000").expect("url")])
        );
    }

    #[test]
    fn role_arns_must_name_a_role() {
        assert!(check_role_arn("arn:aws:iam::123456789012:role/a").is_ok());
        assert!(check_role_arn("arn:aws-cn:iam::123456789012:role/path/a").is_ok());
        for bad in [
            "arn:aws:iam::123456789012:user/a",
            "arn:aws:iam::12345678901:role/a",
            "arn:aws:sts::123456789012:role/a",
            "arn:aws:iam::123456789012:role/",
            "role/a",
        ] {
            assert!(check_role_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_plain_http_sts_endpoint_is_refused_unless_insecure_sts_http_is_set() {
        let listed = format!(
            "{GOOD}sts_endpoints:\n  - https://sts.internal.example\n  - http://127.0.0.1:5000\n"
        );
        let message = error(&listed);
        assert!(
            message.starts_with(
                "server.yaml:19:5: sts_endpoints: \"http://127.0.0.1:5000\" is plain HTTP"
            ),
            "{message}"
        );
        assert!(message.contains("insecure_sts_http: true"), "{message}");
        let refused_off = error(&format!("{listed}insecure_sts_http: false\n"));
        assert!(refused_off.contains("is plain HTTP"), "{refused_off}");
        let https_only = format!("{GOOD}sts_endpoints: [\"https://sts.internal.example\"]\n");
        assert!(!parse(&https_only).expect("valid").insecure_sts_http);
    }

    #[test]
    fn callers_default_to_the_profiles_accounts_and_identity_center_roles() {
        let config = parse(&GOOD.replace(
            "role_arn: arn:aws:iam::123456789012:role/staging",
            "role_arn: arn:aws:iam::210987654321:role/staging",
        ))
        .expect("valid");
        let callers = &config.callers;
        assert_eq!(
            callers.accounts,
            BTreeSet::from(["123456789012".to_owned(), "210987654321".to_owned()])
        );
        assert_eq!(callers.session_name_roles, DEFAULT_SESSION_NAME_ROLES);
        assert_eq!(callers.role_reader, None);
        assert_eq!(callers.role_cache_ttl, Duration::from_secs(300));
        let listed = parse(&format!(
            "{GOOD}caller_accounts: [\"000000000042\"]\n\
             session_name_roles: [\"role/pinned/Engineers\"]\n\
             role_reader: arn:aws:iam::{{account}}:role/sentinel-role-reader\n\
             role_cache_ttl: 1m\n"
        ))
        .expect("valid");
        assert_eq!(
            listed.callers.accounts,
            BTreeSet::from(["000000000042".to_owned()])
        );
        assert_eq!(listed.callers.session_name_roles, ["role/pinned/Engineers"]);
        assert_eq!(
            listed.callers.role_reader.as_deref(),
            Some("arn:aws:iam::{account}:role/sentinel-role-reader")
        );
        assert_eq!(listed.callers.role_cache_ttl, Duration::from_secs(60));
    }

    #[test]
    fn caller_settings_are_checked() {
        for (setting, expected) in [
            ("caller_accounts: []", "caller_accounts: an empty list"),
            (
                "caller_accounts: [\"12345\"]",
                "caller_accounts: \"12345\" is not a 12-digit",
            ),
            (
                "session_name_roles: [\"AWSReservedSSO_*\"]",
                "is not a role pattern",
            ),
            ("session_name_roles: [\"role/\"]", "is not a role pattern"),
            (
                "role_reader: arn:aws:iam::123456789012:role/reader",
                "role_reader: \"arn:aws:iam::123456789012:role/reader\" is not a role ARN with {account}",
            ),
            ("role_reader: \"{account}\"", "is not a role ARN"),
        ] {
            let message = error(&format!("{GOOD}{setting}\n"));
            assert!(message.contains(expected), "{setting}: {message}");
        }
    }
}
