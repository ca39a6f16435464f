//! The analytics service: read models for sales, revenue and user activity, built only from the
//! events of every topic (docs/analytics.md).
//!
//! `lib.rs` builds the app; `main.rs` only reads settings and runs it, so integration tests start
//! exactly what ships. Layout: `domain` (report parameters and rules, no I/O), `events` (payloads
//! and the consumer), `db` (fact upserts and report aggregates), `routes` (HTTP).

pub mod db;
pub mod domain;
pub mod events;
pub mod routes;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use shop_common::db::DbPool;
use shop_common::http::ScrapeHook;
use shop_common::kafka::ConsumerSpec;
use shop_common::service::{Infra, RunningService, ServiceDefinition, ServiceParts};
use shop_common::settings::{Env, ServiceSettings, SettingsError};
use std::sync::Arc;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/analytics");

pub const DEFINITION: ServiceDefinition = ServiceDefinition {
    name: "analytics",
    version: env!("CARGO_PKG_VERSION"),
    default_port: 5106,
    default_database: "shop_analytics",
    migrations: || MIGRATIONS,
    topics: events::consume::TOPICS,
};

/// Everything the analytics service reads from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub service: ServiceSettings,
    /// `ANALYTICS_CONSUMER_GROUP` (default `analytics`). A new group with an empty database
    /// rebuilds every figure from the earliest offsets (docs/analytics.md, "Replay").
    pub consumer_group: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self {
            service: DEFINITION.settings(env)?,
            consumer_group: env.string_or("ANALYTICS_CONSUMER_GROUP", events::consume::GROUP),
        })
    }
}

/// Connects, migrates and starts serving.
pub async fn start(settings: Settings) -> anyhow::Result<RunningService> {
    let group = settings.consumer_group.clone();
    DEFINITION.launch(&settings.service, move |infra| Ok(parts(infra, group))).await
}

fn parts(infra: &Infra, group: String) -> ServiceParts {
    let state = actix_web::web::Data::new(routes::AppState { db: infra.db.clone() });
    let mut parts = ServiceParts::routes(move |cfg| routes::configure(cfg, state.clone()));
    parts.consumers.push(ConsumerSpec {
        group,
        topics: events::consume::TOPICS.iter().map(|t| (*t).to_owned()).collect(),
        handler: Arc::new(events::consume::AnalyticsHandler { db: infra.db.clone() }),
    });
    parts.scrape_hooks.push(revenue_gauge(infra.db.clone()));
    parts
}

/// `analytics_net_revenue_minor{currency}`: all-time confirmed totals minus refunds, refreshed at
/// each scrape (a handful of currencies, so the series count stays tiny).
fn revenue_gauge(db: DbPool) -> ScrapeHook {
    Arc::new(move || {
        let db = db.clone();
        Box::pin(async move {
            let Ok(mut conn) = db.get().await else { return };
            match db::reports::net_revenue(&mut conn).await {
                Ok(rows) => {
                    for row in rows {
                        metrics::gauge!("analytics_net_revenue_minor", "currency" => row.currency)
                            .set(row.amount_minor as f64);
                    }
                }
                Err(err) => tracing::warn!(error = %err, "reading revenue for the gauge failed"),
            }
        })
    })
}
