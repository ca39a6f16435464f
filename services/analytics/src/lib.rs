//! The analytics service: read models for sales, revenue and user activity.
//!
//! `lib.rs` builds the app; `main.rs` only reads settings and runs it, so integration tests start
//! exactly what ships.

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use shop_common::events::topics;
use shop_common::service::{RunningService, ServiceDefinition, ServiceParts};
use shop_common::settings::{Env, ServiceSettings, SettingsError};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/analytics");

pub const DEFINITION: ServiceDefinition = ServiceDefinition {
    name: "analytics",
    version: env!("CARGO_PKG_VERSION"),
    default_port: 5106,
    default_database: "shop_analytics",
    migrations: || MIGRATIONS,
    topics: &[
        topics::USER_EVENTS,
        topics::PRODUCT_EVENTS,
        topics::CART_EVENTS,
        topics::ORDER_EVENTS,
        topics::INVENTORY_EVENTS,
        topics::PAYMENT_EVENTS,
    ],
};

/// Everything the analytics service reads from the environment.
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
