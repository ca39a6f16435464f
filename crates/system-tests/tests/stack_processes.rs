//! The whole stack as real processes: the six service binaries and the gateway start, the
//! gateway's `/health` reports every service up, a stopped service turns it 503 naming the service
//! and a restarted one turns it back to 200, and SIGTERM stops every binary cleanly (exit 0).
//!
//! Needs the binaries built (`cargo build --workspace --bins`; `make test` does it first).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use shop_testkit::{TestDb, unique_prefix, wait_for};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// name, binary, migration set, gateway variable naming its URL.
const SERVICES: &[(&str, &str, &str, &str)] = &[
    ("auth", "shop-auth", "auth", "AUTH_SERVICE_URL"),
    ("catalog", "shop-catalog", "catalog", "CATALOG_SERVICE_URL"),
    ("cart", "shop-cart", "cart", "CART_SERVICE_URL"),
    ("order", "shop-order", "orders", "ORDER_SERVICE_URL"),
    ("inventory", "shop-inventory", "inventory", "INVENTORY_SERVICE_URL"),
    ("analytics", "shop-analytics", "analytics", "ANALYTICS_SERVICE_URL"),
];

fn binary(name: &str) -> PathBuf {
    // Test executables live in target/<profile>/deps; the binaries one level up.
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(|deps| deps.parent()).unwrap().join(name);
    assert!(path.exists(), "{} is missing: run `cargo build --workspace --bins` first", path.display());
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process that is killed if the test fails before stopping it.
struct Process {
    name: String,
    child: Child,
}

impl Process {
    fn spawn(name: &str, binary_name: &str, env: &[(&str, String)]) -> Self {
        let mut command = Command::new(binary(binary_name));
        command
            .env_clear()
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        command
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn")
            .env("LOG_FORMAT", "text");
        for inherited in ["KAFKA_BOOTSTRAP", "REDIS_HOST", "REDIS_PORT", "REDIS_URL"] {
            if let Ok(value) = std::env::var(inherited) {
                command.env(inherited, value);
            }
        }
        Self { name: name.to_owned(), child: command.spawn().unwrap() }
    }

    /// SIGTERM, then wait (bounded) for the exit status.
    fn terminate(mut self) -> ExitStatus {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "{} did not stop within 30 s of SIGTERM", self.name);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn gateway_health(client: &reqwest::Client, url: &str) -> Option<(u16, serde_json::Value)> {
    let response = client.get(url).timeout(Duration::from_secs(5)).send().await.ok()?;
    let status = response.status().as_u16();
    Some((status, response.json().await.ok()?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stack_starts_reports_health_and_stops_on_sigterm() {
    let prefix = unique_prefix();
    let mut databases = Vec::new();
    let mut processes = Vec::new();
    let mut gateway_env: Vec<(&str, String)> = vec![("PORT", free_port().to_string()), ("HTTP_WORKERS", "1".into())];
    let mut service_envs = Vec::new();
    for (name, binary_name, set, url_variable) in SERVICES {
        let migrations = match *name {
            "auth" => shop_auth::DEFINITION.migrations,
            "catalog" => shop_catalog::DEFINITION.migrations,
            "cart" => shop_cart::DEFINITION.migrations,
            "order" => shop_order::DEFINITION.migrations,
            "inventory" => shop_inventory::DEFINITION.migrations,
            _ => shop_analytics::DEFINITION.migrations,
        };
        let db = TestDb::create(set, migrations).await.unwrap();
        let port = free_port();
        let env = vec![
            ("PORT", port.to_string()),
            ("DATABASE_URL", db.url.clone()),
            ("TOPIC_PREFIX", prefix.clone()),
            ("HTTP_WORKERS", "1".to_owned()),
            ("DB_POOL_SIZE", "3".to_owned()),
        ];
        processes.push(Process::spawn(name, binary_name, &env));
        service_envs.push((*name, *binary_name, env));
        gateway_env.push((url_variable, format!("http://127.0.0.1:{port}")));
        databases.push(db);
    }
    let gateway_url = format!("http://127.0.0.1:{}/health", gateway_env[0].1);
    let gateway = Process::spawn("gateway", "shop-gateway", &gateway_env);
    let client = reqwest::Client::new();

    let report = wait_for(Duration::from_secs(90), "the gateway to report every service up", || async {
        gateway_health(&client, &gateway_url).await.filter(|(status, _)| *status == 200).map(|(_, body)| body)
    })
    .await
    .unwrap();
    for (name, ..) in SERVICES {
        assert_eq!(report["services"][name]["status"], "up", "{name}: {report}");
        for dependency in ["postgres", "redis", "broker"] {
            assert_eq!(report["services"][name]["checks"][dependency]["status"], "up", "{name}/{dependency}: {report}");
        }
    }

    // Stop the catalog: a graceful exit, and the gateway names it as down.
    let catalog_index = SERVICES.iter().position(|(name, ..)| *name == "catalog").unwrap();
    let catalog = processes.remove(catalog_index);
    let status = catalog.terminate();
    assert!(status.success(), "catalog exit status after SIGTERM: {status}");
    let report = wait_for(Duration::from_secs(20), "the gateway to report the catalog down", || async {
        gateway_health(&client, &gateway_url).await.filter(|(status, _)| *status == 503).map(|(_, body)| body)
    })
    .await
    .unwrap();
    assert_eq!(report["services"]["catalog"]["status"], "down", "{report}");
    assert_eq!(report["services"]["auth"]["status"], "up", "{report}");

    // Start it again on the same port: health returns to 200.
    let (name, binary_name, env) = &service_envs[catalog_index];
    processes.push(Process::spawn(name, binary_name, env));
    wait_for(Duration::from_secs(60), "the gateway to report all up again", || async {
        gateway_health(&client, &gateway_url).await.filter(|(status, _)| *status == 200)
    })
    .await
    .unwrap();

    for process in processes.into_iter().chain([gateway]) {
        let name = process.name.clone();
        let status = process.terminate();
        assert!(status.success(), "{name} exit status after SIGTERM: {status}");
    }
}
