//! The cart service: user and guest carts priced from a product snapshot.
//!
//! `lib.rs` builds the app; `main.rs` only reads settings and runs it, so integration tests start
//! exactly what ships.

use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use shop_common::events::topics;
use shop_common::service::{RunningService, ServiceDefinition, ServiceParts};
use shop_common::settings::{Env, ServiceSettings, SettingsError};

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
    DEFINITION.launch(&settings.service, |_infra| Ok(ServiceParts::routes(|_cfg| {}))).await
}
