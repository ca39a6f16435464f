//! `GET /health`: the whole platform's health in one answer.
//!
//! Asks every service's `/health` concurrently (each bounded by [`PROBE_TIMEOUT`]) and runs the
//! gateway's own probes (Redis). 200 only when everything is up, 503 otherwise; the body names each
//! service and carries the services' own dependency checks (postgres, redis, broker), so a reader
//! sees exactly what is down.

use crate::proxy::errors::describe;
use crate::state::GatewayState;
use crate::upstream::Service;
use actix_web::{HttpResponse, web};
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use shop_common::http::ServiceInfo;
use shop_common::http::probes::CheckReport;
use shop_common::http::request_id;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Short, so one hung service cannot hold the whole report (orchestrators time out too).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// One service as the gateway sees it.
#[derive(Debug, Serialize)]
pub struct ServiceHealth {
    pub status: &'static str,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The service's own checks, passed through as it reported them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct PlatformHealth {
    pub status: &'static str,
    pub service: String,
    pub services: BTreeMap<&'static str, ServiceHealth>,
    /// The gateway's own dependencies.
    pub checks: BTreeMap<String, CheckReport>,
}

/// The part of a service's `/health` body the gateway reads; the rest is ignored.
#[derive(Deserialize)]
struct Reported {
    status: String,
    #[serde(default)]
    checks: Option<serde_json::Value>,
}

pub async fn health(state: web::Data<GatewayState>, info: web::Data<ServiceInfo>) -> HttpResponse {
    let report = check_platform(&state, &info).await;
    let mut response = if report.status == "up" { HttpResponse::Ok() } else { HttpResponse::ServiceUnavailable() };
    response.insert_header(("cache-control", "no-store")).json(report)
}

/// Every service and the gateway's own probes, concurrently.
pub async fn check_platform(state: &GatewayState, info: &ServiceInfo) -> PlatformHealth {
    let services = join_all(Service::ALL.map(|service| async move { (service.name(), check(state, service).await) }));
    let (services, own) = futures_util::future::join(services, info.check_all()).await;
    let all_up = services.iter().all(|(_, health)| health.status == "up") && own.status == "up";
    PlatformHealth {
        status: if all_up { "up" } else { "down" },
        service: info.name.clone(),
        services: services.into_iter().collect(),
        checks: own.checks,
    }
}

async fn check(state: &GatewayState, service: Service) -> ServiceHealth {
    let started = Instant::now();
    let mut request = state.client.get(state.upstreams.url(service, "/health")).timeout(PROBE_TIMEOUT);
    if let Some(id) = request_id::current() {
        request = request.header(request_id::HEADER, id);
    }
    let outcome = match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            // The body is read even on 503: that is where the service says which dependency failed.
            let reported = response.json::<Reported>().await;
            Ok((status, reported))
        }
        Err(err) => Err(err),
    };
    let latency_ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
    match outcome {
        Ok((http_status, Ok(reported))) => {
            let up = http_status == 200 && reported.status == "up";
            ServiceHealth {
                status: if up { "up" } else { "down" },
                latency_ms,
                http_status: Some(http_status),
                checks: reported.checks,
                error: (!up).then(|| format!("reported {} (HTTP {http_status})", reported.status)),
            }
        }
        Ok((http_status, Err(err))) => ServiceHealth {
            status: "down",
            latency_ms,
            http_status: Some(http_status),
            checks: None,
            error: Some(format!("unreadable health report (HTTP {http_status}): {}", describe(&err))),
        },
        Err(err) => {
            ServiceHealth { status: "down", latency_ms, http_status: None, checks: None, error: Some(describe(&err)) }
        }
    }
}
