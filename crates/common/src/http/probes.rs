//! `/health`, `/metrics` and `/`: what every binary serves for orchestrators and operators.

use crate::db::DbPool;
use crate::kafka::EventProducer;
use crate::redis::RedisPool;
use actix_web::{HttpResponse, web};
use futures_util::future::{BoxFuture, join_all};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub type ProbeFuture<'a> = BoxFuture<'a, anyhow::Result<()>>;

/// One dependency whose health `/health` reports.
pub trait Probe: Send + Sync {
    fn name(&self) -> &str;
    fn check(&self) -> ProbeFuture<'_>;
}

/// Refreshes gauges (backlogs, pool usage) right before a scrape renders them.
pub type ScrapeHook = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// Shared by the probe handlers and the middleware (`web::Data<ServiceInfo>`).
pub struct ServiceInfo {
    pub name: String,
    pub version: String,
    pub started_at: Instant,
    pub probes: Vec<Arc<dyn Probe>>,
    pub scrape_hooks: Vec<ScrapeHook>,
    pub metrics: PrometheusHandle,
}

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize, serde::Deserialize, Clone, PartialEq)]
pub struct CheckReport {
    pub status: String,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, serde::Deserialize)]
pub struct HealthReport {
    pub status: String,
    pub service: String,
    pub checks: BTreeMap<String, CheckReport>,
}

impl ServiceInfo {
    /// Runs every probe concurrently, each bounded by a timeout.
    pub async fn check_all(&self) -> HealthReport {
        let checks = join_all(self.probes.iter().map(|probe| async move {
            let started = Instant::now();
            let outcome = match tokio::time::timeout(PROBE_TIMEOUT, probe.check()).await {
                Ok(Ok(())) => None,
                Ok(Err(err)) => Some(format!("{err:#}")),
                Err(_) => Some(format!("no answer within {} ms", PROBE_TIMEOUT.as_millis())),
            };
            let report = CheckReport {
                status: if outcome.is_none() { "up" } else { "down" }.into(),
                latency_ms: (started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0,
                error: outcome,
            };
            (probe.name().to_owned(), report)
        }))
        .await;
        let all_up = checks.iter().all(|(_, report)| report.error.is_none());
        HealthReport {
            status: if all_up { "up" } else { "down" }.into(),
            service: self.name.clone(),
            checks: checks.into_iter().collect(),
        }
    }
}

/// `GET /health`: 200 when every dependency answers, 503 naming what is down.
pub async fn health(info: web::Data<ServiceInfo>) -> HttpResponse {
    let report = info.check_all().await;
    let mut response = if report.status == "up" { HttpResponse::Ok() } else { HttpResponse::ServiceUnavailable() };
    response.insert_header(("cache-control", "no-store")).json(report)
}

/// `GET /metrics`: Prometheus text exposition.
pub async fn metrics(info: web::Data<ServiceInfo>) -> HttpResponse {
    join_all(info.scrape_hooks.iter().map(|hook| hook())).await;
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(info.metrics.render())
}

/// `GET /`: name, version, uptime and dependency status.
pub async fn root(info: web::Data<ServiceInfo>) -> HttpResponse {
    let report = info.check_all().await;
    HttpResponse::Ok().json(serde_json::json!({
        "service": info.name,
        "version": info.version,
        "uptime_seconds": info.started_at.elapsed().as_secs(),
        "status": report.status,
        "dependencies": report.checks,
    }))
}

/// Registers the three probe routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/metrics", web::get().to(metrics))
        .route("/", web::get().to(root));
}

pub struct PostgresProbe(pub DbPool);
pub struct RedisProbe(pub RedisPool);
pub struct BrokerProbe(pub EventProducer);

impl Probe for PostgresProbe {
    fn name(&self) -> &str {
        "postgres"
    }
    fn check(&self) -> ProbeFuture<'_> {
        Box::pin(crate::db::ping(&self.0))
    }
}

impl Probe for RedisProbe {
    fn name(&self) -> &str {
        "redis"
    }
    fn check(&self) -> ProbeFuture<'_> {
        Box::pin(crate::redis::ping(&self.0))
    }
}

impl Probe for BrokerProbe {
    fn name(&self) -> &str {
        "broker"
    }
    fn check(&self) -> ProbeFuture<'_> {
        Box::pin(self.0.ping(PROBE_TIMEOUT))
    }
}
