//! `TestApp`: the auth service started in-process (port 0) on its own database and topic prefix,
//! with typed helpers for every endpoint and for checking tokens against the served JWKS.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use shop_auth::tokens::TokenResponse;
use shop_auth::{DEFINITION, Settings};
use shop_common::auth::{AccessClaims, Identity};
use shop_common::redis::{RedisPool, redis};
use shop_common::service::RunningService;
use shop_common::settings::{Env, Secret};
use shop_testkit::{TestDb, service_env, unique_prefix};
use std::time::Duration;
use uuid::Uuid;

pub const PASSWORD: &str = "correct horse battery";

/// A running auth service and what a test needs around it.
pub struct TestApp {
    pub db: TestDb,
    pub prefix: String,
    /// The `x-forwarded-for` this app's requests carry: a random IP per test, so per-IP rate
    /// limits in the shared Redis never mix tests.
    pub ip: String,
    pub client: reqwest::Client,
    pub redis: RedisPool,
    env: Vec<(String, String)>,
    secret_key: Option<String>,
    service: Option<RunningService>,
    base: String,
}

/// Builder-ish options for [`TestApp::spawn_with`].
#[derive(Default)]
pub struct Options {
    /// Auth-specific variables (`LOGIN_LIMIT_PER_ACCOUNT`, `ADMIN_EMAIL`, `JWT_ALGORITHM`...).
    pub env: Vec<(&'static str, String)>,
    /// `SECRET_KEY` (read by the common settings).
    pub secret_key: Option<String>,
}

impl Options {
    pub fn env(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.env.push((name, value.into()));
        self
    }
}

pub fn random_ip() -> String {
    let bytes = Uuid::new_v4().into_bytes();
    format!("10.{}.{}.{}", bytes[0], bytes[1], bytes[2].max(1))
}

pub fn unique_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", &Uuid::new_v4().simple().to_string()[..10])
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> Self {
        let db = TestDb::create("auth", DEFINITION.migrations).await.expect("a test database");
        let prefix = unique_prefix();
        let service_settings = DEFINITION.settings(&service_env(&db, &prefix)).expect("common settings");
        let redis = shop_common::redis::build_pool(&service_settings.redis).expect("a redis pool");
        let mut app = Self {
            db,
            prefix,
            ip: random_ip(),
            client: reqwest::Client::new(),
            redis,
            env: options.env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            secret_key: options.secret_key,
            service: None,
            base: String::new(),
        };
        app.start().await;
        app
    }

    pub fn settings(&self) -> Settings {
        let mut service = DEFINITION.settings(&service_env(&self.db, &self.prefix)).expect("common settings");
        service.secret_key = self.secret_key.clone().map(Secret::new);
        let env = Env::from_pairs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        Settings::from_parts(service, &env).expect("auth settings")
    }

    async fn start(&mut self) {
        let running = shop_auth::start(self.settings()).await.expect("the auth service starts");
        self.base = running.base_url();
        self.service = Some(running);
    }

    /// Stops the service and starts it again on the same database (a new port).
    pub async fn restart(&mut self) {
        self.client = reqwest::Client::new();
        if let Some(running) = self.service.take() {
            running.stop().await;
        }
        self.start().await;
    }

    pub async fn stop(mut self) {
        // Closing the pooled keep-alive connections first lets the graceful stop finish at once
        // instead of waiting out the drain timeout for idle connections.
        self.client = reqwest::Client::new();
        if let Some(running) = self.service.take() {
            running.stop().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).header("x-forwarded-for", &self.ip)
    }

    fn as_caller(&self, builder: RequestBuilder, identity: &Identity) -> RequestBuilder {
        identity.to_headers().into_iter().fold(builder, |b, (name, value)| b.header(name, value))
    }

    async fn send(builder: RequestBuilder) -> Response {
        builder.send().await.expect("a response from the auth service")
    }

    // ---- endpoints ----

    pub async fn get(&self, path: &str) -> Response {
        Self::send(self.request(reqwest::Method::GET, path)).await
    }

    pub async fn register_json(&self, body: &Value) -> Response {
        Self::send(self.request(reqwest::Method::POST, "/auth/register").json(body)).await
    }

    pub async fn register(&self, email: &str, password: &str, name: &str) -> Response {
        self.register_json(&json!({"email": email, "password": password, "name": name})).await
    }

    /// Registers `email` with [`PASSWORD`] and returns the token pair.
    pub async fn register_ok(&self, email: &str) -> TokenResponse {
        let response = self.register(email, PASSWORD, "Test User").await;
        assert_eq!(response.status(), StatusCode::CREATED, "register {email}: {}", response.text().await.unwrap());
        response.json().await.expect("a TokenResponse")
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        let body = json!({"email": email, "password": password});
        Self::send(self.request(reqwest::Method::POST, "/auth/login").json(&body)).await
    }

    pub async fn login_ok(&self, email: &str, password: &str) -> TokenResponse {
        let response = self.login(email, password).await;
        assert_eq!(response.status(), StatusCode::OK, "login {email}: {}", response.text().await.unwrap());
        response.json().await.expect("a TokenResponse")
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        let body = json!({"refresh_token": refresh_token});
        Self::send(self.request(reqwest::Method::POST, "/auth/refresh").json(&body)).await
    }

    pub async fn refresh_ok(&self, refresh_token: &str) -> TokenResponse {
        let response = self.refresh(refresh_token).await;
        assert_eq!(response.status(), StatusCode::OK, "refresh: {}", response.text().await.unwrap());
        response.json().await.expect("a TokenResponse")
    }

    /// `POST /auth/logout` as `identity`, optionally naming a refresh token.
    pub async fn logout(&self, identity: &Identity, refresh_token: Option<&str>) -> Response {
        let mut builder = self.as_caller(self.request(reqwest::Method::POST, "/auth/logout"), identity);
        if let Some(token) = refresh_token {
            builder = builder.json(&json!({"refresh_token": token}));
        }
        Self::send(builder).await
    }

    pub async fn logout_get(&self, identity: &Identity) -> Response {
        Self::send(self.as_caller(self.request(reqwest::Method::GET, "/auth/logout"), identity)).await
    }

    pub async fn get_profile(&self, identity: &Identity) -> Response {
        Self::send(self.as_caller(self.request(reqwest::Method::GET, "/auth/profile"), identity)).await
    }

    pub async fn put_profile(&self, identity: &Identity, body: &Value) -> Response {
        Self::send(self.as_caller(self.request(reqwest::Method::PUT, "/auth/profile"), identity).json(body)).await
    }

    pub async fn list_users(&self, identity: &Identity, query: &str) -> Response {
        let path = format!("/auth/users{query}");
        Self::send(self.as_caller(self.request(reqwest::Method::GET, &path), identity)).await
    }

    pub async fn set_role(&self, identity: &Identity, user: &str, body: &Value) -> Response {
        let path = format!("/auth/users/{user}/role");
        Self::send(self.as_caller(self.request(reqwest::Method::PUT, &path), identity).json(body)).await
    }

    pub async fn jwks_response(&self) -> Response {
        self.get("/.well-known/jwks.json").await
    }

    pub async fn jwks(&self) -> JwkSet {
        let response = self.jwks_response().await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("a JWK set")
    }

    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.text().await.expect("metrics text")
    }

    // ---- tokens ----

    /// Verifies `token` the way the gateway will: the key named by `kid` from the served JWKS,
    /// EdDSA pinned, `iss`/`aud`/`exp`/`nbf` checked.
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, String> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
        let kid = header.kid.ok_or("no kid")?;
        let jwks = self.jwks().await;
        let jwk = jwks.find(&kid).ok_or_else(|| format!("kid {kid} is not in the JWKS"))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
        let settings = self.settings();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[settings.tokens.issuer.as_str()]);
        validation.set_audience(&[settings.tokens.audience.as_str()]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        jsonwebtoken::decode::<AccessClaims>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| e.to_string())
    }

    /// The identity the gateway would forward for a verified access token.
    pub async fn identity(&self, tokens: &TokenResponse) -> Identity {
        let claims = self.verify(&tokens.access_token).await.expect("a valid access token");
        identity_of(&claims)
    }

    // ---- state ----

    pub async fn redis_conn(&self) -> deadpool_redis::Connection {
        self.redis.get().await.expect("a redis connection")
    }

    pub async fn redis_exists(&self, key: &str) -> bool {
        redis::cmd("EXISTS").arg(key).query_async::<i64>(&mut self.redis_conn().await).await.expect("EXISTS") == 1
    }

    /// A subscription to the deny-list announcements (what the gateways' replicas hear).
    pub async fn denylist_announcements(&self) -> redis::aio::PubSubStream {
        let settings = shop_common::settings::RedisSettings::from_env(&Env::process()).expect("redis settings");
        let client = redis::Client::open(settings.url.expose()).expect("a redis client");
        let mut pubsub = client.get_async_pubsub().await.expect("a pub/sub connection");
        pubsub.subscribe(shop_common::auth::denylist::CHANNEL).await.expect("SUBSCRIBE");
        pubsub.into_on_message()
    }

    pub async fn redis_ttl(&self, key: &str) -> i64 {
        redis::cmd("TTL").arg(key).query_async(&mut self.redis_conn().await).await.expect("TTL")
    }

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

    pub async fn sql(&self, sql: &str) {
        use diesel_async::RunQueryDsl;
        let mut conn = self.db.connect().await;
        diesel::sql_query(sql).execute(&mut conn).await.expect("the statement runs");
    }

    pub async fn user_count(&self) -> i64 {
        self.sql_i64("SELECT count(*) AS value FROM users").await
    }
}

pub fn identity_of(claims: &AccessClaims) -> Identity {
    Identity {
        user_id: claims.sub.parse().expect("sub is a UUID"),
        roles: claims.roles.clone(),
        token_id: Some(claims.jti.clone()),
        token_expires_at: Some(claims.exp),
        session_id: Some(claims.sid.clone()),
    }
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

pub const EVENT_TIMEOUT: Duration = Duration::from_secs(20);
