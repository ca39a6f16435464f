//! The order service: orders, the checkout saga and payments.
//!
//! `lib.rs` builds the app; `main.rs` only reads settings and runs it, so integration tests start
//! exactly what ships.

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use shop_common::events::topics;
use shop_common::service::{RunningService, ServiceDefinition, ServiceParts};
use shop_common::settings::{Env, ServiceSettings, SettingsError};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/orders");

pub const DEFINITION: ServiceDefinition = ServiceDefinition {
    name: "order",
    version: env!("CARGO_PKG_VERSION"),
    default_port: 5104,
    default_database: "shop_orders",
    migrations: || MIGRATIONS,
    topics: &[topics::ORDER_EVENTS, topics::PAYMENT_EVENTS, topics::INVENTORY_EVENTS],
};

/// Everything the order service reads from the environment.
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
