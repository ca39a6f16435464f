//! `TestApp`: the catalog service started in-process (port 0) on its own database, topic prefix
//! and Redis key prefix, with typed helpers for its endpoints.

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use shop_catalog::domain::Product;
use shop_catalog::{DEFINITION, Settings};
use shop_common::auth::{Identity, Role};
use shop_common::http::Page;
use shop_common::service::RunningService;
use shop_common::settings::Secret;
use shop_testkit::{TestDb, service_env, unique_prefix};
use std::time::Duration;
use uuid::Uuid;

pub const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

pub struct TestApp {
    pub db: TestDb,
    pub prefix: String,
    pub client: reqwest::Client,
    pub admin: Identity,
    pub customer: Identity,
    service: Option<RunningService>,
    base: String,
}

pub fn identity(role: Role) -> Identity {
    Identity { user_id: Uuid::new_v4(), roles: vec![role], token_id: None, token_expires_at: None, session_id: None }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with_redis(None).await
    }

    /// With `redis_url` set, the service talks to that Redis instead (a dead port simulates an outage).
    pub async fn spawn_with_redis(redis_url: Option<&str>) -> Self {
        let db = TestDb::create("catalog", DEFINITION.migrations).await.expect("a test database");
        let prefix = unique_prefix();
        let mut settings = Settings::from_env(&service_env(&db, &prefix)).expect("catalog settings");
        if let Some(url) = redis_url {
            settings.service.redis.url = Secret::new(url);
        }
        let running = shop_catalog::start(settings).await.expect("the catalog service starts");
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
        self.client = reqwest::Client::new();
        if let Some(running) = self.service.take() {
            running.stop().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn request(&self, method: Method, path: &str, caller: Option<&Identity>) -> RequestBuilder {
        let builder = self.client.request(method, self.url(path));
        match caller {
            Some(identity) => identity.to_headers().into_iter().fold(builder, |b, (k, v)| b.header(k, v)),
            None => builder,
        }
    }

    pub async fn send(builder: RequestBuilder) -> Response {
        builder.send().await.expect("a response from the catalog service")
    }

    pub async fn get(&self, path: &str) -> Response {
        Self::send(self.request(Method::GET, path, None)).await
    }

    pub async fn get_as(&self, path: &str, caller: &Identity) -> Response {
        Self::send(self.request(Method::GET, path, Some(caller))).await
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let response = self.get(path).await;
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    // ---- products ----

    pub async fn post_product(&self, body: &Value) -> Response {
        Self::send(self.request(Method::POST, "/products", Some(&self.admin)).json(body)).await
    }

    pub async fn create_product(&self, body: &Value) -> Product {
        let response = self.post_product(body).await;
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "create product: {text}");
        serde_json::from_str(&text).expect("a product")
    }

    pub async fn put_product(&self, id: impl std::fmt::Display, body: &Value, if_match: Option<&str>) -> Response {
        let mut builder = self.request(Method::PUT, &format!("/products/{id}"), Some(&self.admin)).json(body);
        if let Some(tag) = if_match {
            builder = builder.header("if-match", tag);
        }
        Self::send(builder).await
    }

    pub async fn delete_product(&self, id: impl std::fmt::Display) -> Response {
        Self::send(self.request(Method::DELETE, &format!("/products/{id}"), Some(&self.admin))).await
    }

    pub async fn product(&self, id: impl std::fmt::Display) -> Product {
        let response = self.get(&format!("/products/{id}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("a product")
    }

    pub async fn page(&self, path: &str) -> Page<Product> {
        serde_json::from_value(self.get_json(path).await).expect("a page of products")
    }

    // ---- categories ----

    pub async fn post_category(&self, body: &Value) -> Response {
        Self::send(self.request(Method::POST, "/categories", Some(&self.admin)).json(body)).await
    }

    pub async fn create_category(&self, slug: &str, parent: Option<&str>) {
        let response = self.post_category(&json!({"slug": slug, "name": slug.to_uppercase(), "parent": parent})).await;
        let status = response.status();
        assert_eq!(status, StatusCode::CREATED, "create category {slug}: {}", response.text().await.unwrap());
    }

    // ---- state ----

    pub async fn sql_i64(&self, sql: &str) -> i64 {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            value: i64,
        }
        let mut conn = self.db.connect().await;
        let row: Row = diesel::sql_query(sql).get_result(&mut conn).await.expect("the query runs");
        row.value
    }

    pub fn topic(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

/// A valid product body with `sku`, `name` and price in cents; extend with `merge`.
pub fn product_body(sku: &str, name: &str, amount_minor: i64) -> Value {
    json!({"sku": sku, "name": name, "description": format!("{name} description"),
           "price": {"amount_minor": amount_minor, "currency": "EUR"}})
}

pub fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    base
}

/// A problem+json body, parsed.
pub async fn problem(response: Response) -> Value {
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    assert!(content_type.starts_with("application/problem+json"), "content type {content_type}");
    response.json().await.expect("a problem body")
}

pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["field"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

pub fn names(page: &Page<Product>) -> Vec<String> {
    page.items.iter().map(|p| p.name.clone()).collect()
}
