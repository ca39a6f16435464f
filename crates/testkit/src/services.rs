//! Starting services in-process for a test, with settings pointing at the test's own database and
//! topic prefix.

use crate::db::TestDb;
use shop_common::service::RunningService;
use shop_common::settings::Env;

/// The environment a service under test reads: its test database, the test's topic prefix, a
/// free port, one worker. Broker and Redis addresses follow the process environment if set.
pub fn service_env(db: &TestDb, topic_prefix: &str) -> Env {
    let mut pairs: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db.url.clone()),
        ("TOPIC_PREFIX".into(), topic_prefix.into()),
        ("PORT".into(), "0".into()),
        ("HTTP_WORKERS".into(), "1".into()),
        ("DB_POOL_SIZE".into(), "4".into()),
        ("SHUTDOWN_GRACE_MS".into(), "2000".into()),
        ("KAFKA_PARTITIONS".into(), "2".into()),
    ];
    for name in ["KAFKA_BOOTSTRAP", "REDIS_URL", "REDIS_HOST", "REDIS_PORT"] {
        if let Ok(value) = std::env::var(name) {
            pairs.push((name.into(), value));
        }
    }
    Env::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// A running service plus a client for it; stops the service when dropped via [`TestService::stop`].
pub struct TestService {
    pub running: RunningService,
    pub client: reqwest::Client,
}

impl TestService {
    pub fn new(running: RunningService) -> Self {
        Self { running, client: reqwest::Client::new() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running.base_url())
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request to the service under test")
    }

    pub async fn stop(self) {
        self.running.stop().await;
    }
}
