//! The catalog service: products, categories, search, the product cache and the demo catalogue.
//!
//! `lib.rs` builds the app; `main.rs` only reads settings and runs it, so integration tests start
//! exactly what ships.
//!
//! Map: `routes/` (HTTP, one file per resource) → `domain/` (validation, listing and search
//! rules, no I/O) and `db/` (diesel queries; listing/search SQL in `db/listing.rs`); `cache`
//! (Redis: products, listings, recently viewed); `events/` (product events out through the
//! outbox, inventory events in for the in-stock flag); `demo` (the demo catalogue).

pub mod cache;
pub mod db;
pub mod demo;
pub mod domain;
pub mod events;
pub mod routes;
pub mod state;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use shop_common::db::DbPool;
use shop_common::events::topics;
use shop_common::http::ScrapeHook;
use shop_common::kafka::ConsumerSpec;
use shop_common::service::{Infra, RunningService, ServiceDefinition, ServiceParts};
use shop_common::settings::{Env, ServiceSettings, SettingsError};
use std::sync::Arc;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/catalog");

pub const DEFINITION: ServiceDefinition = ServiceDefinition {
    name: "catalog",
    version: env!("CARGO_PKG_VERSION"),
    default_port: 5102,
    default_database: "shop_catalog",
    migrations: || MIGRATIONS,
    topics: &[topics::PRODUCT_EVENTS, topics::INVENTORY_EVENTS],
};

/// Everything the catalog service reads from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub service: ServiceSettings,
    /// `CACHE_KEY_PREFIX`: put in front of every Redis key (default: `TOPIC_PREFIX`, so tests
    /// sharing one Redis stay apart).
    pub cache_key_prefix: String,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        let service = DEFINITION.settings(env)?;
        let cache_key_prefix = env.string_or("CACHE_KEY_PREFIX", &service.kafka.topic_prefix);
        Ok(Self { service, cache_key_prefix })
    }
}

/// Connects, migrates and starts serving.
pub async fn start(settings: Settings) -> anyhow::Result<RunningService> {
    DEFINITION.launch(&settings.service, |infra| Ok(parts(infra, &settings))).await
}

fn parts(infra: &Infra, settings: &Settings) -> ServiceParts {
    let cache = cache::Cache::new(infra.redis.clone(), &settings.cache_key_prefix, &settings.service.service_id);
    let state = actix_web::web::Data::new(state::AppState {
        db: infra.db.clone(),
        relay: infra.relay.clone(),
        cache: cache.clone(),
    });
    let mut parts = ServiceParts::routes(move |cfg| routes::configure(cfg, state.clone()));
    parts.consumers.push(ConsumerSpec {
        group: events::inventory::GROUP.into(),
        topics: vec![topics::INVENTORY_EVENTS.into()],
        handler: Arc::new(events::inventory::InventoryHandler { db: infra.db.clone(), cache }),
    });
    parts.scrape_hooks.push(products_gauge(infra.db.clone(), settings.service.service_id.clone()));
    parts
}

/// `ecommerce_products_total` (live products), counted at each scrape.
fn products_gauge(db: DbPool, service: String) -> ScrapeHook {
    Arc::new(move || {
        let db = db.clone();
        let service = service.clone();
        Box::pin(async move {
            if let Ok(mut conn) = db.get().await
                && let Ok(count) = db::products::count_live(&mut conn).await
            {
                metrics::gauge!("ecommerce_products_total", "service" => service).set(count as f64);
            }
        })
    })
}

/// `shop-catalog seed-demo`: migrates, then loads the demo catalogue (idempotent). The outbox
/// rows it writes are published by the next running catalog service.
pub async fn seed_demo(settings: &Settings, count: usize) -> anyhow::Result<demo::Summary> {
    let database = &settings.service.database;
    shop_common::db::migrate(database, MIGRATIONS).await?;
    let pool = shop_common::db::build_pool(database, &format!("{}-seed", settings.service.service_id))?;
    demo::load(&pool, count).await
}
