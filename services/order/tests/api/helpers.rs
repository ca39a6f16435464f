//! `TestApp` (the service in-process with a stub cart), product and event fixtures, SQL probes and
//! a scriptable payment provider.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use shop_common::auth::{Identity, Role};
use shop_common::events::Envelope;
use shop_common::kafka::EventProducer;
use shop_common::kafka::producer::OutgoingRecord;
use shop_common::service::RunningService;
use shop_common::settings::{Env, KafkaSettings};
use shop_order::{DEFINITION, Settings};
use shop_payments::settings::PaymentSettings;
use shop_payments::{
    PaymentOutcome, PaymentProvider, PaymentRequest, ProviderError, ProviderFuture, RefundOutcome, RefundRequest,
};
use shop_testkit::{TestDb, service_env, unique_prefix, wait_until};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

pub const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

pub fn identity(role: Role) -> Identity {
    Identity { user_id: Uuid::new_v4(), roles: vec![role], token_id: None, token_expires_at: None, session_id: None }
}

pub async fn test_db() -> TestDb {
    TestDb::create("orders", DEFINITION.migrations).await.expect("a test database")
}

pub use shop_testkit::db::count;

/// Outbox rows of one event type (for one order when given).
pub async fn outbox_count(conn: &mut AsyncPgConnection, event_type: &str, order: Option<&str>) -> i64 {
    let filter = order.map(|o| format!(" AND record_key = '{o}'")).unwrap_or_default();
    count(conn, &format!("SELECT count(*) AS n FROM outbox WHERE headers->>'event_type' = '{event_type}'{filter}"))
        .await
}

/// The carts the stub cart service answers with, by identity, and what it was sent.
#[derive(Default)]
pub struct CartState {
    pub carts: Mutex<HashMap<String, Value>>,
    pub seen_request_ids: Mutex<Vec<String>>,
    pub calls: AtomicUsize,
}

fn cart_owner(req: &HttpRequest) -> Option<String> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    header("x-auth-user-id")
        .map(|id| format!("user:{id}"))
        .or_else(|| header("x-cart-token").map(|t| format!("token:{t}")))
}

async fn stub_get_cart(state: web::Data<CartState>, req: HttpRequest) -> HttpResponse {
    state.calls.fetch_add(1, Ordering::SeqCst);
    if let Some(id) = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()) {
        state.seen_request_ids.lock().unwrap().push(id.to_owned());
    }
    let Some(owner) = cart_owner(&req) else { return HttpResponse::Unauthorized().finish() };
    match state.carts.lock().unwrap().get(&owner) {
        Some(cart) => HttpResponse::Ok().json(cart),
        None => HttpResponse::NotFound().finish(),
    }
}

/// A cart service double on `127.0.0.1:<free port>` answering `GET /cart` per the contract.
pub struct StubCart {
    pub state: web::Data<CartState>,
    pub url: String,
    handle: actix_web::dev::ServerHandle,
}

impl StubCart {
    pub async fn start() -> Self {
        let state = web::Data::new(CartState::default());
        let shared = state.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server =
            HttpServer::new(move || App::new().app_data(shared.clone()).route("/cart", web::get().to(stub_get_cart)))
                .workers(1)
                .disable_signals()
                .listen(listener)
                .unwrap()
                .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { state, url, handle }
    }

    /// Puts `lines` (product id, quantity) in the cart of `owner` (`user:<id>` or `token:<t>`).
    pub fn set(&self, owner: &str, lines: &[(Uuid, i64)]) -> Uuid {
        let cart_id = Uuid::now_v7();
        let lines: Vec<Value> = lines
            .iter()
            .map(|(p, q)| json!({"product_id": p, "quantity": q, "unit_price": {"amount_minor": 1, "currency": "EUR"}}))
            .collect();
        self.state.carts.lock().unwrap().insert(owner.to_owned(), json!({"id": cart_id, "lines": lines}));
        cart_id
    }
}

impl Drop for StubCart {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// A provider whose answers the test scripts (default: succeed). Counts calls.
#[derive(Default)]
pub struct ScriptedProvider {
    pub outcomes: Mutex<VecDeque<Result<PaymentOutcome, ProviderError>>>,
    pub starts: AtomicUsize,
    pub keys: Mutex<Vec<String>>,
    pub refunds: AtomicUsize,
    pub refund_keys: Mutex<Vec<String>>,
    /// What `payment_status` answers per payment id (default: still pending).
    pub statuses: Mutex<HashMap<String, PaymentOutcome>>,
}

impl ScriptedProvider {
    /// Distinct refunds asked for (calls with the same idempotency key are one refund).
    pub fn distinct_refunds(&self) -> usize {
        let mut keys = self.refund_keys.lock().unwrap().clone();
        keys.sort();
        keys.dedup();
        keys.len()
    }

    pub fn push(&self, outcome: Result<PaymentOutcome, ProviderError>) {
        self.outcomes.lock().unwrap().push_back(outcome);
    }
}

impl PaymentProvider for ScriptedProvider {
    fn name(&self) -> &'static str {
        "scripted"
    }
    fn start_payment<'a>(&'a self, request: &'a PaymentRequest) -> ProviderFuture<'a, PaymentOutcome> {
        Box::pin(async move {
            self.starts.fetch_add(1, Ordering::SeqCst);
            self.keys.lock().unwrap().push(request.idempotency_key.clone());
            let next = self.outcomes.lock().unwrap().pop_front();
            next.unwrap_or_else(|| Ok(PaymentOutcome::Succeeded { payment_id: format!("pay_{}", request.order_id) }))
        })
    }
    fn payment_status<'a>(&'a self, payment_id: &'a str) -> ProviderFuture<'a, PaymentOutcome> {
        Box::pin(async move {
            let known = self.statuses.lock().unwrap().get(payment_id).cloned();
            Ok(known
                .unwrap_or_else(|| PaymentOutcome::Pending { payment_id: payment_id.to_owned(), client_secret: None }))
        })
    }
    fn refund<'a>(&'a self, request: &'a RefundRequest) -> ProviderFuture<'a, RefundOutcome> {
        Box::pin(async move {
            self.refunds.fetch_add(1, Ordering::SeqCst);
            self.refund_keys.lock().unwrap().push(request.idempotency_key.clone());
            Ok(RefundOutcome { refund_id: format!("re_{}", request.order_id), status: "succeeded".into() })
        })
    }
}

/// How to start the app under test.
#[derive(Default)]
pub struct Options {
    pub provider: Option<Arc<dyn PaymentProvider>>,
    pub payment: Option<PaymentSettings>,
    pub payment_timeout: Option<Duration>,
    pub cart_url: Option<String>,
    pub smtp_url: Option<String>,
}

pub struct TestApp {
    pub db: TestDb,
    pub prefix: String,
    pub client: reqwest::Client,
    pub admin: Identity,
    pub customer: Identity,
    pub cart: StubCart,
    service: Option<RunningService>,
    base: String,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> Self {
        // Logs are captured by the test runner and shown for failing tests.
        shop_common::telemetry::init_logging();
        let db = test_db().await;
        let prefix = unique_prefix();
        let cart = StubCart::start().await;
        let mut settings = Settings::from_env(&service_env(&db, &prefix)).expect("order settings");
        settings.cart_url = options.cart_url.unwrap_or_else(|| cart.url.clone());
        settings.cart_timeout = Duration::from_secs(3);
        if let Some(timeout) = options.payment_timeout {
            settings.payment_timeout = timeout;
        }
        if let Some(payment) = options.payment {
            settings.payment = payment;
        }
        if let Some(url) = options.smtp_url {
            settings.smtp =
                Some(shop_order::tasks::mailer::SmtpSettings::parse(&url, "Shop <shop@example.com>").unwrap());
        }
        let running = match options.provider {
            Some(provider) => shop_order::start_with_provider(settings, provider).await,
            None => shop_order::start(settings).await,
        }
        .expect("the order service starts");
        Self {
            db,
            prefix,
            client: reqwest::Client::new(),
            admin: identity(Role::Admin),
            customer: identity(Role::Customer),
            cart,
            base: running.base_url(),
            service: Some(running),
        }
    }

    pub async fn stop(mut self) {
        if let Some(running) = self.service.take() {
            running.stop().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    pub fn request(&self, method: Method, path: &str, caller: Option<&Identity>) -> RequestBuilder {
        let builder = self.client.request(method, self.url(path));
        match caller {
            Some(identity) => identity.to_headers().into_iter().fold(builder, |b, (k, v)| b.header(k, v)),
            None => builder,
        }
    }

    pub async fn get(&self, path: &str, caller: Option<&Identity>) -> Response {
        self.request(Method::GET, path, caller).send().await.unwrap()
    }

    /// `POST /orders` as `caller` with an optional Idempotency-Key.
    pub async fn post_order(&self, caller: &Identity, body: Option<&Value>, key: Option<&str>) -> Response {
        let mut builder = self.request(Method::POST, "/orders", Some(caller));
        if let Some(body) = body {
            builder = builder.json(body);
        }
        if let Some(key) = key {
            builder = builder.header("Idempotency-Key", key);
        }
        builder.send().await.unwrap()
    }

    /// `POST /orders` as a guest holding `cart_token`.
    pub async fn post_guest_order(&self, cart_token: &str, body: &Value, key: Option<&str>) -> Response {
        let mut builder = self.request(Method::POST, "/orders", None).header("X-Cart-Token", cart_token).json(body);
        if let Some(key) = key {
            builder = builder.header("Idempotency-Key", key);
        }
        builder.send().await.unwrap()
    }

    pub async fn put(&self, path: &str, caller: Option<&Identity>) -> Response {
        self.request(Method::PUT, path, caller).send().await.unwrap()
    }

    /// Inserts a product into the order service's snapshot directly.
    pub async fn seed_product(&self, price_minor: i64, currency: &str, active: bool) -> Uuid {
        let id = Uuid::now_v7();
        let mut conn = self.db.connect().await;
        diesel::sql_query(format!(
            "INSERT INTO products (product_id, sku, name, price_minor, currency, active, source_updated_at)
             VALUES ('{id}', 'SKU-{short}', 'Product {short}', {price_minor}, '{currency}', {active}, now())",
            short = &id.simple().to_string()[24..]
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        id
    }

    /// A user order of `quantity` × a fresh product at `price_minor` EUR; returns (order id, body).
    pub async fn place_order(&self, caller: &Identity, price_minor: i64, quantity: i64) -> (Uuid, Value) {
        let product = self.seed_product(price_minor, "EUR", true).await;
        self.cart.set(&format!("user:{}", caller.user_id), &[(product, quantity)]);
        let response = self.post_order(caller, None, None).await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        (Uuid::parse_str(body["id"].as_str().unwrap()).unwrap(), body)
    }

    pub async fn status_of(&self, order: Uuid) -> String {
        let body: Value = self.get(&format!("/orders/{order}"), Some(&self.admin)).await.json().await.unwrap();
        body["status"].as_str().unwrap_or_default().to_owned()
    }

    pub async fn wait_status(&self, order: Uuid, status: &str) {
        wait_until(EVENT_TIMEOUT, &format!("order {order} to be {status}"), || async move {
            self.status_of(order).await == status
        })
        .await
        .unwrap();
    }

    /// Publishes `event` to `<prefix><topic>` with `key` as the record key.
    pub async fn publish(&self, topic: &str, key: &str, event: &Envelope) {
        let bootstrap = shop_testkit::kafka::bootstrap();
        let settings = KafkaSettings::from_env(&Env::from_pairs([("KAFKA_BOOTSTRAP", bootstrap.as_str())])).unwrap();
        let producer = EventProducer::new(&settings, "order-test").unwrap();
        let record = OutgoingRecord {
            topic: self.topic(topic),
            key: key.to_owned(),
            payload: serde_json::to_vec(event).unwrap(),
            headers: vec![],
        };
        producer.publish(&record).await.unwrap();
    }

    pub async fn publish_reserved(&self, order: Uuid) -> Envelope {
        let event = Envelope::new(
            "inventory.reserved",
            1,
            "inventory",
            order.to_string(),
            json!({"order_id": order, "lines": [], "reserved_at": chrono::Utc::now()}),
        );
        self.publish("inventory_events", &order.to_string(), &event).await;
        event
    }

    pub async fn publish_rejected(&self, order: Uuid) -> Envelope {
        let event = Envelope::new(
            "inventory.rejected",
            1,
            "inventory",
            order.to_string(),
            json!({"order_id": order, "reason": "insufficient_stock", "lines": [], "rejected_at": chrono::Utc::now()}),
        );
        self.publish("inventory_events", &order.to_string(), &event).await;
        event
    }

    /// Waits until the consumer recorded `event` in its inbox.
    pub async fn wait_consumed(&self, event: &Envelope) {
        let db = &self.db;
        let id = event.id;
        wait_until(EVENT_TIMEOUT, &format!("event {id} to be consumed"), || async move {
            let mut conn = db.connect().await;
            count(&mut conn, &format!("SELECT count(*) AS n FROM inbox WHERE event_id = '{id}'")).await == 1
        })
        .await
        .unwrap();
    }
}

pub fn problem_code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

pub fn address() -> Value {
    json!({"name": "Ada Lovelace", "line1": "1 Analytical Way", "city": "London", "postal_code": "N1 7AA", "country": "GB"})
}
