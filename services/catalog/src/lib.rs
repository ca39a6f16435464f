//! The catalog service: products, categories, search and the product cache.
//!
//! `lib.rs` builds the app; `main.rs` only reads settings and runs it, so integration tests start
//! exactly what ships.

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use shop_common::events::topics;
use shop_common::service::{RunningService, ServiceDefinition, ServiceParts};
use shop_common::settings::{Env, ServiceSettings, SettingsError};

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
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, SettingsError> {
        Ok(Self { service: DEFINITION.settings(env)? })
    }
}

/// Connects, migrates and starts serving.
pub async fn start(settings: Settings) -> anyhow::Result<RunningService> {
    DEFINITION.launch(&settings.service, |_infra| Ok(ServiceParts::routes(|_cfg| {}))).await
}
