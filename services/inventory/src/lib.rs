//! The inventory service: stock levels, reservations and low-stock alerts.
//!
//! `lib.rs` builds the app; `main.rs` only reads settings and runs it, so integration tests start
//! exactly what ships. Layout: `domain` (rules, no I/O), `db` (stock, audit, the reservation
//! engine), `events` (published payloads, the `inventory` consumer), `routes` (HTTP).

pub mod db;
pub mod domain;
pub mod events;
pub mod routes;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use shop_common::db::DbPool;
use shop_common::events::topics;
use shop_common::http::ScrapeHook;
use shop_common::kafka::ConsumerSpec;
use shop_common::service::{Infra, RunningService, ServiceDefinition, ServiceParts};
use shop_common::settings::{Env, ServiceSettings, SettingsError};
use std::sync::Arc;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/inventory");

pub const DEFINITION: ServiceDefinition = ServiceDefinition {
    name: "inventory",
    version: env!("CARGO_PKG_VERSION"),
    default_port: 5105,
    default_database: "shop_inventory",
    migrations: || MIGRATIONS,
    topics: &[topics::INVENTORY_EVENTS, topics::PRODUCT_EVENTS, topics::ORDER_EVENTS],
};

/// How many products the `ecommerce_inventory_stock` gauge reports at most: the ones with the
/// least available stock (the interesting ones). Below this many products that is all of them;
/// above it the series count stays bounded for Prometheus.
pub const STOCK_GAUGE_LIMIT: i64 = 10_000;

/// Everything the inventory service reads from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub service: ServiceSettings,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self { service: DEFINITION.settings(env)? })
    }
}

/// Connects, migrates and starts serving.
pub async fn start(settings: Settings) -> anyhow::Result<RunningService> {
    DEFINITION.launch(&settings.service, |infra| Ok(parts(infra))).await
}

fn parts(infra: &Infra) -> ServiceParts {
    let state = actix_web::web::Data::new(routes::AppState { db: infra.db.clone(), relay: infra.relay.clone() });
    let mut parts = ServiceParts::routes(move |cfg| routes::configure(cfg, state.clone()));
    parts.consumers.push(ConsumerSpec {
        group: events::consume::GROUP.into(),
        topics: vec![topics::PRODUCT_EVENTS.into(), topics::ORDER_EVENTS.into()],
        handler: Arc::new(events::consume::InventoryHandler { db: infra.db.clone(), relay: infra.relay.clone() }),
    });
    parts.scrape_hooks.push(stock_gauge(infra.db.clone()));
    parts
}

/// `ecommerce_inventory_stock{product_id}` = available units, for at most [`STOCK_GAUGE_LIMIT`]
/// products (lowest available first), refreshed at each scrape.
fn stock_gauge(db: DbPool) -> ScrapeHook {
    Arc::new(move || {
        let db = db.clone();
        Box::pin(async move {
            let Ok(mut conn) = db.get().await else { return };
            match db::stock::lowest_available(&mut conn, STOCK_GAUGE_LIMIT).await {
                Ok(rows) => {
                    for row in rows {
                        metrics::gauge!("ecommerce_inventory_stock", "product_id" => row.product_id.to_string())
                            .set(row.available as f64);
                    }
                }
                Err(err) => tracing::warn!(error = %err, "reading stock for the gauge failed"),
            }
        })
    })
}
