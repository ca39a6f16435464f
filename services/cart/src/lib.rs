//! The cart service: user and guest carts priced from a product snapshot.
//!
//! `lib.rs` builds the app; `main.rs` only reads settings and runs it, so integration tests start
//! exactly what ships. Layout: `domain` (limits, tokens, the priced view; no I/O), `db` (carts,
//! lines, product snapshot), `service` (one transaction per operation), `events` (published
//! payloads, the `cart` consumer), `routes` (HTTP). docs/cart.md describes the API.

pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod routes;
pub mod service;

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use shop_common::events::topics;
use shop_common::kafka::ConsumerSpec;
use shop_common::service::{Infra, RunningService, ServiceDefinition, ServiceParts};
use shop_common::settings::{Env, ServiceSettings, SettingsError};
use std::sync::Arc;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/cart");

pub const DEFINITION: ServiceDefinition = ServiceDefinition {
    name: "cart",
    version: env!("CARGO_PKG_VERSION"),
    default_port: 5103,
    default_database: "shop_cart",
    migrations: || MIGRATIONS,
    topics: &[topics::CART_EVENTS, topics::PRODUCT_EVENTS, topics::ORDER_EVENTS],
};

/// Everything the cart service reads from the environment.
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
        handler: Arc::new(events::consume::CartHandler { db: infra.db.clone(), relay: infra.relay.clone() }),
    });
    parts
}
