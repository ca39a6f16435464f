//! A real Prometheus (Debian's `prometheus` binary, installed by `make monitoring-check`) scrapes a
//! real process stack with the shipped `deploy/prometheus/prometheus.yml` and `alerts.yml`, the
//! compose host names swapped for the stack's ports: every target is up, the alert rules load,
//! the gateway job keeps only the gateway's own series, and the series the dashboards are built on
//! arrive from every service.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail by panicking

use serde_json::Value;
use shop_system_tests::{SERVICES, Stack, StackOptions, free_port};
use shop_testkit::wait_for;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/prometheus")
}

/// The shipped config with compose addresses replaced by the stack's, and a 1 s interval.
fn config_for(stack: &Stack, prometheus_port: u16) -> String {
    let mut config = std::fs::read_to_string(deploy_dir().join("prometheus.yml")).unwrap();
    let gateway = stack.gateway_url.trim_start_matches("http://").to_owned();
    let mut replacements = vec![
        ("gateway:5001".to_owned(), gateway),
        ("localhost:9090".to_owned(), format!("127.0.0.1:{prometheus_port}")),
        ("scrape_interval: 15s".to_owned(), "scrape_interval: 1s".to_owned()),
        ("evaluation_interval: 15s".to_owned(), "evaluation_interval: 1s".to_owned()),
        ("scrape_timeout: 10s".to_owned(), "scrape_timeout: 1s".to_owned()),
    ];
    for (index, spec) in SERVICES.iter().enumerate() {
        let compose_address = format!("{}:{}", spec.name, 5101 + index);
        replacements.push((compose_address, stack.service_url(spec.name).trim_start_matches("http://").to_owned()));
    }
    for (from, to) in replacements {
        assert!(config.contains(&from), "deploy/prometheus/prometheus.yml no longer contains {from:?}");
        config = config.replace(&from, &to);
    }
    config
}

struct Prometheus {
    url: String,
    client: reqwest::Client,
    child: Child,
    dir: PathBuf,
}

impl Prometheus {
    async fn start(config: &str, port: u16) -> Self {
        let prometheus = which("prometheus")
            .expect("the `prometheus` binary is missing: `make monitoring-check` installs Debian's package");
        let dir = std::env::temp_dir().join(format!("shop-prometheus-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        std::fs::copy(deploy_dir().join("alerts.yml"), dir.join("alerts.yml")).unwrap();
        let child = Command::new(prometheus)
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let prometheus =
            Prometheus { url: format!("http://127.0.0.1:{port}"), client: reqwest::Client::new(), child, dir };
        wait_for(Duration::from_secs(30), "Prometheus to become ready", || async {
            let response = prometheus.client.get(format!("{}/-/ready", prometheus.url)).send().await.ok()?;
            response.status().is_success().then_some(())
        })
        .await
        .unwrap();
        prometheus
    }

    async fn api(&self, path: &str) -> Value {
        let body: Value = self.client.get(format!("{}{path}", self.url)).send().await.unwrap().json().await.unwrap();
        assert_eq!(body["status"], "success", "{path}: {body}");
        body["data"].clone()
    }

    async fn query(&self, promql: &str) -> Vec<Value> {
        let data = self
            .client
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", promql)])
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(data["status"], "success", "{promql}: {data}");
        data["data"]["result"].as_array().unwrap().clone()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn which(binary: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|dir| dir.join(binary)).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|candidate| Path::new(candidate).is_file())
}

/// Every `expr` string in a dashboard JSON, wherever it is nested.
fn collect_exprs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("expr", Value::String(expr)) => out.push(expr.clone()),
                    _ => collect_exprs(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_exprs(item, out)),
        _ => {}
    }
}

fn label_values(result: &[Value], label: &str) -> BTreeSet<String> {
    result.iter().filter_map(|sample| sample["metric"][label].as_str().map(str::to_owned)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_every_target_of_the_stack() {
    let stack = Stack::start(StackOptions::default()).await;
    let prometheus_port = free_port();
    let prometheus = Prometheus::start(&config_for(&stack, prometheus_port), prometheus_port).await;

    // Some traffic, so request series exist for the gateway and the routed services, and one
    // product, whose events go catalog → outbox → broker → inventory, cart, order, analytics.
    let admin = stack.admin_token().await;
    let sku = format!("PROM-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]).to_uppercase();
    let created = stack
        .client
        .post(stack.url("/products"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({
            "sku": sku,
            "name": "Prometheus test product",
            "description": "Made by prometheus_targets.",
            "price": {"amount_minor": 1999, "currency": "EUR"},
            "initial_stock": 3,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let product = created.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    for path in ["/products", "/products?page_size=1", "/inventory/low-stock", "/health"] {
        let _ = stack.client.get(stack.url(path)).send().await.unwrap();
    }
    let _ = stack.client.get(stack.url(&format!("/products/{product}"))).send().await.unwrap();

    // Every target up: the gateway, six services and Prometheus itself.
    let up = wait_for(Duration::from_secs(60), "every Prometheus target to be up", || async {
        let data = prometheus.api("/api/v1/targets?state=active").await;
        let targets = data["activeTargets"].as_array().cloned().unwrap_or_default();
        let all_up = targets.len() == SERVICES.len() + 2 && targets.iter().all(|t| t["health"] == "up");
        all_up.then_some(targets)
    })
    .await;
    let targets = match up {
        Ok(targets) => targets,
        Err(err) => panic!("{err}: {}", prometheus.api("/api/v1/targets").await),
    };
    let apps: BTreeSet<String> =
        targets.iter().filter_map(|t| t["labels"]["app"].as_str().map(str::to_owned)).collect();
    let expected: BTreeSet<String> = SERVICES.iter().map(|s| s.name.to_owned()).collect();
    assert_eq!(apps, expected, "service targets");

    // The alert rules load and evaluate.
    let rules = prometheus.api("/api/v1/rules").await;
    let names: BTreeSet<String> = rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap().to_owned()))
        .collect();
    for alert in ["ServiceDown", "HighErrorRatio", "HighLatencyP99", "ConsumerLagHigh", "OutboxBacklog", "LowStock"] {
        assert!(names.contains(alert), "alert {alert} not loaded: {names:?}");
    }
    for group in rules["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            assert_ne!(rule["health"], "err", "rule {} failed to evaluate: {rule}", rule["name"]);
        }
    }

    // Series arrive from every service (pool usage and outbox backlog are set at each scrape).
    let per_service = wait_for(Duration::from_secs(30), "pool and outbox gauges from every service", || async {
        let pools = label_values(&prometheus.query(r#"db_pool_connections{job="services",state="max"}"#).await, "app");
        let outbox = label_values(&prometheus.query(r#"outbox_backlog{job="services"}"#).await, "app");
        let redis = label_values(&prometheus.query(r#"redis_pool_connections{job="services"}"#).await, "app");
        (pools == expected && outbox == expected && redis == expected).then_some(())
    })
    .await;
    assert!(per_service.is_ok(), "db_pool_connections / outbox_backlog / redis_pool_connections missing for a service");

    // The gateway job keeps only the gateway's own series: no service's copy is counted twice.
    let http = wait_for(Duration::from_secs(30), "request series of the gateway and the catalog", || async {
        let result = prometheus.query("http_requests_total").await;
        let services = label_values(&result, "service");
        (services.contains("gateway") && services.contains("catalog")).then_some(result)
    })
    .await
    .unwrap();
    for sample in &http {
        let job = sample["metric"]["job"].as_str().unwrap();
        let service = sample["metric"]["service"].as_str().unwrap();
        assert_eq!(job == "gateway", service == "gateway", "series in the wrong job: {sample}");
    }
    for (promql, what) in [
        ("ecommerce_products_total", "the catalog's product count"),
        ("ecommerce_users_total", "the auth service's user count"),
        ("http_request_duration_seconds_bucket", "the latency histogram"),
        ("gateway_upstream_requests_total", "the gateway's upstream counter"),
    ] {
        assert!(!prometheus.query(promql).await.is_empty(), "{what} ({promql}) not scraped");
    }

    // Consumer lag comes from librdkafka's statistics every 5 s. Where the broker cannot report
    // watermarks (tansu on PostgreSQL 15) librdkafka does not know the lag and no series exists;
    // where it does, every series is a sane count.
    let lag = wait_for(Duration::from_secs(20), "consumer lag series", || async {
        let result = prometheus.query(r#"kafka_consumer_lag{job="services"}"#).await;
        (!result.is_empty()).then_some(result)
    })
    .await;
    match lag {
        Ok(series) => {
            for sample in series {
                let value: f64 = sample["value"][1].as_str().unwrap().parse().unwrap();
                assert!(value >= 0.0, "negative lag: {sample}");
            }
        }
        Err(_) => eprintln!("kafka_consumer_lag: no series (the broker reports no watermarks here)"),
    }

    // The product's events were consumed and its stock is on the gauge (3 units: low stock).
    wait_for(Duration::from_secs(90), "event, stock and cache series", || async {
        let consumed = !prometheus.query("kafka_events_consumed_total").await.is_empty();
        let published = !prometheus.query("outbox_published_total").await.is_empty();
        let stock = prometheus.query(&format!(r#"ecommerce_inventory_stock{{product_id="{product}"}}"#)).await;
        let cache = !prometheus.query("cache_requests_total").await.is_empty();
        (consumed && published && cache && stock.len() == 1 && stock[0]["value"][1] == "3").then_some(())
    })
    .await
    .unwrap();

    // Every dashboard query runs on this Prometheus (syntax, and vector matching on real series).
    let mut answered = 0;
    let mut queries = 0;
    for entry in std::fs::read_dir(deploy_dir().join("../grafana/dashboards")).unwrap() {
        let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap()).unwrap();
        let mut exprs = Vec::new();
        collect_exprs(&dashboard, &mut exprs);
        for expr in exprs {
            let promql = expr.replace("$__rate_interval", "1m").replace("$service", ".*");
            queries += 1;
            if !prometheus.query(&promql).await.is_empty() {
                answered += 1;
            }
        }
    }
    assert!(queries > 20, "only {queries} dashboard queries found");
    eprintln!("{answered} of {queries} dashboard queries returned data on a fresh stack");
    drop(prometheus);
    stack.stop();
}
