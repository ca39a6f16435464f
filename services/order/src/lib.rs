//! The order service: orders, the checkout saga and payments.
//!
//! `lib.rs` builds the app; `main.rs` only reads settings and runs it, so integration tests start
//! exactly what ships. Layout: `domain` (rules, no I/O), `db` (queries), `saga` (status changes
//! shared by consumer, webhook and handlers), `events` (published payloads, the `order` consumer),
//! `cart` (the cart service client), `routes` (HTTP), `tasks` (sweeper, refunder, mailer, pruner).

pub mod cart;
pub mod db;
pub mod domain;
pub mod events;
pub mod routes;
pub mod saga;
pub mod state;
pub mod tasks;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use shop_common::db::DbPool;
use shop_common::events::topics;
use shop_common::http::ScrapeHook;
use shop_common::kafka::ConsumerSpec;
use shop_common::service::{Infra, RunningService, ServiceDefinition, ServiceParts};
use shop_common::settings::{Env, ServiceSettings, SettingsError};
use shop_payments::PaymentProvider;
use shop_payments::settings::PaymentSettings;
use std::sync::Arc;
use std::time::Duration;
use tasks::mailer::SmtpSettings;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/orders");

pub const DEFINITION: ServiceDefinition = ServiceDefinition {
    name: "order",
    version: env!("CARGO_PKG_VERSION"),
    default_port: 5104,
    default_database: "shop_orders",
    migrations: || MIGRATIONS,
    topics: &[
        topics::ORDER_EVENTS,
        topics::PAYMENT_EVENTS,
        topics::INVENTORY_EVENTS,
        topics::PRODUCT_EVENTS,
        topics::USER_EVENTS,
    ],
};

pub const DEFAULT_CART_URL: &str = "http://127.0.0.1:5103";
pub const DEFAULT_PAYMENT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Everything the order service reads from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub service: ServiceSettings,
    /// `CART_SERVICE_URL`.
    pub cart_url: String,
    /// `CART_TIMEOUT_MS` (default 5000): the whole cart read, connect included.
    pub cart_timeout: Duration,
    /// `PAYMENT_TIMEOUT` (seconds; `ms`/`s`/`m` suffixes accepted): open orders older than this fail.
    pub payment_timeout: Duration,
    /// `SMTP_URL` + `SMTP_FROM`; without `SMTP_URL` notifications are only recorded.
    pub smtp: Option<SmtpSettings>,
    /// `PAYMENT_PROVIDER`, `STRIPE_*` (see `shop_payments::settings`).
    pub payment: PaymentSettings,
}

/// `900` (seconds), `900s`, `1500ms` or `15m`.
pub fn parse_timeout(name: &str, raw: &str) -> Result<Duration, SettingsError> {
    let raw = raw.trim();
    let invalid = |reason: &str| SettingsError::Invalid { name: name.into(), value: raw.into(), reason: reason.into() };
    let (digits, unit) = match raw.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => raw.split_at(at),
        None => (raw, "s"),
    };
    let value: u64 = digits.parse().map_err(|_| invalid("expected a number of seconds, e.g. 900"))?;
    let duration = match unit.trim() {
        "s" => Duration::from_secs(value),
        "ms" => Duration::from_millis(value),
        "m" => Duration::from_secs(value.saturating_mul(60)),
        _ => return Err(invalid("the unit must be ms, s or m")),
    };
    if duration.is_zero() {
        return Err(invalid("must be greater than zero"));
    }
    Ok(duration)
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        let payment_timeout = match env.get("PAYMENT_TIMEOUT") {
            Some(raw) => parse_timeout("PAYMENT_TIMEOUT", &raw)?,
            None => DEFAULT_PAYMENT_TIMEOUT,
        };
        let smtp = match env.get("SMTP_URL") {
            Some(url) => Some(SmtpSettings::parse(&url, &env.string_or("SMTP_FROM", "shop <no-reply@shop.local>"))?),
            None => None,
        };
        Ok(Self {
            service: DEFINITION.settings(env)?,
            cart_url: env.string_or("CART_SERVICE_URL", DEFAULT_CART_URL),
            cart_timeout: env.millis_or("CART_TIMEOUT_MS", Duration::from_secs(5))?,
            payment_timeout,
            smtp,
            payment: PaymentSettings::from_env(env)?,
        })
    }
}

/// Connects, migrates and starts serving with the provider the settings name.
pub async fn start(settings: Settings) -> anyhow::Result<RunningService> {
    let provider = settings.payment.build_provider().map_err(|err| anyhow::anyhow!("payment provider: {err}"))?;
    start_with_provider(settings, provider).await
}

/// Like [`start`] with a given provider (tests script payment outcomes with their own).
pub async fn start_with_provider(
    settings: Settings,
    provider: Arc<dyn PaymentProvider>,
) -> anyhow::Result<RunningService> {
    let settings = Arc::new(settings);
    let for_parts = settings.clone();
    DEFINITION.launch(&settings.service, move |infra| parts(infra, &for_parts, provider)).await
}

fn parts(infra: &Infra, settings: &Settings, provider: Arc<dyn PaymentProvider>) -> anyhow::Result<ServiceParts> {
    let core = state::Core {
        db: infra.db.clone(),
        relay: infra.relay.clone(),
        provider,
        refunds: Default::default(),
        mail: Default::default(),
    };
    let app_state = actix_web::web::Data::new(state::AppState {
        core: core.clone(),
        cart: cart::CartClient::new(&settings.cart_url, settings.cart_timeout)?,
        webhook_secret: settings.payment.webhook_secret().cloned(),
        mail_enabled: settings.smtp.is_some(),
    });
    let mut parts = ServiceParts::routes(move |cfg| routes::configure(cfg, app_state.clone()));
    parts.consumers.push(ConsumerSpec {
        group: events::consume::GROUP.into(),
        topics: vec![topics::INVENTORY_EVENTS.into(), topics::PRODUCT_EVENTS.into(), topics::USER_EVENTS.into()],
        handler: Arc::new(events::consume::OrderHandler { core: core.clone() }),
    });
    parts.scrape_hooks.push(orders_gauge(infra.db.clone(), infra.service.clone()));

    let timeout = settings.payment_timeout;
    let sweeper = core.clone();
    parts.background.push(Box::new(move |shutdown| Box::pin(tasks::sweeper::run(sweeper, timeout, shutdown))));
    let refunder = core.clone();
    parts.background.push(Box::new(move |shutdown| Box::pin(tasks::refunds::run(refunder, shutdown))));
    let pruner = core.clone();
    parts.background.push(Box::new(move |shutdown| Box::pin(tasks::prune::run(pruner, shutdown))));
    if let Some(smtp) = settings.smtp.clone() {
        let mailer = core;
        parts.background.push(Box::new(move |shutdown| Box::pin(tasks::mailer::run(mailer, smtp, shutdown))));
    }
    Ok(parts)
}

/// `ecommerce_orders_total{service, status}`: orders per status, counted from the database at each scrape
/// (every status is set, zero included, so a drained status does not keep its last value).
fn orders_gauge(db: DbPool, service: String) -> ScrapeHook {
    Arc::new(move || {
        let db = db.clone();
        let service = service.clone();
        Box::pin(async move {
            let Ok(mut conn) = db.get().await else { return };
            match db::orders::count_by_status(&mut conn).await {
                Ok(rows) => {
                    for status in domain::Status::ALL {
                        let n = rows.iter().find(|(s, _)| s == status.as_str()).map_or(0, |(_, n)| *n);
                        metrics::gauge!("ecommerce_orders_total", "service" => service.clone(), "status" => status.as_str())
                            .set(n as f64);
                    }
                }
                Err(err) => tracing::warn!(error = %err, "counting orders for the gauge failed"),
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_timeout_accepts_seconds_and_units() {
        assert_eq!(parse_timeout("T", "900").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_timeout("T", "2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_timeout("T", "1500ms").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_timeout("T", "15m").unwrap(), Duration::from_secs(900));
        assert!(parse_timeout("T", "0").is_err());
        assert!(parse_timeout("T", "soon").is_err());
        assert!(parse_timeout("T", "5h").unwrap_err().to_string().contains('T'));
    }

    #[test]
    fn defaults() {
        let settings = Settings::from_env(&Env::from_pairs([])).unwrap();
        assert_eq!(settings.cart_url, DEFAULT_CART_URL);
        assert_eq!(settings.payment_timeout, DEFAULT_PAYMENT_TIMEOUT);
        assert!(settings.smtp.is_none());
        assert_eq!(settings.service.port, 5104);
    }
}
