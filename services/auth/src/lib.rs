//! The auth service: accounts, roles, JWT issuing and JWKS, refresh sessions (docs/auth.md).
//!
//! `lib.rs` builds the app; `main.rs` only reads settings and runs it, so integration tests start
//! exactly what ships.
//!
//! Map: `routes/` (HTTP, one file per resource) → `domain/` (validation, no I/O) and `db/` (diesel
//! queries); `passwords` (argon2id off the workers), `keys` (signing keys, rotation, JWKS),
//! `tokens` (access-token claims, refresh tokens), `sessions` (Redis sessions, deny-list),
//! `rate_limit` (Redis sliding windows), `events` (outbox payloads), `bootstrap` (first admin).

pub mod bootstrap;
pub mod client;
pub mod db;
pub mod domain;
pub mod events;
pub mod keys;
pub mod passwords;
pub mod rate_limit;
pub mod routes;
pub mod sessions;
pub mod settings;
pub mod state;
pub mod tokens;

use anyhow::Context;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};
use keys::KeyStore;
use passwords::Passwords;
use shop_common::db::DbPool;
use shop_common::events::topics;
use shop_common::http::ScrapeHook;
use shop_common::service::{BackgroundTask, Infra, RunningService, ServiceDefinition, ServiceParts};
use std::sync::Arc;
use std::time::Duration;

pub use settings::Settings;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/auth");

pub const DEFINITION: ServiceDefinition = ServiceDefinition {
    name: "auth",
    version: env!("CARGO_PKG_VERSION"),
    default_port: 5101,
    default_database: "shop_auth",
    migrations: || MIGRATIONS,
    topics: &[topics::USER_EVENTS],
};

/// Expired refresh tokens are kept this long (for investigating reuse reports), then deleted.
const KEEP_EXPIRED_REFRESH_TOKENS: Duration = Duration::from_secs(24 * 3600);

/// What must exist before the first request: the signing keys, the dummy hash, the first admin.
struct Prepared {
    keys: Arc<KeyStore>,
    passwords: Arc<Passwords>,
}

/// Connects, migrates, loads (or creates) the signing keys, bootstraps the admin and starts serving.
pub async fn start(settings: Settings) -> anyhow::Result<RunningService> {
    let prepared = prepare(&settings).await?;
    let service = settings.service.clone();
    DEFINITION.launch(&service, move |infra| Ok(parts(infra, &settings, prepared))).await
}

/// `ServiceDefinition::launch` builds the app synchronously from its infrastructure, so the async
/// start-up work runs here first, on a short-lived pool. `launch` then finds the migrations applied.
async fn prepare(settings: &Settings) -> anyhow::Result<Prepared> {
    let database = &settings.service.database;
    shop_common::db::migrate(database, MIGRATIONS).await.context("migrating the auth database")?;
    let pool = shop_common::db::build_pool(database, &format!("{}-startup", settings.service.service_id))?;
    let mut conn = pool.get().await.context("connecting to the auth database")?;
    let passwords = Arc::new(Passwords::new(settings.password_hash_concurrency).await?);
    let keys = KeyStore::open(&mut conn, &settings.tokens, chrono::Utc::now()).await.context("loading signing keys")?;
    if let Some(admin) = &settings.admin {
        bootstrap::ensure_admin(&mut conn, &passwords, admin).await?;
    }
    Ok(Prepared { keys: Arc::new(keys), passwords })
}

fn parts(infra: &Infra, settings: &Settings, prepared: Prepared) -> ServiceParts {
    let state = actix_web::web::Data::new(state::AppState {
        db: infra.db.clone(),
        relay: infra.relay.clone(),
        sessions: sessions::SessionStore::new(infra.redis.clone(), settings.tokens.refresh_ttl),
        limiter: rate_limit::RateLimiter::new(infra.redis.clone(), settings.rate_limits),
        passwords: prepared.passwords,
        keys: prepared.keys.clone(),
        tokens: settings.tokens.clone(),
    });
    let mut parts = ServiceParts::routes(move |cfg| routes::configure(cfg, state.clone()));
    parts.scrape_hooks.push(users_gauge(infra.db.clone(), settings.service.service_id.clone()));
    parts.background.push(maintenance(infra.db.clone(), prepared.keys, settings.tokens.key_check_interval));
    parts
}

/// `ecommerce_users_total`, counted at each scrape.
fn users_gauge(db: DbPool, service: String) -> ScrapeHook {
    Arc::new(move || {
        let db = db.clone();
        let service = service.clone();
        Box::pin(async move {
            if let Ok(mut conn) = db.get().await
                && let Ok(count) = db::users::count(&mut conn).await
            {
                metrics::gauge!("ecommerce_users_total", "service" => service).set(count as f64);
            }
        })
    })
}

/// Every `every` (an hour by default): rotate the signing key if due, reload keys other replicas
/// rotated, prune long-expired refresh tokens.
fn maintenance(db: DbPool, keys: Arc<KeyStore>, every: Duration) -> BackgroundTask {
    Box::new(move |mut shutdown| {
        Box::pin(async move {
            loop {
                tokio::select! {
                    _ = shutdown.wait() => break,
                    _ = tokio::time::sleep(every) => {}
                }
                if let Err(err) = maintain(&db, &keys).await {
                    tracing::warn!(error = %format!("{err:#}"), "auth maintenance failed; retrying next round");
                }
            }
        })
    })
}

async fn maintain(db: &DbPool, keys: &KeyStore) -> anyhow::Result<()> {
    let mut conn = db.get().await.context("connecting for maintenance")?;
    let now = chrono::Utc::now();
    keys.maintain(&mut conn, now).await?;
    let cutoff = now - keys::delta(KEEP_EXPIRED_REFRESH_TOKENS);
    let pruned = db::refresh_tokens::delete_expired(&mut conn, cutoff).await?;
    if pruned > 0 {
        tracing::info!(refresh_tokens.pruned = pruned, "pruned expired refresh tokens");
    }
    Ok(())
}
