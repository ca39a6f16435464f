//! `TestApp` (the service in-process), engine fixtures and small SQL probes.

use diesel_async::AsyncPgConnection;
use reqwest::{Method, RequestBuilder, Response};
use shop_common::auth::{Identity, Role};
use shop_common::db::{DbPool, build_pool};
use shop_common::events::Envelope;
use shop_common::kafka::EventProducer;
use shop_common::kafka::producer::OutgoingRecord;
use shop_common::service::RunningService;
use shop_common::settings::{Env, KafkaSettings};
use shop_inventory::db::{StockRow, stock};
use shop_inventory::domain::{Line, OrderId, ProductId};
use shop_inventory::{DEFINITION, Settings};
use shop_testkit::{TestDb, service_env, unique_prefix};
use std::time::Duration;
use uuid::Uuid;

pub const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

pub fn identity(role: Role) -> Identity {
    Identity { user_id: Uuid::new_v4(), roles: vec![role], token_id: None, token_expires_at: None, session_id: None }
}

pub async fn test_db() -> TestDb {
    TestDb::create("inventory", DEFINITION.migrations).await.expect("a test database")
}

/// A pool big enough for the concurrency tests.
pub fn pool(db: &TestDb, size: usize) -> DbPool {
    let mut settings = db.settings();
    settings.pool_size = size;
    settings.acquire_timeout = Duration::from_secs(30);
    build_pool(&settings, "inventory-test").unwrap()
}

pub fn product() -> ProductId {
    ProductId(Uuid::now_v7())
}

pub fn order() -> OrderId {
    OrderId(Uuid::now_v7())
}

pub fn line(product_id: ProductId, quantity: i64) -> Line {
    Line { product_id, quantity }
}

pub async fn seed(conn: &mut AsyncPgConnection, on_hand: i64, threshold: i64) -> ProductId {
    let id = product();
    assert!(stock::create(conn, id, on_hand, threshold).await.unwrap());
    id
}

pub async fn row(conn: &mut AsyncPgConnection, id: ProductId) -> StockRow {
    stock::find(conn, id).await.unwrap().expect("a stock row")
}

pub use shop_testkit::db::count;

/// Outbox rows of one event type.
pub async fn outbox_count(conn: &mut AsyncPgConnection, event_type: &str) -> i64 {
    count(conn, &format!("SELECT count(*) AS n FROM outbox WHERE headers->>'event_type' = '{event_type}'")).await
}

pub struct TestApp {
    pub db: TestDb,
    pub prefix: String,
    pub client: reqwest::Client,
    pub admin: Identity,
    pub customer: Identity,
    service: Option<RunningService>,
    base: String,
}

impl TestApp {
    pub async fn spawn() -> Self {
        let db = test_db().await;
        let prefix = unique_prefix();
        let settings = Settings::from_env(&service_env(&db, &prefix)).expect("inventory settings");
        let running = shop_inventory::start(settings).await.expect("the inventory service starts");
        Self {
            db,
            prefix,
            client: reqwest::Client::new(),
            admin: identity(Role::Admin),
            customer: identity(Role::Customer),
            base: running.base_url(),
            service: Some(running),
        }
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.service.take() {
            running.stop().await;
        }
    }

    pub fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn request(&self, method: Method, path: &str, caller: Option<&Identity>) -> RequestBuilder {
        let builder = self.client.request(method, format!("{}{path}", self.base));
        match caller {
            Some(identity) => identity.to_headers().into_iter().fold(builder, |b, (k, v)| b.header(k, v)),
            None => builder,
        }
    }

    pub async fn get(&self, path: &str, caller: Option<&Identity>) -> Response {
        self.request(Method::GET, path, caller).send().await.unwrap()
    }

    pub async fn update(&self, body: &serde_json::Value, caller: Option<&Identity>) -> Response {
        self.request(Method::POST, "/inventory/update", caller).json(body).send().await.unwrap()
    }

    /// Publishes `event` to `<prefix><topic>` with `key` as the record key.
    pub async fn publish(&self, topic: &str, key: &str, event: &Envelope) {
        let bootstrap = shop_testkit::kafka::bootstrap();
        let settings = KafkaSettings::from_env(&Env::from_pairs([("KAFKA_BOOTSTRAP", bootstrap.as_str())])).unwrap();
        let producer = EventProducer::new(&settings, "inventory-test").unwrap();
        let record = OutgoingRecord {
            topic: self.topic(topic),
            key: key.to_owned(),
            payload: serde_json::to_vec(event).unwrap(),
            headers: vec![],
        };
        producer.publish(&record).await.unwrap();
    }
}
