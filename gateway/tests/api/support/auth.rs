//! Auth fixtures: the gateway in front of a fake platform whose auth service publishes a key
//! generated for the test, tokens signed with it, and direct access to the deny-list in Redis.

use super::{FakeUpstream, TestGateway, fake_platform};
use reqwest::Method;
use shop_common::auth::denylist;
use shop_common::redis::{self, RedisPool, redis as redis_crate};
use shop_common::settings::{Env, RedisSettings};
use shop_gateway::upstream::Service;
use shop_testkit::jwt::{self, Ed25519Key};

/// The gateway under test, every service faked, and the auth service's signing key.
pub struct AuthedPlatform {
    pub fakes: Vec<FakeUpstream>,
    pub gateway: TestGateway,
    pub key: Ed25519Key,
}

impl AuthedPlatform {
    /// The auth fake serves a JWKS with one fresh key; `extra` are more gateway variables.
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        let key = Ed25519Key::generate();
        let fakes = fake_platform();
        let platform_fakes: Vec<&FakeUpstream> = fakes.iter().collect();
        platform_fakes[0].serve_jwks(jwt::jwks(&[&key]));
        assert_eq!(platform_fakes[0].name, "auth");
        let gateway = TestGateway::in_front_of(&platform_fakes, extra).await;
        Self { fakes, gateway, key }
    }

    pub fn fake(&self, service: Service) -> &FakeUpstream {
        self.fakes.iter().find(|fake| fake.name == service.name()).unwrap()
    }

    pub fn auth(&self) -> &FakeUpstream {
        self.fake(Service::Auth)
    }

    /// A valid access token for a new user with `roles`, as the auth service would issue it.
    pub fn token(&self, roles: &[&str]) -> String {
        self.key.sign(&jwt::access_claims(roles, 900))
    }

    /// Sends `method path` with `Authorization: Bearer <token>` when a token is given.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.gateway.client.request(method, self.gateway.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        self.call(Method::GET, path, token).await
    }

    /// Requests the fakes' echo handlers saw, all services together.
    pub fn forwarded(&self) -> usize {
        self.fakes.iter().map(FakeUpstream::requests).sum()
    }

    pub async fn stop(self) {
        self.gateway.stop().await;
        for fake in self.fakes {
            fake.stop().await;
        }
    }
}

/// The echo of a forwarded request (asserting it was forwarded with a 200).
pub async fn echoed(response: reqwest::Response) -> serde_json::Value {
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "expected the upstream's echo, got: {body}");
    serde_json::from_str(&body).unwrap()
}

/// The `x-auth-*` headers the upstream received.
pub fn identity_headers(echo: &serde_json::Value) -> Vec<(String, String)> {
    echo["headers"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| name.starts_with("x-auth-"))
        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
        .collect()
}

/// Asserts a 401 problem+json with a bearer challenge; returns its body.
pub async fn assert_unauthorized(response: reqwest::Response) -> serde_json::Value {
    let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    assert!(challenge.as_deref().is_some_and(|c| c.starts_with("Bearer")), "challenge: {challenge:?}");
    super::assert_problem(response, 401, "unauthorized").await
}

/// The Redis the tests run against (the process environment, or the local default).
pub fn redis_pool() -> RedisPool {
    redis::build_pool(&RedisSettings::from_env(&Env::process()).unwrap()).unwrap()
}

/// Deny-lists `jti` the way the auth service's logout does: the key and its announcement.
pub async fn deny(pool: &RedisPool, jti: &str) {
    let mut conn = pool.get().await.unwrap();
    let () = redis_crate::pipe()
        .atomic()
        .cmd("SET")
        .arg(denylist::key(jti))
        .arg("1")
        .arg("EX")
        .arg(120)
        .ignore()
        .cmd("PUBLISH")
        .arg(denylist::CHANNEL)
        .arg(denylist::announcement(jti, 120))
        .ignore()
        .query_async(&mut conn)
        .await
        .unwrap();
}

/// Writes only the key, unannounced: what a replica can learn only by (re)loading.
pub async fn deny_unannounced(pool: &RedisPool, jti: &str) {
    let mut conn = pool.get().await.unwrap();
    let () = redis_crate::cmd("SET")
        .arg(denylist::key(jti))
        .arg("1")
        .arg("EX")
        .arg(120)
        .query_async(&mut conn)
        .await
        .unwrap();
}

/// The value of a counter series in a Prometheus exposition, 0 when absent.
pub fn counter(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |value| value.parse().unwrap())
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}
