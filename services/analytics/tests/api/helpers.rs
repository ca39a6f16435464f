//! Apps under test (the full service, or the routes plus the handler without the broker), an HTTP
//! client for the reports, and small SQL probes.

use crate::history::{Outcome, Scripted};

use reqwest::Response;
use serde_json::Value;
use shop_analytics::events::consume::AnalyticsHandler;
use shop_analytics::routes::{self, AppState};
use shop_analytics::{DEFINITION, Settings};
use shop_common::auth::{Identity, Role};
use shop_common::db::{DbPool, build_pool};
use shop_common::kafka::producer::OutgoingRecord;
use shop_common::kafka::{EventHandler, EventProducer, HandleError};
use shop_common::service::{HttpApp, RunningService};
use shop_common::settings::{Env, KafkaSettings};
use shop_testkit::{TestDb, service_env, unique_prefix, wait_until};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

pub const EVENT_TIMEOUT: Duration = Duration::from_secs(60);

pub fn identity(role: Role) -> Identity {
    Identity { user_id: Uuid::new_v4(), roles: vec![role], token_id: None, token_expires_at: None, session_id: None }
}

pub async fn test_db() -> TestDb {
    TestDb::create("analytics", DEFINITION.migrations).await.expect("a test database")
}

pub use shop_testkit::db::count;

/// Calls the report endpoints as some caller.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
    pub admin: Identity,
    pub customer: Identity,
}

impl Api {
    fn new(base: String) -> Self {
        Self { base, client: reqwest::Client::new(), admin: identity(Role::Admin), customer: identity(Role::Customer) }
    }

    pub async fn get_as(&self, path: &str, caller: Option<&Identity>) -> Response {
        let mut builder = self.client.get(format!("{}{path}", self.base));
        if let Some(identity) = caller {
            for (name, value) in identity.to_headers() {
                builder = builder.header(name, value);
            }
        }
        builder.send().await.unwrap()
    }

    /// GET as admin, expecting 200 with JSON.
    pub async fn report(&self, path: &str) -> Value {
        let response = self.get_as(path, Some(&self.admin)).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, reqwest::StatusCode::OK, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

/// The analytics routes served on port 0 over a test database, with the consumer's handler called
/// directly instead of through the broker.
pub struct DirectApp {
    pub db: TestDb,
    pub api: Api,
    handler: AnalyticsHandler,
    running: Option<RunningService>,
}

impl DirectApp {
    pub async fn start() -> Self {
        let db = test_db().await;
        let pool: DbPool = build_pool(&db.settings(), "analytics-test").unwrap();
        let state = actix_web::web::Data::new(AppState { db: pool.clone() });
        let mut app = HttpApp::new("analytics", "test", Arc::new(move |cfg| routes::configure(cfg, state.clone())));
        app.workers = 1;
        // Idle keep-alive connections of the test client would hold a graceful stop this long.
        app.shutdown_grace = Duration::from_secs(1);
        let running = app.bind_and_start("127.0.0.1", 0).unwrap();
        Self { db, api: Api::new(running.base_url()), handler: AnalyticsHandler { db: pool }, running: Some(running) }
    }

    /// Hands each event to the handler and checks it did what the script says.
    pub async fn feed<'a>(&self, events: impl IntoIterator<Item = &'a Scripted>) {
        for scripted in events {
            let result = self.handler.handle(&scripted.envelope).await;
            match (scripted.outcome, result) {
                (Outcome::DeadLetter, Err(HandleError::Permanent(_))) => {}
                (Outcome::DeadLetter, other) => panic!("{} should be rejected, got {other:?}", scripted.describe()),
                (_, Ok(())) => {}
                (_, Err(err)) => panic!("{} failed: {err}", scripted.describe()),
            }
        }
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }
}

/// The whole service started in-process, consuming `<prefix>` topics.
pub struct TestApp {
    pub db: TestDb,
    pub prefix: String,
    pub api: Api,
    running: Option<RunningService>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_on(&unique_prefix(), None).await
    }

    /// Starts on existing topics (`prefix`), optionally under another consumer group.
    pub async fn spawn_on(prefix: &str, group: Option<&str>) -> Self {
        let db = test_db().await;
        let mut settings = Settings::from_env(&service_env(&db, prefix)).expect("analytics settings");
        if let Some(group) = group {
            settings.consumer_group = group.to_owned();
        }
        let running = shop_analytics::start(settings).await.expect("the analytics service starts");
        Self { db, prefix: prefix.to_owned(), api: Api::new(running.base_url()), running: Some(running) }
    }

    pub fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Publishes the events in order, each to `<prefix><topic>` keyed by its aggregate.
    pub async fn publish<'a>(&self, events: impl IntoIterator<Item = &'a Scripted>) {
        let bootstrap = shop_testkit::kafka::bootstrap();
        let settings = KafkaSettings::from_env(&Env::from_pairs([("KAFKA_BOOTSTRAP", bootstrap.as_str())])).unwrap();
        let producer = EventProducer::new(&settings, "analytics-test").unwrap();
        for scripted in events {
            let record = OutgoingRecord {
                topic: self.topic(scripted.topic),
                key: scripted.key.clone(),
                payload: serde_json::to_vec(&scripted.envelope).unwrap(),
                headers: vec![],
            };
            producer.publish(&record).await.unwrap();
        }
    }

    /// Waits until the inbox holds `applied` events.
    pub async fn wait_applied(&self, applied: usize) {
        let db = &self.db;
        wait_until(EVENT_TIMEOUT, &format!("{applied} applied events"), || async move {
            let mut conn = db.connect().await;
            count(&mut conn, "SELECT count(*) AS n FROM inbox").await == applied as i64
        })
        .await
        .unwrap();
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await;
        }
    }
}

/// The sum of every series of `name` on the app's `/metrics`.
pub async fn metric_sum(api: &Api, name: &str) -> f64 {
    let text = api.get_as("/metrics", None).await.text().await.unwrap();
    text.lines()
        .filter(|line| line.starts_with(name) && line[name.len()..].starts_with(['{', ' ']))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
