//! PostgreSQL access: the diesel-async connection pool and embedded migrations.
//!
//! Each service owns one database. Connections identify themselves (`application_name`) and carry a
//! `statement_timeout`, so a runaway query fails instead of holding a pool slot forever.

use crate::settings::DatabaseSettings;
use anyhow::Context;
use diesel::migration::{Migration, MigrationSource};
use diesel::pg::Pg;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use diesel_async::pooled_connection::deadpool::PoolError;

pub type DbPool = Pool<AsyncPgConnection>;
pub type DbConn = Object<AsyncPgConnection>;

/// The outbox and inbox tables, applied to every service database before its own migrations.
pub const COMMON_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/common");

/// Appends connection parameters tokio-postgres understands to the URL.
fn url_with_session_options(settings: &DatabaseSettings, application_name: &str) -> String {
    let url = settings.url.expose();
    let separator = if url.contains('?') { '&' } else { '?' };
    let timeout_ms = settings.statement_timeout.as_millis();
    let connect_secs = settings.connect_timeout.as_secs().max(1);
    format!(
        "{url}{separator}application_name={application_name}&connect_timeout={connect_secs}\
         &options=-c%20statement_timeout%3D{timeout_ms}"
    )
}

/// Builds the pool; connections are opened lazily, so this never blocks on the database.
pub fn build_pool(settings: &DatabaseSettings, application_name: &str) -> anyhow::Result<DbPool> {
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new(url_with_session_options(settings, application_name));
    Pool::builder(manager)
        .max_size(settings.pool_size)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(Some(settings.acquire_timeout))
        .create_timeout(Some(settings.connect_timeout))
        .recycle_timeout(Some(settings.connect_timeout))
        .build()
        .context("building the database pool")
}

/// Applies the common migrations, then the service's own, on a dedicated connection.
///
/// Migrations run under a PostgreSQL advisory lock so several replicas starting together do not
/// race each other through the same DDL. diesel's migration harness is synchronous, so it runs on a
/// blocking thread through diesel-async's connection wrapper (no libpq needed).
pub async fn migrate(settings: &DatabaseSettings, service_migrations: EmbeddedMigrations) -> anyhow::Result<()> {
    let url = url_with_session_options(settings, "migrations");
    tokio::task::spawn_blocking(move || run_migrations_blocking(&url, service_migrations))
        .await
        .context("the migration task panicked")?
}

/// Arbitrary but fixed key: every shop service uses the same one for its own database.
const MIGRATION_LOCK_KEY: i64 = 0x5307_0001;

fn run_migrations_blocking(url: &str, service_migrations: EmbeddedMigrations) -> anyhow::Result<()> {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;

    let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(url)
        .context("connecting to the database to migrate it")?;
    conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})"))
        .context("taking the migration lock")?;
    let result = apply(&mut conn, ServiceMigrations(service_migrations));
    // Closing the session would release the lock too; unlocking keeps the intent explicit.
    let _ = conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})"));
    result
}

fn apply(conn: &mut impl MigrationHarness<Pg>, migrations: ServiceMigrations) -> anyhow::Result<()> {
    let applied = conn.run_pending_migrations(migrations).map_err(|err| anyhow::anyhow!("migrations failed: {err}"))?;
    if !applied.is_empty() {
        tracing::info!(migrations.count = applied.len(), "applied database migrations");
    }
    Ok(())
}

/// The common migrations followed by the service's own, as one source: diesel's revert looks up
/// every applied version in the source it is given, so the two sets must be seen together.
struct ServiceMigrations(EmbeddedMigrations);

impl MigrationSource<Pg> for ServiceMigrations {
    fn migrations(&self) -> diesel::migration::Result<Vec<Box<dyn Migration<Pg>>>> {
        let mut all = MigrationSource::<Pg>::migrations(&COMMON_MIGRATIONS)?;
        all.extend(MigrationSource::<Pg>::migrations(&self.0)?);
        Ok(all)
    }
}

/// Reverts every migration of the set (newest first), for the up → down → up test.
pub async fn revert_all(settings: &DatabaseSettings, service_migrations: EmbeddedMigrations) -> anyhow::Result<()> {
    let url = url_with_session_options(settings, "migrations");
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        use diesel::Connection;
        use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::establish(&url)?;
        conn.revert_all_migrations(ServiceMigrations(service_migrations)).map_err(|err| anyhow::anyhow!("{err}"))?;
        Ok(())
    })
    .await
    .context("the migration task panicked")?
}

/// `SELECT 1` with the pool's timeouts: the readiness probe.
pub async fn ping(pool: &DbPool) -> anyhow::Result<()> {
    use diesel_async::RunQueryDsl;
    let mut conn = pool.get().await?;
    diesel::sql_query("SELECT 1").execute(&mut conn).await?;
    Ok(())
}
