//! Per-test PostgreSQL databases cloned from a migrated template.
//!
//! The template `shop_tpl_<set>_<hash>` is migrated once per migration content (the hash covers
//! every file of `migrations/common` and `migrations/<set>`), under an advisory lock because nextest
//! runs each test in its own process. `CREATE DATABASE .. TEMPLATE` then copies it in milliseconds.

use anyhow::Context;
use diesel::sql_types::Bool;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::EmbeddedMigrations;
use sha2::{Digest, Sha256};
use shop_common::settings::{DatabaseSettings, Env};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Server URL without a database name; `SHOP_TEST_PG_URL` overrides (superuser, trust auth locally).
pub fn server_url() -> String {
    std::env::var("SHOP_TEST_PG_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Runs a query returning one bigint column named `n` (`SELECT count(*) AS n ...`).
///
/// # Panics
/// When the query fails: a test helper, the failing test shows the error.
pub async fn count(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    match diesel::sql_query(sql).get_result::<Count>(conn).await {
        Ok(row) => row.n,
        Err(err) => panic!("count query failed: {err}: {sql}"),
    }
}

/// A database that exists for one test and is dropped when the value is dropped.
#[derive(Debug)]
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// A fresh database with `migrations/common` and `migrations/<set>` applied.
    pub async fn create(set: &str, migrations: fn() -> EmbeddedMigrations) -> anyhow::Result<Self> {
        let template = ensure_template(set, migrations).await?;
        let name = format!("shop_t_{set}_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let mut admin = admin_connection().await?;
        // The template may still show the migrating session for a moment after it closed.
        let mut attempt = 0;
        loop {
            match diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}")).execute(&mut admin).await {
                Ok(_) => break,
                Err(err) if attempt < 50 && err.to_string().contains("being accessed by other users") => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(err) => return Err(err).with_context(|| format!("creating {name} from {template}")),
            }
        }
        Ok(Self { url: format!("{}/{name}", server_url()), name })
    }

    /// Database settings pointing at this database (for code that takes settings).
    pub fn settings(&self) -> DatabaseSettings {
        DatabaseSettings::from_env(&Env::from_pairs([("DATABASE_URL", self.url.as_str())]), &self.name)
            .expect("a postgres:// URL is valid")
    }

    /// A direct connection for assertions.
    pub async fn connect(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.url).await.expect("connecting to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside any async context we could rely on: use a private runtime on a thread.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            runtime.block_on(async move {
                if let Ok(mut admin) = admin_connection().await {
                    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                }
            });
        })
        .join();
    }
}

async fn admin_connection() -> anyhow::Result<AsyncPgConnection> {
    let url = format!("{}/postgres", server_url());
    AsyncPgConnection::establish(&url)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {url} (is it running? `scripts/infra up`)"))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Hash of every migration file of the set, so an edited migration gets a new template.
fn migrations_hash(set: &str) -> anyhow::Result<String> {
    let mut files = Vec::new();
    for dir in ["common", set] {
        collect_files(&workspace_root().join("migrations").join(dir), &mut files)?;
    }
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&file)?);
    }
    Ok(format!("{:x}", hasher.finalize())[..12].to_owned())
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

async fn ensure_template(set: &str, migrations: fn() -> EmbeddedMigrations) -> anyhow::Result<String> {
    let hash = migrations_hash(set)?;
    let template = format!("shop_tpl_{set}_{hash}");
    let mut admin = admin_connection().await?;
    let lock_key = i64::from_str_radix(&hash[..12], 16).context("hash is hex")?;
    diesel::sql_query(format!("SELECT pg_advisory_lock({lock_key})")).execute(&mut admin).await?;
    let outcome = build_template_once(&mut admin, &template, migrations).await;
    let _ = diesel::sql_query(format!("SELECT pg_advisory_unlock({lock_key})")).execute(&mut admin).await;
    outcome.map(|()| template)
}

async fn build_template_once(
    admin: &mut AsyncPgConnection,
    template: &str,
    migrations: fn() -> EmbeddedMigrations,
) -> anyhow::Result<()> {
    let exists: bool = diesel::select(diesel::dsl::sql::<Bool>(&format!(
        "EXISTS (SELECT 1 FROM pg_database WHERE datname = '{template}')"
    )))
    .get_result(admin)
    .await?;
    if exists {
        return Ok(());
    }
    let building = format!("{template}_building");
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)")).execute(admin).await?;
    diesel::sql_query(format!("CREATE DATABASE {building}")).execute(admin).await?;
    let url = format!("{}/{building}", server_url());
    let settings = DatabaseSettings::from_env(&Env::from_pairs([("DATABASE_URL", url.as_str())]), &building)?;
    shop_common::db::migrate(&settings, migrations()).await.with_context(|| format!("migrating {building}"))?;
    // Renaming publishes the template atomically: nobody clones a half-migrated database.
    diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {template}")).execute(admin).await?;
    Ok(())
}
