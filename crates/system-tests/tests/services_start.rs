//! Every service starts in-process against its own fresh database and the real Redis and broker,
//! serves `/health`, `/metrics` and `/`, and stops cleanly; every migration set goes up, down, up.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use shop_common::service::{RunningService, ServiceDefinition};
use shop_common::settings::Env;
use shop_testkit::{TestDb, service_env, unique_prefix};

/// Each service: its definition (migrations, topics, defaults) and the migration folder name.
fn all_services() -> Vec<(&'static ServiceDefinition, &'static str)> {
    vec![
        (&shop_auth::DEFINITION, "auth"),
        (&shop_catalog::DEFINITION, "catalog"),
        (&shop_cart::DEFINITION, "cart"),
        (&shop_order::DEFINITION, "orders"),
        (&shop_inventory::DEFINITION, "inventory"),
        (&shop_analytics::DEFINITION, "analytics"),
    ]
}

/// Each service from the same environment its binary would read (so new settings need no change here).
async fn start(definition: &ServiceDefinition, env: &Env) -> RunningService {
    match definition.name {
        "auth" => shop_auth::start(shop_auth::Settings::from_env(env).unwrap()).await,
        "catalog" => shop_catalog::start(shop_catalog::Settings::from_env(env).unwrap()).await,
        "cart" => shop_cart::start(shop_cart::Settings::from_env(env).unwrap()).await,
        "order" => shop_order::start(shop_order::Settings::from_env(env).unwrap()).await,
        "inventory" => shop_inventory::start(shop_inventory::Settings::from_env(env).unwrap()).await,
        "analytics" => shop_analytics::start(shop_analytics::Settings::from_env(env).unwrap()).await,
        other => panic!("unknown service {other}"),
    }
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_starts_and_reports_its_dependencies() {
    let client = reqwest::Client::new();
    for (definition, set) in all_services() {
        let db = TestDb::create(set, definition.migrations).await.unwrap();
        let service = start(definition, &service_env(&db, &unique_prefix())).await;
        let base = service.base_url();

        let health = client.get(format!("{base}/health")).send().await.unwrap();
        assert_eq!(health.status(), 200, "{} health", definition.name);
        let report: serde_json::Value = health.json().await.unwrap();
        for dependency in ["postgres", "redis", "broker"] {
            assert_eq!(report["checks"][dependency]["status"], "up", "{}: {report}", definition.name);
        }

        let root: serde_json::Value = client.get(format!("{base}/")).send().await.unwrap().json().await.unwrap();
        assert_eq!(root["service"], definition.name);
        assert_eq!(root["version"], env!("CARGO_PKG_VERSION"));
        assert!(root["uptime_seconds"].is_u64());

        let metrics = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
        let service_label = format!("service=\"{}\"", definition.name);
        assert!(
            metrics.lines().any(|l| l.starts_with("http_requests_total{")
                && l.contains(&service_label)
                && l.contains("route=\"/health\"")),
            "{} metrics lack its own request series:\n{metrics}",
            definition.name
        );
        assert!(metrics.contains("db_pool_connections{"), "pool gauges exported");
        assert!(metrics.contains("outbox_backlog{"), "outbox backlog exported");
        service.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_turns_503_naming_the_dependency_that_is_down() {
    let db = TestDb::create("catalog", shop_catalog::DEFINITION.migrations).await.unwrap();
    let mut settings = shop_catalog::Settings::from_env(&service_env(&db, &unique_prefix())).unwrap();
    // A Redis address where nothing listens: the service still starts (Redis is not needed to boot).
    settings.service.redis.url = shop_common::settings::Secret::new("redis://127.0.0.1:1");
    let service = shop_catalog::start(settings).await.unwrap();
    let response = reqwest::get(format!("{}/health", service.base_url())).await.unwrap();
    assert_eq!(response.status(), 503);
    let report: serde_json::Value = response.json().await.unwrap();
    assert_eq!(report["status"], "down");
    assert_eq!(report["checks"]["redis"]["status"], "down");
    assert!(report["checks"]["redis"]["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert_eq!(report["checks"]["postgres"]["status"], "up");
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_migration_set_goes_up_down_and_up_again() {
    async fn tables(db: &TestDb) -> Vec<String> {
        #[derive(diesel::QueryableByName)]
        struct Table {
            #[diesel(sql_type = diesel::sql_types::Text)]
            tablename: String,
        }
        let mut conn = db.connect().await;
        let rows: Vec<Table> = diesel_async::RunQueryDsl::load(
            diesel::sql_query(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' \
                 AND tablename <> '__diesel_schema_migrations' ORDER BY tablename",
            ),
            &mut conn,
        )
        .await
        .unwrap();
        rows.into_iter().map(|t| t.tablename).collect()
    }
    for (definition, set) in all_services() {
        let db = TestDb::create(set, definition.migrations).await.unwrap();
        let settings = db.settings();
        let migrated = tables(&db).await;
        for shared in ["outbox", "inbox"] {
            assert!(migrated.iter().any(|t| t == shared), "{set}: the common {shared} table is missing: {migrated:?}");
        }
        assert!(migrated.len() > 2, "{set}: no tables of its own: {migrated:?}");
        shop_common::db::revert_all(&settings, (definition.migrations)()).await.unwrap();
        assert_eq!(tables(&db).await, Vec::<String>::new(), "{set}: down.sql leaves tables behind");
        shop_common::db::migrate(&settings, (definition.migrations)()).await.unwrap();
        assert_eq!(tables(&db).await, migrated, "{set}: up after down gives other tables");
    }
}
