//! The whole stack as real processes, for the tests in `tests/`: the six service binaries and the
//! gateway, each with its own fresh database, all on one topic prefix, so stacks of parallel tests
//! never see each other's data or events.
//!
//! Needs the binaries built (`cargo build --workspace --bins`; `make test` does it first).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test support: a broken harness should fail loudly

use diesel_migrations::EmbeddedMigrations;
use serde_json::{Value, json};
use shop_testkit::{TestDb, unique_prefix, wait_for};
use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A service of the stack: name, binary, migration set, the gateway variable naming its URL.
pub struct ServiceSpec {
    pub name: &'static str,
    pub binary: &'static str,
    pub migration_set: &'static str,
    pub url_variable: &'static str,
    pub migrations: fn() -> EmbeddedMigrations,
}

pub const SERVICES: &[ServiceSpec] = &[
    ServiceSpec {
        name: "auth",
        binary: "shop-auth",
        migration_set: "auth",
        url_variable: "AUTH_SERVICE_URL",
        migrations: shop_auth::DEFINITION.migrations,
    },
    ServiceSpec {
        name: "catalog",
        binary: "shop-catalog",
        migration_set: "catalog",
        url_variable: "CATALOG_SERVICE_URL",
        migrations: shop_catalog::DEFINITION.migrations,
    },
    ServiceSpec {
        name: "cart",
        binary: "shop-cart",
        migration_set: "cart",
        url_variable: "CART_SERVICE_URL",
        migrations: shop_cart::DEFINITION.migrations,
    },
    ServiceSpec {
        name: "order",
        binary: "shop-order",
        migration_set: "orders",
        url_variable: "ORDER_SERVICE_URL",
        migrations: shop_order::DEFINITION.migrations,
    },
    ServiceSpec {
        name: "inventory",
        binary: "shop-inventory",
        migration_set: "inventory",
        url_variable: "INVENTORY_SERVICE_URL",
        migrations: shop_inventory::DEFINITION.migrations,
    },
    ServiceSpec {
        name: "analytics",
        binary: "shop-analytics",
        migration_set: "analytics",
        url_variable: "ANALYTICS_SERVICE_URL",
        migrations: shop_analytics::DEFINITION.migrations,
    },
];

/// The demo admin every test stack bootstraps (auth's `ADMIN_EMAIL`/`ADMIN_PASSWORD`).
pub const ADMIN_EMAIL: &str = "admin@stack.test";
pub const ADMIN_PASSWORD: &str = "stack-admin-password";

pub fn binary(name: &str) -> PathBuf {
    // Test executables live in target/<profile>/deps; the binaries one level up.
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().and_then(|deps| deps.parent()).unwrap().join(name);
    assert!(path.exists(), "{} is missing: run `cargo build --workspace --bins` first", path.display());
    path
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process that is killed if the test fails before stopping it.
pub struct Process {
    pub name: String,
    child: Child,
}

impl Process {
    pub fn spawn(name: &str, binary_name: &str, env: &[(String, String)]) -> Self {
        let mut command = Command::new(binary(binary_name));
        command
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        command.env("PATH", std::env::var("PATH").unwrap_or_default());
        for (name, default) in [("RUST_LOG", "warn"), ("LOG_FORMAT", "text")] {
            if !env.iter().any(|(k, _)| k == name) {
                command.env(name, default);
            }
        }
        for inherited in ["KAFKA_BOOTSTRAP", "REDIS_HOST", "REDIS_PORT", "REDIS_URL"] {
            if let Ok(value) = std::env::var(inherited)
                && !env.iter().any(|(k, _)| k == inherited)
            {
                command.env(inherited, value);
            }
        }
        Self { name: name.to_owned(), child: command.spawn().unwrap() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then wait (bounded) for the exit status.
    pub fn terminate(mut self) -> ExitStatus {
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

    /// SIGKILL: no drain, no flush, no offset commit — a crash.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Extra settings for one stack.
#[derive(Default)]
pub struct StackOptions {
    /// Per service name (or "gateway"): extra variables.
    pub env: HashMap<&'static str, Vec<(String, String)>>,
    /// A broker other than the shared one (a test that stops its broker brings its own).
    pub kafka_bootstrap: Option<String>,
}

impl StackOptions {
    pub fn with(mut self, service: &'static str, name: &str, value: impl Into<String>) -> Self {
        self.env.entry(service).or_default().push((name.to_owned(), value.into()));
        self
    }
}

/// Six services and the gateway as processes; dropped, every process is killed.
pub struct Stack {
    pub prefix: String,
    pub gateway_url: String,
    pub client: reqwest::Client,
    processes: HashMap<String, Process>,
    envs: HashMap<String, Vec<(String, String)>>,
    databases: HashMap<String, TestDb>,
    /// Second (third, ...) instances: process name (`inventory-1`) → the service they replicate.
    replicas: HashMap<String, &'static str>,
}

impl Stack {
    /// Starts everything and waits until the gateway reports every service up.
    pub async fn start(options: StackOptions) -> Self {
        let prefix = unique_prefix();
        let mut databases = HashMap::new();
        let mut envs = HashMap::new();
        let gateway_port = free_port();
        let mut gateway_env: Vec<(String, String)> = vec![
            ("PORT".into(), gateway_port.to_string()),
            ("HTTP_WORKERS".into(), "2".into()),
            // Every test client is 127.0.0.1: each stack counts its own requests.
            ("RATE_LIMIT_KEY_PREFIX".into(), format!("{prefix}ratelimit:")),
        ];
        let mut service_urls = Vec::new();
        for spec in SERVICES {
            let db = TestDb::create(spec.migration_set, spec.migrations).await.unwrap();
            let port = free_port();
            service_urls.push((spec.url_variable, format!("http://127.0.0.1:{port}")));
            let mut env: Vec<(String, String)> = vec![
                ("PORT".into(), port.to_string()),
                ("DATABASE_URL".into(), db.url.clone()),
                ("TOPIC_PREFIX".into(), prefix.clone()),
                ("HTTP_WORKERS".into(), "2".into()),
                ("DB_POOL_SIZE".into(), "8".into()),
                ("KAFKA_PARTITIONS".into(), "2".into()),
                ("SHUTDOWN_GRACE_MS".into(), "2000".into()),
                // Static group membership, as `make run` and the deployments use: a restarted
                // process takes its partitions back at once (tansu never reassigns a crashed
                // member's partitions otherwise).
                ("KAFKA_GROUP_INSTANCE_ID".into(), format!("{}-0", spec.name)),
            ];
            if spec.name == "auth" {
                env.push(("ADMIN_EMAIL".into(), ADMIN_EMAIL.into()));
                env.push(("ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into()));
                // Every test client is 127.0.0.1: lift the per-IP limits.
                env.push(("REGISTER_LIMIT_PER_IP".into(), "1000000".into()));
                env.push(("LOGIN_LIMIT_PER_IP".into(), "1000000".into()));
            }
            if let Some(bootstrap) = &options.kafka_bootstrap {
                env.push(("KAFKA_BOOTSTRAP".into(), bootstrap.clone()));
            }
            databases.insert(spec.name.to_owned(), db);
            envs.insert(spec.name.to_owned(), env);
        }
        // The services that call each other synchronously learn where (the order reads the cart).
        for env in envs.values_mut() {
            env.extend(service_urls.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        }
        gateway_env.extend(service_urls.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        envs.insert("gateway".into(), gateway_env);
        for (service, extra) in options.env {
            envs.get_mut(service).unwrap_or_else(|| panic!("unknown service {service}")).extend(extra);
        }

        let mut stack = Stack {
            prefix,
            gateway_url: format!("http://127.0.0.1:{gateway_port}"),
            // Idle connections are dropped before the gateway's 5 s keep-alive closes them: a request
            // sent on a connection the server is closing at that instant fails (IncompleteMessage).
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .pool_idle_timeout(Duration::from_secs(2))
                .build()
                .unwrap(),
            processes: HashMap::new(),
            envs,
            databases,
            replicas: HashMap::new(),
        };
        for spec in SERVICES {
            stack.spawn(spec.name);
        }
        stack.spawn("gateway");
        stack.wait_healthy(Duration::from_secs(120)).await;
        stack
    }

    fn spawn(&mut self, name: &str) {
        let service = self.replicas.get(name).copied().unwrap_or(name);
        let binary = SERVICES.iter().find(|spec| spec.name == service).map_or("shop-gateway", |spec| spec.binary);
        let process = Process::spawn(name, binary, &self.envs[name]);
        self.processes.insert(name.to_owned(), process);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.gateway_url)
    }

    /// Where a service listens directly (bypassing the gateway).
    pub fn service_url(&self, name: &str) -> String {
        let port = &self.envs[name].iter().find(|(k, _)| k == "PORT").unwrap().1;
        format!("http://127.0.0.1:{port}")
    }

    /// Starts another instance of `service` (scale-out): the same database, topics, consumer group
    /// and settings, its own port and its own static-membership id (`KAFKA_GROUP_INSTANCE_ID`
    /// `<service>-<n>`; the first instance is `<service>-0`). Returns its process name
    /// (`inventory-1`, ...) for `kill`, `terminate`, `restart` and `service_url`, once its own
    /// `/health` answers 200. The gateway keeps routing HTTP to the first instance.
    pub async fn start_replica(&mut self, service: &'static str) -> String {
        let spec =
            SERVICES.iter().find(|spec| spec.name == service).unwrap_or_else(|| panic!("unknown service {service}"));
        let index = 1 + self.replicas.values().filter(|of| **of == spec.name).count();
        let name = format!("{}-{index}", spec.name);
        let mut env = self.envs[spec.name].clone();
        for (key, value) in &mut env {
            match key.as_str() {
                "PORT" => *value = free_port().to_string(),
                // Only the default id is replaced: a stack set up with dynamic membership (an
                // empty id) keeps it for its replicas too.
                "KAFKA_GROUP_INSTANCE_ID" if *value == format!("{}-0", spec.name) => value.clone_from(&name),
                _ => {}
            }
        }
        self.envs.insert(name.clone(), env);
        self.replicas.insert(name.clone(), spec.name);
        self.spawn(&name);
        self.wait_instance_healthy(&name, Duration::from_secs(60)).await;
        name
    }

    /// Waits until one process (service or replica) answers `/health` with 200, directly.
    pub async fn wait_instance_healthy(&self, name: &str, timeout: Duration) {
        let url = format!("{}/health", self.service_url(name));
        wait_for(timeout, &format!("{name} to report healthy"), || async {
            let response = self.client.get(&url).timeout(Duration::from_secs(5)).send().await.ok()?;
            (response.status() == 200).then_some(())
        })
        .await
        .unwrap();
    }

    /// A direct connection to a service's database, for assertions (replicas share it).
    pub async fn connect_db(&self, service: &str) -> diesel_async::AsyncPgConnection {
        self.databases[service].connect().await
    }

    pub async fn health(&self) -> Option<(u16, Value)> {
        let response = self.client.get(self.url("/health")).timeout(Duration::from_secs(5)).send().await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.json().await.ok()?))
    }

    pub async fn wait_healthy(&self, timeout: Duration) -> Value {
        wait_for(timeout, "the gateway to report every service up", || async {
            self.health().await.filter(|(status, _)| *status == 200).map(|(_, body)| body)
        })
        .await
        .unwrap()
    }

    /// SIGKILL one process (a crash).
    pub fn kill(&mut self, name: &str) {
        self.processes.remove(name).unwrap_or_else(|| panic!("{name} is not running")).kill();
    }

    /// SIGTERM one process and return its exit status.
    pub fn terminate(&mut self, name: &str) -> ExitStatus {
        self.processes.remove(name).unwrap_or_else(|| panic!("{name} is not running")).terminate()
    }

    /// Whether the named process (service, replica or gateway) runs (was not stopped by the test).
    pub fn is_running(&self, name: &str) -> bool {
        self.processes.contains_key(name)
    }

    /// Starts a stopped process again with the same settings (same port, same database).
    pub fn restart(&mut self, name: &str) {
        assert!(!self.processes.contains_key(name), "{name} is still running");
        self.spawn(name);
    }

    /// SIGTERM everything, services first, and assert each exits cleanly.
    pub fn stop(mut self) {
        let mut names: Vec<String> = self.processes.keys().filter(|name| *name != "gateway").cloned().collect();
        names.sort();
        names.push("gateway".into());
        for name in names {
            if let Some(process) = self.processes.remove(&name) {
                let status = process.terminate();
                assert!(status.success(), "{name} exit status after SIGTERM: {status}");
            }
        }
    }

    // --- API helpers through the gateway ---

    /// Logs in and returns the access token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let response = self
            .client
            .post(self.url("/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "login {email}: {body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn admin_token(&self) -> String {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// Registers a new customer and returns (email, access token).
    pub async fn new_customer(&self) -> (String, String) {
        let email = format!("c-{}@stack.test", &uuid::Uuid::new_v4().simple().to_string()[..16]);
        let password = "customer-password-1";
        let response = self
            .client
            .post(self.url("/auth/register"))
            .json(&json!({"email": email, "password": password, "name": "Stack Customer"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "register: {}", response.text().await.unwrap());
        let token = self.login(&email, password).await;
        (email, token)
    }

    /// Creates a product with stock as the admin; returns its id once inventory, the cart and the
    /// order service all know it (each learns it from `product_events`).
    pub async fn create_product(&self, admin: &str, price_minor: i64, stock: i64) -> String {
        let sku = format!("SYS-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]).to_uppercase();
        let response = self
            .client
            .post(self.url("/products"))
            .bearer_auth(admin)
            .json(&json!({
                "sku": sku,
                "name": format!("System test product {sku}"),
                "description": "Made by a system test.",
                "price": {"amount_minor": price_minor, "currency": "EUR"},
                "initial_stock": stock,
            }))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "create product: {body}");
        let id = body["id"].as_str().unwrap().to_owned();
        wait_for(Duration::from_secs(30), "inventory to hold the new product's stock", || async {
            let response = self.client.get(self.url(&format!("/inventory/{id}"))).send().await.ok()?;
            (response.status() == 200).then_some(())
        })
        .await
        .unwrap();
        // The order service prices from its own snapshot: an order placed before it has the
        // product would be refused as "unknown product", so wait for that too.
        let product_id: uuid::Uuid = id.parse().unwrap();
        let mut conn = self.databases["order"].connect().await;
        let query = format!("EXISTS (SELECT 1 FROM products WHERE product_id = '{product_id}')");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            use diesel_async::RunQueryDsl;
            let known: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&query))
                .get_result(&mut conn)
                .await
                .unwrap();
            if known {
                break;
            }
            assert!(Instant::now() < deadline, "the order service did not learn product {id} within 30 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        id
    }
}

/// The JSON body of a response, with its status, for assertions that print what came back.
pub async fn status_and_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// A broker of the test's own (tansu on a free port, stored in a fresh database), for tests that
/// stop and restart the broker without disturbing the shared one every other test uses.
pub struct PrivateBroker {
    pub port: u16,
    database: String,
    storage_url: String,
    process: Option<Process>,
}

impl PrivateBroker {
    pub async fn start() -> Self {
        use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
        let database = format!("shop_t_broker_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let server = shop_testkit::db::server_url();
        let mut admin = AsyncPgConnection::establish(&format!("{server}/postgres")).await.unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {database}")).await.unwrap();
        let schema = std::fs::read_to_string(workspace_root().join("scripts/tansu-schema.sql")).unwrap();
        let mut conn = AsyncPgConnection::establish(&format!("{server}/{database}")).await.unwrap();
        conn.batch_execute(&schema).await.unwrap();
        let storage_url = format!("{server}/{database}?sslmode=disable");
        let mut broker = PrivateBroker { port: free_port(), database, storage_url, process: None };
        broker.resume().await;
        broker
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port and storage; returns once it accepts connections.
    pub async fn resume(&mut self) {
        assert!(self.process.is_none(), "the broker is running");
        let tools = std::env::var("SHOP_TOOLS_DIR").map(PathBuf::from).unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".cache/shop/tools")
        });
        let listener = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(tools.join("bin/tansu"))
            .current_dir(&tools)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "error")
            .env("NO_COLOR", "1")
            .args([
                "broker",
                "--cluster-id",
                "shop",
                "--listener-url",
                &listener,
                "--advertised-listener-url",
                &listener,
            ])
            .args(["--storage-engine", &self.storage_url])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        self.process = Some(Process { name: "tansu".into(), child });
        wait_for(Duration::from_secs(30), "the private broker to accept connections", || async {
            tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.ok().map(|_| ())
        })
        .await
        .unwrap();
    }

    /// A broker crash: SIGKILL.
    pub fn kill(&mut self) {
        self.process.take().expect("the broker is not running").kill();
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        if let Some(process) = self.process.take() {
            process.kill();
        }
        let database = self.database.clone();
        // Drop runs outside any async context we could rely on: a private runtime on a thread.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
                let server = shop_testkit::db::server_url();
                if let Ok(mut admin) = AsyncPgConnection::establish(&format!("{server}/postgres")).await {
                    let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).await;
                }
            });
        })
        .join();
    }
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The gateway in-process, routing the named services (`"AUTH"`, `"CATALOG"`, ...) to the given
/// base URLs and every other service to a port where nothing listens.
pub async fn in_process_gateway(services: &[(&str, String)]) -> shop_common::service::RunningService {
    let mut pairs: Vec<(String, String)> =
        vec![("PORT".into(), "0".into()), ("SHUTDOWN_GRACE_MS".into(), "1000".into())];
    for name in ["AUTH", "CATALOG", "CART", "ORDER", "INVENTORY", "ANALYTICS"] {
        let url = services
            .iter()
            .find(|(service, _)| *service == name)
            .map_or_else(|| format!("http://127.0.0.1:{}", free_port()), |(_, url)| url.clone());
        pairs.push((format!("{name}_SERVICE_URL"), url));
    }
    for name in ["REDIS_URL", "REDIS_HOST", "REDIS_PORT"] {
        if let Ok(value) = std::env::var(name) {
            pairs.push((name.into(), value));
        }
    }
    let env = shop_common::settings::Env::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    shop_gateway::start(shop_gateway::Settings::from_env(&env).unwrap()).await.unwrap()
}
