//! Test helpers: fake upstreams, the gateway under test, auth fixtures and problem+json assertions.

pub mod auth;
pub mod fake;
pub mod relay;

pub use fake::FakeUpstream;

use shop_common::service::RunningService;
use shop_common::settings::Env;
use shop_gateway::upstream::Service;
use std::net::TcpListener;

/// A URL where nothing listens: a port that was bound, then released.
pub fn dead_url() -> String {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("http://127.0.0.1:{port}")
}

/// The gateway under test plus a client for it.
pub struct TestGateway {
    pub running: RunningService,
    pub client: reqwest::Client,
}

impl TestGateway {
    /// Starts the gateway with `upstreams` (services not listed point at a dead port, never at the
    /// default ports where a developer's stack might run) and extra variables.
    pub async fn start(upstreams: &[(Service, String)], extra: &[(&str, &str)]) -> Self {
        let mut pairs: Vec<(String, String)> = vec![
            ("PORT".into(), "0".into()),
            ("HTTP_WORKERS".into(), "2".into()),
            ("SHUTDOWN_GRACE_MS".into(), "1000".into()),
            // Every test client is 127.0.0.1: each gateway counts its own requests.
            ("RATE_LIMIT_KEY_PREFIX".into(), format!("{}ratelimit:", shop_testkit::unique_prefix())),
        ];
        for service in Service::ALL {
            let url = upstreams.iter().find(|(s, _)| *s == service).map_or_else(dead_url, |(_, url)| url.clone());
            pairs.push((service.url_variable().into(), url));
        }
        for name in ["REDIS_URL", "REDIS_HOST", "REDIS_PORT"] {
            if let Ok(value) = std::env::var(name) {
                pairs.push((name.into(), value));
            }
        }
        pairs.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let env = Env::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let settings = shop_gateway::Settings::from_env(&env).unwrap();
        let running = shop_gateway::start(settings).await.unwrap();
        Self { running, client: reqwest::Client::new() }
    }

    /// Starts the gateway in front of `fakes`, each serving the service it is named after.
    pub async fn in_front_of(fakes: &[&FakeUpstream], extra: &[(&str, &str)]) -> Self {
        let upstreams: Vec<(Service, String)> =
            fakes.iter().map(|fake| (service_named(fake.name), fake.url())).collect();
        Self::start(&upstreams, extra).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.base_url())
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn stop(self) {
        self.running.stop().await;
    }
}

pub fn service_named(name: &str) -> Service {
    Service::ALL.into_iter().find(|s| s.name() == name).unwrap()
}

/// One fake per service, each named after the service it stands in for.
pub fn fake_platform() -> Vec<FakeUpstream> {
    Service::ALL.into_iter().map(|service| FakeUpstream::start(service.name())).collect()
}

/// Asserts a problem+json response with `status` and `code`; returns its body.
pub async fn assert_problem(response: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "status");
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["request_id"].is_string(), "{body}");
    body
}
