//! The shipping-notice mailer: sends `pending` notification rows over SMTP (lettre), off the request
//! path, retrying with back-off and marking each row `sent` or, after [`MAX_ATTEMPTS`], `failed`.
//!
//! `SMTP_URL` is `smtp://[user:password@]host[:port]` (plain SMTP: the deployments relay through a
//! local MTA; the workspace builds lettre without TLS).

use crate::db::notifications::{self, NotificationRow};
use crate::state::Core;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use shop_common::settings::{Secret, SettingsError};
use shop_common::shutdown::Shutdown;
use std::time::Duration;

pub const MAX_ATTEMPTS: i32 = 8;
const BATCH: i64 = 10;
const LEASE: Duration = Duration::from_secs(60);
const POLL_EVERY: Duration = Duration::from_secs(5);

/// `SMTP_URL` and `SMTP_FROM`, checked at start.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub from: Mailbox,
}

impl SmtpSettings {
    pub fn parse(url: &str, from: &str) -> Result<Self, SettingsError> {
        let invalid = |name: &str, value: &str, reason: &str| SettingsError::Invalid {
            name: name.into(),
            value: value.into(),
            reason: reason.into(),
        };
        let parsed = reqwest::Url::parse(url).map_err(|err| invalid("SMTP_URL", "<hidden>", &err.to_string()))?;
        if parsed.scheme() != "smtp" {
            return Err(invalid("SMTP_URL", "<hidden>", "must be smtp://host[:port] (no TLS support is built in)"));
        }
        let host = parsed.host_str().ok_or_else(|| invalid("SMTP_URL", "<hidden>", "has no host"))?.to_owned();
        let from = from.parse::<Mailbox>().map_err(|err| invalid("SMTP_FROM", from, &err.to_string()))?;
        Ok(Self {
            host,
            port: parsed.port().unwrap_or(25),
            username: Some(parsed.username().to_owned()).filter(|u| !u.is_empty()),
            password: parsed.password().map(Secret::new),
            from,
        })
    }

    fn transport(&self) -> AsyncSmtpTransport<Tokio1Executor> {
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.as_str())
            .port(self.port)
            .timeout(Some(Duration::from_secs(10)));
        if let (Some(user), Some(password)) = (&self.username, &self.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        builder.build()
    }
}

fn backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(0, 10)).unwrap_or(0);
    (Duration::from_secs(2) * 2u32.pow(exponent)).min(Duration::from_secs(3600))
}

async fn send(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    from: &Mailbox,
    row: &NotificationRow,
) -> anyhow::Result<()> {
    let to: Mailbox = row.recipient.as_deref().unwrap_or_default().parse()?;
    let message = Message::builder().from(from.clone()).to(to).subject(row.subject.clone()).body(row.body.clone())?;
    transport.send(message).await?;
    Ok(())
}

/// Sends the due notifications of one batch; returns how many were sent.
pub async fn send_due(
    core: &Core,
    smtp: &SmtpSettings,
    transport: &AsyncSmtpTransport<Tokio1Executor>,
) -> anyhow::Result<usize> {
    let rows = {
        let mut conn = core.db.get().await?;
        notifications::lease_due(&mut conn, BATCH, LEASE).await?
    };
    let mut sent = 0;
    for row in rows {
        let result = send(transport, &smtp.from, &row).await;
        let mut conn = core.db.get().await?;
        match result {
            Ok(()) => {
                notifications::mark_sent(&mut conn, row.id).await?;
                sent += 1;
                tracing::info!(order.id = %row.order_id, notification.id = row.id, "shipping notice sent");
            }
            Err(err) => {
                let retry = (row.attempts < MAX_ATTEMPTS).then(|| backoff(row.attempts));
                tracing::warn!(order.id = %row.order_id, notification.id = row.id, attempts = row.attempts, error = %format!("{err:#}"), will_retry = retry.is_some(), "sending a notification failed");
                notifications::mark_attempt_failed(&mut conn, row.id, &format!("{err:#}"), retry).await?;
            }
        }
    }
    Ok(sent)
}

pub async fn run(core: Core, smtp: SmtpSettings, mut shutdown: Shutdown) {
    let transport = smtp.transport();
    loop {
        if let Err(err) = send_due(&core, &smtp, &transport).await {
            tracing::warn!(error = %format!("{err:#}"), "mail pass failed");
        }
        if !super::pause(&mut shutdown, POLL_EVERY, Some(&core.mail)).await {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_smtp_urls() {
        let s = SmtpSettings::parse("smtp://user:pw@mail.local:2525", "Shop <shop@example.com>").unwrap();
        assert_eq!((s.host.as_str(), s.port, s.username.as_deref()), ("mail.local", 2525, Some("user")));
        assert_eq!(SmtpSettings::parse("smtp://mail.local", "shop@example.com").unwrap().port, 25);
        assert!(SmtpSettings::parse("smtps://mail.local", "shop@example.com").is_err());
        assert!(SmtpSettings::parse("smtp://mail.local", "not an address").is_err());
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(0), Duration::from_secs(2));
        assert_eq!(backoff(3), Duration::from_secs(16));
        assert_eq!(backoff(50), Duration::from_secs(2048));
    }
}
