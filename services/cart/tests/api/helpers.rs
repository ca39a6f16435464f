//! `TestApp` (the service in-process), product fixtures and small SQL probes.

use chrono::Utc;
use diesel_async::AsyncPgConnection;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use shop_cart::db::products::{self, ProductState};
use shop_cart::domain::ProductId;
use shop_cart::{DEFINITION, Settings};
use shop_common::auth::{Identity, Role};
use shop_common::db::{DbPool, build_pool};
use shop_common::events::Envelope;
use shop_common::kafka::EventProducer;
use shop_common::kafka::producer::OutgoingRecord;
use shop_common::service::RunningService;
use shop_common::settings::{Env, KafkaSettings};
use shop_testkit::{TestDb, service_env, unique_prefix};
use std::time::Duration;
use uuid::Uuid;

pub const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

pub fn customer() -> Identity {
    Identity {
        user_id: Uuid::new_v4(),
        roles: vec![Role::Customer],
        token_id: None,
        token_expires_at: None,
        session_id: None,
    }
}

pub async fn test_db() -> TestDb {
    TestDb::create("cart", DEFINITION.migrations).await.expect("a test database")
}

/// A pool big enough for the concurrency tests.
pub fn pool(db: &TestDb, size: usize) -> DbPool {
    let mut settings = db.settings();
    settings.pool_size = size;
    settings.acquire_timeout = Duration::from_secs(30);
    build_pool(&settings, "cart-test").unwrap()
}

/// Puts a product into the snapshot directly (what `product.created` would do).
pub async fn seed_product(conn: &mut AsyncPgConnection, price_minor: i64, currency: &str, active: bool) -> ProductId {
    let id = ProductId(Uuid::now_v7());
    let sku = format!("SKU-{}", &id.0.simple().to_string()[20..]);
    let state = ProductState {
        product_id: id,
        sku: &sku,
        name: "Test product",
        price_minor,
        currency,
        active,
        as_of: Utc::now(),
    };
    assert!(products::upsert(conn, &state).await.unwrap());
    id
}

pub use shop_testkit::db::count;

/// Outbox rows of one event type.
pub async fn outbox_count(conn: &mut AsyncPgConnection, event_type: &str) -> i64 {
    count(conn, &format!("SELECT count(*) AS n FROM outbox WHERE headers->>'event_type' = '{event_type}'")).await
}

/// Who sends a request: a user, a guest token, both or neither.
#[derive(Debug, Clone, Default)]
pub struct Who {
    pub user: Option<Identity>,
    pub token: Option<String>,
}

impl Who {
    pub fn anonymous() -> Self {
        Self::default()
    }
    pub fn user(identity: &Identity) -> Self {
        Self { user: Some(identity.clone()), token: None }
    }
    pub fn guest(token: &str) -> Self {
        Self { user: None, token: Some(token.to_owned()) }
    }
    pub fn user_with_token(identity: &Identity, token: &str) -> Self {
        Self { user: Some(identity.clone()), token: Some(token.to_owned()) }
    }
}

pub struct TestApp {
    pub db: TestDb,
    pub prefix: String,
    pub client: reqwest::Client,
    service: Option<RunningService>,
    base: String,
}

impl TestApp {
    pub async fn spawn() -> Self {
        let db = test_db().await;
        let prefix = unique_prefix();
        let settings = Settings::from_env(&service_env(&db, &prefix)).expect("cart settings");
        let running = shop_cart::start(settings).await.expect("the cart service starts");
        Self { db, prefix, client: reqwest::Client::new(), base: running.base_url(), service: Some(running) }
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.service.take() {
            running.stop().await;
        }
    }

    pub fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub async fn conn(&self) -> AsyncPgConnection {
        self.db.connect().await
    }

    pub fn request(&self, method: Method, path: &str, who: &Who) -> RequestBuilder {
        let mut builder = self.client.request(method, format!("{}{path}", self.base));
        if let Some(identity) = &who.user {
            builder = identity.to_headers().into_iter().fold(builder, |b, (k, v)| b.header(k, v));
        }
        if let Some(token) = &who.token {
            builder = builder.header("x-cart-token", token);
        }
        builder
    }

    pub async fn get_cart(&self, who: &Who) -> Response {
        self.request(Method::GET, "/cart", who).send().await.unwrap()
    }

    pub async fn add(&self, who: &Who, body: &Value) -> Response {
        self.request(Method::POST, "/cart/items", who).json(body).send().await.unwrap()
    }

    pub async fn add_product(&self, who: &Who, product: ProductId, quantity: i64) -> Response {
        self.add(who, &json!({"product_id": product, "quantity": quantity})).await
    }

    pub async fn update(&self, who: &Who, line: &str, body: &Value) -> Response {
        self.request(Method::PUT, &format!("/cart/items/{line}"), who).json(body).send().await.unwrap()
    }

    pub async fn remove(&self, who: &Who, line: &str) -> Response {
        self.request(Method::DELETE, &format!("/cart/items/{line}"), who).send().await.unwrap()
    }

    pub async fn clear(&self, who: &Who) -> Response {
        self.request(Method::DELETE, "/cart", who).send().await.unwrap()
    }

    pub async fn merge(&self, who: &Who) -> Response {
        self.request(Method::POST, "/cart/merge", who).send().await.unwrap()
    }

    /// Publishes `event` to `<prefix><topic>` with `key` as the record key.
    pub async fn publish(&self, topic: &str, key: &str, event: &Envelope) {
        let bootstrap = shop_testkit::kafka::bootstrap();
        let settings = KafkaSettings::from_env(&Env::from_pairs([("KAFKA_BOOTSTRAP", bootstrap.as_str())])).unwrap();
        let producer = EventProducer::new(&settings, "cart-test").unwrap();
        let record = OutgoingRecord {
            topic: self.topic(topic),
            key: key.to_owned(),
            payload: serde_json::to_vec(event).unwrap(),
            headers: vec![],
        };
        producer.publish(&record).await.unwrap();
    }
}

/// The JSON body of a response with the expected status (the body is shown on a mismatch).
pub async fn expect_json(response: Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status, body: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Asserts a problem+json error with `status` and `code`; returns the body.
pub async fn expect_problem(response: Response, status: u16, code: &str) -> Value {
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let body = expect_json(response, status).await;
    assert_eq!(content_type.as_deref(), Some("application/problem+json"), "body: {body}");
    assert_eq!(body["code"], code, "body: {body}");
    assert_eq!(body["status"], status, "body: {body}");
    assert!(body["request_id"].is_string() && body["title"].is_string() && body["detail"].is_string(), "body: {body}");
    body
}
