//! The server's side of notifications: the `notify:` configuration ([`config`]), the webhook
//! sink ([`webhook`], with its Slack body and signature), and [`start`], which turns the
//! configured receivers into the running [`Notifications`] whose outcomes the server's
//! metrics count. SNS topics are published by a sink the caller supplies (the AWS SDK is not
//! linked here).

pub mod config;
pub mod secret;
mod slack;
pub mod webhook;

use std::sync::Arc;

use sentinel_core::notify::{DeliveryPolicy, Notifications, Sink};
use tokio_rustls::rustls::RootCertStore;

use self::config::{NotifyTarget, SnsTarget};
use self::secret::Secret;
use self::webhook::Webhook;
use super::metrics::Metrics;

/// Starts delivery to `targets` (none: [`Notifications::none`]), each SNS topic through the
/// sink `sns` makes, each outcome counted in `metrics`. Fails on a secret file that cannot be
/// used, or when an HTTPS webhook is configured and the system has no root certificates.
pub fn start(
    targets: &[NotifyTarget],
    policy: DeliveryPolicy,
    metrics: &Metrics,
    sns: &dyn Fn(&SnsTarget) -> Arc<dyn Sink>,
) -> Result<Notifications, String> {
    if targets.is_empty() {
        return Ok(Notifications::none());
    }
    let roots = Arc::new(system_roots()?);
    let sinks = sinks(targets, &roots, sns)?;
    for (sink, target) in sinks.iter().zip(targets) {
        metrics.notification_sink(sink.name(), target.events());
    }
    Ok(Notifications::start(
        sinks,
        policy,
        Arc::new(metrics.clone()),
    ))
}

/// The sink of each target, webhooks trusting `roots` for HTTPS.
pub fn sinks(
    targets: &[NotifyTarget],
    roots: &Arc<RootCertStore>,
    sns: &dyn Fn(&SnsTarget) -> Arc<dyn Sink>,
) -> Result<Vec<Arc<dyn Sink>>, String> {
    targets
        .iter()
        .map(|target| match target {
            NotifyTarget::Webhook(webhook) => {
                let secret = webhook
                    .secret_file
                    .as_deref()
                    .map(Secret::from_file)
                    .transpose()?;
                let sink = Webhook::new(
                    webhook.url.clone(),
                    webhook.format,
                    webhook.events.clone(),
                    secret,
                    Arc::clone(roots),
                )?;
                Ok(Arc::new(sink) as Arc<dyn Sink>)
            }
            NotifyTarget::Sns(topic) => Ok(sns(topic)),
        })
        .collect()
}

/// The system's root certificates, for HTTPS webhooks.
fn system_roots() -> Result<RootCertStore, String> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        let why = found
            .errors
            .first()
            .map(|error| format!(" ({error})"))
            .unwrap_or_default();
        return Err(format!(
            "no root certificates found on this system{why}: HTTPS webhooks cannot be verified"
        ));
    }
    Ok(roots)
}
